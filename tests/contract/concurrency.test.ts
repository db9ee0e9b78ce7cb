import { afterAll, beforeAll, expect, it } from "vitest";
import { startFakeHub, type FakeHub } from "../fixtures/fakeHub";
import { testRepos } from "../helpers/hubRepos";
import { startCore, type TestServer } from "../helpers/startCore";

let hub: FakeHub;
let server: TestServer;

beforeAll(async () => {
  hub = await startFakeHub({ repos: testRepos() });
  server = await startCore({ hubEndpoint: hub.url });
});
afterAll(async () => {
  await server.close();
  await hub.close();
});

it("20 concurrent registrations of one repo: exactly one 201, the rest 409, one row", async () => {
  const responses = await Promise.all(
    Array.from({ length: 20 }, () =>
      server.request("POST", "/v0/models/register", {
        body: { url: "https://huggingface.co/acme/tiny-GGUF" },
      }),
    ),
  );
  const statuses = responses.map((r) => r.status).sort();
  expect(statuses.filter((s) => s === 201)).toHaveLength(1);
  expect(statuses.filter((s) => s === 409)).toHaveLength(19);
  const list = (await server.request("GET", "/v0/models")).body;
  expect(list.total).toBe(1);
  expect(list.data[0].artifacts).toHaveLength(5);
});
