import type { Manifest } from "../contract";
import { formatBytes } from "../contract/units";
import { incompleteSplitReason, isProjector } from "../shared/classifyArtifacts";

type ManifestArtifact = Manifest["artifacts"][number];

/**
 * Quantizations in the order a node prefers them when several fit: Q4_K_M first, the common
 * default (Ollama's and LM Studio's), then the nearby K-quants, then larger and more exact ones,
 * then smaller ones that lose quality, then unquantized weights. Anything not listed comes last.
 */
export const quantizationPreference = [
  "Q4_K_M", "Q4_K_S", "Q5_K_M", "Q5_K_S", "Q4_0", "IQ4_XS", "IQ4_NL", "Q6_K", "Q8_0", "MXFP4",
  "Q3_K_L", "Q3_K_M", "IQ3_M", "Q3_K_S", "IQ3_XS", "IQ3_XXS", "Q2_K", "IQ2_M", "IQ2_S", "IQ2_XS",
  "IQ2_XXS", "IQ1_M", "IQ1_S", "TQ2_0", "TQ1_0", "F16", "BF16", "F32",
]; // prettier-ignore

/** Memory a model needs beyond its weights (context, compute buffers): 20 % plus 256 MiB. */
export function memoryNeeded(weightBytes: number): number {
  return Math.ceil(weightBytes * 1.2) + 256 * 1024 * 1024;
}

export type ArtifactChoice =
  | { type: "chosen"; files: ManifestArtifact[]; quantization: string | null; sizeBytes: number }
  | { type: "unsupported"; reason: string };

/** GGUF files grouped into loadable units: a single file, or a complete split set. */
function ggufCandidates(artifacts: ManifestArtifact[]): ManifestArtifact[][] {
  const groups = new Map<string, ManifestArtifact[]>();
  for (const artifact of artifacts) {
    if (artifact.format !== "gguf" || isProjector(artifact.filename)) continue;
    const key = artifact.split_group ?? artifact.filename;
    groups.set(key, [...(groups.get(key) ?? []), artifact]);
  }
  return [...groups.values()]
    .filter((files) => incompleteSplitReason(files) === undefined)
    .map((files) => files.sort((a, b) => a.filename.localeCompare(b.filename)));
}

function rank(quantization: string | null): number {
  const index = quantization ? quantizationPreference.indexOf(quantization) : -1;
  return index === -1 ? quantizationPreference.length : index;
}

/**
 * Which file(s) this node downloads for a model: llama.cpp runs GGUF only; a file registration is
 * that file (or set); a repo registration is the most preferred quantization that fits memory.
 */
export function chooseArtifact(manifest: Manifest, memoryBytes: number): ArtifactChoice {
  const candidates = ggufCandidates(manifest.artifacts);
  if (candidates.length === 0) {
    return { type: "unsupported", reason: "no GGUF file: this node runs llama.cpp, which loads GGUF only" };
  }
  const sized = candidates
    .map((files) => ({
      files,
      quantization: files[0]!.quantization,
      sizeBytes: files.reduce((sum, file) => sum + file.size_bytes, 0),
    }))
    .sort((a, b) => rank(a.quantization) - rank(b.quantization) || b.sizeBytes - a.sizeBytes);
  const fitting = sized.find((candidate) => memoryNeeded(candidate.sizeBytes) <= memoryBytes);
  if (fitting) return { type: "chosen", ...fitting };
  const smallest = Math.min(...sized.map((candidate) => candidate.sizeBytes));
  return {
    type: "unsupported",
    reason: `too large for this node: the smallest GGUF is ${formatBytes(smallest)} and needs about ${formatBytes(memoryNeeded(smallest))}; this node has ${formatBytes(memoryBytes)}`,
  };
}
