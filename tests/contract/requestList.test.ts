import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RequestList } from "../../src-main/contract";
import { runCli } from "../helpers/cliProcess";
import { startFakeNode, type FakeNode } from "../helpers/fakeNode";
import { startCoreWithHub, type TestServerWithHub } from "../helpers/startCore";

let server: TestServerWithHub;
let node: FakeNode;
const model = "acme/tiny-GGUF";
/** The `x-request-id` of each request sent, oldest first. */
const sent: { id: string; failed: boolean }[] = [];

async function chat(name: string): Promise<void> {
  const answer = await fetch(`${server.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: name, messages: [{ role: "user", content: "hi" }] }),
  });
  await answer.arrayBuffer();
  sent.push({ id: answer.headers.get("x-request-id")!, failed: answer.status >= 400 });
}

const list = (query = "") => server.request<RequestList>("GET", `/v0/requests${query}`);
const newestFirst = (ids: string[]) => ids.toReversed();

beforeAll(async () => {
  server = await startCoreWithHub();
  expect((await server.request("POST", "/v0/models/register", { body: { url: model } })).status).toBe(201);
  node = await startFakeNode(server, { name: "answering", ready: [model] });
  // A client's typo first, then a burst of answered requests, then two more typos among them.
  await chat("acme/typo-GGUF");
  for (let i = 0; i < 240; i++) await chat(i === 100 ? "acme/typo-100-GGUF" : model);
  await chat("acme/typo-late-GGUF");
}, 60_000);
afterAll(async () => {
  await node?.close();
  await server?.close();
});

describe("GET /v0/requests", () => {
  it("pages back from the newest, 200 at a time by default, with has_more until the oldest kept", async () => {
    const first = await list();
    expect(first.status).toBe(200);
    expect(first.body.data.map((request) => request.id)).toEqual(
      newestFirst(sent.map((request) => request.id)).slice(0, 200),
    );
    expect(first.body.has_more).toBe(true);

    const older = await list(`?before=${first.body.data.at(-1)!.id}`);
    expect(older.body.data.map((request) => request.id)).toEqual(
      newestFirst(sent.map((request) => request.id)).slice(200),
    );
    expect(older.body.has_more).toBe(false);

    const small = await list("?limit=5");
    expect(small.body.data).toHaveLength(5);
    expect(small.body.has_more).toBe(true);
  });

  it("finds a failure the burst after it pushed out of the latest 200", async () => {
    const failures = await list("?failures=true");
    expect(failures.body.data.map((request) => request.id)).toEqual(
      newestFirst(sent.filter((request) => request.failed).map((request) => request.id)),
    );
    expect(failures.body.data.map((request) => request.requested_model)).toEqual([
      "acme/typo-late-GGUF",
      "acme/typo-100-GGUF",
      "acme/typo-GGUF",
    ]);
    expect(failures.body.has_more).toBe(false);

    const paged = await list("?failures=true&limit=2");
    expect(paged.body.has_more).toBe(true);
    const rest = await list(`?failures=true&before=${paged.body.data[1]!.id}`);
    expect(rest.body.data.map((request) => request.requested_model)).toEqual(["acme/typo-GGUF"]);

    const byName = await list("?model=TYPO-1");
    expect(byName.body.data.map((request) => request.requested_model)).toEqual(["acme/typo-100-GGUF"]);
    expect((await list("?model=tiny&limit=1000")).body.data).toHaveLength(239);
  });

  it("says what is wrong with a page it cannot give", async () => {
    for (const [query, param] of [
      ["?limit=0", "limit"],
      ["?limit=1001", "limit"],
      ["?failures=yes", "failures"],
    ] as const) {
      const refused = await list(query);
      expect(refused.status, query).toBe(400);
      expect(refused.body).toMatchObject({ error: { param, message: expect.stringContaining(`${param}:`) } });
    }
    const gone = await list("?before=req_00000000000000000000000000000000");
    expect(gone.status).toBe(400);
    expect((gone.body as unknown as { error: { message: string } }).error.message).toMatch(
      /^before: no request 'req_0+' is kept here: llmlb keeps the latest 5,000 requests, and its log has every one\.$/,
    );
  });

  it("llmlb requests --failures lists them with their reasons, however many were answered since, and pages back", async () => {
    const cli = (...args: string[]) =>
      runCli(["requests", ...args, "--url", server.url, "--token", server.token], {});
    const result = await cli("--failures");
    expect(result.stderr).toBe("");
    const lines = result.stdout.trim().split("\n");
    expect(lines).toHaveLength(4);
    expect(lines[3]).toMatch(/404 +acme\/typo-GGUF \(not served here\).*model_not_found/);

    const firstTwo = await cli("--failures", "--limit", "2");
    const [, , second, hint] = firstTwo.stdout.trim().split("\n");
    const secondId = sent.filter((request) => request.failed)[1]!.id;
    expect(second).toContain(secondId);
    expect(hint).toBe(`Older ones match too: add --before ${secondId} for the next 2.`);
    const rest = await cli("--failures", "--limit", "2", "--before", secondId);
    expect(rest.stdout.trim().split("\n")).toEqual([
      expect.stringMatching(/^TIME/),
      expect.stringContaining("acme/typo-GGUF"),
    ]);
  });
});
