import crypto from "node:crypto";
import type { FakeRepo } from "../fixtures/fakeHub";

/** Small deterministic bytes standing in for a model file's content. */
export function fakeBytes(label: string, size = 4096): Buffer {
  const out = Buffer.alloc(size);
  let block = crypto.createHash("sha256").update(label).digest();
  for (let offset = 0; offset < size; offset += block.length) {
    block.copy(out, offset);
    block = crypto.createHash("sha256").update(block).digest();
  }
  return out;
}

/** The repos the contract and integration tests register. */
export function testRepos(): FakeRepo[] {
  return [
    {
      id: "acme/tiny-GGUF",
      files: [
        { path: "README.md", content: Buffer.from("# tiny\n") },
        { path: "config.json", content: Buffer.from("{}\n") },
        { path: "tiny-Q4_K_M.gguf", content: fakeBytes("q4") },
        { path: "tiny-Q8_0.gguf", content: fakeBytes("q8", 8192) },
        { path: "tiny.F16.gguf", content: fakeBytes("f16", 16384) },
      ],
      revisions: { v1: "1".repeat(40) },
    },
    {
      id: "acme/split-GGUF",
      files: [
        { path: "big-Q4_K_M-00001-of-00003.gguf", content: fakeBytes("s1") },
        { path: "big-Q4_K_M-00002-of-00003.gguf", content: fakeBytes("s2") },
        { path: "big-Q4_K_M-00003-of-00003.gguf", content: fakeBytes("s3") },
        { path: "big-Q8_0.gguf", content: fakeBytes("s8") },
      ],
    },
    {
      id: "acme/two-Q4",
      files: [
        { path: "a-Q4_K_M.gguf", content: fakeBytes("a") },
        { path: "b-Q4_K_M.gguf", content: fakeBytes("b") },
      ],
    },
    {
      id: "acme/weights-only",
      files: [
        { path: "model.safetensors", content: fakeBytes("st") },
        { path: "config.json", content: Buffer.from("{}") },
      ],
    },
    { id: "acme/docs-only", files: [{ path: "README.md", content: Buffer.from("nothing here") }] },
    { id: "acme/gated-GGUF", gated: true, files: [{ path: "g-Q4_K_M.gguf", content: fakeBytes("g") }] },
    { id: "acme/private-GGUF", private: true, files: [{ path: "p-Q4_K_M.gguf", content: fakeBytes("p") }] },
    {
      id: "acme/hostile-GGUF",
      files: [
        { path: "good-Q4_K_M.gguf", content: fakeBytes("good") },
        { path: "../evil.gguf", content: fakeBytes("evil") },
        { path: "/abs.gguf", content: fakeBytes("abs") },
        { path: "back\\slash.gguf", content: fakeBytes("bs") },
      ],
    },
    {
      id: "acme/partial-split-GGUF",
      files: [
        { path: "p-Q4_K_M-00001-of-00003.gguf", content: fakeBytes("p1") },
        { path: "p-Q4_K_M-00002-of-00003.gguf", content: fakeBytes("p2") },
        { path: "p-Q8_0.gguf", content: fakeBytes("p8") },
      ],
    },
    {
      id: "acme/vision-GGUF",
      files: [
        { path: "vision-F16.gguf", content: fakeBytes("vf16") },
        { path: "mmproj-F16.gguf", content: fakeBytes("mmproj") },
      ],
    },
    {
      id: "acme/case-clash-GGUF",
      files: [
        { path: "Model-Q4_K_M.gguf", content: fakeBytes("upper") },
        { path: "model-Q4_K_M.gguf", content: fakeBytes("lower") },
      ],
    },
    {
      id: "acme/huge-GGUF",
      files: [{ path: "huge-Q4_K_M.gguf", size: 70_000_000_000, sha256: "ab".repeat(32) }],
    },
  ];
}
