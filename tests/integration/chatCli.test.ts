import { spawn } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs";
import type http from "node:http";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChatCompletion, ChatMessage, Model, ModelList, NodeList } from "../../src-main/contract";
import { printable } from "../../src-main/cli/format";
import { generateTinyGguf } from "../fixtures/tinyGguf";
import { runCli } from "../helpers/cliProcess";
import { startFakeOpenAiServer, type FakeOpenAiServer } from "../helpers/fakeOpenAiServer";
import { fakeBytes } from "../helpers/hubRepos";
import { makeTempDir } from "../helpers/tempDir";
import { runCliInTerminal } from "../helpers/terminal";
import { serveTinyModel, tinyModel, type TinyModelServe } from "../helpers/tinyModelServe";

const laterModel = "acme/later-GGUF";
const brokenModel = "acme/broken-GGUF";
/** Downloaded slowly, to be left while it downloads. */
const slowModel = "acme/slow-GGUF";
const sampling = ["--max-tokens", "12", "--temperature", "0"];

let served: TinyModelServe;
let endpoint: FakeOpenAiServer;
/** The endpoint's replies that are held open, each until its client goes away. */
const heldReplies: { closed: Promise<void> }[] = [];

beforeAll(async () => {
  served = await serveTinyModel({
    workers: 1,
    repos: [
      { id: laterModel, files: [{ path: "later-Q4_K_M.gguf", content: generateTinyGguf({ seed: 2 }) }] },
      { id: brokenModel, files: [{ path: "broken-Q4_K_M.gguf", content: fakeBytes("not a gguf") }] },
      { id: slowModel, files: [{ path: "slow-Q4_K_M.gguf", content: generateTinyGguf({ seed: 4 }) }] },
    ],
  });
  // slow-model: a reply that begins, then goes on until the client stops it (what Ctrl+C is for).
  // cut-model: a reply that begins, then ends without saying it is done.
  // think-model: a reply whose reasoning comes apart from its text, as a reasoning server streams it.
  endpoint = await startFakeOpenAiServer({
    name: "slow",
    models: ["slow-model", "cut-model", "think-model"],
    handler: (_request, response: http.ServerResponse, body) => {
      response.writeHead(200, { "content-type": "text/event-stream" });
      const chunk = { id: "c", object: "chat.completion.chunk", created: 0, model: body.model };
      const send = (delta: object, finish: string | null = null) =>
        response.write(
          `data: ${JSON.stringify({ ...chunk, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`,
        );
      if (body.model === "think-model") {
        send({ role: "assistant", reasoning_content: "The user greets me." });
        send({ content: "Hello!" }, "stop");
        return response.end("data: [DONE]\n\n");
      }
      response.write(
        `data: ${JSON.stringify({ ...chunk, choices: [{ index: 0, delta: { content: "Once upon" }, finish_reason: null }] })}\n\n`,
      );
      if (body.model === "cut-model") return response.end();
      heldReplies.push({ closed: once(response, "close").then(() => undefined) });
    },
  });
  const added = await served.admin("POST", "/v0/endpoints", { name: "slow", url: endpoint.url });
  expect(added.status).toBe(201);
}, 120_000);

afterAll(async () => {
  await served?.close();
  await endpoint?.close();
});

/** What /v1 answers to `messages`, greedily, as the CLI asks. */
async function answerOf(messages: ChatMessage[]): Promise<ChatCompletion> {
  const response = await fetch(`${served.serve.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: tinyModel, messages, max_tokens: 12, temperature: 0 }),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as ChatCompletion;
}

describe("llmlb chat with a prompt", () => {
  it("prints the model's answer to it, as /v1 gives it, and says when the answer was cut short", async () => {
    const direct = await answerOf([{ role: "user", content: "Once upon a time" }]);
    const result = await runCli(["chat", tinyModel, "Once", "upon", "a", "time", ...sampling], served.env);
    expect(result.stderr).not.toContain("error");
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${direct.choices[0]!.message.content}\n`);
    expect(result.stderr.includes("(cut short at --max-tokens 12)")).toBe(
      direct.choices[0]!.finish_reason === "length",
    );
  });

  it("takes the model by the Hugging Face link it was registered from, again and again", async () => {
    for (let run = 0; run < 2; run++) {
      const result = await runCli(
        ["chat", `https://huggingface.co/${tinyModel}`, "Hi", ...sampling],
        served.env,
      );
      expect(result.stderr).not.toContain("error");
      expect(result.code).toBe(0);
      expect(result.stdout.trim()).not.toBe("");
    }
  });

  it("with a token that is not the admin token (an API key), chats with a model ready now", async () => {
    const asStranger = ["--url", served.serve.url, "--token", "not-the-admin-token"];
    const direct = await answerOf([{ role: "user", content: "Hi" }]);
    const result = await runCli([...asStranger, "chat", tinyModel, "Hi", ...sampling], served.env);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${direct.choices[0]!.message.content}\n`);
    // Not registered here: /v1 does not know it either.
    const unknown = await runCli([...asStranger, "chat", "acme/nothing-GGUF", "Hi"], served.env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("the CLI sent --token");
  });

  it("prints only the answer's text into a pipe, leaving out the reasoning a server streams apart, which a terminal shows", async () => {
    const result = await runCli(["chat", "think-model", "Hi"], served.env);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe("Hello!\n");
    const terminal = runCliInTerminal(["chat", "think-model", "Hi"], served.env);
    expect(await terminal.exited()).toBe(0);
    expect(terminal.screen()).toContain("The user greets me.\n\nHello!\n");
  });

  it("says so, and fails, when the reply ends before the server said it was done", async () => {
    const result = await runCli(["chat", "cut-model", "Tell me a story"], served.env);
    expect(result.stdout).toBe("Once upon\n");
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("ended the reply before it was finished");
  });

  it("reads the prompt from standard input when none is given", async () => {
    const direct = await answerOf([{ role: "user", content: "The cat sat\n" }]);
    const result = await runCli(["chat", tinyModel, ...sampling], served.env, "The cat sat\n");
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${direct.choices[0]!.message.content}\n`);
  });

  it("puts a file piped in after the words given", async () => {
    const temp = await makeTempDir();
    try {
      const file = path.join(temp.path, "notes.txt");
      fs.writeFileSync(file, "a list of things");
      const direct = await answerOf([{ role: "user", content: "Summarize:\n\na list of things" }]);
      const child = spawn(
        process.execPath,
        ["--import", "tsx", "src-main/cli/main.ts", "chat", tinyModel, "Summarize:", ...sampling],
        {
          cwd: path.resolve(import.meta.dirname, "../.."),
          env: { ...process.env, ...served.env },
          stdio: [fs.openSync(file, "r"), "pipe", "pipe"],
        },
      );
      let stdout = "";
      child.stdout!.on("data", (chunk) => (stdout += chunk));
      const [code] = await once(child, "exit");
      expect(code).toBe(0);
      expect(stdout).toBe(`${direct.choices[0]!.message.content}\n`);
    } finally {
      await temp.remove();
    }
  });

  it("says a name that is neither registered nor a Hugging Face repo is not registered, and registers nothing", async () => {
    const before = await served.admin<ModelList>("GET", "/v0/models");
    const result = await runCli(["chat", "nothing-like-it", "hello"], served.env);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("Model nothing-like-it is not registered.");
    expect(result.stderr).toContain("llmlb model list");
    expect(result.stdout).toBe("");
    const after = await served.admin<ModelList>("GET", "/v0/models");
    expect(after.body.data.map((model) => model.name)).toEqual(before.body.data.map((model) => model.name));
  });

  it("refuses a prompt longer than the context with what to do, and writes nothing to standard output", async () => {
    const result = await runCli(["chat", tinyModel, "word ".repeat(3000), "--max-tokens", "40"], served.env);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(/^error: This model's maximum context length is 512 tokens/);
    expect(result.stderr).toContain(
      `Send less at once, or ask for fewer with a lower --max-tokens; or give the model a larger context, where it and memory allow: \`llmlb model set ${tinyModel} --context <tokens>\`.`,
    );
  });

  it("with nothing to send, says so", async () => {
    const result = await runCli(["chat", tinyModel], served.env, "");
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("Nothing to send");
  });
});

describe("llmlb chat with a Hugging Face repo not registered yet", () => {
  it("registers it, says where its download stands until it is ready, then answers", async () => {
    // Slow enough for the download to be seen under way.
    served.hub.setFaults({ throttleBytesPerSecond: 100_000 });
    try {
      const result = await runCli(["chat", laterModel, "Hello", ...sampling], served.env);
      expect(result.code).toBe(0);
      expect(result.stderr).toContain(`Registered ${laterModel}`);
      expect(result.stderr).toMatch(new RegExp(`Waiting for ${laterModel}: \\S+: downloading \\d+% \\(`));
      expect(result.stdout.trim()).not.toBe("");
    } finally {
      served.hub.clearFaults();
    }
    const model = await served.admin<Model>("GET", `/v0/models/${encodeURIComponent(laterModel)}`);
    expect(model.body.ready).toBe(true);
  });
});

describe("llmlb chat at a terminal, waiting for a download", () => {
  it("Ctrl+C stops the wait, saying the model stays registered and downloading", async () => {
    served.hub.setFaults({ throttleBytesPerSecond: 20_000 });
    try {
      const terminal = runCliInTerminal(["chat", slowModel], served.env);
      await terminal.waitForScreen(new RegExp(`Waiting for ${slowModel}: \\S+: downloading`));
      terminal.type("\x03");
      await terminal.waitForScreen(/stays registered, and its download goes on/);
      expect(await terminal.exited()).toBe(130);
      const model = await served.admin<Model>("GET", `/v0/models/${encodeURIComponent(slowModel)}`);
      expect(model.status).toBe(200);
    } finally {
      served.hub.clearFaults();
      await served.admin("DELETE", `/v0/models/${encodeURIComponent(slowModel)}`);
    }
  });
});

describe("llmlb model add --wait", () => {
  it("for a file no node can load, fails with each node's reason once they have tried, and says what follows", async () => {
    const result = await runCli(["model", "add", brokenModel, "--wait"], served.env);
    expect(result.stdout).toContain(`Registered ${brokenModel}`);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`error: ${brokenModel} cannot be served:`);
    const model = await served.admin<Model>("GET", `/v0/models/${encodeURIComponent(brokenModel)}`);
    const node = model.body.nodes[0]!;
    if (node.state !== "error" && node.state !== "unsupported")
      throw new Error(`${brokenModel} is ${node.state}, not failed`);
    expect(result.stderr).toContain(node.state === "error" ? node.message : node.reason);
    expect(result.stderr).toContain(`llmlb model retry ${brokenModel}\` tries again now.`);

    // Asked for again, as `ollama pull` is: tried again where it failed, then waited for.
    const again = await runCli(["model", "add", brokenModel, "--wait"], served.env);
    expect(again.stdout).toMatch(
      new RegExp(
        `^${brokenModel} is registered already\\.\\nIt had failed on \\S+: trying it again there\\.\\n`,
      ),
    );
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`error: ${brokenModel} cannot be served:`);
  });

  it("for a model whose file the cache holds already, says where it is ready", async () => {
    await served.admin("DELETE", `/v0/models/${encodeURIComponent(laterModel)}`);
    const result = await runCli(["model", "add", laterModel, "--wait"], served.env);
    expect(result.stderr).not.toContain("error");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`${laterModel} is ready on \\S+\\.`));
  });

  it("--wait-timeout stops waiting after that long, saying where the model stands, and the download goes on", async () => {
    served.hub.setFaults({ throttleBytesPerSecond: 20_000 });
    try {
      const result = await runCli(["model", "add", slowModel, "--wait-timeout", "2"], served.env);
      expect(result.stdout).toContain(`Registered ${slowModel}`);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(
        new RegExp(
          `error: Stopped waiting for ${slowModel} after 2 s: (\\S+: (downloading \\d+%|pending)|waiting for a worker)`,
        ),
      );
      expect(result.stderr).toContain(
        `It stays registered and goes on: \`llmlb model show ${slowModel}\` shows where it stands.`,
      );
      const model = await served.admin<Model>("GET", `/v0/models/${encodeURIComponent(slowModel)}`);
      expect(model.body.ready).toBe(false);
      expect(model.body.nodes.map((node) => node.state)).not.toContain("error");
    } finally {
      served.hub.clearFaults();
      await served.admin("DELETE", `/v0/models/${encodeURIComponent(slowModel)}`);
    }
  });

  it("--wait-timeout takes whole seconds", async () => {
    const result = await runCli(["model", "add", slowModel, "--wait-timeout", "soon"], served.env);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("--wait-timeout");
    expect(result.stderr).toContain("whole number of seconds");
    const model = await served.admin("GET", `/v0/models/${encodeURIComponent(slowModel)}`);
    expect(model.status).toBe(404);
  });

  it("for a model registered already, waits for it all the same", async () => {
    const result = await runCli(["model", "add", tinyModel, "--wait"], served.env);
    expect(result.code).toBe(0);
    const nodes = await served.admin<NodeList>("GET", "/v0/nodes");
    const worker = nodes.body.data.find((node) => node.kind === "worker")!.name;
    expect(result.stdout).toBe(`${tinyModel} is registered already.\n${tinyModel} is ready on ${worker}.\n`);
  });
});

describe("llmlb chat at a terminal", () => {
  it("holds a conversation: each reply as /v1 gives it with what came before, /clear forgets, /bye leaves", async () => {
    const terminal = runCliInTerminal(["chat", tinyModel, ...sampling], served.env);
    let seen = await terminal.waitForScreen(/>>> $/);
    terminal.type("Once upon a time\r");
    const first = await answerOf([{ role: "user", content: "Once upon a time" }]);
    const firstText = first.choices[0]!.message.content!;
    seen = await terminal.waitForScreen(/\n>>> $/, seen);
    expect(terminal.screen()).toContain(`Once upon a time\n${printable(firstText)}\n`);

    terminal.type("The end\r");
    const second = await answerOf([
      { role: "user", content: "Once upon a time" },
      { role: "assistant", content: firstText },
      { role: "user", content: "The end" },
    ]);
    seen = await terminal.waitForScreen(/\n>>> $/, seen);
    expect(terminal.screen()).toContain(`The end\n${printable(second.choices[0]!.message.content!)}\n`);

    terminal.type("/clear\r");
    seen = await terminal.waitForScreen(/Cleared the conversation\.\n>>> $/, seen);
    terminal.type("The end\r");
    const fresh = await answerOf([{ role: "user", content: "The end" }]);
    // Else what came before would not show in the reply.
    expect(fresh.choices[0]!.message.content).not.toBe(second.choices[0]!.message.content);
    const asked = seen;
    seen = await terminal.waitForScreen(/\n>>> $/, seen);
    expect(terminal.screen().slice(asked)).toContain(
      `The end\n${printable(fresh.choices[0]!.message.content!)}\n`,
    );

    // A message of several lines, between """ and """.
    terminal.type('"""Once upon\r');
    seen = await terminal.waitForScreen(/\.\.\. $/, seen);
    terminal.type('a time"""\r');
    const multiline = await answerOf([
      { role: "user", content: "The end" },
      { role: "assistant", content: fresh.choices[0]!.message.content! },
      { role: "user", content: "Once upon\na time" },
    ]);
    const before = seen;
    seen = await terminal.waitForScreen(/\n>>> $/, seen);
    expect(terminal.screen().slice(before)).toContain(
      `a time"""\n${printable(multiline.choices[0]!.message.content!)}\n`,
    );

    terminal.type("/bye\r");
    expect(await terminal.exited()).toBe(0);
  });

  it("takes lines that come in one burst (a paste the terminal does not mark) as one message, none lost", async () => {
    const terminal = runCliInTerminal(["chat", tinyModel, ...sampling], served.env);
    const seen = await terminal.waitForScreen(/>>> $/);
    terminal.type("Once upon\ra time\r");
    const reply = await answerOf([{ role: "user", content: "Once upon\na time" }]);
    await terminal.waitForScreen(/\n>>> $/, seen);
    expect(terminal.screen()).toContain(`${printable(reply.choices[0]!.message.content!)}\n`);
    terminal.type("/bye\r");
    expect(await terminal.exited()).toBe(0);
  });

  it("Ctrl+C stops the reply being written, at the server too, and the conversation goes on with what was written", async () => {
    const terminal = runCliInTerminal(["chat", "slow-model"], served.env);
    let seen = await terminal.waitForScreen(/>>> $/);
    // Ctrl+C drops what is typed (all of it, wherever the cursor is).
    terminal.type("never sent\u001b[D\u001b[D\x03");
    seen = await terminal.waitForScreen(/never sent\n>>> $/, seen);
    // Lines pasted at once are one message, sent with the next Enter.
    terminal.type("\u001b[200~Tell me\ra story\u001b[201~");
    seen = await terminal.waitForScreen(/\.\.\. a story$/, seen);
    terminal.type("\r");
    seen = await terminal.waitForScreen(/Once upon/, seen);
    // Typed while the reply is written: neither shown in it nor sent.
    terminal.type("typed meanwhile\r");
    terminal.type("\x03");
    seen = await terminal.waitForScreen(/\(stopped\)\n>>> $/, seen);
    expect(terminal.screen()).not.toContain("typed meanwhile");
    // The endpoint saw its client go: nothing generates for a reply no one reads.
    await heldReplies[0]!.closed;

    terminal.type("Go on\r");
    seen = await terminal.waitForScreen(/Once upon/, seen);
    const asked = endpoint.received.at(-1)!.body.messages as ChatMessage[];
    expect(asked).toEqual([
      { role: "user", content: "Tell me\na story" },
      { role: "assistant", content: "Once upon" },
      { role: "user", content: "Go on" },
    ]);
    expect(endpoint.received.filter((request) => request.body.model === "slow-model")).toHaveLength(2);
    terminal.type("\x03");
    await terminal.waitForScreen(/\(stopped\)\n>>> $/, seen);
    // Ctrl+D on an empty line leaves.
    terminal.type("\x04");
    expect(await terminal.exited()).toBe(0);
  });
});
