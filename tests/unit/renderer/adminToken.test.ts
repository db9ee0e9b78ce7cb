import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import { adminTokenIn, takeTokenFromLink } from "../../../src-renderer/adminToken";
import { createHttpApi } from "../../../src-renderer/api";
import { fetchEventSource, type EventSourceLike } from "../../../src-renderer/events";
import { dashboardLink } from "../../../src-main/contract/dashboardLink";

/** A Storage over a Map, as the browser's localStorage is for one origin. */
function memoryStorage() {
  const items = new Map<string, string>();
  return {
    getItem: (key: string) => items.get(key) ?? null,
    setItem: (key: string, value: string) => void items.set(key, value),
  };
}

describe("the dashboard's admin token", () => {
  it("is taken from the link's fragment, dropped from the address, and kept for the origin once the server takes it", () => {
    const storage = memoryStorage();
    const replaced: string[] = [];
    const history = {
      replaceState: (_: unknown, __: string, url?: string | URL | null) => void replaced.push(String(url)),
    };
    const token = "llmlb_a+b/c=";
    const link = new URL(dashboardLink("http://127.0.0.1:8080", token));
    const held = adminTokenIn(storage);
    expect(takeTokenFromLink(held, link, history)).toBe(token);
    expect(replaced).toEqual(["/"]);
    expect(held.read()).toBe(token);
    // Not kept until the server has taken it.
    expect(adminTokenIn(storage).read()).toBeUndefined();
    held.keep();
    // A page opened later on this origin, without the link, has it.
    expect(adminTokenIn(storage).read()).toBe(token);
  });

  it("given by a link another page opened, and refused, does not replace the one kept", () => {
    const storage = memoryStorage();
    const good = adminTokenIn(storage);
    good.use("llmlb_good");
    good.keep();
    const page = adminTokenIn(storage);
    takeTokenFromLink(page, { hash: "#token=junk", pathname: "/", search: "" }, { replaceState() {} });
    expect(page.read()).toBe("junk");
    // The server refused it: back to the one kept, which is still there.
    expect(page.fallBack()).toBe(true);
    expect(page.read()).toBe("llmlb_good");
    expect(page.fallBack()).toBe(false);
    expect(adminTokenIn(storage).read()).toBe("llmlb_good");
  });

  it("leaves a route in the fragment alone, and keeps the token in memory where storage is refused", () => {
    const replaced: string[] = [];
    const history = { replaceState: () => void replaced.push("replaced") };
    const refusing = {
      getItem: () => null,
      setItem: () => {
        throw new Error("QuotaExceededError");
      },
    };
    const token = adminTokenIn(refusing);
    expect(
      takeTokenFromLink(token, { hash: "#/models", pathname: "/", search: "" }, history),
    ).toBeUndefined();
    expect(replaced).toEqual([]);
    expect(token.read()).toBeUndefined();
    takeTokenFromLink(token, { hash: "#token=llmlb_x", pathname: "/", search: "" }, history);
    token.keep();
    expect(token.read()).toBe("llmlb_x");
  });
});

describe("the dashboard's requests", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("send the admin token as a Bearer header once there is one, and no credential before", async () => {
    const seen: (string | undefined)[] = [];
    vi.stubGlobal(
      "fetch",
      vi.fn(async (_url: string, init: RequestInit) => {
        seen.push((init.headers as Record<string, string>).authorization);
        return Response.json({ paused: false });
      }),
    );
    const token = adminTokenIn(undefined);
    const api = createHttpApi(token);
    await api.setServing(false);
    token.use("llmlb_t");
    await api.setServing(false);
    expect(seen).toEqual([undefined, "Bearer llmlb_t"]);
  });
});

/** A token the page was given. */
function given(token: string) {
  const held = adminTokenIn(undefined);
  held.use(token);
  return held;
}

/** A server of `/v0/events` that wants `Bearer good`, and lets the test write to its open streams. */
async function eventServer() {
  const streams: http.ServerResponse[] = [];
  const server = http.createServer((request, response) => {
    if (request.headers.authorization !== "Bearer good") {
      response.writeHead(401, { "content-type": "application/json" }).end('{"error":{}}');
      return;
    }
    response.writeHead(200, { "content-type": "text/event-stream" });
    response.write("retry: 2000\n\n");
    streams.push(response);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v0/events`;
  return {
    url,
    streams,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** What a source reports, in order, and a promise for each next report. */
function watch(source: EventSourceLike) {
  const seen: string[] = [];
  let wake: (() => void) | undefined;
  const note = (entry: string) => {
    seen.push(entry);
    wake?.();
  };
  source.onopen = () => note("open");
  source.onmessage = (event) => note(`message ${String(event.data)}`);
  source.onerror = () => note(`error ${source.readyState}`);
  const until = async (count: number) => {
    while (seen.length < count) await new Promise<void>((resolve) => (wake = resolve));
  };
  return { seen, until };
}

describe("the dashboard's event stream", () => {
  let server: Awaited<ReturnType<typeof eventServer>> | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it("sends the token as a header, passes on unnamed events only, and ends CLOSED when the server goes", async () => {
    server = await eventServer();
    const source = fetchEventSource(given("good"))(server.url);
    const report = watch(source);
    await report.until(1);
    expect(source.readyState).toBe(1);
    // Split across writes, with a comment and a named event between.
    server.streams[0]!.write('data: {"type":');
    server.streams[0]!.write('"serving"}\n\n: keep-alive\n\nevent: other\ndata: x\n\ndata: 2\n\n');
    await report.until(3);
    server.streams[0]!.end();
    await report.until(4);
    expect(report.seen).toEqual(["open", 'message {"type":"serving"}', "message 2", "error 2"]);
  });

  it("is refused without the token: CLOSED, never open", async () => {
    server = await eventServer();
    const source = fetchEventSource(adminTokenIn(undefined))(server.url);
    const report = watch(source);
    await report.until(1);
    expect(report.seen).toEqual(["error 2"]);
  });

  it("closed by the page, reports nothing more", async () => {
    server = await eventServer();
    const source = fetchEventSource(given("good"))(server.url);
    const report = watch(source);
    await report.until(1);
    const gone = new Promise((resolve) => server!.streams[0]!.once("close", resolve));
    source.close();
    // The server saw the stream go (after the page's reader had stopped).
    await gone;
    expect(report.seen).toEqual(["open"]);
    expect(source.readyState).toBe(2);
  });
});
