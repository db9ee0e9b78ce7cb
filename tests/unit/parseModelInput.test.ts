import { describe, expect, it } from "vitest";
import { AppError } from "../../src-main/shared/errors";
import { parseModelInput, parseModelParts } from "../../src-main/core/hub/parseModelInput";

describe("parseModelInput", () => {
  it.each([
    ["https://huggingface.co/org/repo", { repo: "org/repo", revision: "main" }],
    ["https://huggingface.co/org/repo/", { repo: "org/repo", revision: "main" }],
    ["http://huggingface.co/org/repo", { repo: "org/repo", revision: "main" }],
    ["https://www.huggingface.co/org/repo", { repo: "org/repo", revision: "main" }],
    ["https://huggingface.co/models/org/repo", { repo: "org/repo", revision: "main" }],
    ["https://huggingface.co/api/models/org/repo", { repo: "org/repo", revision: "main" }],
    ["huggingface.co/org/repo", { repo: "org/repo", revision: "main" }],
    ["hf.co/org/repo", { repo: "org/repo", revision: "main" }],
    ["https://huggingface.co/org/repo/tree/dev", { repo: "org/repo", revision: "dev" }],
    ["https://huggingface.co/org/repo/tree/refs%2Fpr%2F3", { repo: "org/repo", revision: "refs/pr/3" }],
    [
      "https://huggingface.co/org/repo/blob/main/model-Q4_K_M.gguf",
      { repo: "org/repo", revision: "main", filename: "model-Q4_K_M.gguf" },
    ],
    [
      "https://huggingface.co/org/repo/resolve/abc123/sub/dir/m.gguf?download=true",
      { repo: "org/repo", revision: "abc123", filename: "sub/dir/m.gguf" },
    ],
    [
      "https://huggingface.co/org/repo/blob/main/name%20with%20space.gguf",
      { repo: "org/repo", revision: "main", filename: "name with space.gguf" },
    ],
    ["https://huggingface.co/org/repo#readme", { repo: "org/repo", revision: "main" }],
    ["org/repo", { repo: "org/repo", revision: "main" }],
    ["  Org.Name/Repo_1-x  \n", { repo: "Org.Name/Repo_1-x", revision: "main" }],
    ["org/repo/model.gguf", { repo: "org/repo", revision: "main", filename: "model.gguf" }],
    ["org/repo/sub/model.gguf", { repo: "org/repo", revision: "main", filename: "sub/model.gguf" }],
    ["org/repo:Q4_K_M", { repo: "org/repo", revision: "main", quantization: "Q4_K_M" }],
    ["org/repo:q8_0", { repo: "org/repo", revision: "main", quantization: "Q8_0" }],
    ["hf.co/org/repo:Q4_K_M", { repo: "org/repo", revision: "main", quantization: "Q4_K_M" }],
    [
      "https://huggingface.co/org/repo:IQ2_XXS",
      { repo: "org/repo", revision: "main", quantization: "IQ2_XXS" },
    ],
    [
      "https://huggingface.co/org/repo/tree/main/Q4_K_M",
      { repo: "org/repo", revision: "main", quantization: "Q4_K_M" },
    ],
    [
      "https://huggingface.co/org/repo/tree/main/UD-Q4_K_XL/",
      { repo: "org/repo", revision: "main", quantization: "UD-Q4_K_XL" },
    ],
    [
      "https://huggingface.co/org/repo/tree/dev/bf16",
      { repo: "org/repo", revision: "dev", quantization: "BF16" },
    ],
  ])("reads %j", (input, expected) => {
    expect(parseModelInput(input)).toEqual(expected);
  });

  it("reads links to the mirror llmlb uses (HF_ENDPOINT) as huggingface.co's, under its path too", () => {
    expect(
      parseModelInput("https://hf-mirror.com/org/repo", { hubEndpoint: "https://hf-mirror.com" }),
    ).toEqual({
      repo: "org/repo",
      revision: "main",
    });
    expect(
      parseModelInput("http://127.0.0.1:8090/hub/org/repo/blob/main/m.gguf", {
        hubEndpoint: "http://127.0.0.1:8090/hub",
      }),
    ).toEqual({ repo: "org/repo", revision: "main", filename: "m.gguf" });
    // huggingface.co's links are still read with a mirror set; other hosts are not.
    expect(
      parseModelInput("https://huggingface.co/org/repo", { hubEndpoint: "https://hf-mirror.com" }).repo,
    ).toBe("org/repo");
    expect(() =>
      parseModelInput("https://example.com/org/repo", { hubEndpoint: "https://hf-mirror.com" }),
    ).toThrow('"example.com" is not huggingface.co or the hub llmlb uses (hf-mirror.com)');
  });

  it.each([
    ["", /empty/],
    ["repo", /not a valid Hugging Face model repo id/],
    ["a/b/c/../d.gguf", /'\.\.'/],
    ["-org/repo", /not a valid/],
    ["org/re--po", /not a valid/],
    ["org/repo.", /not a valid/],
    [`org/${"r".repeat(97)}`, /not a valid/],
    ["https://github.com/org/repo", /not huggingface\.co/],
    ["ftp://huggingface.co/org/repo", /not supported/],
    ["https://huggingface.co/spaces/org/app", /Only model repositories/],
    ["https://huggingface.co/org", /does not name a repository/],
    ["https://huggingface.co/org/repo/tree", /without a revision/],
    ["https://huggingface.co/org/repo/blob/main", /names no file/],
    ["https://huggingface.co/org/repo/commits/main", /not model or file links/],
    ["https://huggingface.co/org/repo/discussions", /"discussions" URLs are not model or file links/],
    ["https://huggingface.co/org/repo/tree/main/docs", /A folder inside a repo cannot be registered/],
    ["https://huggingface.co/org/repo/tree/main/Q4_K_M/more", /A folder inside a repo cannot be registered/],
    ["https://huggingface.co/org/repo/blob/main/a%5Cb.gguf", /backslash/],
    ["https://huggingface.co/org/repo/blob/main/a%00b.gguf", /control character/],
    ["org/repo:", /not a quantization tag/],
    ["org/repo:Q4-K", /not a quantization tag/],
    ["org/repo/CON.gguf", /reserves/],
    ["https://huggingface.co/org/repo/blob/main/dir/ab:c.gguf", /Windows does not allow/],
    ["org/repo/trailing.gguf.", /ends with a dot/],
    ["org/repo/\u202Efgg.exe", /control character/],
    ["org/repo/a\u0085b.gguf", /control character/],
  ])("refuses %j with a message naming the problem", (input, message) => {
    let error: unknown;
    try {
      parseModelInput(input);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe("input.invalid");
    expect((error as AppError).message).toMatch(message);
  });

  it("lists the accepted forms when it cannot read the input at all", () => {
    expect(() => parseModelInput("what is this")).toThrow(
      /Accepted forms: https:\/\/huggingface\.co\/org\/repo/,
    );
  });
});

describe("parseModelParts", () => {
  it("takes repo, filename and revision fields", () => {
    expect(parseModelParts({ repo: "org/repo", filename: "m.gguf", revision: "v2" })).toEqual({
      repo: "org/repo",
      filename: "m.gguf",
      revision: "v2",
    });
  });

  it("reads a URL pasted into the repo field, and refuses a second, different file", () => {
    expect(parseModelParts({ repo: "https://huggingface.co/org/repo/blob/main/m.gguf" })).toEqual({
      repo: "org/repo",
      filename: "m.gguf",
      revision: "main",
    });
    expect(() => parseModelParts({ repo: "org/repo/m.gguf", filename: "n.gguf" })).toThrow(
      /one file and filename another/,
    );
  });

  it("refuses a quantization tag together with a filename", () => {
    expect(() => parseModelParts({ repo: "org/repo:Q4_K_M", filename: "m-Q8_0.gguf" })).toThrow(/not both/);
  });

  it("validates each field", () => {
    expect(() => parseModelParts({ repo: "org/repo", filename: "../x" })).toThrow(AppError);
    expect(() => parseModelParts({ repo: "org/repo", revision: "a/../b" })).toThrow(/'\.\.'/);
  });
});
