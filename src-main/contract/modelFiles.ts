import type { Artifact, Model } from "./models";

/**
 * Which file of a model is served, and how large it is: one definition for the CLI and the dashboard,
 * so both say the same size. Type imports only: the dashboard bundles this module.
 */

/** The artifact with this file name, if the model has it. */
export function findArtifact(model: Model, filename: string | null | undefined): Artifact | undefined {
  return filename ? model.artifacts.find((a) => a.filename === filename) : undefined;
}

/** The size of what a node downloads for `artifact`: the whole set when it is one part of a split GGUF. */
export function artifactSize(model: Model, artifact: Artifact): number {
  if (!artifact.split_group) return artifact.size_bytes;
  return model.artifacts
    .filter((a) => a.split_group === artifact.split_group)
    .reduce((sum, a) => sum + a.size_bytes, 0);
}

/**
 * The file the model is served from: the registered file, else the one its nodes chose when they
 * agree. Undefined for a repo registration no node has chosen a file of yet (each node picks one).
 */
export function servedArtifact(model: Model): Artifact | undefined {
  const chosen = [...new Set(model.nodes.map((n) => n.artifact).filter((a): a is string => !!a))];
  return (
    findArtifact(model, model.filename) ?? (chosen.length === 1 ? findArtifact(model, chosen[0]) : undefined)
  );
}

/**
 * A repo registration's files, in words, as the dashboard's card and the CLI say them: "1 GGUF file",
 * "3 GGUF files, each node picks one", or "2 files, none in GGUF".
 */
export function repoFilesText(model: Model): string {
  const gguf = model.artifacts.filter((artifact) => artifact.format === "gguf").length;
  if (gguf === 1) return "1 GGUF file";
  if (gguf > 1) return `${gguf} GGUF files, each node picks one`;
  const count = model.artifacts.length;
  return `${count} ${count === 1 ? "file" : "files"}, none in GGUF`;
}
