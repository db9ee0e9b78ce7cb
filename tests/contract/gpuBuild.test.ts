import fs from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  errorBodySchema,
  gpuBuildStatusSchema,
  type GpuBuildStatus,
  type ServerEvent,
} from "../../src-main/contract";
import { startFakeHub, type FakeHub } from "../fixtures/fakeHub";
import { startCore, type TestServer } from "../helpers/startCore";
import { makeTempDir } from "../helpers/tempDir";
import { waitFor } from "../helpers/waitFor";

/**
 * `/v0/gpu/build` runs node-llama-cpp's source build, which takes minutes to an hour: here the build
 * is a short Node script in its place that prints as a compiler does and ends as told, and the tools
 * it needs are empty programs on a PATH of their own.
 */
type Ending = "succeeds" | "fails" | "runs until stopped";
let ending: Ending = "succeeds";
const script: Record<Ending, string> = {
  succeeds: `console.log("-- Configuring done"); console.log("[ 50%] Building CUDA object mmq.cu.o"); console.log("[100%] Built target llama-addon");`,
  fails: `console.log("[ 20%] Building CUDA object mmq.cu.o"); console.error("nvcc fatal: Unsupported gpu architecture 'compute_200'"); process.exit(2);`,
  "runs until stopped": `console.log("[  1%] Building C object ggml.c.o"); setInterval(() => {}, 1000);`,
};

let hub: FakeHub;
let temp: Awaited<ReturnType<typeof makeTempDir>>;
let server: TestServer;
let toolsPath: string;
const events: ServerEvent[] = [];

beforeAll(async () => {
  hub = await startFakeHub({ repos: [] });
  temp = await makeTempDir("llmlb-gpu-build-");
  toolsPath = path.join(temp.path, "bin");
  fs.mkdirSync(toolsPath);
  for (const tool of ["git", "c++", "nvcc"])
    fs.writeFileSync(path.join(toolsPath, tool), "#!/bin/sh\n", { mode: 0o755 });
  server = await startCore({
    hubEndpoint: hub.url,
    core: {
      gpuBuild: {
        env: { PATH: toolsPath },
        command: (_gpu, env) => ({ file: process.execPath, args: ["-e", script[ending]], env }),
      },
    },
  });
  server.core.events.subscribe((event) => events.push(event));
});
afterAll(async () => {
  await server?.close();
  await hub?.close();
  await temp?.remove();
});
afterEach(() => {
  events.length = 0;
});

const status = async () => gpuBuildStatusSchema.parse((await server.request("GET", "/v0/gpu/build")).body);
const builds = () =>
  events.flatMap((event) => (event.type === "gpu.build" ? [event.build] : ([] as GpuBuildStatus[])));
const ended = () =>
  waitFor("the build to end", async () => {
    const now = await status();
    return now.state !== "running" ? now : undefined;
  });

describe("building llama.cpp for this GPU", () => {
  it("starts idle, and needs the admin token", async () => {
    expect(await status()).toEqual({ available: true, state: "idle", output: [] });
    const anonymous = await server.request("POST", "/v0/gpu/build", {
      body: { gpu: "cuda" },
      anonymous: true,
    });
    expect(anonymous.status).toBe(401);
  });

  it("runs, streams its output as events, and ends built", async () => {
    ending = "succeeds";
    const started = await server.request("POST", "/v0/gpu/build", { body: { gpu: "cuda" } });
    expect(started.status).toBe(202);
    expect(gpuBuildStatusSchema.parse(started.body)).toMatchObject({ state: "running", gpu: "cuda" });

    const done = await ended();
    expect(done).toMatchObject({
      state: "built",
      gpu: "cuda",
      message: expect.stringContaining("Restart llmlb"),
    });
    expect(done.output).toEqual([
      "-- Configuring done",
      "[ 50%] Building CUDA object mmq.cu.o",
      "[100%] Built target llama-addon",
    ]);
    expect(Date.parse(done.finished_at!)).toBeGreaterThanOrEqual(Date.parse(done.started_at!));
    // The dashboard followed it: running, its lines, then built.
    expect(builds().map((build) => build.state)).toContain("running");
    expect(builds().some((build) => build.output.includes("[ 50%] Building CUDA object mmq.cu.o"))).toBe(
      true,
    );
    expect(builds().at(-1)!.state).toBe("built");
  });

  it("ends failed with its last lines when the build fails", async () => {
    ending = "fails";
    expect((await server.request("POST", "/v0/gpu/build", { body: { gpu: "cuda" } })).status).toBe(202);
    const done = await ended();
    expect(done.state).toBe("failed");
    expect(done.message).toBe("The build failed (exit code 2); its last lines say why.");
    expect(done.output).toContain("nvcc fatal: Unsupported gpu architecture 'compute_200'");
  });

  it("runs one build at a time, and cancels the running one", async () => {
    ending = "runs until stopped";
    expect((await server.request("POST", "/v0/gpu/build", { body: { gpu: "cuda" } })).status).toBe(202);
    await waitFor("its first line", async () => (await status()).output.length > 0);

    const second = await server.request("POST", "/v0/gpu/build", { body: { gpu: "vulkan" } });
    expect(second.status).toBe(409);
    expect(errorBodySchema.parse(second.body).error).toMatchObject({
      code: "gpu_build.running",
      message: "A build for cuda is running; wait for it or cancel it.",
    });

    expect((await server.request("DELETE", "/v0/gpu/build")).status).toBe(200);
    expect(await ended()).toMatchObject({ state: "cancelled", message: "Cancelled." });
    const again = await server.request("DELETE", "/v0/gpu/build");
    expect(again.status).toBe(409);
    expect(errorBodySchema.parse(again.body).error.code).toBe("gpu_build.not_running");
  });

  it("refuses, saying what is missing and how to get it, when the machine lacks a tool; nothing starts", async () => {
    const refused = await server.request("POST", "/v0/gpu/build", { body: { gpu: "vulkan" } });
    expect(refused.status).toBe(422);
    const { error } = errorBodySchema.parse(refused.body);
    expect(error.code).toBe("gpu_build.missing_tools");
    expect(error.message).toMatch(
      /^Cannot build llama.cpp for vulkan here; missing: glslc \(the Vulkan SDK\): install/,
    );
    expect((await status()).state).not.toBe("running");
    expect(builds()).toEqual([]);
  });

  it("refuses a backend it cannot build for", async () => {
    const refused = await server.request("POST", "/v0/gpu/build", { body: { gpu: "rocm" } });
    expect(refused.status).toBe(400);
  });
});

describe("where llmlb cannot build (the desktop app)", () => {
  it("says why, and refuses to start", async () => {
    const reason = "The desktop app carries llama.cpp read-only.";
    const desktop = await startCore({ hubEndpoint: hub.url, core: { gpuBuild: { unavailable: reason } } });
    try {
      const answer = gpuBuildStatusSchema.parse((await desktop.request("GET", "/v0/gpu/build")).body);
      expect(answer).toEqual({ available: false, reason, state: "idle", output: [] });
      const refused = await desktop.request("POST", "/v0/gpu/build", { body: { gpu: "cuda" } });
      expect(refused.status).toBe(409);
      expect(errorBodySchema.parse(refused.body).error).toMatchObject({
        code: "gpu_build.unavailable",
        message: reason,
      });
    } finally {
      await desktop.close();
    }
  });
});
