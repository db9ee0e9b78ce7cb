import { act, cleanup, render, screen, within } from "@testing-library/react";
import { afterEach, vi, type Mock } from "vitest";
import {
  defaultModelSettings,
  type Model,
  type NodeInfo,
  type NodeJoinInfo,
  type RequestRecord,
  type ServerEvent,
  type Settings,
  type Status,
} from "../../../src-main/contract";
import type { RequestFilter } from "../../../src-main/contract";
import { createRequestLog } from "../../../src-main/core/requestLog";
import { ApiError, type Api } from "../../../src-renderer/api";
import { App } from "../../../src-renderer/App";
import type { AdminToken } from "../../../src-renderer/adminToken";
import type { EventSourceLike } from "../../../src-renderer/events";
import { createAppStore, type AppStore } from "../../../src-renderer/store/createAppStore";
import { model, status } from "../../helpers/serverShapes";

afterEach(() => {
  cleanup();
  location.hash = "";
});

export { model, onNode, status } from "../../helpers/serverShapes";

export function node(name: string, overrides: Partial<NodeInfo> = {}): NodeInfo {
  return {
    id: `id-${name}`,
    name,
    url: `http://127.0.0.1:4${name.length}00`,
    backend: "cuda",
    devices: [{ name: "NVIDIA GeForce RTX 4090", backend: "cuda", memory_total_bytes: 24_000_000_000 }],
    memory: { total_bytes: 24_000_000_000, free_bytes: 18_000_000_000 },
    backends_left_out: [],
    status: "online",
    health:
      overrides.status === "offline"
        ? { state: "offline", reason: "It stopped sending heartbeats (silent for over 6 s).", since: null }
        : { state: "ok", reason: null, since: null },
    kind: "worker",
    registered_at: "2026-01-01T00:00:00.000Z",
    last_seen_at: new Date().toISOString(),
    models: [],
    loaded: [],
    ...overrides,
  };
}

export function settings(overrides: Partial<Settings> = {}): Settings {
  return {
    hf_token: { set: false, storage: "keychain" },
    hub_cache_dir: "/home/ada/.cache/huggingface/hub",
    port: 8080,
    data_dir: "/home/ada/.config/llmlb",
    start_at_login: null,
    restart_required: false,
    overridden: [],
    ...overrides,
  };
}

export const notFound = () => new ApiError("Route GET:/v0/endpoints not found", 404, "request.not_found");

export type FakeApi = { [K in keyof Api]: Mock<Api[K]> };

/** An Api whose every call answers from `data` unless overridden; each method is a vi.fn to inspect. */
/** How a machine joins a server at 192.168.1.5:8080 with `token`. */
export function joinInfo(token: string): NodeJoinInfo {
  const url = "http://192.168.1.5:8080";
  return {
    node_token: token,
    token_configured: false,
    commands: [{ url, command: `LLMLB_NODE_TOKEN=${token} llmlb node --join ${url} --host 0.0.0.0` }],
  };
}

export function fakeApi(
  data: {
    models?: Model[];
    nodes?: NodeInfo[];
    status?: Status;
    settings?: Settings;
    /** Newest first, as the server lists them. */
    requests?: RequestRecord[];
  } = {},
  overrides: Partial<FakeApi> = {},
): FakeApi {
  return {
    listModels: vi.fn(async () => ({
      total: data.models?.length ?? 0,
      limit: 1000,
      offset: 0,
      data: data.models ?? [],
    })),
    register: vi.fn(async (input: string) => ({
      ...model(input),
      status: "registered" as const,
      warnings: [],
    })),
    removeModel: vi.fn(async () => undefined),
    // Answers the model with the patch applied, as the server does.
    updateModelSettings: vi.fn(async (name, patch) => {
      const current = data.models?.find((m) => m.name === name) ?? model(name);
      const settings = { ...current.settings };
      for (const [key, value] of Object.entries(patch)) {
        Object.assign(settings, { [key]: value ?? defaultModelSettings[key as keyof typeof settings] });
      }
      return { ...current, settings };
    }),
    addAlias: vi.fn(async (model, alias) => ({ alias, model })),
    removeAlias: vi.fn(async (alias) => ({ alias, model: "" })),
    retryModel: vi.fn(async (name) => ({ model: name, nodes: [{ node_name: "gpu-0", retried: true }] })),
    listNodes: vi.fn(async () => ({ data: data.nodes ?? [] })),
    status: vi.fn(async () => data.status ?? status()),
    setServing: vi.fn(async (paused: boolean) => status({ paused })),
    settings: vi.fn(async () => data.settings ?? settings()),
    updateSettings: vi.fn(async () => data.settings ?? settings()),
    listEndpoints: vi.fn(async () => ({ data: [] })),
    addEndpoint: vi.fn(async () => {
      throw notFound();
    }),
    removeEndpoint: vi.fn(async () => undefined),
    updateEndpoint: vi.fn(async () => {
      throw notFound();
    }),
    // Answers the node removed, as the server does (the fake knows only its id).
    removeNode: vi.fn(async (ref: string) => ({ id: ref, name: ref, url: "", models: [] })),
    // Node ids here are `id-<name>`.
    setNodeDraining: vi.fn(async (id: string, draining: boolean) =>
      node(id.replace(/^id-/, ""), draining ? { draining: true, drained: true } : {}),
    ),
    // Paged and sifted as the server does it, by the server's own request log.
    listRequests: vi.fn(async (asked: RequestFilter & { before?: string } = {}) => {
      const log = createRequestLog({ publish: () => {} });
      for (const request of (data.requests ?? []).toReversed()) log.record(request);
      const page = log.page({ ...asked, limit: 200 });
      log.dispose();
      if (!page) throw new ApiError(`before: no request '${asked.before}' is kept here.`, 400);
      return page;
    }),
    // The model loads on the node asked.
    loadModel: vi.fn(async (model: string, nodeName: string) => ({
      model,
      nodes: [{ node_name: nodeName, outcome: "loaded" as const }],
    })),
    // The model was loaded on the node asked, and is unloaded now.
    unloadModel: vi.fn(async (model: string, nodeName: string) => ({
      model,
      nodes: [{ node_name: nodeName, outcome: "now" as const }],
    })),
    // A server listening beyond loopback, at one address.
    nodeJoin: vi.fn(async () => joinInfo("llmlb_node_first")),
    replaceNodeToken: vi.fn(async () => joinInfo("llmlb_node_second")),
    quit: vi.fn(async () => ({ quitting: true as const })),
    // A server that can build, and has not: it answers a start as a build now running.
    gpuBuild: vi.fn(async () => ({ available: true, state: "idle" as const, output: [] })),
    startGpuBuild: vi.fn(async (gpu) => ({
      available: true,
      state: "running" as const,
      gpu,
      started_at: new Date().toISOString(),
      output: [],
    })),
    cancelGpuBuild: vi.fn(async () => ({
      available: true,
      state: "cancelled" as const,
      output: [],
      message: "Cancelled.",
    })),
    chat: vi.fn(async () => ({ finishReason: "stop", completionTokens: 0 })),
    ...overrides,
  };
}

/** Stands in for EventSource: the test opens, drops and feeds it. */
export class FakeEventSource implements EventSourceLike {
  readyState = 0;
  refusedWith: number | undefined;
  onopen: ((event: Event) => void) | null = null;
  onmessage: ((event: MessageEvent) => void) | null = null;
  onerror: ((event: Event) => void) | null = null;
  closed = false;

  constructor(readonly url: string) {}

  open() {
    act(() => {
      this.readyState = 1;
      this.onopen?.(new Event("open"));
    });
  }
  /** The connection dropped; the browser is reconnecting (readyState CONNECTING). */
  drop() {
    act(() => {
      this.readyState = 0;
      this.onerror?.(new Event("error"));
    });
  }
  /** The server answered the stream with an HTTP error (401: the admin token is not taken). */
  refuse(status: number) {
    act(() => {
      this.refusedWith = status;
      this.readyState = 2;
      this.onerror?.(new Event("error"));
    });
  }
  send(event: ServerEvent) {
    act(() => {
      this.onmessage?.(new MessageEvent("message", { data: JSON.stringify(event) }));
    });
  }
  close() {
    this.closed = true;
    this.readyState = 2;
  }
}

export function fakeEvents() {
  const sources: FakeEventSource[] = [];
  const factory = (url: string) => {
    const source = new FakeEventSource(url);
    sources.push(source);
    return source;
  };
  return {
    factory,
    sources,
    get latest(): FakeEventSource {
      const source = sources.at(-1);
      if (!source) throw new Error("no event source was opened");
      return source;
    },
  };
}

/** Renders the whole app on `route` with a fresh store over the given fakes. */
export function renderApp(
  api: Api,
  options: { route?: string; events?: ReturnType<typeof fakeEvents>; adminToken?: AdminToken } = {},
) {
  const events = options.events ?? fakeEvents();
  location.hash = options.route ? `#/${options.route}` : "";
  const store: AppStore = createAppStore({ api, events: events.factory, adminToken: options.adminToken });
  const view = render(<App store={store} />);
  return { ...view, store, events };
}

/** A promise the test settles by hand, to hold a request "in flight". */
export function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * Whether a button says it cannot act now: `aria-disabled` (it keeps the keyboard focus, see
 * softDisabled.ts) or `disabled`.
 */
export function unavailable(button: HTMLElement): boolean {
  return button.getAttribute("aria-disabled") === "true" || (button as HTMLButtonElement).disabled;
}

/** The newest banner that is not an error (a status), under the header. */
export function lastBanner(): HTMLElement {
  return within(screen.getByRole("region", { name: "Notifications" }))
    .getAllByRole("status")
    .at(-1)!;
}

/** What the app last said to screen readers only (the Announcer), not shown on screen. */
export function announced(): string {
  return document.querySelector(".visually-hidden[role=status]")?.textContent?.trim() ?? "";
}
