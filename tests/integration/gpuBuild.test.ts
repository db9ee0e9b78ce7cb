import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cliProcess";

const localBuilds = path.resolve(import.meta.dirname, "../../node_modules/node-llama-cpp/llama/localBuilds");
const listing = () => (fs.existsSync(localBuilds) ? fs.readdirSync(localBuilds).sort() : []);

describe("llmlb gpu build", () => {
  it("says what the build needs that this machine lacks, and how to get each, building nothing", async () => {
    const before = listing();
    // Only Node on PATH: no git, no compiler, no Vulkan SDK.
    const result = await runCli(["gpu", "build", "--gpu", "vulkan"], {
      PATH: path.dirname(process.execPath),
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("Cannot build llama.cpp for vulkan here; missing:");
    expect(result.stderr).toMatch(/- git .*: on Debian and Ubuntu: apt-get install git/);
    expect(result.stderr).toMatch(/- a C\+\+ compiler: .*build-essential/);
    expect(result.stderr).toMatch(/- glslc \(the Vulkan SDK\): install the Vulkan SDK/);
    expect(result.stdout).not.toContain("Building");
    expect(listing()).toEqual(before);
  });

  it("refuses a backend it cannot build for", async () => {
    const result = await runCli(["gpu", "build", "--gpu", "rocm"], {});
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("Must be cuda, vulkan or metal");
  });
});
