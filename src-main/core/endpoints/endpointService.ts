import crypto from "node:crypto";
import {
  defaultEndpointParallel,
  type Endpoint,
  type EndpointCreateRequest,
  type EndpointList,
  type EndpointUpdateRequest,
  type NodeInfo,
} from "../../contract";
import type { Clock } from "../../shared/clock";
import { AppError } from "../../shared/errors";
import type { Logger } from "../../shared/logger";
import type { ExternalModels, ExternalServer } from "../models/modelService";
import type { NodeHealth } from "../nodes/nodeHealth";
import type { NodeRoute } from "../nodes/nodeService";
import {
  duplicateEndpoint,
  duplicateUrl,
  type EndpointHealth,
  type EndpointRepository,
  type StoredEndpoint,
} from "../registry/endpointRepository";
import type { RegistryVersion } from "../registry/registryVersion";
import { normalizeEndpointUrl, routeBaseOf } from "./endpointUrl";
import { createHealthChecker } from "./healthChecker";
import { probeEndpoint, type ProbeAnswer, type ProbeOptions } from "./probeEndpoint";

/** What changed about an endpoint: `models` are those whose availability on it changed. */
export interface EndpointChange {
  endpointId: string;
  removed: boolean;
  models: string[];
}

export interface EndpointServiceOptions {
  endpoints: EndpointRepository;
  /** Bumped when what endpoints serve changes (model lists are cached on it). */
  registryVersion: RegistryVersion;
  clock: Clock;
  log: Logger;
  /** Told what each health check found (and of endpoints removed); what listings say of their health. */
  nodeHealth: NodeHealth;
  /** Time between health checks of one endpoint. Default: 10000 ms. */
  healthIntervalMs?: number;
  /** How long one probe (the check on add, or a health check) may take. Default: 5000 ms. */
  probeTimeoutMs?: number;
  /** An endpoint was added or removed, or its status or model list changed. Default: nothing. */
  onChange?: (change: EndpointChange) => void;
  /**
   * An endpoint's health check failed (each time it does): the requests it holds without a word for
   * `silentForMs` (as long as the check waited) will not be answered (a machine asleep or off the
   * network refuses nothing; it only falls silent). Default: nothing.
   */
  onOffline?: (endpointId: string, reason: string, silentForMs: number) => void;
  /** Asks a server for its model ids. Default: `GET <url>/models`. */
  probe?: (options: ProbeOptions) => Promise<ProbeAnswer>;
  /** This llmlb's instance id, so it is never added as an endpoint of itself. Default: none. */
  selfInstance?: string;
}

/**
 * OpenAI-compatible servers added by URL, routed like nodes. Their model lists live in memory
 * (refreshed by health checks) so the balancer's lookups cost no I/O.
 */
export interface EndpointService extends ExternalModels {
  /** Probes the server once and stores it only if it answered with a model list. */
  add(request: EndpointCreateRequest): Promise<Endpoint>;
  list(): EndpointList;
  /**
   * Changes an endpoint, found by id or name (`endpoint.not_found` if there is none): a new `parallel`
   * applies to the requests admitted from now on; those running finish as they are. A new URL or API
   * key is probed first, as at `add`, and nothing changes unless the server answered with it.
   */
  update(idOrName: string, patch: EndpointUpdateRequest): Promise<Endpoint>;
  /** Removes an endpoint by id or name; `endpoint.not_found` if there is none. */
  remove(idOrName: string): void;
  /** Endpoints in `GET /v0/nodes`'s shape. */
  asNodes(): NodeInfo[];
  /** Online endpoints that list the model, each with its `parallel` as the requests it takes at once. */
  routesFor(model: string): NodeRoute[];
  /** Why a model only endpoints list cannot be served now; undefined when no endpoint lists it. */
  unavailable(model: string): AppError | undefined;
  dispose(): void;
}

interface Entry extends StoredEndpoint {
  /** What the balancer prefixes to `/v1/...`. */
  routeBase: string;
  /** Its instance id when it is another llmlb (as its last answer said); not stored: it changes each start. */
  instance: string | null;
  /** How many entries of its model list were no model ids at its last answer: said when it changes. */
  leftOut?: number;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((item, index) => item === b[index]);
}

export function createEndpointService(options: EndpointServiceOptions): EndpointService {
  const { endpoints, clock, log, nodeHealth } = options;
  const healthIntervalMs = options.healthIntervalMs ?? 10_000;
  const probeTimeoutMs = options.probeTimeoutMs ?? 5000;
  const probe = options.probe ?? probeEndpoint;
  const now = () => new Date(clock.now()).toISOString();

  const entries = new Map<string, Entry>();
  // Derived from `entries` on every change: model id → the endpoints listing it.
  let byModel = new Map<string, Entry[]>();
  let servers = new Map<string, ExternalServer[]>();

  function reindex(): void {
    byModel = new Map();
    for (const entry of [...entries.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
      for (const model of entry.health.models) {
        const list = byModel.get(model);
        if (list) list.push(entry);
        else byModel.set(model, [entry]);
      }
    }
    servers = new Map(
      [...byModel].map(([model, list]) => [
        model,
        list.map((entry) => ({
          id: entry.id,
          name: entry.name,
          online: entry.health.status === "online",
          createdAt: entry.createdAt,
          instance: entry.instance,
        })),
      ]),
    );
  }

  /** Entries of its model list left out (no model ids): logged when their number changes. */
  function noteLeftOut(entry: Entry, answer: ProbeAnswer): void {
    const count = answer.leftOut?.count ?? 0;
    if (count === (entry.leftOut ?? 0)) return;
    entry.leftOut = count;
    if (answer.leftOut)
      log.warn(
        {
          endpoint: entry.id,
          name: entry.name,
          count,
          first: answer.leftOut.first,
          served: answer.models.length,
        },
        "left out entries of an endpoint's model list that are no model ids; its other models are served",
      );
  }

  function changed(change: EndpointChange): void {
    reindex();
    options.registryVersion.bump();
    options.onChange?.(change);
  }

  function toEndpoint(entry: Entry): Endpoint {
    return {
      id: entry.id,
      name: entry.name,
      url: entry.url,
      has_api_key: entry.apiKey !== null,
      status: entry.health.status,
      last_error: entry.health.lastError,
      last_checked_at: entry.health.lastCheckedAt,
      models: entry.health.models,
      parallel: entry.parallel,
      created_at: entry.createdAt,
    };
  }

  async function check(id: string, signal: AbortSignal): Promise<void> {
    const entry = entries.get(id);
    if (!entry) return;
    const before = entry.health;
    let health: EndpointHealth;
    let instance = entry.instance;
    const asked = { url: entry.url, apiKey: entry.apiKey };
    let answered: ProbeAnswer | undefined;
    try {
      const answer = await probe({
        ...asked,
        timeoutMs: probeTimeoutMs,
        signal,
        selfInstance: options.selfInstance,
      });
      answered = answer;
      instance = answer.instance;
      const { models } = answer;
      health = answeredHealth(models, now());
    } catch (error) {
      if (signal.aborted) return;
      const message = error instanceof AppError ? error.message : "The health check failed.";
      // The models it listed last are kept: they are what it serves once it is back.
      health = { ...before, status: "offline", lastError: message, lastCheckedAt: now() };
    }
    // Removed, or given a new URL or key, while the check ran: nothing to record.
    if (entries.get(id) !== entry || entry.url !== asked.url || entry.apiKey !== asked.apiKey) return;
    if (answered) noteLeftOut(entry, answered);
    if (instance !== entry.instance) {
      // Another llmlb restarted there: what it serves only through this one is told apart by the new id.
      entry.instance = instance;
      reindex();
    }
    entry.health = health;
    endpoints.saveHealth(id, health);
    const statusChanged = before.status !== health.status;
    if (health.status === "offline") {
      const reason = health.lastError ?? "Its health check failed.";
      if (statusChanged) nodeHealth.wentOffline(id, reason);
      // At each failed check: a request sent just before the first may have been silent for less.
      options.onOffline?.(id, reason, probeTimeoutMs);
    } else {
      if (statusChanged) nodeHealth.cameOnline(id);
      // Its model list answered: whatever request failed there, it answers again.
      nodeHealth.answered(id);
    }
    if (!statusChanged && sameList(before.models, health.models)) return;
    if (statusChanged && health.status === "offline") {
      log.warn({ endpoint: id, name: entry.name, reason: health.lastError }, "endpoint went offline");
    } else if (statusChanged) {
      log.info({ endpoint: id, name: entry.name, models: health.models.length }, "endpoint back online");
    }
    const beforeSet = new Set(before.models);
    const afterSet = new Set(health.models);
    const models = statusChanged
      ? [...new Set([...before.models, ...health.models])]
      : [
          ...health.models.filter((model) => !beforeSet.has(model)),
          ...before.models.filter((model) => !afterSet.has(model)),
        ];
    changed({ endpointId: id, removed: false, models });
  }

  const checker = createHealthChecker({
    intervalMs: healthIntervalMs,
    check,
    log,
  });

  for (const stored of endpoints.all()) {
    entries.set(stored.id, { ...stored, routeBase: routeBaseOf(stored.url), instance: null });
    // What it served last time is known; whether it still does is checked at once.
    checker.watch(stored.id, 0);
  }
  reindex();

  const notFound = (idOrName: string) =>
    new AppError("endpoint.not_found", `There is no endpoint named or with id ${idOrName}.`, {
      param: "id",
    });

  function find(idOrName: string): Entry {
    const entry = entries.get(idOrName) ?? [...entries.values()].find((each) => each.name === idOrName);
    if (!entry) throw notFound(idOrName);
    return entry;
  }

  /** The server asked for its models, as at `add` and at a new URL or key. */
  function probeAt(url: string, apiKey: string | null): Promise<ProbeAnswer> {
    return probe({ url, apiKey, timeoutMs: probeTimeoutMs, selfInstance: options.selfInstance });
  }

  /** Its health once it answered with `models` at `checkedAt`. */
  function answeredHealth(models: string[], checkedAt: string): EndpointHealth {
    return { status: "online", models, lastError: null, lastCheckedAt: checkedAt, lastSeenAt: checkedAt };
  }

  /**
   * The endpoint at a new URL or with a new key, once the server answered with them: its models as it
   * lists them now. Requests under way finish where they went.
   */
  async function reconnect(entry: Entry, url: string, apiKey: string | null): Promise<void> {
    const sameServer = [...entries.values()].find((other) => other !== entry && other.url === url);
    if (sameServer) throw duplicateUrl(sameServer.name, url);
    const answer = await probeAt(url, apiKey);
    const { models, instance } = answer;
    // Removed while the server was asked: there is nothing left to change.
    if (entries.get(entry.id) !== entry) throw notFound(entry.name);
    noteLeftOut(entry, answer);
    endpoints.saveConnection(entry.id, url, apiKey);
    const before = entry.health;
    const checkedAt = now();
    Object.assign(entry, { url, apiKey, routeBase: routeBaseOf(url), instance });
    entry.health = answeredHealth(models, checkedAt);
    endpoints.saveHealth(entry.id, entry.health);
    if (before.status !== "online") nodeHealth.cameOnline(entry.id);
    nodeHealth.answered(entry.id);
    changed({ endpointId: entry.id, removed: false, models: [...new Set([...before.models, ...models])] });
    // Never the key: only whether there is one.
    log.info(
      { endpoint: entry.id, name: entry.name, url, models: models.length, apiKey: apiKey !== null },
      "endpoint changed",
    );
  }

  return {
    async add(request) {
      const url = normalizeEndpointUrl(request.url);
      // Answer a plain duplicate before calling the server.
      if (endpoints.nameTaken(request.name)) throw duplicateEndpoint(request.name);
      // The same server twice would count its capacity twice and send it twice the traffic.
      const sameServer = [...entries.values()].find((entry) => entry.url === url);
      if (sameServer) throw duplicateUrl(sameServer.name, url);
      const apiKey = request.api_key ?? null;
      const answer = await probeAt(url, apiKey);
      const { models, instance } = answer;
      const checkedAt = now();
      const entry: Entry = {
        id: `ep_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`,
        name: request.name,
        url,
        apiKey,
        parallel: request.parallel ?? defaultEndpointParallel,
        createdAt: checkedAt,
        health: answeredHealth(models, checkedAt),
        routeBase: routeBaseOf(url),
        instance,
      };
      endpoints.insert(entry);
      entries.set(entry.id, entry);
      noteLeftOut(entry, answer);
      checker.watch(entry.id);
      changed({ endpointId: entry.id, removed: false, models });
      // Never the key: only whether there is one.
      log.info(
        {
          endpoint: entry.id,
          name: entry.name,
          url,
          models: models.length,
          parallel: entry.parallel,
          apiKey: apiKey !== null,
        },
        "endpoint added",
      );
      return toEndpoint(entry);
    },
    list: () => ({
      data: [...entries.values()].sort((a, b) => (a.name < b.name ? -1 : 1)).map(toEndpoint),
    }),
    async update(idOrName, patch) {
      const entry = find(idOrName);
      const url = patch.url !== undefined ? normalizeEndpointUrl(patch.url) : entry.url;
      // The key stored for one server is never sent to another: a new origin comes with its own (or none).
      if (
        new URL(url).origin !== new URL(entry.url).origin &&
        patch.api_key === undefined &&
        entry.apiKey !== null
      )
        throw new AppError(
          "input.invalid",
          `${url} is another server than ${entry.url}: give its API key in the same change (api_key, or null for none; \`--api-key\` or \`--no-api-key\`), as the key stored for ${entry.name} is not sent to another server.`,
          { param: "api_key" },
        );
      const apiKey = patch.api_key !== undefined ? patch.api_key : entry.apiKey;
      if (url !== entry.url || apiKey !== entry.apiKey) await reconnect(entry, url, apiKey);
      if (patch.parallel !== undefined && patch.parallel !== entry.parallel) {
        const before = entry.parallel;
        endpoints.saveParallel(entry.id, patch.parallel);
        // The balancer reads it from the route at each request: the next one sees it.
        entry.parallel = patch.parallel;
        // Listings show it (the node's `parallel`); what it serves is the same.
        options.onChange?.({ endpointId: entry.id, removed: false, models: [] });
        log.info(
          { endpoint: entry.id, name: entry.name, parallel: entry.parallel, before },
          "endpoint changed",
        );
      }
      return toEndpoint(entry);
    },
    remove(idOrName) {
      const entry = find(idOrName);
      checker.unwatch(entry.id);
      nodeHealth.forget(entry.id);
      endpoints.remove(entry.id);
      entries.delete(entry.id);
      changed({ endpointId: entry.id, removed: true, models: entry.health.models });
      log.info({ endpoint: entry.id, name: entry.name }, "endpoint removed");
    },
    asNodes: () =>
      [...entries.values()]
        .sort((a, b) => (a.name < b.name ? -1 : 1))
        .map((entry): NodeInfo => ({
          id: entry.id,
          name: entry.name,
          url: entry.url,
          backend: "external",
          devices: [],
          backends_left_out: [],
          memory: { total_bytes: 0, free_bytes: 0 },
          status: entry.health.status,
          health: nodeHealth.of({ id: entry.id, status: entry.health.status }, entry.health.lastError),
          kind: "endpoint",
          registered_at: entry.createdAt,
          last_seen_at: entry.health.lastSeenAt ?? entry.createdAt,
          models: entry.health.models.map((model) => ({ model, artifact: null, state: "ready" as const })),
          loaded: [],
          parallel: entry.parallel,
        })),
    routesFor(model) {
      const listing = byModel.get(model);
      if (!listing) return [];
      return listing
        .filter((entry) => entry.health.status === "online")
        .map((entry) => ({
          id: entry.id,
          name: entry.name,
          kind: "endpoint" as const,
          url: entry.routeBase,
          ...(entry.apiKey !== null ? { token: entry.apiKey } : {}),
          ...(entry.instance !== null ? { instance: entry.instance } : {}),
          slots: entry.parallel,
        }));
    },
    servers: () => servers,
    unavailable(model) {
      const listing = byModel.get(model);
      if (!listing || listing.some((entry) => entry.health.status === "online")) return undefined;
      const reasons = listing.map(
        (entry) => `${entry.name}: ${(entry.health.lastError ?? "offline").replace(/\.$/, "")}`,
      );
      return new AppError(
        "model.not_ready",
        `Model ${model} is served only by ${listing.length === 1 ? "an endpoint" : "endpoints"} that ${listing.length === 1 ? "is" : "are"} offline (${reasons.join("; ")}). Retry later.`,
        { param: "model", retryAfter: Math.max(1, Math.ceil(healthIntervalMs / 1000)) },
      );
    },
    dispose() {
      checker.dispose();
    },
  };
}
