import { describe, expect, it } from "vitest";
import { noDevices, planWorkers } from "../../src-main/core/supervisor/workerPlan";

describe("planWorkers", () => {
  it("runs one CPU worker when there is no GPU, leaving a core for the control plane", () => {
    expect(planWorkers("auto", noDevices, 8, "box")).toEqual([
      {
        name: "box-cpu0",
        backend: "cpu",
        env: { CUDA_VISIBLE_DEVICES: "", GGML_VK_VISIBLE_DEVICES: "" },
        threads: 7,
      },
    ]);
    // Two cores: one thread (two collapse throughput with llama.cpp's per-token thread pools).
    expect(planWorkers("auto", noDevices, 2, "box")[0]?.threads).toBe(1);
  });

  it("pins one worker to each CUDA device", () => {
    const plan = planWorkers(
      "auto",
      {
        cuda: [
          { index: 0, name: "A" },
          { index: 1, name: "B" },
        ],
        metal: false,
        vulkan: [],
      },
      16,
      "box",
    );
    expect(plan.map((w) => [w.name, w.backend, w.env.CUDA_VISIBLE_DEVICES])).toEqual([
      ["box-cuda0", "cuda", "0"],
      ["box-cuda1", "cuda", "1"],
    ]);
    expect(plan.every((w) => w.threads >= 1 && w.threads <= 4)).toBe(true);
  });

  it("prefers CUDA to Vulkan on the same machine, and uses Metal as one device", () => {
    const both = { cuda: [{ index: 0, name: "A" }], metal: false, vulkan: [{ index: 0, name: "A" }] };
    expect(planWorkers("auto", both, 8, "box").map((w) => w.backend)).toEqual(["cuda"]);
    expect(planWorkers("auto", { cuda: [], metal: true, vulkan: [] }, 8, "mac").map((w) => w.name)).toEqual([
      "mac-metal0",
    ]);
    const vulkan = planWorkers(
      "auto",
      { cuda: [], metal: false, vulkan: [{ index: 1, name: "B" }] },
      8,
      "box",
    );
    expect(vulkan[0]?.env).toEqual({ GGML_VK_VISIBLE_DEVICES: "1" });
  });

  it("forces CPU workers with a number, sharing the cores, and runs none with none", () => {
    const gpus = { cuda: [{ index: 0, name: "A" }], metal: false, vulkan: [] };
    const plan = planWorkers(2, gpus, 2, "box");
    expect(plan.map((w) => [w.name, w.backend, w.threads])).toEqual([
      ["box-cpu0", "cpu", 1],
      ["box-cpu1", "cpu", 1],
    ]);
    expect(planWorkers("cpu", gpus, 4, "box").map((w) => w.backend)).toEqual(["cpu"]);
    expect(planWorkers("none", gpus, 4, "box")).toEqual([]);
  });
});
