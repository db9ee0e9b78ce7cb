import type { Artifact } from "../../contract";
import { formatBytes } from "../../contract/units";
import { AppError } from "../../shared/errors";
import { incompleteSplitReason, isProjector, withSplitSiblings } from "../../shared/classifyArtifacts";
import type { ModelReference } from "../hub/parseModelInput";

/** What a registration stands for: one file (or split set) of the repo, or the whole repo. */
export interface Selection {
  /** The registered file (a split set's first part); undefined for a whole-repo registration. */
  filename?: string;
  artifacts: Artifact[];
  warnings: string[];
}

function describeGgufChoices(artifacts: Artifact[]): string {
  const names = artifacts.filter((a) => a.format === "gguf").map((a) => a.filename);
  if (names.length === 0) return "The repo has no GGUF file.";
  const shown = names.slice(0, 10).join(", ");
  return `GGUF files in the repo: ${shown}${names.length > 10 ? ` and ${names.length - 10} more` : ""}.`;
}

function splitSets(artifacts: Artifact[]): Map<string, Artifact[]> {
  const sets = new Map<string, Artifact[]>();
  for (const artifact of artifacts) {
    if (artifact.split_group)
      sets.set(artifact.split_group, [...(sets.get(artifact.split_group) ?? []), artifact]);
  }
  return sets;
}

/** The one GGUF file or split set a quantization tag names. */
function fileForQuantization(reference: ModelReference, artifacts: Artifact[]): string {
  const matching = artifacts.filter(
    (a) => a.format === "gguf" && a.quantization === reference.quantization && !isProjector(a.filename),
  );
  const sets = new Set(matching.map((a) => a.split_group ?? a.filename));
  if (sets.size !== 1) {
    const problem = sets.size === 0 ? "matches no GGUF file" : `matches ${sets.size} GGUF files or sets`;
    throw new AppError(
      sets.size === 0 ? "hub.file_not_found" : "input.invalid",
      `Quantization ${reference.quantization} ${problem} in ${reference.repo}. ${describeGgufChoices(artifacts)}`,
      { param: "url" },
    );
  }
  return matching[0]!.filename;
}

function selectFile(reference: ModelReference, filename: string, artifacts: Artifact[]): Selection {
  const files = withSplitSiblings(artifacts, filename);
  if (files.length === 0) {
    throw new AppError(
      "hub.file_not_found",
      `File ${filename} does not exist in ${reference.repo} at ${reference.revision}. ${describeGgufChoices(artifacts)}`,
      { param: "filename" },
    );
  }
  if (files[0]!.format === "other") {
    throw new AppError(
      "hub.no_usable_file",
      `${filename} is not a model file: register a .gguf or .safetensors file, or the whole repo.`,
      { param: "filename" },
    );
  }
  const incomplete = incompleteSplitReason(files);
  if (incomplete) {
    throw new AppError(
      "hub.no_usable_file",
      `The split set of ${filename} cannot be loaded: ${incomplete}.`,
      {
        param: "filename",
      },
    );
  }
  // A split set is registered once, under its first part, whichever part was pasted.
  return { filename: files[0]!.filename, artifacts: files, warnings: [] };
}

function selectRepo(reference: ModelReference, artifacts: Artifact[]): Selection {
  if (!artifacts.some((a) => a.format !== "other")) {
    throw new AppError(
      "hub.no_usable_file",
      `${reference.repo} has no model file (GGUF or safetensors) at ${reference.revision}.`,
      { param: "url" },
    );
  }
  const warnings: string[] = [];
  for (const [group, parts] of splitSets(artifacts)) {
    const incomplete = incompleteSplitReason(parts);
    if (incomplete)
      warnings.push(`Split set ${group} cannot be loaded: ${incomplete}; nodes will not choose it.`);
  }
  return { artifacts, warnings };
}

/** Applies a reference to the repo's files: which of them the model is, or why none can be. */
export function selectArtifacts(
  reference: ModelReference,
  artifacts: Artifact[],
  rejected: { path: string; reason: string }[],
): Selection {
  const selection = reference.quantization
    ? selectFile(reference, fileForQuantization(reference, artifacts), artifacts)
    : reference.filename
      ? selectFile(reference, reference.filename, artifacts)
      : selectRepo(reference, artifacts);
  if (!selection.artifacts.some((a) => a.format === "gguf")) {
    selection.warnings.push(
      `No GGUF file: llama.cpp nodes cannot serve this model; they will report it unsupported. Look for a GGUF conversion of it (https://huggingface.co/models?search=${encodeURIComponent(reference.repo.split("/")[1] ?? reference.repo)}+GGUF), or serve it from an endpoint (vLLM) with \`llmlb endpoint add\`.`,
    );
  }
  for (const entry of rejected.slice(0, 5))
    selection.warnings.push(`Ignored hub file "${entry.path}": ${entry.reason}.`);
  if (rejected.length > 5)
    selection.warnings.push(`Ignored ${rejected.length - 5} more hub files with unsafe names.`);
  return selection;
}

/**
 * The seed's large-model warning: when even the smallest GGUF (or split set) of the registration is
 * larger than the memory of every online node, no node will be able to serve it.
 */
export function tooLargeWarning(
  artifacts: Artifact[],
  largestNodeMemory: number | undefined,
): string | undefined {
  if (largestNodeMemory === undefined) return undefined;
  const sizes = new Map<string, number>();
  for (const a of artifacts) {
    if (a.format !== "gguf" || isProjector(a.filename)) continue;
    const key = a.split_group ?? a.filename;
    sizes.set(key, (sizes.get(key) ?? 0) + a.size_bytes);
  }
  if (sizes.size === 0) return undefined;
  const smallest = Math.min(...sizes.values());
  if (smallest <= largestNodeMemory) return undefined;
  return `Too large for every node: the smallest GGUF needs ${formatBytes(smallest)}, the largest node has ${formatBytes(largestNodeMemory)}.`;
}
