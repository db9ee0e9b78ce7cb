import { afterAll, beforeAll, expect, it } from "vitest";
import { startCoreWithHub, type TestServerWithHub } from "../helpers/startCore";

let server: TestServerWithHub;

beforeAll(async () => {
  server = await startCoreWithHub();
});
afterAll(async () => {
  await server?.close();
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
