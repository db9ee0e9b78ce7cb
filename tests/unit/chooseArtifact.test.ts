import { describe, expect, it } from "vitest";
import type { Manifest } from "../../src-main/contract";
import { toArtifact } from "../../src-main/shared/classifyArtifacts";
import { chooseArtifact, memoryNeeded } from "../../src-main/worker/chooseArtifact";

const gb = 1e9;

function manifest(files: [string, number][], filename: string | null = null): Manifest {
  return {
    model: "org/repo",
    repo: "org/repo",
    revision: "main",
    commit: "c".repeat(40),
    filename,
    artifacts: files.map(([path, size]) => ({
      ...toArtifact({ path, size, sha256: "a".repeat(64) }),
      url: `http://hub/${path}`,
    })),
  };
}

const chosen = (choice: ReturnType<typeof chooseArtifact>) =>
  choice.type === "chosen" ? choice.files.map((f) => f.filename) : choice.reason;

describe("chooseArtifact", () => {
  const repo = manifest([
    ["m-Q2_K.gguf", 3 * gb],
    ["m-Q4_K_M.gguf", 5 * gb],
    ["m-Q8_0.gguf", 9 * gb],
    ["m-F16.gguf", 16 * gb],
    ["mmproj-F16.gguf", 1 * gb],
    ["README.md", 1000],
  ]);

  it("takes Q4_K_M first when it fits", () => {
    expect(chosen(chooseArtifact(repo, 64 * gb))).toEqual(["m-Q4_K_M.gguf"]);
  });

  it("falls back down the preference order to what fits, with headroom", () => {
    expect(chosen(chooseArtifact(repo, memoryNeeded(5 * gb) - 1))).toEqual(["m-Q2_K.gguf"]);
  });

  it("says why nothing fits, with the sizes", () => {
    expect(chosen(chooseArtifact(repo, 2 * gb))).toMatch(
      /too large for this node: the smallest GGUF is 3\.0 GB .* this node has 2\.0 GB/,
    );
  });

  it("reports a repo without GGUF as unsupported", () => {
    expect(chosen(chooseArtifact(manifest([["model.safetensors", gb]]), 64 * gb))).toMatch(/no GGUF file/);
  });

  it("takes every part of a split set, and skips incomplete sets", () => {
    const split = manifest([
      ["big-Q4_K_M-00001-of-00002.gguf", 3 * gb],
      ["big-Q4_K_M-00002-of-00002.gguf", 3 * gb],
      ["bad-Q5_K_M-00001-of-00002.gguf", 1 * gb],
      ["big-Q8_0.gguf", 12 * gb],
    ]);
    expect(chosen(chooseArtifact(split, 64 * gb))).toEqual([
      "big-Q4_K_M-00001-of-00002.gguf",
      "big-Q4_K_M-00002-of-00002.gguf",
    ]);
    const choice = chooseArtifact(split, 64 * gb);
    expect(choice.type === "chosen" && choice.sizeBytes).toBe(6 * gb);
  });

  it("prefers a known quantization over an unknown one", () => {
    expect(
      chosen(
        chooseArtifact(
          manifest([
            ["plain.gguf", gb],
            ["m-Q6_K.gguf", 2 * gb],
          ]),
          64 * gb,
        ),
      ),
    ).toEqual(["m-Q6_K.gguf"]);
  });
});
