import type { Artifact, ArtifactFormat } from "../contract";

export function formatOf(filename: string): ArtifactFormat {
  const lower = filename.toLowerCase();
  if (lower.endsWith(".gguf")) return "gguf";
  if (lower.endsWith(".safetensors")) return "safetensors";
  return "other";
}

// Quantization names as llama.cpp and the usual GGUF publishers spell them: Q4_K_M, Q8_0, IQ2_XXS,
// Q4_0_4_4, TQ1_0, MXFP4, F16, BF16, with '-', '_' or '.' around them in a file name.
const quantizationPattern =
  /(?:^|[-_.])((?:[IT]?Q[1-8](?:_[0-9]|_K|_[A-Z]{1,3}|_[0-9]_[0-9])*(?:_[A-Z]{1,3})?)|MXFP4|BF16|FP16|F16|FP32|F32)(?=[-_.]|$)/gi;

export function quantizationOf(filename: string): string | null {
  const base = filename
    .split("/")
    .pop()!
    .replace(/\.(gguf|safetensors|bin)$/i, "");
  // The last: the one nearest the extension is the file's (`q1-Q4_K_M.gguf` is a Q4_K_M).
  const match = [...base.matchAll(quantizationPattern)].at(-1);
  if (!match) return null;
  // Qwen and others write fp16; llama.cpp and most publishers write F16.
  return match[1]!.toUpperCase().replace(/^FP(16|32)$/, "F$1");
}

/** A vision projector shipped beside a model (`mmproj-F16.gguf`): a GGUF, but not the model. */
export function isProjector(filename: string): boolean {
  return /(^|\/)mmproj[^/]*$/i.test(filename);
}

const splitPattern = /^(.*)-(\d{5})-of-(\d{5})\.gguf$/i;

export interface SplitInfo {
  group: string;
  part: number;
  parts: number;
}

/** `model-Q4_K_M-00001-of-00003.gguf` → group `model-Q4_K_M`, part 1 of 3. */
export function splitOf(filename: string): SplitInfo | undefined {
  const match = splitPattern.exec(filename);
  if (!match) return undefined;
  return { group: match[1]!, part: Number(match[2]), parts: Number(match[3]) };
}

export interface HubFile {
  path: string;
  size: number;
  /** LFS sha256; null for files stored in git itself. */
  sha256: string | null;
}

export function toArtifact(file: HubFile): Artifact {
  const format = formatOf(file.path);
  return {
    filename: file.path,
    format,
    quantization: format === "other" ? null : quantizationOf(file.path),
    size_bytes: file.size,
    sha256: file.sha256,
    split_group: format === "gguf" ? (splitOf(file.path)?.group ?? null) : null,
  };
}

/** All parts of the split set `filename` belongs to (sorted), or just the file itself. */
export function withSplitSiblings(artifacts: Artifact[], filename: string): Artifact[] {
  const target = artifacts.find((artifact) => artifact.filename === filename);
  if (!target) return [];
  if (!target.split_group) return [target];
  return artifacts
    .filter((artifact) => artifact.split_group === target.split_group)
    .sort((a, b) => a.filename.localeCompare(b.filename));
}

/** Why a split set cannot be loaded (parts missing, or totals that disagree), or undefined. */
export function incompleteSplitReason(parts: Artifact[]): string | undefined {
  const infos = parts.map((part) => splitOf(part.filename)).filter((info) => info !== undefined);
  if (infos.length === 0) return undefined;
  const totals = new Set(infos.map((info) => info.parts));
  if (totals.size > 1) return `its parts disagree on how many there are (${[...totals].join(", ")})`;
  const total = infos[0]!.parts;
  const present = new Set(infos.map((info) => info.part));
  const missing = Array.from({ length: total }, (_, i) => i + 1).filter((part) => !present.has(part));
  return missing.length > 0 ? `part(s) ${missing.join(", ")} of ${total} are missing` : undefined;
}
