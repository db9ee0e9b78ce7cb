// @vitest-environment jsdom
import { act, fireEvent, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import type { GpuBuildStatus } from "../../../src-main/contract";
import { ApiError } from "../../../src-renderer/api";
import { fakeApi, node, renderApp, settings } from "./fakes";

const leftOutCuda = node("box-cpu0", {
  backend: "cpu",
  devices: [],
  backends_left_out: [{ backend: "cuda", reason: "CUDA failed its self-test on a tiny model." }],
});

const building = (over: Partial<GpuBuildStatus>): GpuBuildStatus => ({
  available: true,
  state: "running",
  gpu: "cuda",
  started_at: new Date().toISOString(),
  output: [],
  ...over,
});

describe("building llama.cpp for this GPU from Settings", () => {
  it("offers the backend a node left out, builds it, follows its output and says when it is built", async () => {
    const api = fakeApi({ nodes: [leftOutCuda], settings: settings() });
    const { events } = renderApp(api, { route: "settings" });
    const card = await screen.findByRole("region", { name: "GPU kernels" });
    events.latest.open();

    expect((within(card).getByLabelText("Build for") as HTMLSelectElement).value).toBe("cuda");
    await act(async () => {
      fireEvent.click(within(card).getByRole("button", { name: "Build for this GPU" }));
    });
    expect(api.startGpuBuild).toHaveBeenCalledWith("cuda");
    expect(within(card).getByRole("status").textContent).toContain("Building for CUDA");
    expect(within(card).getByRole("button", { name: "Cancel build" })).toBeTruthy();

    events.latest.send({
      type: "gpu.build",
      build: building({ output: ["-- Configuring done", "[ 12%] Building CUDA object ggml-cuda/mmq.cu.o"] }),
    });
    expect(within(card).getByLabelText("Build output").textContent).toContain("[ 12%] Building CUDA object");

    events.latest.send({
      type: "gpu.build",
      build: building({
        state: "built",
        message: "Built. Restart llmlb: its workers use this build from their next start.",
        output: ["[100%] Built target llama-addon"],
      }),
    });
    expect(within(card).getByRole("status").textContent).toContain("Built. Restart llmlb");
    expect(within(card).getByRole("button", { name: "Build for this GPU" })).toBeTruthy();
  });

  it("cancels a running build", async () => {
    const api = fakeApi({ nodes: [leftOutCuda], settings: settings() });
    api.gpuBuild.mockResolvedValue(building({ output: ["[  3%] Building C object"] }));
    renderApp(api, { route: "settings" });
    const card = await screen.findByRole("region", { name: "GPU kernels" });
    await act(async () => {
      fireEvent.click(await within(card).findByRole("button", { name: "Cancel build" }));
    });
    expect(api.cancelGpuBuild).toHaveBeenCalled();
    expect(within(card).getByRole("status").textContent).toContain("Cancelled.");
  });

  it("shows the server's words when it refuses (tools missing)", async () => {
    const api = fakeApi({ nodes: [leftOutCuda], settings: settings() });
    const refusal = "Cannot build llama.cpp for cuda here; missing: nvcc (the CUDA toolkit): install it.";
    api.startGpuBuild.mockRejectedValue(new ApiError(refusal, 422, "gpu_build.missing_tools"));
    renderApp(api, { route: "settings" });
    const card = await screen.findByRole("region", { name: "GPU kernels" });
    await act(async () => {
      fireEvent.click(within(card).getByRole("button", { name: "Build for this GPU" }));
    });
    expect((await within(card).findByRole("alert")).textContent).toBe(refusal);
  });

  it("says why this llmlb cannot build (the desktop app), with no button", async () => {
    const api = fakeApi({ nodes: [leftOutCuda], settings: settings() });
    const reason = "The desktop app carries llama.cpp read-only: build it with `llmlb gpu build`.";
    api.gpuBuild.mockResolvedValue({ available: false, reason, state: "idle", output: [] });
    renderApp(api, { route: "settings" });
    const card = await screen.findByRole("region", { name: "GPU kernels" });
    expect(card.textContent).toContain(reason);
    expect(within(card).queryByRole("button")).toBeNull();
  });

  it("is not shown on a machine whose workers have no GPU and left none out", async () => {
    const api = fakeApi({ nodes: [node("box-cpu0", { backend: "cpu", devices: [] })], settings: settings() });
    renderApp(api, { route: "settings" });
    await screen.findByText(/No token set/);
    // Its status read and applied: the card still stays away.
    await act(async () => api.gpuBuild.mock.results[0]?.value);
    expect(api.gpuBuild).toHaveBeenCalled();
    expect(screen.queryByRole("region", { name: "GPU kernels" })).toBeNull();
  });
});
