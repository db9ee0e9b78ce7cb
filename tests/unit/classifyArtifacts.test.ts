import { describe, expect, it } from "vitest";
import {
  formatOf,
  incompleteSplitReason,
  isProjector,
  quantizationOf,
  splitOf,
  toArtifact,
  withSplitSiblings,
} from "../../src-main/shared/classifyArtifacts";

describe("quantizationOf", () => {
  it.each([
    ["Llama-3.2-1B-Instruct-Q4_K_M.gguf", "Q4_K_M"],
    ["qwen2.5-0.5b-instruct-q8_0.gguf", "Q8_0"],
    ["model.Q5_K_S.gguf", "Q5_K_S"],
    ["model-IQ2_XXS.gguf", "IQ2_XXS"],
    ["model-IQ4_NL.gguf", "IQ4_NL"],
    ["model-Q4_0_4_4.gguf", "Q4_0_4_4"],
    ["model-UD-Q4_K_XL.gguf", "Q4_K_XL"],
    ["model-Q2_K.gguf", "Q2_K"],
    ["model-f16.gguf", "F16"],
    ["model-BF16.gguf", "BF16"],
    ["sub/Q6_K/model-Q6_K-00001-of-00002.gguf", "Q6_K"],
    ["Qwen2.5-7B-Instruct-fp16.gguf", "F16"],
    ["model-FP32.gguf", "F32"],
    ["DeepSeek-R1-UD-TQ1_0.gguf", "TQ1_0"],
    ["gpt-oss-20b-MXFP4.gguf", "MXFP4"],
    // The one nearest the extension is the file's: the others are part of its name.
    ["q1-Q4_K_M.gguf", "Q4_K_M"],
    ["Q8_0-distilled-model.Q5_K_M.gguf", "Q5_K_M"],
    ["model.gguf", null],
    ["Qwen2-7B.gguf", null],
    ["model-00001-of-00002.safetensors", null],
  ])("%s → %s", (filename, quantization) => {
    expect(quantizationOf(filename)).toBe(quantization);
  });
});

describe("formatOf and splitOf", () => {
  it("classifies formats by extension, case-insensitively", () => {
    expect(formatOf("a.GGUF")).toBe("gguf");
    expect(formatOf("model.safetensors")).toBe("safetensors");
    expect(formatOf("pytorch_model.bin")).toBe("other");
  });

  it("reads split set names", () => {
    expect(splitOf("m-Q4_K_M-00002-of-00003.gguf")).toEqual({ group: "m-Q4_K_M", part: 2, parts: 3 });
    expect(splitOf("dir/m-00001-of-00002.gguf")).toEqual({ group: "dir/m", part: 1, parts: 2 });
    expect(splitOf("m-Q4_K_M.gguf")).toBeUndefined();
  });

  it("groups the parts of a split set and keeps a single file alone", () => {
    const artifacts = [
      toArtifact({ path: "m-Q4_K_M-00001-of-00002.gguf", size: 1, sha256: null }),
      toArtifact({ path: "m-Q4_K_M-00002-of-00002.gguf", size: 1, sha256: null }),
      toArtifact({ path: "m-Q8_0.gguf", size: 1, sha256: null }),
    ];
    expect(withSplitSiblings(artifacts, "m-Q4_K_M-00002-of-00002.gguf").map((a) => a.filename)).toHaveLength(
      2,
    );
    expect(withSplitSiblings(artifacts, "m-Q8_0.gguf").map((a) => a.filename)).toEqual(["m-Q8_0.gguf"]);
    expect(withSplitSiblings(artifacts, "none.gguf")).toEqual([]);
  });
});

describe("incompleteSplitReason", () => {
  const part = (name: string) => toArtifact({ path: name, size: 1, sha256: null });

  it("accepts a set with every part", () => {
    expect(
      incompleteSplitReason([part("m-00001-of-00002.gguf"), part("m-00002-of-00002.gguf")]),
    ).toBeUndefined();
  });

  it("names the missing parts, and totals that disagree", () => {
    expect(incompleteSplitReason([part("m-00001-of-00003.gguf"), part("m-00003-of-00003.gguf")])).toBe(
      "part(s) 2 of 3 are missing",
    );
    expect(incompleteSplitReason([part("m-00001-of-00002.gguf"), part("m-00002-of-00003.gguf")])).toMatch(
      /disagree/,
    );
  });

  it("knows a vision projector from a model", () => {
    expect(isProjector("mmproj-F16.gguf")).toBe(true);
    expect(isProjector("sub/mmproj-model-f16.gguf")).toBe(true);
    expect(isProjector("model-F16.gguf")).toBe(false);
  });
});
