import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cliProcess";
import { startFakeOpenAiServer, type FakeOpenAiServer } from "../helpers/fakeOpenAiServer";
import { serveInTempDir, type ServedInTempDir } from "../helpers/serveInTempDir";

let served: ServedInTempDir;
let vllm: FakeOpenAiServer;
let other: FakeOpenAiServer;
let env: NodeJS.ProcessEnv;
const key = "sk-cli-secret-0001";

beforeAll(async () => {
  vllm = await startFakeOpenAiServer({ name: "vllm", models: ["meta/llama-3-8b", "qwen-7b"], apiKey: key });
  other = await startFakeOpenAiServer({ name: "other", models: ["meta/llama-3-8b", "phi-3"], apiKey: key });
  served = await serveInTempDir({
    // Never asked: no model is registered here.
    hubUrl: "http://127.0.0.1:9",
    args: ["--port", "0", "--workers", "none"],
    alsoClose: async () => {
      await vllm.close();
      await other.close();
    },
  });
  env = served.env;
});
afterAll(async () => {
  await served?.close();
});

describe("llmlb endpoint", () => {
  it("adds (key from the environment or --api-key), lists, shows JSON, removes, and reports errors", async () => {
    const empty = await runCli(["endpoint", "list"], env);
    expect(empty.code).toBe(0);
    expect(empty.stdout).toMatch(/^No endpoints\. Add an OpenAI-compatible server with: llmlb endpoint add/);

    const refused = await runCli(["endpoint", "add", "vllm", vllm.url], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(
      `error: ${vllm.url}/v1 needs an API key (HTTP 401): give it as api_key (\`--api-key\` on the command line).\n`,
    );

    const added = await runCli(["endpoint", "add", "vllm", vllm.url], {
      ...env,
      LLMLB_ENDPOINT_API_KEY: key,
    });
    expect(added.stderr).toBe("");
    expect(added.code).toBe(0);
    expect(added.stdout).toBe(
      `Added endpoint vllm (${vllm.url}/v1), 2 model(s): meta/llama-3-8b, qwen-7b; 4 requests at once\n`,
    );

    // The same server under another name (its URL spelled with /v1) would count it twice.
    const sameServer = await runCli(["endpoint", "add", "vllm-2", `${vllm.url}/v1`, "--api-key", key], env);
    expect(sameServer.code).toBe(1);
    expect(sameServer.stderr).toBe(`error: Endpoint vllm already has the URL ${vllm.url}/v1.\n`);
    const second = await runCli(["endpoint", "add", "vllm-2", other.url, "--api-key", key], env);
    expect(second.code).toBe(0);

    const duplicate = await runCli(["endpoint", "add", "vllm", vllm.url, "--api-key", key], env);
    expect(duplicate.code).toBe(1);
    expect(duplicate.stderr).toContain("error: An endpoint or node named vllm already exists.");

    const list = await runCli(["endpoint", "list"], env);
    expect(list.code).toBe(0);
    const lines = list.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^NAME\s+STATUS\s+MODELS\s+PARALLEL\s+API KEY\s+URL$/);
    expect(lines.slice(1)).toEqual([
      expect.stringMatching(new RegExp(`^vllm\\s+online\\s+2\\s+4\\s+yes\\s+${vllm.url}/v1$`)),
      expect.stringMatching(/^vllm-2\s+online\s+2\s+4\s+yes\s+/),
    ]);
    expect(list.stdout).not.toContain(key);

    const json = await runCli(["endpoint", "list", "--json"], env);
    expect(JSON.parse(json.stdout).data).toEqual([
      expect.objectContaining({ name: "vllm", has_api_key: true, models: ["meta/llama-3-8b", "qwen-7b"] }),
      expect.objectContaining({ name: "vllm-2" }),
    ]);

    // What the endpoints serve is among the models, served there.
    const models = await runCli(["model", "list"], env);
    expect(models.stdout).toMatch(/^qwen-7b\s+-\s+-\s+yes\s+vllm: ready$/m);

    const nodes = await runCli(["node", "list"], env);
    expect(nodes.stdout).toMatch(/vllm\s+external\s+-\s+-\s+-\s+online\s+2\/2/);

    const rm = await runCli(["endpoint", "rm", "vllm"], env);
    expect(rm.code).toBe(0);
    expect(rm.stdout).toBe(`Removed endpoint vllm (${vllm.url}/v1)\n`);
    const id = JSON.parse((await runCli(["endpoint", "list", "--json"], env)).stdout).data[0].id as string;
    // Removed by its id, it is still named as a person knows it.
    const byId = await runCli(["endpoint", "rm", id], env);
    expect(byId.code).toBe(0);
    expect(byId.stdout).toBe(`Removed endpoint vllm-2 (${other.url}/v1)\n`);

    const again = await runCli(["endpoint", "rm", "vllm"], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe("error: There is no endpoint named or with id vllm.\n");
    // A dozen CLI processes, each starting Node and tsx: slow on a busy two-core machine.
  }, 90_000);

  it("sets how many requests an endpoint gets at once, on add and later, and refuses what does not fit", async () => {
    const added = await runCli(
      ["endpoint", "add", "big", vllm.url, "--api-key", key, "--parallel", "32"],
      env,
    );
    expect(added.stderr).toBe("");
    expect(added.stdout).toBe(
      `Added endpoint big (${vllm.url}/v1), 2 model(s): meta/llama-3-8b, qwen-7b; 32 requests at once\n`,
    );
    const listed = await runCli(["endpoint", "list"], env);
    expect(listed.stdout.trim().split("\n")[1]).toMatch(/^big\s+online\s+2\s+32\s+yes\s+/);

    const set = await runCli(["endpoint", "set", "big", "--parallel", "8"], env);
    expect(set.stderr).toBe("");
    expect(set.code).toBe(0);
    expect(set.stdout).toBe(
      "Endpoint big now gets 8 requests at once (running requests finish as they are).\n",
    );
    const json = JSON.parse((await runCli(["endpoint", "list", "--json"], env)).stdout);
    expect(json.data).toEqual([expect.objectContaining({ name: "big", parallel: 8 })]);

    for (const args of [
      ["endpoint", "set", "big", "--parallel", "0"],
      ["endpoint", "set", "big", "--parallel", "1025"],
      ["endpoint", "set", "big", "--parallel", "many"],
      ["endpoint", "add", "other", other.url, "--api-key", key, "--parallel", "2.5"],
    ]) {
      const refused = await runCli(args, env);
      expect(refused.code, args.join(" ")).not.toBe(0);
      expect(refused.stderr, args.join(" ")).toContain("Must be a whole number from 1 to 1,024");
    }
    const missing = await runCli(["endpoint", "set", "nope", "--parallel", "8"], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe("error: There is no endpoint named or with id nope.\n");
    expect(JSON.parse((await runCli(["endpoint", "list", "--json"], env)).stdout).data).toEqual([
      expect.objectContaining({ name: "big", parallel: 8 }),
    ]);
    expect((await runCli(["endpoint", "rm", "big"], env)).code).toBe(0);
  }, 90_000);

  it("gives an endpoint a new URL or API key once its server answers with it, or says why not", async () => {
    expect((await runCli(["endpoint", "add", "moving", vllm.url, "--api-key", key], env)).code).toBe(0);
    const wrong = await runCli(["endpoint", "set", "moving", "--api-key", "sk-rotated-wrong"], env);
    expect(wrong).toMatchObject({
      code: 1,
      stderr: `error: ${vllm.url}/v1 refused the API key (HTTP 401).\n`,
    });
    const none = await runCli(["endpoint", "set", "moving", "--no-api-key"], env);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("needs an API key");
    const moved = await runCli(["endpoint", "set", "moving", "--base-url", other.url, "--api-key", key], env);
    expect(moved.stderr).toBe("");
    expect(moved.stdout).toBe(
      `Endpoint moving answered at ${other.url}/v1 (with an API key), 2 model(s): meta/llama-3-8b, phi-3.\n`,
    );
    const nothing = await runCli(["endpoint", "set", "moving"], env);
    expect(nothing).toMatchObject({
      code: 1,
      stderr: "error: Nothing to change: give --parallel, --base-url, --api-key or --no-api-key.\n",
    });
    expect((await runCli(["endpoint", "rm", "moving"], env)).code).toBe(0);
  }, 90_000);

  it("prints a hostile model id's control characters as escapes, never to the terminal as they are", async () => {
    // An escape sequence that would retitle the window and clear the screen, and a C1 one.
    // And a right-to-left override, which would show what follows it backwards.
    const hostile = "evil\u001b]0;PWNED\u0007\u001b[2Jname\u009b31m\u202etxt.exe";
    const server = await startFakeOpenAiServer({ name: "hostile", models: [hostile] });
    try {
      const added = await runCli(["endpoint", "add", "hostile", server.url], env);
      expect(added.code).toBe(0);
      const printed = [added.stdout, (await runCli(["model", "list"], env)).stdout];
      for (const output of printed) {
        for (const control of ["\u001b", "\u0007", "\u009b", "\u202e"])
          expect(output.includes(control)).toBe(false);
        expect(output).toContain("evil\\u001b]0;PWNED\\u0007\\u001b[2Jname\\u009b31m\\u202etxt.exe");
      }
      // JSON output stays JSON, with the id as the endpoint gave it.
      const json = await runCli(["model", "list", "--json"], env);
      expect(JSON.parse(json.stdout).data.map((model: { name: string }) => model.name)).toContain(hostile);
    } finally {
      await runCli(["endpoint", "rm", "hostile"], env);
      await server.close();
    }
  }, 60_000);
});
