import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FakeHub } from "../fixtures/fakeHub";
import { startFakeNode, type FakeNode } from "../helpers/fakeNode";
import { startCore, startCoreWithHub, type TestServer, type TestServerWithHub } from "../helpers/startCore";

let hub: FakeHub;
let server: TestServerWithHub;
const lanKey = "sk-lan-0123456789";

beforeAll(async () => {
  server = await startCoreWithHub();
  hub = server.hub;
});
afterAll(async () => {
  await server?.close();
});

describe("admin token", () => {
  it.each([
    ["GET", "/v0/models"],
    ["GET", "/v0/models/acme%2Ftiny-GGUF"],
    ["DELETE", "/v0/models/acme%2Ftiny-GGUF"],
    ["POST", "/v0/models/register"],
    ["GET", "/v0/models/registry/acme%2Ftiny-GGUF/manifest.json"],
  ])("is required on %s %s", async (method, path) => {
    const missing = await server.request(method, path, {
      anonymous: true,
      body: method === "POST" ? { url: "acme/tiny-GGUF" } : undefined,
    });
    expect(missing.status).toBe(401);
    expect(missing.body.error).toMatchObject({ type: "authentication_error", code: "auth.missing_token" });
    const wrong = await server.request(method, path, { headers: { authorization: "Bearer not-the-token" } });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe("auth.invalid_token");
    expect((await server.request("GET", "/v0/models")).body.total).toBe(0);
  });

  it("is not a cookie: /?token= moves it to the fragment (/#token=), which no server sees, and sets none", async () => {
    const login = await server.request("GET", `/?token=${encodeURIComponent(server.token)}`, {
      anonymous: true,
    });
    expect(login.status).toBe(303);
    expect(login.headers.location).toBe(`/#token=${encodeURIComponent(server.token)}`);
    expect(login.headers["set-cookie"]).toBeUndefined();
    const badLogin = await server.request("GET", "/?token=wrong", { anonymous: true });
    expect(badLogin.status).toBe(401);
    expect(badLogin.headers.location).toBeUndefined();
  });

  it("is not taken from the cookie earlier versions set, which every port of 127.0.0.1 receives; that cookie is expired", async () => {
    const cookie = `llmlb_admin=${encodeURIComponent(server.token)}`;
    const withCookie = await server.request("GET", "/v0/models", { anonymous: true, headers: { cookie } });
    expect(withCookie.status).toBe(401);
    expect(withCookie.body.error.code).toBe("auth.missing_token");
    const page = await server.request("GET", "/", { anonymous: true, headers: { cookie } });
    expect(String(page.headers["set-cookie"])).toMatch(/^llmlb_admin=; .*Max-Age=0/);
    // A change another local page sends with the cookie reaches nothing.
    const remove = await server.request("DELETE", "/v0/models/acme%2Fnothing", {
      anonymous: true,
      headers: { cookie, origin: "http://127.0.0.1:9" },
    });
    expect(remove.status).toBe(401);
    // Without that cookie, nothing is set.
    expect((await server.request("GET", "/", { anonymous: true })).headers["set-cookie"]).toBeUndefined();
    expect((await server.request("GET", "/", { anonymous: true })).headers["x-frame-options"]).toBe("DENY");
  });

  it.each([
    ["GET", "//v0/models"],
    ["GET", "/v0//models"],
    ["GET", "/v0/models/../models"],
    ["GET", "/v0/./models"],
    ["HEAD", "/v0/models"],
    ["GET", "/%76%30/models"],
  ])("cannot be dodged by spelling the path differently: %s %s", async (method, path) => {
    const response = await server.request(method, path, { anonymous: true });
    expect([401, 404]).toContain(response.status);
    if (method !== "HEAD") expect(response.body.error.code).toMatch(/auth\.missing_token|request\.not_found/);
  });

  it("accepts the Bearer scheme in any case, and refuses a malformed cookie with 401, not 500", async () => {
    const lower = await server.request("GET", "/v0/models", {
      headers: { authorization: `bearer ${server.token}` },
    });
    expect(lower.status).toBe(200);
    const badCookie = await server.request("GET", "/v0/models", {
      anonymous: true,
      headers: { cookie: "llmlb_admin=%E0%A4%A" },
    });
    expect(badCookie.status).toBe(401);
  });

  it("is kept in the data directory readable only by its owner", async () => {
    const fs = await import("node:fs");
    const stat = fs.statSync(`${server.dataDir}/admin-token`);
    expect(stat.mode & 0o077).toBe(0);
    expect(fs.readFileSync(`${server.dataDir}/admin-token`, "utf8").trim()).toBe(server.token);
  });
});

describe("Host header", () => {
  it.each(["localhost", `localhost:1234`, "127.0.0.1", "127.0.0.2:80", "[::1]:8080", "app.localhost"])(
    "accepts %s",
    async (host) => {
      const response = await server.request("GET", "/v0/health", { headers: { host } });
      expect(response.status).toBe(200);
    },
  );

  it.each([
    "evil.example",
    "evil.example:8080",
    "127.0.0.1.evil.example",
    "localhost.evil.example",
    "10.0.0.1",
  ])("refuses %s with 403, even with the admin token (DNS rebinding)", async (host) => {
    const response = await server.request("GET", "/v0/models", { headers: { host } });
    expect(response.status).toBe(403);
    expect(response.body.error.code).toBe("auth.forbidden_host");
  });

  it("accepts a configured extra host name", async () => {
    const lan = await startCore({ hubEndpoint: hub.url, config: { allowedHosts: ["gpu-box.lan"] } });
    try {
      expect((await lan.request("GET", "/v0/health", { headers: { host: "gpu-box.lan:8080" } })).status).toBe(
        200,
      );
    } finally {
      await lan.close();
    }
  });
});

describe("cross-origin requests", () => {
  it("get no CORS headers, so browsers on other origins cannot read answers", async () => {
    const response = await server.request("GET", "/v1/models", {
      headers: { origin: "https://evil.example" },
    });
    expect(response.headers["access-control-allow-origin"]).toBeUndefined();
    const preflight = await server.request("OPTIONS", "/v0/models/register", {
      headers: { origin: "https://evil.example", "access-control-request-method": "POST" },
    });
    expect(preflight.headers["access-control-allow-origin"]).toBeUndefined();
  });
});

describe("cross-origin requests from a configured origin", () => {
  const app = "http://localhost:3000";
  let open: TestServer;
  let node: FakeNode | undefined;
  beforeAll(async () => {
    open = await startCore({ hubEndpoint: hub.url, config: { corsOrigins: [app] } });
    expect(
      (await open.request("POST", "/v0/models/register", { body: { url: "acme/tiny-GGUF" } })).status,
    ).toBe(201);
    node = await startFakeNode(open, { name: "n", ready: ["acme/tiny-GGUF"] });
  });
  afterAll(async () => {
    await node?.close();
    await open.close();
  });

  it("may read /v1 answers, proxied ones too, streamed or not", async () => {
    const listed = await open.request("GET", "/v1/models", { anonymous: true, headers: { origin: app } });
    expect(listed.headers["access-control-allow-origin"]).toBe(app);
    for (const stream of [false, true]) {
      const answer = await open.request("POST", "/v1/chat/completions", {
        anonymous: true,
        headers: { origin: app },
        body: { model: "acme/tiny-GGUF", messages: [{ role: "user", content: "hi" }], stream },
      });
      expect(answer.status).toBe(200);
      expect(answer.headers["access-control-allow-origin"], `stream: ${stream}`).toBe(app);
    }
  });

  it.each([
    ["the OpenAI SDK", "/v1/chat/completions"],
    ["the Anthropic SDK", "/v1/messages"],
  ])("gets its preflight answered with every header %s sends", async (sdk, route) => {
    // The names the SDK's request carries, as a browser would ask the preflight to allow them.
    const sent = await headersSentBy(sdk === "the OpenAI SDK" ? "openai" : "anthropic", open.url);
    expect(sent).toContain("x-stainless-os");
    const preflight = await open.request("OPTIONS", route, {
      anonymous: true,
      headers: {
        origin: app,
        "access-control-request-method": "POST",
        "access-control-request-headers": sent.join(","),
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers["access-control-allow-origin"]).toBe(app);
    const allowed = String(preflight.headers["access-control-allow-headers"])
      .toLowerCase()
      .split(/\s*,\s*/);
    expect(sent.filter((name) => !allowed.includes(name))).toEqual([]);
  });

  it("may not read the management API, and other origins may read nothing", async () => {
    const management = await open.request("GET", "/v0/models", { headers: { origin: app } });
    expect(management.headers["access-control-allow-origin"]).toBeUndefined();
    const other = await open.request("GET", "/v1/models", {
      anonymous: true,
      headers: { origin: "https://evil.example" },
    });
    expect(other.headers["access-control-allow-origin"]).toBeUndefined();
  });
});

/**
 * The header names (beyond those a browser sets itself) of the SDK's chat request: what a page that
 * uses it asks a preflight to allow. The request goes nowhere; its headers are read and it fails.
 */
async function headersSentBy(sdk: "openai" | "anthropic", baseURL: string): Promise<string[]> {
  let names: string[] = [];
  const capture = async (_url: unknown, init?: RequestInit) => {
    names = [...new Headers(init?.headers).keys()];
    throw new Error("captured");
  };
  const options = { apiKey: "sk-page", maxRetries: 0, fetch: capture, dangerouslyAllowBrowser: true };
  const messages = [{ role: "user" as const, content: "hi" }];
  if (sdk === "openai") {
    await new OpenAI({ ...options, baseURL: `${baseURL}/v1` }).chat.completions
      .create({ model: "m", messages })
      .catch(() => {});
  } else {
    await new Anthropic({ ...options, baseURL }).messages
      .create({ model: "m", max_tokens: 8, messages })
      .catch(() => {});
  }
  // Set by the browser, never asked for: a preflight only lists the others.
  const bySafelist = new Set([
    "accept",
    "accept-language",
    "content-language",
    "user-agent",
    "content-length",
  ]);
  return names.map((name) => name.toLowerCase()).filter((name) => !bySafelist.has(name));
}

describe("listening on every address", () => {
  it("is refused without an API key, since /v1 would be open to the network", async () => {
    await expect(startCore({ hubEndpoint: hub.url, config: { host: "0.0.0.0" } })).rejects.toThrow(
      /0\.0\.0\.0 .*API key.*--api-key.*LLMLB_API_KEY/,
    );
  });

  it("still tells clients a loopback URL they are allowed to use", async () => {
    const wide = await startCore({ hubEndpoint: hub.url, config: { host: "0.0.0.0", apiKeys: [lanKey] } });
    try {
      expect(wide.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const fs = await import("node:fs");
      expect(JSON.parse(fs.readFileSync(`${wide.dataDir}/server.json`, "utf8")).url).toBe(wide.url);
      expect((await wide.request("GET", "/v0/models")).status).toBe(200);
    } finally {
      await wide.close();
    }
  });

  it("accepts the machine's addresses in Host (no name to rebind), still not other names", async () => {
    const wide = await startCore({ hubEndpoint: hub.url, config: { host: "0.0.0.0", apiKeys: [lanKey] } });
    try {
      for (const host of ["192.168.1.20:8080", "10.0.0.1", "[fe80::1]:8080"]) {
        expect((await wide.request("GET", "/v0/health", { headers: { host } })).status, host).toBe(200);
      }
      const named = await wide.request("GET", "/v0/health", { headers: { host: "evil.example:8080" } });
      expect(named.status).toBe(403);
    } finally {
      await wide.close();
    }
  });
});

describe("/v1 with API keys", () => {
  let keyed: TestServer;
  beforeAll(async () => {
    keyed = await startCore({ hubEndpoint: hub.url, config: { apiKeys: ["sk-one", "sk-two"] } });
  });
  afterAll(() => keyed.close());

  it("answers 401 invalid_api_key without one of them, as OpenAI does", async () => {
    const client = new OpenAI({ baseURL: `${keyed.url}/v1`, apiKey: "sk-wrong", maxRetries: 0 });
    const error = await client.models.list().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((error as InstanceType<typeof OpenAI.AuthenticationError>).code).toBe("invalid_api_key");
    for (const [method, url] of [
      ["GET", "/v1/models"],
      ["POST", "/v1/chat/completions"],
      ["GET", "/v1/nowhere"],
      ["GET", "/metrics"],
    ] as const) {
      const response = await keyed.request(method, url, { anonymous: true, body: {} });
      expect(response.status, url).toBe(401);
      expect(response.body.error?.code ?? response.text, url).toMatch(/invalid_api_key/);
    }
  });

  it("serves any of the keys, and the admin token", async () => {
    for (const apiKey of ["sk-one", "sk-two", keyed.token]) {
      const client = new OpenAI({ baseURL: `${keyed.url}/v1`, apiKey, maxRetries: 0 });
      expect((await client.models.list()).data).toEqual([]);
    }
    const metrics = await keyed.request("GET", "/metrics", {
      anonymous: true,
      headers: { authorization: "Bearer sk-one" },
    });
    expect(metrics.status).toBe(200);
  });

  it("leaves health and readiness open, and says in the status that /v1 needs a key", async () => {
    expect((await keyed.request("GET", "/v0/health", { anonymous: true })).status).toBe(200);
    // Readiness, too, is for what stands in front, which has no key: 503 here, no model, not 401.
    expect((await keyed.request("GET", "/v0/ready", { anonymous: true })).status).toBe(503);
    expect((await keyed.request("GET", "/v0/status")).body.api_key_required).toBe(true);
    expect((await server.request("GET", "/v0/status")).body.api_key_required).toBe(false);
  });
});

describe("guessing a key", () => {
  it("is held back after 20 wrong keys in a minute: 429 with Retry-After, even for the right one", async () => {
    const guessed = await startCore({ hubEndpoint: hub.url, config: { apiKeys: ["7391"] } });
    try {
      const ask = (key: string, url = "/v1/models") =>
        guessed.request("GET", url, { anonymous: true, headers: { authorization: `Bearer ${key}` } });
      for (let guess = 0; guess < 20; guess++)
        expect((await ask(String(guess).padStart(4, "0"))).status).toBe(401);
      const held = await ask("7391");
      expect(held.status).toBe(429);
      expect(held.body.error.code).toBe("auth.too_many_failures");
      expect(Number(held.headers["retry-after"])).toBeGreaterThan(50);
      // The admin token, which cannot be guessed, still reaches the management API from there.
      expect((await ask(guessed.token, "/v0/status")).status).toBe(200);
      // What needs no key is not held back.
      expect((await guessed.request("GET", "/v0/health", { anonymous: true })).status).toBe(200);
    } finally {
      await guessed.close();
    }
  });
});

describe("errors", () => {
  it("use OpenAI's shape for a malformed URL too", async () => {
    const response = await server.request("GET", "/v0/models/%");
    expect(response.status).toBe(400);
    expect(response.body.error).toMatchObject({ type: "invalid_request_error", code: "request.invalid" });
  });

  it("use OpenAI's shape on unknown routes too", async () => {
    const response = await server.request("GET", "/v1/nothing");
    expect(response.status).toBe(404);
    expect(response.body).toEqual({
      error: {
        message: expect.stringContaining("/v1/nothing"),
        type: "not_found_error",
        code: "request.not_found",
        param: null,
      },
    });
  });
});
