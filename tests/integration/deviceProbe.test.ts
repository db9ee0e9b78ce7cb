import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { getLlama, LlamaLogLevel } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodeListSchema } from "../../src-main/contract";
import { createLogger } from "../../src-main/shared/logger";
import { detectDevices } from "../../src-main/core/supervisor/detectDevices";
import { createNodeWorkerLauncher } from "../../src-main/core/supervisor/workerLauncher";
import { selfTestBackend } from "../../src-main/worker/backendSelfTest";
import { startFakeHub, type FakeHub } from "../fixtures/fakeHub";
import { generateTinyGguf } from "../fixtures/tinyGguf";
import {
  adminRequest,
  registerAndWaitReady,
  runCli,
  startServeProcess,
  type ServeProcess,
} from "../helpers/cliProcess";
import { makeTempDir } from "../helpers/tempDir";
import { waitFor } from "../helpers/waitFor";

const MODEL = "acme/tiny-llama-GGUF";

describe("a GPU backend that does not work here", () => {
  let hub: FakeHub;
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let env: NodeJS.ProcessEnv;
  let serve: ServeProcess;
  const dataDir = () => path.join(temp.path, "data");

  beforeAll(async () => {
    hub = await startFakeHub({
      repos: [
        { id: MODEL, files: [{ path: "tiny-llama-Q4_K_M.gguf", content: generateTinyGguf({ seed: 1 }) }] },
      ],
    });
    temp = await makeTempDir("llmlb-probe-");
    env = {
      HF_ENDPOINT: hub.url,
      HF_HUB_CACHE: path.join(temp.path, "hub"),
      LLMLB_DATA_DIR: dataDir(),
      LLMLB_LOG_LEVEL: "warn",
    };
    // Vulkan asked for by name on a machine without a Vulkan loader: node-llama-cpp's prebuilt
    // Vulkan binary cannot load here.
    serve = await startServeProcess(["--port", "0", "--workers", "vulkan"], env);
  }, 120_000);

  afterAll(async () => {
    await serve?.stop();
    await hub?.close();
    await temp?.remove();
  });

  it("is left out with its reason, and a CPU worker serves instead", async () => {
    expect(serve.output.join("\n")).toMatch(/GPU unused: {2}vulkan: Vulkan did not load/);
    expect(serve.output.at(-1)).toMatch(/Workers: +\S+-cpu0 \(cpu\)/);

    // The worker registers after the banner.
    const nodes = await waitFor("the CPU worker registered", async () => {
      const answer = await adminRequest(serve.url, dataDir(), "GET", "/v0/nodes");
      const list = nodeListSchema.parse(answer.body).data;
      return list.length > 0 ? list : undefined;
    });
    expect(nodes).toHaveLength(1);
    const [node] = nodes;
    expect(node!.backend).toBe("cpu");
    expect(node!.backends_left_out).toEqual([
      { backend: "vulkan", reason: expect.stringContaining("Vulkan did not load") },
    ]);
    // What failed and the way out, in words a user can act on.
    expect(node!.backends_left_out[0]!.reason).toContain("NoBinaryFoundError");
    expect(node!.backends_left_out[0]!.reason).toContain("libvulkan1");

    const list = await runCli(["node", "list"], env);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain("GPU backends left out:");
    expect(list.stdout).toContain(`Vulkan (${node!.name}): Vulkan did not load`);

    const status = await runCli(["status"], env);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/Left out: +Vulkan \(\S+\): Vulkan did not load/);

    await registerAndWaitReady(serve.url, dataDir(), MODEL);
    const answer = await fetch(`${serve.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "Hi" }], max_tokens: 4 }),
    });
    expect(answer.status).toBe(200);

    // Having loaded llama.cpp, the worker says which build it runs: node-llama-cpp's prebuilt one here.
    const built = await waitFor("the worker's llama.cpp build", async () => {
      const answer = await adminRequest(serve.url, dataDir(), "GET", "/v0/nodes");
      return nodeListSchema.parse(answer.body).data[0]?.llama_cpp;
    });
    expect(built).toEqual({ build: "prebuilt", release: expect.stringMatching(/\S/) });
    expect((await runCli(["node", "list"], env)).stdout).toContain(`${built.release} (prebuilt)`);
  }, 120_000);
});

describe("the backend self-test", () => {
  it("passes on a backend that works (this machine's CPU), leaving nothing behind", async () => {
    const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
    const before = fs.readdirSync(os.tmpdir()).filter((name) => name.startsWith("llmlb-self-test-"));
    try {
      await expect(selfTestBackend(llama)).resolves.toBeUndefined();
    } finally {
      await llama.dispose();
    }
    const after = fs.readdirSync(os.tmpdir()).filter((name) => name.startsWith("llmlb-self-test-"));
    expect(after).toEqual(before);
  });
});

describe("a GPU backend whose self-test kills the device probe", () => {
  it("is left out with how the probe died and llama.cpp's last words; the next probe tries only the backends after it", async () => {
    // A probe that, as a GPU build whose kernels this machine cannot run would, dies in llama.cpp at
    // the first decode of its self-test (a real abort), then answers when asked for the rest.
    const launcher = createNodeWorkerLauncher({
      entry: path.resolve(import.meta.dirname, "../helpers/abortingProbe.ts"),
      execArgv: ["--import", "tsx"],
    });
    const detection = await detectDevices(launcher, createLogger({ level: "silent" }));

    expect(detection.problem).toBeUndefined();
    expect(detection.leftOut.map((entry) => entry.backend)).toEqual(["cuda", "vulkan"]);
    const [cuda, vulkan] = detection.leftOut;
    expect(cuda!.reason).toMatch(
      /^CUDA killed the device probe during its self-test on a tiny model \(signal SIGABRT\)/,
    );
    expect(cuda!.reason).toContain("binary_op: unsupported types");
    expect(cuda!.reason).toMatch(/Ways out: update the driver\.$/);
    // The second probe was asked for Vulkan only, and said why it left it out.
    expect(vulkan!.reason).toBe("Vulkan found no device (asked for: vulkan).");
  }, 60_000);

  it("is left out the same way when its self-test never finishes", async () => {
    const launcher = createNodeWorkerLauncher({
      entry: path.resolve(import.meta.dirname, "../helpers/abortingProbe.ts"),
      execArgv: ["--import", "tsx"],
    });
    process.env.PROBE_HANGS = "1";
    try {
      const detection = await detectDevices(launcher, createLogger({ level: "silent" }), { timeoutMs: 5000 });
      expect(detection.leftOut.map((entry) => entry.backend)).toEqual(["cuda", "vulkan"]);
      expect(detection.leftOut[0]!.reason).toBe(
        "CUDA did not finish its self-test on a tiny model within 5 s: ggml_cuda_init: compiling kernels. Ways out: update the driver.",
      );
    } finally {
      delete process.env.PROBE_HANGS;
    }
  }, 60_000);
});
