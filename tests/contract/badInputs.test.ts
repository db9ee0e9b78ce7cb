import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorBodySchema } from "../../src-main/contract";
import { startCoreWithHub, type RequestOptions, type TestServerWithHub } from "../helpers/startCore";

let server: TestServerWithHub;
let before: string;

const registryState = async () => JSON.stringify((await server.request("GET", "/v0/models?limit=1000")).body);

beforeAll(async () => {
  server = await startCoreWithHub();
  expect(
    (await server.request("POST", "/v0/models/register", { body: { url: "acme/tiny-GGUF" } })).status,
  ).toBe(201);
  before = await registryState();
});
afterAll(async () => {
  await server?.close();
});

const register = "/v0/models/register";
const json = { "content-type": "application/json" };

interface BadInput {
  name: string;
  method: string;
  path: string;
  options: RequestOptions;
  status: number;
  /** Words the message must contain, so the user learns what was wrong. */
  says: RegExp;
}

const cases: BadInput[] = [
  {
    name: "malformed JSON",
    method: "POST",
    path: register,
    options: { rawBody: '{"url": ', headers: json },
    status: 400,
    says: /not valid JSON/,
  },
  {
    name: "JSON that is an array",
    method: "POST",
    path: register,
    options: { body: ["acme/tiny-GGUF"] },
    status: 400,
    says: /url|repo/,
  },
  {
    name: "JSON null",
    method: "POST",
    path: register,
    options: { rawBody: "null", headers: json },
    status: 400,
    says: /url|repo/,
  },
  {
    name: "empty JSON body",
    method: "POST",
    path: register,
    options: { rawBody: "", headers: json },
    status: 400,
    says: /empty/,
  },
  {
    name: "url of the wrong type",
    method: "POST",
    path: register,
    options: { body: { url: 42 } },
    status: 400,
    says: /url|repo/,
  },
  {
    name: "repo of the wrong type",
    method: "POST",
    path: register,
    options: { body: { repo: ["a", "b"] } },
    status: 400,
    says: /url|repo/,
  },
  {
    name: "unknown field",
    method: "POST",
    path: register,
    options: { body: { url: "acme/x", format: "gguf" } },
    status: 400,
    says: /url|repo|format/,
  },
  {
    name: "empty url",
    method: "POST",
    path: register,
    options: { body: { url: "   " } },
    status: 400,
    says: /empty/,
  },
  {
    name: "not a repo id",
    method: "POST",
    path: register,
    options: { body: { url: "just-a-name" } },
    status: 400,
    says: /Accepted forms/,
  },
  {
    name: "repo id with '..'",
    method: "POST",
    path: register,
    options: { body: { repo: "acme/../etc" } },
    status: 400,
    says: /Accepted forms|not allowed/,
  },
  {
    name: "file path traversal",
    method: "POST",
    path: register,
    options: { body: { repo: "acme/tiny-GGUF", filename: "../../etc/passwd" } },
    status: 400,
    says: /'\.\.'/,
  },
  {
    name: "absolute file path",
    method: "POST",
    path: register,
    options: { body: { repo: "acme/tiny-GGUF", filename: "/etc/passwd" } },
    status: 400,
    says: /absolute/,
  },
  {
    name: "backslash in file path",
    method: "POST",
    path: register,
    options: { body: { repo: "acme/tiny-GGUF", filename: "a\\b.gguf" } },
    status: 400,
    says: /backslash/,
  },
  {
    name: "NUL in file path",
    method: "POST",
    path: register,
    options: { body: { repo: "acme/tiny-GGUF", filename: "a\u0000.gguf" } },
    status: 400,
    says: /control character/,
  },
  {
    name: "newline inside a URL",
    method: "POST",
    path: register,
    options: { body: { url: "acme/tiny\nGGUF" } },
    status: 400,
    says: /white space/,
  },
  {
    name: "traversal in a blob URL",
    method: "POST",
    path: register,
    options: { body: { url: "https://huggingface.co/acme/tiny-GGUF/blob/main/%2E%2E/x.gguf" } },
    status: 400,
    says: /'\.\.'/,
  },
  {
    name: "a foreign host's URL",
    method: "POST",
    path: register,
    options: { body: { url: "https://evil.example/acme/tiny-GGUF" } },
    status: 400,
    says: /not huggingface\.co/,
  },
  {
    name: "a file: URL",
    method: "POST",
    path: register,
    options: { body: { url: "file:///etc/passwd" } },
    status: 400,
    says: /not supported/,
  },
  {
    name: "a javascript: URL",
    method: "POST",
    path: register,
    options: { body: { url: "javascript://alert(1)" } },
    status: 400,
    says: /not supported/,
  },
  {
    name: "a dataset URL",
    method: "POST",
    path: register,
    options: { body: { url: "https://huggingface.co/datasets/acme/data" } },
    status: 400,
    says: /Only model repositories/,
  },
  {
    name: "a URL with credentials",
    method: "POST",
    path: register,
    options: { body: { url: "https://user:pw@huggingface.co/acme/tiny-GGUF" } },
    status: 400,
    says: /credentials/,
  },
  {
    name: "a tree URL into a folder",
    method: "POST",
    path: register,
    options: { body: { url: "https://huggingface.co/acme/tiny-GGUF/tree/main/sub" } },
    status: 400,
    says: /folder/,
  },
  {
    name: "bad percent-encoding",
    method: "POST",
    path: register,
    options: { body: { url: "https://huggingface.co/acme/tiny-GGUF/blob/main/%E0%A4%A.gguf" } },
    status: 400,
    says: /percent-encoding/,
  },
  {
    name: "a bad quantization tag",
    method: "POST",
    path: register,
    options: { body: { url: "acme/tiny-GGUF:Q4 K" } },
    status: 400,
    says: /white space|quantization/,
  },
  {
    name: "a revision with '..'",
    method: "POST",
    path: register,
    options: { body: { repo: "acme/tiny-GGUF", revision: "main/../x" } },
    status: 400,
    says: /'\.\.'/,
  },
  {
    name: "a URL over 2 KB",
    method: "POST",
    path: register,
    options: { body: { url: `acme/${"a".repeat(3000)}` } },
    status: 400,
    says: /url/,
  },
  {
    name: "a body over the limit",
    method: "POST",
    path: register,
    options: { body: { url: "x".repeat(2 * 1024 * 1024) } },
    status: 413,
    says: /too large: this route takes at most 1 MiB/,
  },
  {
    name: "an inference body over its larger limit",
    method: "POST",
    path: "/v1/chat/completions",
    options: {
      body: { model: "acme/tiny-GGUF", messages: [{ role: "user", content: "x".repeat(65 * 1024 * 1024) }] },
    },
    status: 413,
    says: /at most 64 MiB/,
  },
  {
    name: "text/plain body",
    method: "POST",
    path: register,
    options: { rawBody: "acme/tiny-GGUF", headers: { "content-type": "text/plain" } },
    status: 415,
    says: /application\/json/,
  },
  {
    name: "form body",
    method: "POST",
    path: register,
    options: { rawBody: "url=acme", headers: { "content-type": "application/x-www-form-urlencoded" } },
    status: 415,
    says: /application\/json/,
  },
  {
    name: "a chat completion with no body at all",
    method: "POST",
    path: "/v1/chat/completions",
    options: {},
    status: 400,
    says: /needs a JSON body/,
  },
  {
    name: "a chat completion whose model is a number",
    method: "POST",
    path: "/v1/chat/completions",
    options: { body: { model: 123, messages: [{ role: "user", content: "hi" }] } },
    status: 400,
    says: /^model: must be a string, not number: the id of a registered model/,
  },
  {
    name: "a Responses request whose model is missing",
    method: "POST",
    path: "/v1/responses",
    options: { body: { input: "hi" } },
    status: 400,
    says: /^model: is required/,
  },
  {
    name: "a Responses request with no input items",
    method: "POST",
    path: "/v1/responses",
    options: { body: { model: "acme/tiny-GGUF", input: [] } },
    status: 400,
    says: /^input: must have at least one item/,
  },
  {
    name: "an alias that is too long",
    method: "POST",
    path: "/v0/aliases",
    options: { body: { alias: "a".repeat(300), model: "acme/tiny-GGUF" } },
    status: 400,
    says: /^alias: must have at most 256 characters/,
  },
  {
    name: "an embeddings request with a text/plain body",
    method: "POST",
    path: "/v1/embeddings",
    options: { rawBody: "hello", headers: { "content-type": "text/plain" } },
    status: 415,
    says: /application\/json/,
  },
  {
    name: "a duplicate at another revision",
    method: "POST",
    path: register,
    options: { body: { url: "https://huggingface.co/acme/tiny-GGUF/tree/nosuchbranch" } },
    status: 409,
    says: /already registered at revision main; delete it first to register revision nosuchbranch/,
  },
  {
    name: "a duplicate",
    method: "POST",
    path: register,
    options: { body: { url: "https://huggingface.co/acme/tiny-GGUF" } },
    status: 409,
    says: /already registered/,
  },
  {
    name: "a foreign Host",
    method: "POST",
    path: register,
    options: { body: { url: "acme/split-GGUF" }, headers: { host: "attacker.example" } },
    status: 403,
    says: /not allowed/,
  },
  {
    name: "no admin token",
    method: "POST",
    path: register,
    options: { body: { url: "acme/split-GGUF" }, anonymous: true },
    status: 401,
    says: /admin token/,
  },
  {
    name: "limit of 0",
    method: "GET",
    path: "/v0/models?limit=0",
    options: {},
    status: 400,
    says: /^limit: must be at least 1/,
  },
  {
    name: "limit that is not a number",
    method: "GET",
    path: "/v0/models?limit=ten",
    options: {},
    status: 400,
    says: /^limit: must be a number/,
  },
  {
    name: "negative offset",
    method: "GET",
    path: "/v0/models?offset=-1",
    options: {},
    status: 400,
    says: /^offset: must be at least 0/,
  },
  {
    name: "deleting an unknown model",
    method: "DELETE",
    path: "/v0/models/acme%2Fnothing",
    options: {},
    status: 404,
    says: /not registered/,
  },
  {
    // openai-python says Content-Type: application/json on every request but GET, a DELETE included.
    name: "deleting with Content-Type: application/json and no body (read as no body)",
    method: "DELETE",
    path: "/v0/models/acme%2Fnothing",
    options: { headers: { "content-type": "application/json" } },
    status: 404,
    says: /not registered/,
  },
  {
    name: "a manifest path without manifest.json",
    method: "GET",
    path: "/v0/models/registry/acme%2Ftiny-GGUF",
    options: {},
    status: 404,
    says: /not registered/,
  },
  {
    name: "an unknown route",
    method: "PUT",
    path: "/v0/models/register",
    options: { body: {} },
    status: 404,
    says: /not found/,
  },
];

describe("bad input", () => {
  it.each(cases)("$name → $status with a message", async ({ method, path, options, status, says }) => {
    const response = await server.request(method, path, options);
    expect(response.status).toBe(status);
    const body = errorBodySchema.parse(response.body);
    expect(body.error.message).toMatch(says);
  });

  it("leaves the server healthy and the registry unchanged", async () => {
    expect((await server.request("GET", "/v0/health", { anonymous: true })).status).toBe(200);
    expect(await registryState()).toBe(before);
  });
});
