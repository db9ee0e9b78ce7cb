import { z } from "zod";
import { modelSettingBounds } from "./modelSettingLimits";

export const backendSchema = z.enum(["cuda", "metal", "vulkan", "cpu"]);
export type Backend = z.infer<typeof backendSchema>;

/** A backend's name in words for people (CLI, reasons, logs). */
export const backendNames: Record<Backend, string> = {
  cuda: "CUDA",
  metal: "Metal",
  vulkan: "Vulkan",
  cpu: "CPU",
};

export const deviceSchema = z.object({
  name: z.string().max(256),
  backend: backendSchema,
  /** Memory this device offers to models: VRAM for a GPU, RAM for the CPU. */
  memory_total_bytes: z.number().int().nonnegative(),
});
export type Device = z.infer<typeof deviceSchema>;

/**
 * A GPU backend this machine's device probe tried and left out: its binary did not load, it found no
 * device, or it failed (or killed the probe in) its self-test on a tiny model. The reason says what
 * failed, in llama.cpp's words where it gave any, and the ways out.
 */
export const backendLeftOutSchema = z.object({
  backend: backendSchema,
  reason: z.string().max(4000),
});
export type BackendLeftOut = z.infer<typeof backendLeftOutSchema>;

export const memorySchema = z.object({
  total_bytes: z.number().int().nonnegative(),
  free_bytes: z.number().int().nonnegative(),
});
export type Memory = z.infer<typeof memorySchema>;

/**
 * A model on a node. The node drives it:
 *
 *   pending ──► downloading ──► verifying ──► ready
 *      │             │              │
 *      ├─────────────┴──────────────┴──► error (retried later)
 *      └──► unsupported (no file this node can run)
 *
 *   ready ──(crashed the worker twice)──► error, crashed (until a retry)
 *   downloading ──(failed verification twice)──► error, waits_for_retry (until a retry)
 */
const base = { model: z.string().max(1300), artifact: z.string().max(1024).nullable() };
export const nodeModelStateSchema = z.discriminatedUnion("state", [
  z.object({
    ...base,
    state: z.literal("pending"),
    /**
     * It needs a download, and the node downloads one model at a time: the model whose download goes
     * first. That may take long, so requests for it are answered at once instead of waiting.
     */
    queued_behind: z.string().max(1300).optional(),
    /**
     * What it waits for, in words, when it is not the queue: another process's download of the same
     * file into a shared cache (another llmlb, a node on this machine), which this one then uses.
     */
    waiting_for: z.string().max(500).optional(),
  }),
  z.object({
    ...base,
    state: z.literal("downloading"),
    bytes_done: z.number().int().nonnegative(),
    bytes_total: z.number().int().nonnegative(),
    bytes_per_second: z.number().nonnegative(),
    /** The connection broke and the next try waits (speed 0 meanwhile): why, in a few words. */
    interrupted: z.string().max(500).optional(),
    /**
     * It began again from the start (the server sent the whole file, not the rest), so its progress
     * went back: why, for a minute after.
     */
    restarted: z.string().max(500).optional(),
  }),
  z.object({ ...base, state: z.literal("verifying") }),
  z.object({ ...base, state: z.literal("ready") }),
  z.object({
    ...base,
    state: z.literal("error"),
    message: z.string().max(2000),
    /**
     * The model crashed this node's worker process again and again: the node no longer loads it
     * until a retry (`POST /v0/models/retry`) or a restart. Absent: the node tries again by itself.
     */
    crashed: z.boolean().optional(),
    /**
     * The node stopped trying by itself (its file failed verification twice): only a retry or a
     * restart tries again. Absent: it tries again after a while.
     */
    waits_for_retry: z.boolean().optional(),
  }),
  z.object({ ...base, state: z.literal("unsupported"), reason: z.string().max(2000) }),
]);
export type NodeModelState = z.infer<typeof nodeModelStateSchema>;

const knownStates = new Set<unknown>(nodeModelStateSchema.options.map((option) => option.shape.state.value));

/**
 * A node's model states as this control plane reads them: one in a state it does not know (a node
 * newer than it, with a state added since) is left out, so the node's other models still count; a
 * state it knows must be whole.
 */
const reportedStatesSchema = z.preprocess(
  (states) =>
    Array.isArray(states)
      ? states.filter((state) => {
          const named = (state as { state?: unknown } | null)?.state;
          return typeof named !== "string" || knownStates.has(named);
        })
      : states,
  z.array(nodeModelStateSchema).max(10_000),
);

/**
 * What a node says of itself when it registers. Fields this control plane does not know are left out,
 * not refused: a node newer than its control plane (the machines of a cluster are updated one at a
 * time) adds what it can say, and still joins.
 */
export const nodeRegisterRequestSchema = z.object({
  name: z.string().min(1).max(128),
  /** Where the control plane reaches the node (its own HTTP server). */
  url: z.url({ protocol: /^https?$/ }),
  backend: backendSchema,
  devices: z.array(deviceSchema).max(64),
  memory: memorySchema,
  /** GPU backends its machine's probe left out, and why (absent from nodes older than this field). */
  backends_left_out: z.array(backendLeftOutSchema).max(8).default([]),
  /** The llmlb it runs (absent from nodes older than this field). */
  llmlb_version: z.string().max(64).optional(),
  /** The node protocol it speaks (`nodeProtocolVersion`; absent from nodes older than this field: 1). */
  protocol: z.number().int().positive().optional(),
});
export type NodeRegisterRequest = z.infer<typeof nodeRegisterRequestSchema>;

export const nodeRegisterResponseSchema = z.object({
  node_id: z.string(),
  /** Sent by the node on heartbeats, and by the control plane when it calls the node. */
  node_token: z.string(),
  heartbeat_interval_ms: z.number().int().positive(),
  sync_interval_ms: z.number().int().positive(),
  /**
   * The llmlb the control plane runs, and the node protocol it speaks with this node (absent from
   * older ones: 1); the node refuses to go on with one it does not speak.
   */
  llmlb_version: z.string().max(64).optional(),
  protocol: z.number().int().positive().optional(),
});
export type NodeRegisterResponse = z.infer<typeof nodeRegisterResponseSchema>;

/** A model a node holds in memory right now. */
export const loadedModelSchema = z.object({
  model: z.string().max(1300),
  /** Parallel sequences the node runs for it, and how many are generating now. */
  sequences: z.number().int().nonnegative(),
  busy: z.number().int().nonnegative(),
  /** Tokens one request may hold, as loaded (absent from nodes older than this field). */
  context_size: z.number().int().positive().optional(),
  /**
   * The model whose load in memory it shares (both registered for one file, in one setting): one load,
   * counted once toward `max_loaded_models`. Absent for a load of its own, or the first of those sharing.
   */
  shares_load_with: z.string().max(1300).optional(),
  /**
   * While it is still loading (a first load on a GPU may compile kernels for a minute or more): when
   * the node began, by the node's clock. Requests for it wait meanwhile. Absent once loaded.
   */
  loading_since: z.iso.datetime().optional(),
  /**
   * Asked to unload while requests run on it (`llmlb model unload`): it goes when they end, unless
   * another comes first. Absent otherwise.
   */
  unloading: z.literal(true).optional(),
  /**
   * When it unloads if no request comes first, by the node's clock: its last request's end plus its
   * idle time (Ollama's "until"). Absent while it loads, while requests run on it, and once asked to
   * unload. It may go sooner, for another model's room.
   */
  idle_until: z.iso.datetime().optional(),
  /**
   * Decode batches since it was loaded, and the sequences (requests) they held in all: parallel
   * requests add throughput only when they share batches (`batched_sequences / decode_batches`).
   */
  decode_batches: z.number().int().nonnegative().optional(),
  batched_sequences: z.number().int().nonnegative().optional(),
});
export type LoadedModel = z.infer<typeof loadedModelSchema>;

/**
 * The llama.cpp a worker runs, known once it has loaded one (llama.cpp is loaded with the first
 * model): node-llama-cpp's prebuilt binaries, or a build made on this machine (`llmlb gpu build`).
 */
export const llamaCppBuildSchema = z.object({
  build: z.enum(["prebuilt", "local"]),
  /** llama.cpp's release tag, as node-llama-cpp names it (b6789, v0.4.0). */
  release: z.string().max(200),
});
export type LlamaCppBuild = z.infer<typeof llamaCppBuildSchema>;

/** A node's heartbeat; as at registration, fields this control plane does not know are left out. */
export const heartbeatRequestSchema = z.object({
  memory: memorySchema,
  models: reportedStatesSchema,
  loaded: z.array(loadedModelSchema).max(1000).default([]),
  llama_cpp: llamaCppBuildSchema.optional(),
  /** The node is stopping (its machine stopped it): no new requests; those running finish. */
  draining: z.boolean().optional(),
  /**
   * The most models it holds at once (`LLMLB_MAX_LOADED_MODELS`): loading one more unloads the one
   * least recently used first. Absent from nodes older than this field.
   */
  max_loaded_models: z.number().int().positive().optional(),
});
export type HeartbeatRequest = z.infer<typeof heartbeatRequestSchema>;

export const heartbeatResponseSchema = z.object({
  /** Grows whenever the registry changes; a node that sees it move syncs. */
  registry_version: z.number().int(),
});
export type HeartbeatResponse = z.infer<typeof heartbeatResponseSchema>;

export const nodeStatusSchema = z.enum(["online", "offline"]);

/**
 * How a node stands, from all that tells: its heartbeats (a worker), its health checks (an endpoint)
 * and the requests the balancer sends it. `ok`: it takes requests. `failing`: online, but a request
 * failed there before any answer; the balancer passes it over while it is checked again, and takes
 * it back at its first answer. `offline`: not heard from (heartbeats missed, its process ended, its
 * health check failed); nothing is sent to it.
 */
export const nodeHealthSchema = z.object({
  state: z.enum(["ok", "failing", "offline"]),
  /** Why it is not `ok`, in words; null when it is. */
  reason: z.string().nullable(),
  /** When it came to this state, where this llmlb saw it happen (null: before this run). */
  since: z.string().nullable(),
});
export type NodeHealthState = z.infer<typeof nodeHealthSchema>;

export const nodeSchema = z.object({
  id: z.string(),
  name: z.string(),
  url: z.string(),
  /** What the node runs on; `external` for an endpoint, whose hardware is its own business. */
  backend: z.union([backendSchema, z.literal("external")]),
  devices: z.array(deviceSchema),
  memory: memorySchema,
  /** GPU backends its machine's device probe left out, and why: a GPU that is there but not used. */
  backends_left_out: z.array(backendLeftOutSchema).default([]),
  status: nodeStatusSchema,
  health: nodeHealthSchema,
  /** `worker`: an llmlb worker (local or joined); `endpoint`: an OpenAI-compatible server added by URL. */
  kind: z.enum(["worker", "endpoint"]),
  /** One of this llmlb's own workers (started by `llmlb serve` or the app), not another machine's. */
  local: z.boolean().optional(),
  registered_at: z.string(),
  last_seen_at: z.string(),
  models: z.array(nodeModelStateSchema),
  loaded: z.array(loadedModelSchema),
  /**
   * An endpoint's: the requests llmlb sends it at once (its `parallel`). Absent for a worker, which
   * says what it runs at once per model it has loaded (`loaded[].sequences`).
   */
  parallel: z.number().int().positive().optional(),
  /** The llama.cpp an online worker runs, once it has loaded llama.cpp. */
  llama_cpp: llamaCppBuildSchema.optional(),
  /**
   * The most models it holds at once (`LLMLB_MAX_LOADED_MODELS`): loading one more unloads the one
   * least recently used first. Absent from nodes older than this field.
   */
  max_loaded_models: z.number().int().positive().optional(),
  /** The llmlb an online worker runs, as it said when it registered (absent from older ones). */
  llmlb_version: z.string().optional(),
  /**
   * It gets no new requests; those running finish: its machine is stopping it, or an operator drained
   * it (`PUT /v0/nodes/<id or name>/draining`), until undone (a restart keeps it).
   */
  draining: z.boolean().optional(),
  /** An operator drained it (and `draining` is true): `PUT …/draining` `{draining: false}` puts it back. */
  drained: z.boolean().optional(),
});
export type NodeInfo = z.infer<typeof nodeSchema>;

export const nodeListSchema = z.object({ data: z.array(nodeSchema) });
export type NodeList = z.infer<typeof nodeListSchema>;

/**
 * `DELETE /v0/nodes/<id or name>`: the worker node removed, with the models it had states for, which it
 * no longer lists. An online one only with `?force=true`: its token stops working at once, and it joins
 * again unless the node token it joined with was replaced first.
 */
export const nodeRemovedSchema = z.object({
  id: z.string(),
  name: z.string(),
  url: z.string(),
  models: z.array(z.string()),
  /** Models whose pin still names it: none of them is served until it is pinned elsewhere. */
  pinned_models: z.array(z.string()).optional(),
  /** It was online (removed with `force`): it may join again with the node token. */
  was_online: z.boolean().optional(),
});
export type NodeRemoved = z.infer<typeof nodeRemovedSchema>;

/** `DELETE /v0/nodes/<id or name>` query: `force=true` removes an online worker node too. */
export const nodeRemoveQuerySchema = z.object({ force: z.enum(["true", "false"]).optional() });

/**
 * `GET /v0/nodes/join`, and `POST /v0/nodes/join/token` (a new node token): how another machine joins
 * this control plane with its workers.
 */
export const nodeJoinInfoSchema = z.object({
  /** What a machine shows to join. Those already joined hold tokens of their own. */
  node_token: z.string(),
  /** Set by LLMLB_NODE_TOKEN or config.json: replaced there (and at a restart), not by the API. */
  token_configured: z.boolean(),
  /** To run on the other machine: one for each address of this one it may reach it by. */
  commands: z.array(z.object({ url: z.string(), command: z.string() })),
  /** Why no machine can join yet, and what to do (this llmlb listens on loopback only). */
  unreachable: z.string().optional(),
});
export type NodeJoinInfo = z.infer<typeof nodeJoinInfoSchema>;

/** `PUT /v0/nodes/<id or name>/draining`: take a worker node out of rotation (true), or back (false). */
export const nodeDrainRequestSchema = z.strictObject({ draining: z.boolean() });
export type NodeDrainRequest = z.infer<typeof nodeDrainRequestSchema>;

/** A model's state on one node, as model listings show it. */
export const modelOnNodeSchema = z.intersection(
  z.object({ node_id: z.string(), node_name: z.string(), node_status: nodeStatusSchema }),
  nodeModelStateSchema,
);
export type ModelOnNode = z.infer<typeof modelOnNodeSchema>;

/** `POST /v0/models/retry`: try a model again on every node where it failed or crashed its worker. */
export const modelRetryRequestSchema = z.strictObject({ model: z.string().min(1).max(1300) });
export type ModelRetryRequest = z.infer<typeof modelRetryRequestSchema>;

/** What each online worker node did with the retry. */
export const modelRetryResponseSchema = z.object({
  model: z.string(),
  nodes: z.array(z.object({ node_name: z.string(), retried: z.boolean() })),
});
export type ModelRetryResponse = z.infer<typeof modelRetryResponseSchema>;

/** The node's side of a retry (`POST /v0/retry` on the node): whether the model was failed there. */
export const nodeRetryResponseSchema = z.object({ retried: z.boolean() });
export type NodeRetryResponse = z.infer<typeof nodeRetryResponseSchema>;

/**
 * `POST /v0/models/unload`: free the memory a model holds on every online worker (it loads again at
 * its next request); on one worker only, named by `node`.
 */
export const modelUnloadRequestSchema = z.strictObject({
  model: z.string().min(1).max(1300),
  node: z.string().min(1).max(128).optional(),
});

/** A load's idle time to live, in seconds, as a model's setting bounds it. */
const loadTtlSchema = z
  .number()
  .int()
  .min(modelSettingBounds.idle_ttl_seconds.min)
  .max(modelSettingBounds.idle_ttl_seconds.max);

/**
 * `POST /v0/models/load`: load a model now on every online worker that has it ready (so its first
 * request does not wait for the load), or on `node` only; with `ttl`, it stays loaded that long
 * idle, whatever its setting, until its next request (whose own `ttl`, or the setting, then applies).
 */
export const modelLoadRequestSchema = modelUnloadRequestSchema.extend({ ttl: loadTtlSchema.optional() });
export type ModelLoadRequest = z.infer<typeof modelLoadRequestSchema>;

/** `POST <node>/v0/load`: a model to load now, and how long it may stay idle (absent: its setting). */
export const nodeLoadRequestSchema = z.strictObject({
  model: z.string().min(1).max(1300),
  ttl: loadTtlSchema.optional(),
});

/**
 * What a worker did with a load: `loaded` (now, or it was already), `not_ready` (it does not have
 * the model ready: downloading, failed, not pinned there), `failed` (with `message`: out of memory, a
 * file llama.cpp refused, a node too old to be asked), `unreachable` (the call did not get through).
 */
export const nodeLoadOutcomeSchema = z.enum(["loaded", "not_ready", "failed", "unreachable"]);
/**
 * What a worker did with an unload: `now`, `when_idle` (requests run on it: it goes when they end,
 * unless another comes first), `not_loaded`, `failed` (with `message`), `unreachable`.
 */
export const nodeUnloadOutcomeSchema = z.enum(["now", "when_idle", "not_loaded", "failed", "unreachable"]);

/** The node's side of a load (`POST /v0/load` on the node). */
export const nodeLoadResponseSchema = z.object({
  outcome: nodeLoadOutcomeSchema.exclude(["unreachable"]),
  /** Why it failed, in words (llama.cpp's, where it said). */
  message: z.string().max(2000).optional(),
});
export type NodeLoadResponse = z.infer<typeof nodeLoadResponseSchema>;
/** The node's side of an unload (`POST /v0/unload` on the node). */
export const nodeUnloadResponseSchema = z.object({
  outcome: nodeUnloadOutcomeSchema.exclude(["unreachable"]),
});
export type NodeUnloadResponse = z.infer<typeof nodeUnloadResponseSchema>;

export const modelLoadResponseSchema = z.object({
  model: z.string(),
  nodes: z.array(
    z.object({ node_name: z.string(), outcome: nodeLoadOutcomeSchema, message: z.string().optional() }),
  ),
});
export type ModelLoadResponse = z.infer<typeof modelLoadResponseSchema>;
export const modelUnloadResponseSchema = z.object({
  model: z.string(),
  nodes: z.array(
    z.object({ node_name: z.string(), outcome: nodeUnloadOutcomeSchema, message: z.string().optional() }),
  ),
});
export type ModelUnloadResponse = z.infer<typeof modelUnloadResponseSchema>;
