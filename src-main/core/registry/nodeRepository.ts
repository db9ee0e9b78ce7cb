import crypto from "node:crypto";
import type { BackendLeftOut, Device, HeartbeatRequest, NodeInfo, NodeRegisterRequest } from "../../contract";
import { toNodeModelRow, toNodeModelState, type NodeModelRow } from "./nodeModelRows";
import type { Db } from "./openDatabase";
import type { RegistryVersion } from "./registryVersion";

/** Nodes and their models' states: live state, written by heartbeats. */
export interface NodeRepository {
  /** Registers a node, or takes over the row of the node with the same name (a restarted worker). */
  register(request: NodeRegisterRequest, tokenHash: string, now: string): { id: string };
  tokenHash(id: string): string | undefined;
  idByTokenHash(hash: string): string | undefined;
  /**
   * Records a heartbeat (only registered models: others were deleted since the node last synced).
   * Says which models' states on the node differ from what was stored, and whether the node was
   * offline until now. Undefined when the node is unknown.
   */
  heartbeat(
    id: string,
    heartbeat: HeartbeatRequest,
    now: string,
  ): { changed: string[]; recorded: string[]; cameOnline: boolean } | undefined;
  /** Marks nodes not heard from since `cutoff` offline; returns them. */
  markOffline(cutoff: string): { id: string; name: string }[];
  /** Marks the online node of this name offline (its process is gone); returns it, if it was online. */
  markNamedOffline(name: string): { id: string; name: string } | undefined;
  /**
   * Deletes the node's row and its models' states, with its token hash: that token stops working.
   * Returns the models it had states for (undefined when there is no such node).
   */
  remove(id: string): string[] | undefined;
  /** Takes a node out of rotation, or puts it back, by an operator's word (kept across restarts). */
  setDrained(id: string, drained: boolean): void;
  /** The nodes an operator took out of rotation. */
  drainedIds(): string[];
  /** Nodes without their loaded models (live state the node service keeps in memory). */
  list(): Omit<NodeInfo, "loaded" | "health">[];
  /** Online nodes that have the model ready: where requests for it may go. */
  readyNodesFor(modelId: string): { id: string; name: string; url: string }[];
  /** The largest memory any online node has, or undefined with no node online. */
  largestMemory(): number | undefined;
}

interface NodeRow {
  id: string;
  name: string;
  url: string;
  backend: NodeInfo["backend"];
  devices: string;
  backends_left_out: string;
  memory_total_bytes: number;
  memory_free_bytes: number;
  status: NodeInfo["status"];
  registered_at: string;
  last_seen_at: string;
}

export function createNodeRepository(db: Db, registryVersion: RegistryVersion): NodeRepository {
  const statements = {
    byName: db.prepare<[string], { id: string }>(`SELECT id FROM nodes WHERE name = ?`),
    insert: db.prepare(`
      INSERT INTO nodes (id, name, url, token_hash, backend, devices, backends_left_out, memory_total_bytes,
                         memory_free_bytes, status, registered_at, last_seen_at)
      VALUES (@id, @name, @url, @tokenHash, @backend, @devices, @leftOut, @total, @free, 'online', @now, @now)`),
    update: db.prepare(`
      UPDATE nodes SET url = @url, token_hash = @tokenHash, backend = @backend, devices = @devices,
        backends_left_out = @leftOut, memory_total_bytes = @total, memory_free_bytes = @free, status = 'online', registered_at = @now, last_seen_at = @now
      WHERE id = @id`),
    clearModels: db.prepare<[string]>(`DELETE FROM node_models WHERE node_id = ?`),
    tokenHash: db.prepare<[string], { token_hash: string | null }>(
      `SELECT token_hash FROM nodes WHERE id = ?`,
    ),
    idByTokenHash: db.prepare<[string], { id: string }>(`SELECT id FROM nodes WHERE token_hash = ?`),
    seen: db.prepare(`
      UPDATE nodes SET memory_total_bytes = @total, memory_free_bytes = @free, status = 'online', last_seen_at = @now
      WHERE id = @id`),
    statusOf: db.prepare<[string], { status: string }>(`SELECT status FROM nodes WHERE id = ?`),
    readyOf: db
      .prepare<[string], string>(`SELECT model_id FROM node_models WHERE node_id = ? AND state = 'ready'`)
      .pluck(),
    registered: db.prepare<[string], { one: number }>(`SELECT 1 AS one FROM models WHERE id = ?`),
    upsertModel: db.prepare(`
      INSERT INTO node_models (node_id, model_id, artifact, state, bytes_done, bytes_total, bytes_per_second, message, crashed, waits_for_retry, waiting_for, updated_at)
      VALUES (@node_id, @model_id, @artifact, @state, @bytes_done, @bytes_total, @bytes_per_second, @message, @crashed, @waits_for_retry, @waiting_for, @updated_at)
      ON CONFLICT (node_id, model_id) DO UPDATE SET artifact = excluded.artifact, state = excluded.state,
        bytes_done = excluded.bytes_done, bytes_total = excluded.bytes_total,
        bytes_per_second = excluded.bytes_per_second, message = excluded.message, crashed = excluded.crashed,
        waits_for_retry = excluded.waits_for_retry, waiting_for = excluded.waiting_for,
        updated_at = excluded.updated_at`),
    deleteModel: db.prepare<[string, string]>(`DELETE FROM node_models WHERE node_id = ? AND model_id = ?`),
    modelIdsOf: db.prepare<[string], string>(`SELECT model_id FROM node_models WHERE node_id = ?`).pluck(),
    stale: db.prepare<[string], { id: string; name: string }>(
      `SELECT id, name FROM nodes WHERE status = 'online' AND last_seen_at < ?`,
    ),
    setOffline: db.prepare<[string]>(`UPDATE nodes SET status = 'offline' WHERE id = ?`),
    onlineByName: db.prepare<[string], { id: string; name: string }>(
      `SELECT id, name FROM nodes WHERE name = ? AND status = 'online'`,
    ),
    deleteNode: db.prepare<[string]>(`DELETE FROM nodes WHERE id = ?`),
    setDrained: db.prepare<[number, string]>(`UPDATE nodes SET drained = ? WHERE id = ?`),
    drainedIds: db.prepare<[], string>(`SELECT id FROM nodes WHERE drained = 1`).pluck(),
    all: db.prepare<[], NodeRow>(`SELECT * FROM nodes ORDER BY name`),
    modelsOf: db.prepare<[string], NodeModelRow>(
      `SELECT * FROM node_models WHERE node_id = ? ORDER BY model_id`,
    ),
    readyNodesFor: db.prepare<[string], { id: string; name: string; url: string }>(
      `SELECT n.id, n.name, n.url FROM node_models nm JOIN nodes n ON n.id = nm.node_id
       WHERE nm.model_id = ? AND nm.state = 'ready' AND n.status = 'online' ORDER BY n.name`,
    ),
    largest: db.prepare<[], { largest: number | null }>(
      `SELECT MAX(memory_total_bytes) AS largest FROM nodes WHERE status = 'online'`,
    ),
  };

  const register = db.transaction((request: NodeRegisterRequest, tokenHash: string, now: string) => {
    const existing = statements.byName.get(request.name);
    const id = existing?.id ?? `node_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
    const params = {
      id,
      name: request.name,
      url: request.url,
      tokenHash,
      backend: request.backend,
      devices: JSON.stringify(request.devices satisfies Device[]),
      leftOut: JSON.stringify(request.backends_left_out satisfies BackendLeftOut[]),
      total: request.memory.total_bytes,
      free: request.memory.free_bytes,
      now,
    };
    if (existing) {
      // A restarted worker starts over: what it had is re-reported by its first heartbeat.
      statements.update.run(params);
      statements.clearModels.run(id);
    } else {
      statements.insert.run(params);
    }
    return { id };
  });

  const heartbeat = db.transaction((id: string, beat: HeartbeatRequest, now: string) => {
    const node = statements.statusOf.get(id);
    if (!node) return undefined;
    const readyBefore = new Set(statements.readyOf.all(id));
    const stateOf = (row: NodeModelRow) => JSON.stringify(toNodeModelState(row));
    const before = new Map(statements.modelsOf.all(id).map((row) => [row.model_id, stateOf(row)]));
    statements.seen.run({ id, total: beat.memory.total_bytes, free: beat.memory.free_bytes, now });
    const reported = new Set<string>();
    for (const state of beat.models) {
      // A model deleted since the node last synced is not recorded again.
      if (!statements.registered.get(state.model)) continue;
      reported.add(state.model);
      statements.upsertModel.run({ node_id: id, ...toNodeModelRow(state), updated_at: now });
    }
    for (const model of statements.modelIdsOf.all(id)) {
      if (!reported.has(model)) statements.deleteModel.run(id, model);
    }
    const readyAfter = new Set(statements.readyOf.all(id));
    const readinessChanged =
      node.status !== "online" ||
      readyBefore.size !== readyAfter.size ||
      [...readyAfter].some((model) => !readyBefore.has(model));
    if (readinessChanged) registryVersion.bump();
    const after = new Map(statements.modelsOf.all(id).map((row) => [row.model_id, stateOf(row)]));
    const changed = [...new Set([...before.keys(), ...after.keys()])].filter(
      (model) => before.get(model) !== after.get(model),
    );
    return { changed, recorded: [...after.keys()], cameOnline: node.status !== "online" };
  });

  const remove = db.transaction((id: string) => {
    if (!statements.statusOf.get(id)) return undefined;
    const models = statements.modelIdsOf.all(id);
    statements.clearModels.run(id);
    statements.deleteNode.run(id);
    return models;
  });

  return {
    register(request, tokenHash, now) {
      const result = register(request, tokenHash, now);
      registryVersion.bump();
      return result;
    },
    tokenHash: (id) => statements.tokenHash.get(id)?.token_hash ?? undefined,
    idByTokenHash: (hash) => statements.idByTokenHash.get(hash)?.id,
    heartbeat: (id, beat, now) => heartbeat(id, beat, now),
    markOffline(cutoff) {
      const stale = statements.stale.all(cutoff);
      for (const node of stale) statements.setOffline.run(node.id);
      if (stale.length > 0) registryVersion.bump();
      return stale;
    },
    markNamedOffline(name) {
      const node = statements.onlineByName.get(name);
      if (!node) return undefined;
      statements.setOffline.run(node.id);
      registryVersion.bump();
      return { id: node.id, name: node.name };
    },
    setDrained(id, drained) {
      statements.setDrained.run(drained ? 1 : 0, id);
    },
    drainedIds: () => statements.drainedIds.all(),
    remove(id) {
      const models = remove(id);
      if (models) registryVersion.bump();
      return models;
    },
    list() {
      return statements.all.all().map((row) => ({
        id: row.id,
        name: row.name,
        url: row.url,
        backend: row.backend,
        devices: JSON.parse(row.devices) as Device[],
        backends_left_out: JSON.parse(row.backends_left_out) as BackendLeftOut[],
        memory: { total_bytes: row.memory_total_bytes, free_bytes: row.memory_free_bytes },
        status: row.status,
        kind: "worker" as const,
        registered_at: row.registered_at,
        last_seen_at: row.last_seen_at,
        models: statements.modelsOf.all(row.id).map(toNodeModelState),
      }));
    },
    readyNodesFor: (modelId) => statements.readyNodesFor.all(modelId),
    largestMemory: () => statements.largest.get()?.largest ?? undefined,
  };
}
