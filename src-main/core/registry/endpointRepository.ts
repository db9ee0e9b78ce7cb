import { AppError } from "../../shared/errors";
import type { Db } from "./openDatabase";

/** An endpoint as stored: what it is (name, URL, key) and what its last health check saw. */
export interface StoredEndpoint {
  id: string;
  name: string;
  /** The normalized base URL, ending in `/v1`. */
  url: string;
  apiKey: string | null;
  /** Requests llmlb sends it at once. */
  parallel: number;
  createdAt: string;
  health: EndpointHealth;
}

export interface EndpointHealth {
  status: "online" | "offline";
  /** What the server listed at its last good check (kept while it is offline). */
  models: string[];
  lastError: string | null;
  lastCheckedAt: string | null;
  /** When it last answered a check well. */
  lastSeenAt: string | null;
}

/** OpenAI-compatible servers added by URL (`endpoints`). */
export interface EndpointRepository {
  /**
   * Stores a new endpoint; `endpoint.duplicate` when its name is an endpoint's or a node's already, or
   * its URL another endpoint's.
   */
  insert(endpoint: StoredEndpoint): void;
  /** Whether an endpoint or a node already has this name. */
  nameTaken(name: string): boolean;
  all(): StoredEndpoint[];
  saveHealth(id: string, health: EndpointHealth): void;
  /** False when there is no such endpoint. */
  saveParallel(id: string, parallel: number): boolean;
  /** A new URL and API key; `endpoint.duplicate` when another endpoint has the URL. */
  saveConnection(id: string, url: string, apiKey: string | null): void;
  remove(id: string): boolean;
}

interface EndpointRow {
  id: string;
  name: string;
  url: string;
  api_key: string | null;
  parallel: number;
  status: "online" | "offline";
  models: string;
  last_error: string | null;
  last_checked_at: string | null;
  last_seen_at: string | null;
  created_at: string;
}

export function duplicateUrl(name: string, url: string): AppError {
  return new AppError("endpoint.duplicate", `Endpoint ${name} already has the URL ${url}.`, { param: "url" });
}

export function duplicateEndpoint(name: string): AppError {
  return new AppError("endpoint.duplicate", `An endpoint or node named ${name} already exists.`, {
    param: "name",
  });
}

function toEndpoint(row: EndpointRow): StoredEndpoint {
  return {
    id: row.id,
    name: row.name,
    url: row.url,
    apiKey: row.api_key,
    parallel: row.parallel,
    createdAt: row.created_at,
    health: {
      status: row.status,
      models: JSON.parse(row.models) as string[],
      lastError: row.last_error,
      lastCheckedAt: row.last_checked_at,
      lastSeenAt: row.last_seen_at,
    },
  };
}

function healthParams(health: EndpointHealth) {
  return {
    status: health.status,
    models: JSON.stringify(health.models),
    lastError: health.lastError,
    lastCheckedAt: health.lastCheckedAt,
    lastSeenAt: health.lastSeenAt,
  };
}

export function createEndpointRepository(db: Db): EndpointRepository {
  const statements = {
    insert: db.prepare(`
      INSERT INTO endpoints (id, name, url, api_key, parallel, status, models, last_error, last_checked_at, last_seen_at, created_at)
      VALUES (@id, @name, @url, @apiKey, @parallel, @status, @models, @lastError, @lastCheckedAt, @lastSeenAt, @createdAt)`),
    nameTaken: db.prepare<[string, string], { one: number }>(
      `SELECT 1 AS one FROM endpoints WHERE name = ? UNION ALL SELECT 1 FROM nodes WHERE name = ? LIMIT 1`,
    ),
    all: db.prepare<[], EndpointRow>(`SELECT * FROM endpoints ORDER BY name`),
    withUrl: db.prepare<[string], { name: string }>(`SELECT name FROM endpoints WHERE url = ?`),
    nameOf: db.prepare<[string], { name: string }>(`SELECT name FROM endpoints WHERE id = ?`),
    saveHealth: db.prepare(`
      UPDATE endpoints SET status = @status, models = @models, last_error = @lastError,
        last_checked_at = @lastCheckedAt, last_seen_at = @lastSeenAt
      WHERE id = @id`),
    saveParallel: db.prepare<[number, string]>(`UPDATE endpoints SET parallel = ? WHERE id = ?`),
    saveConnection: db.prepare<[string, string | null, string]>(
      `UPDATE endpoints SET url = ?, api_key = ? WHERE id = ?`,
    ),
    remove: db.prepare<[string]>(`DELETE FROM endpoints WHERE id = ?`),
  };

  const nameTaken = (name: string) => statements.nameTaken.get(name, name) !== undefined;
  // The name check and the insert in one transaction: two adds racing for a name cannot both win.
  const insert = db.transaction((endpoint: StoredEndpoint) => {
    if (nameTaken(endpoint.name)) throw duplicateEndpoint(endpoint.name);
    const sameUrl = statements.withUrl.get(endpoint.url);
    if (sameUrl) throw duplicateUrl(sameUrl.name, endpoint.url);
    statements.insert.run({
      id: endpoint.id,
      name: endpoint.name,
      url: endpoint.url,
      apiKey: endpoint.apiKey,
      parallel: endpoint.parallel,
      createdAt: endpoint.createdAt,
      ...healthParams(endpoint.health),
    });
  });

  return {
    insert: (endpoint) => insert(endpoint),
    nameTaken,
    all: () => statements.all.all().map(toEndpoint),
    saveHealth(id, health) {
      statements.saveHealth.run({ id, ...healthParams(health) });
    },
    saveParallel: (id, parallel) => statements.saveParallel.run(parallel, id).changes > 0,
    saveConnection: db.transaction((id: string, url: string, apiKey: string | null) => {
      const sameUrl = statements.withUrl.get(url);
      if (sameUrl && sameUrl.name !== statements.nameOf.get(id)?.name) throw duplicateUrl(sameUrl.name, url);
      statements.saveConnection.run(url, apiKey, id);
    }),
    remove: (id) => statements.remove.run(id).changes > 0,
  };
}
