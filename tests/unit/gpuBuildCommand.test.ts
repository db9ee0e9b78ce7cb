import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { buildCommand } from "../../src-main/core/gpuBuild/buildCommand";

describe("the GPU build command", () => {
  it("runs node-llama-cpp's own CLI, which has the source download it asks for", () => {
    const command = buildCommand("cuda", process.env);
    expect(command.args.slice(1)).toEqual(["source", "download", "--gpu", "cuda", "--noUsageExample"]);
    // Its help, not the build: the CLI is found and knows the command (a build would take an hour).
    const help = spawnSync(command.file, [command.args[0]!, "source", "download", "--help"], {
      env: command.env,
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toContain("--gpu");
  });
});
