import http from "node:http";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import {
  nodeRegisterResponseSchema,
  type HeartbeatRequest,
  type NodeModelState,
} from "../../src-main/contract";
import type { TestServer } from "./startCore";

export type FakeNodeHandler = (
  request: http.IncomingMessage,
  response: http.ServerResponse,
  body: any,
) => void;

export interface FakeNode {
  name: string;
  id: string;
  url: string;
  /** Inference requests received, by path. */
  received: { path: string; body: any; authorization?: string }[];
  /** Requests whose client went away before the answer ended. */
  aborted(): number;
  /** Health checks the control plane made (the first when it registered). */
  healthChecks(): number;
  report(models: NodeModelState[]): Promise<void>;
  /** Reports what it holds in memory from now on, as a worker does (its heartbeat's `loaded`, `max_loaded_models`). */
  hold(holding: Pick<HeartbeatRequest, "loaded" | "max_loaded_models">): Promise<void>;
  /** Goes silent toward the control plane, as a hung process does; connections stay open. */
  stopHeartbeats(): void;
  close(): Promise<void>;
}

/** An OpenAI chat answer saying which node wrote it. */
export function chatAnswer(name: string, completionTokens = 5) {
  return {
    id: `chatcmpl-${name}`,
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model: "m",
    choices: [{ index: 0, message: { role: "assistant", content: `from ${name}` }, finish_reason: "stop" }],
    usage: { prompt_tokens: 3, completion_tokens: completionTokens, total_tokens: 3 + completionTokens },
  };
}

/** Streams `count` chunks, then [DONE]. */
export function streamAnswer(response: http.ServerResponse, name: string, count: number): void {
  response.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  for (let i = 0; i < count; i++) {
    const chunk = {
      id: `chatcmpl-${name}`,
      object: "chat.completion.chunk",
      created: 0,
      model: "m",
      choices: [
        { index: 0, delta: { content: `${name}-${i} ` }, finish_reason: i === count - 1 ? "stop" : null },
      ],
    };
    response.write(`data: ${JSON.stringify(chunk)}\n\n`);
  }
  response.end("data: [DONE]\n\n");
}

const defaultHandler =
  (name: string): FakeNodeHandler =>
  (_request, response, body) => {
    if (body?.stream) return streamAnswer(response, name, 3);
    response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(chatAnswer(name)));
  };

/**
 * A node that speaks the node protocol for real (registers, heartbeats) and answers inference with
 * whatever the test wants: instant, slow, failing, or dying mid-stream.
 */
export async function startFakeNode(
  server: TestServer,
  options: {
    name: string;
    ready: string[];
    handler?: FakeNodeHandler;
    /** Whether its health check (`/v0/health`) passes now. Default: always. */
    healthy?: () => boolean;
    /** What it holds in memory from its first heartbeat on (see `hold`). Default: nothing. */
    holding?: Pick<HeartbeatRequest, "loaded" | "max_loaded_models">;
    /** The port it listens on (a worker given a fixed one). Default: any free one. */
    port?: number;
  },
): Promise<FakeNode> {
  const received: FakeNode["received"] = [];
  let aborted = 0;
  let healthChecks = 0;
  const handler = options.handler ?? defaultHandler(options.name);
  const http1 = http.createServer((request, response) => {
    let raw = "";
    request.on("data", (chunk) => (raw += chunk));
    request.on("end", () => {
      if (request.url === "/v0/sync") return void response.writeHead(204).end();
      // As a worker answers its control plane's checks (the first comes when it registers).
      if (request.url === "/v0/health") {
        healthChecks++;
        if (options.healthy?.() === false) return void response.writeHead(503).end("restarting");
        return void response.writeHead(200, { "content-type": "application/json" }).end('{"status":"ok"}');
      }
      const body = raw ? JSON.parse(raw) : undefined;
      received.push({ path: request.url ?? "", body, authorization: request.headers.authorization });
      response.on("close", () => response.writableFinished || aborted++);
      handler(request, response, body);
    });
  });
  http1.listen(options.port ?? 0, "127.0.0.1");
  await once(http1, "listening");
  const url = `http://127.0.0.1:${(http1.address() as AddressInfo).port}`;
  const registered = await server.request("POST", "/v0/nodes/register", {
    body: {
      name: options.name,
      url,
      backend: "cpu",
      devices: [],
      memory: { total_bytes: 16e9, free_bytes: 8e9 },
    },
    headers: { authorization: `Bearer ${server.nodeToken}` },
  });
  const { node_id: id, node_token: token } = nodeRegisterResponseSchema.parse(registered.body);
  let states: NodeModelState[] = options.ready.map((model) => ({
    model,
    artifact: "m.gguf",
    state: "ready",
  }));
  let holding: Pick<HeartbeatRequest, "loaded" | "max_loaded_models"> = options.holding ?? { loaded: [] };
  const beat = async () => {
    const answer = await server.request("POST", `/v0/nodes/${id}/heartbeat`, {
      body: { memory: { total_bytes: 16e9, free_bytes: 8e9 }, models: states, ...holding },
      headers: { authorization: `Bearer ${token}` },
    });
    if (answer.status !== 200) throw new Error(`heartbeat answered ${answer.status}`);
  };
  await beat();
  const timer = setInterval(() => void beat().catch(() => {}), 100);
  return {
    name: options.name,
    id,
    url,
    received,
    aborted: () => aborted,
    healthChecks: () => healthChecks,
    async report(models) {
      states = models;
      await beat();
    },
    async hold(held) {
      holding = held;
      await beat();
    },
    stopHeartbeats: () => clearInterval(timer),
    async close() {
      clearInterval(timer);
      http1.closeAllConnections();
      http1.close();
    },
  };
}
