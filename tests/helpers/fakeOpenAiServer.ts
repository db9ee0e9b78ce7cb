import http from "node:http";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { chatAnswer, streamAnswer, type FakeNodeHandler } from "./fakeNode";

export interface FakeOpenAiServer {
  name: string;
  /** What a user pastes: the origin plus any path prefix, without `/v1`. */
  url: string;
  /** Inference requests received. */
  received: { path: string; body: any; authorization?: string }[];
  /** Changes what `GET /v1/models` lists. */
  setModels(models: string[]): void;
  /** Stops listening and drops every connection, as a crashed server does. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export interface FakeOpenAiServerOptions {
  name: string;
  models: string[];
  /** Requests without `Authorization: Bearer <apiKey>` get a 401. Default: no key needed. */
  apiKey?: string;
  /** Served under this path (`/openai` → `/openai/v1/models`). Default: none. */
  prefix?: string;
  /** Answers inference. Default: an instant answer naming the server (streamed when asked). */
  handler?: FakeNodeHandler;
  /** Answers `GET /v1/models` instead of the model list (to play a server that is not OpenAI's). */
  modelsHandler?: (response: http.ServerResponse) => void;
}

function openAiError(response: http.ServerResponse, status: number, message: string): void {
  response
    .writeHead(status, { "content-type": "application/json" })
    .end(JSON.stringify({ error: { message, type: "invalid_request_error", code: null, param: null } }));
}

/** An OpenAI-compatible server (vLLM, llama.cpp's server, Ollama) on loopback, as tests need it. */
export async function startFakeOpenAiServer(options: FakeOpenAiServerOptions): Promise<FakeOpenAiServer> {
  const prefix = options.prefix ?? "";
  let models = options.models;
  const received: FakeOpenAiServer["received"] = [];
  const handler: FakeNodeHandler =
    options.handler ??
    ((_request, response, body) => {
      if (body?.stream) return streamAnswer(response, options.name, 3);
      response
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify(chatAnswer(options.name)));
    });
  const server = http.createServer((request, response) => {
    let raw = "";
    request.on("data", (chunk) => (raw += chunk));
    request.on("end", () => {
      if (options.apiKey && request.headers.authorization !== `Bearer ${options.apiKey}`) {
        return openAiError(response, 401, "Incorrect API key provided.");
      }
      const path = request.url ?? "";
      if (request.method === "GET" && path === `${prefix}/v1/models`) {
        if (options.modelsHandler) return options.modelsHandler(response);
        const list = {
          object: "list",
          data: models.map((id) => ({ id, object: "model", created: 0, owned_by: options.name })),
        };
        return void response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(list));
      }
      if (request.method === "POST" && path.startsWith(`${prefix}/v1/`)) {
        const body = raw ? JSON.parse(raw) : undefined;
        received.push({
          path: path.slice(prefix.length),
          body,
          authorization: request.headers.authorization,
        });
        return handler(request, response, body);
      }
      openAiError(response, 404, `No route ${request.method} ${path}.`);
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as AddressInfo).port;

  async function stop(): Promise<void> {
    if (!server.listening) return;
    const closed = once(server, "close");
    server.close();
    server.closeAllConnections();
    await closed;
  }

  return {
    name: options.name,
    url: `http://127.0.0.1:${port}${prefix}`,
    received,
    setModels: (next) => void (models = next),
    stop,
    async start() {
      server.listen(port, "127.0.0.1");
      await once(server, "listening");
    },
    close: stop,
  };
}
