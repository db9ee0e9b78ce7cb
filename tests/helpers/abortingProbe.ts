/**
 * A device probe for detectDevices' tests that speaks the real probe's protocol and, asked for its
 * own choice of backends, dies in its first self-test as a GPU build this machine cannot run does:
 * llama.cpp aborts the process at the first decode (here, of a model whose norm weights the CPU
 * backend cannot multiply), or, with `PROBE_HANGS=1`, never finishes it. Asked for given backends
 * (`LLMLB_PROBE_BACKENDS`), it answers that it found no device for them.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { probeBackendsFrom, type WorkerReport } from "../../src-main/contract/workerMessages";
import { generateTinyGguf } from "../fixtures/tinyGguf";

process.env.GGML_NO_BACKTRACE = "1";
const tell = (report: WorkerReport) => process.send!(report);
const asked = probeBackendsFrom(process.env);

if (asked) {
  tell({
    type: "devices",
    devices: { cuda: [], metal: false, vulkan: [] },
    left_out: asked.map((backend) => ({
      backend,
      reason: `Vulkan found no device (asked for: ${asked.join(",")}).`,
    })),
  });
  process.once("disconnect", () => process.exit(0));
} else {
  tell({ type: "self-test", backend: "cuda", next: ["vulkan"], if_it_dies: "Ways out: update the driver." });
  if (process.env.PROBE_HANGS === "1") {
    console.error("ggml_cuda_init: compiling kernels");
    await new Promise(() => setInterval(() => undefined, 1000));
  }
  // One file, rewritten by each run: the process dies before it could remove it.
  const modelPath = path.join(os.tmpdir(), "llmlb-aborting-probe.gguf");
  fs.writeFileSync(modelPath, generateTinyGguf({ crashesOnDecode: true }));
  // Imported here: the probe that hangs says so without waiting for llama.cpp to load.
  const { getLlama, LlamaLogLevel } = await import("node-llama-cpp");
  const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
  const model = await llama.loadModel({ modelPath });
  const context = await model.createContext({ contextSize: 128 });
  const sequence = context.getSequence();
  for await (const token of sequence.evaluate(model.tokenize("Hello"))) void token;
  throw new Error("llama.cpp did not abort");
}
