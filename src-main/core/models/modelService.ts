import type {
  Artifact,
  Manifest,
  Model,
  ModelList,
  ModelListQuery,
  OpenAiModelList,
  RegisterRequest,
  RegisterResponse,
} from "../../contract";
import type { Clock } from "../clock";
import { AppError } from "../errors";
import { toArtifact, withSplitSiblings } from "../hub/classifyArtifacts";
import type { HubClient } from "../hub/hubClient";
import type { MetadataService } from "../hub/metadataService";
import { parseModelInput, parseModelParts, type ModelReference } from "../hub/parseModelInput";
import type { Logger } from "../logger";
import type { ModelRepository } from "../registry/modelRepository";

export interface ModelServiceOptions {
  models: ModelRepository;
  metadata: MetadataService;
  hub: HubClient;
  clock: Clock;
  log: Logger;
  /** Hub base URL, for the download URLs in manifests. */
  hubEndpoint: string;
}

export interface ModelService {
  register(request: RegisterRequest): Promise<RegisterResponse>;
  list(query: ModelListQuery): ModelList;
  get(id: string): Model;
  remove(id: string): void;
  manifest(id: string): Manifest;
  openAiList(): OpenAiModelList;
  count(): number;
}

function modelIdOf(reference: { repo: string; filename?: string }): string {
  return reference.filename ? `${reference.repo}/${reference.filename}` : reference.repo;
}

function describeGgufChoices(artifacts: Artifact[]): string {
  const names = artifacts.filter((a) => a.format === "gguf").map((a) => a.filename);
  if (names.length === 0) return "The repo has no GGUF file.";
  const shown = names.slice(0, 10).join(", ");
  return `GGUF files in the repo: ${shown}${names.length > 10 ? ` and ${names.length - 10} more` : ""}.`;
}

/** The artifacts a file or quantization registration stands for, or undefined for a whole repo. */
function selectFiles(
  reference: ModelReference,
  artifacts: Artifact[],
): { filename: string; files: Artifact[] } | undefined {
  if (reference.quantization) {
    const matching = artifacts.filter(
      (a) => a.format === "gguf" && a.quantization === reference.quantization,
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
    const first = [...matching].sort((a, b) => a.filename.localeCompare(b.filename))[0]!;
    return { filename: first.filename, files: withSplitSiblings(artifacts, first.filename) };
  }
  if (!reference.filename) return undefined;
  const files = withSplitSiblings(artifacts, reference.filename);
  if (files.length === 0) {
    throw new AppError(
      "hub.file_not_found",
      `File ${reference.filename} does not exist in ${reference.repo} at ${reference.revision}. ${describeGgufChoices(artifacts)}`,
      { param: "filename" },
    );
  }
  if (files[0]!.format === "other") {
    throw new AppError(
      "hub.no_usable_file",
      `${reference.filename} is not a model file: register a .gguf or .safetensors file, or the whole repo.`,
      { param: "filename" },
    );
  }
  // A split set is registered once, under its first part, whichever part was pasted.
  const sorted = [...files].sort((a, b) => a.filename.localeCompare(b.filename));
  return { filename: sorted[0]!.filename, files: sorted };
}

function warningsFor(artifacts: Artifact[], rejected: { path: string; reason: string }[]): string[] {
  const warnings: string[] = [];
  if (!artifacts.some((a) => a.format === "gguf")) {
    warnings.push("No GGUF file: llama.cpp nodes cannot serve this model; they will report it unsupported.");
  }
  for (const entry of rejected.slice(0, 5)) {
    warnings.push(`Ignored hub file "${entry.path}": ${entry.reason}.`);
  }
  if (rejected.length > 5) warnings.push(`Ignored ${rejected.length - 5} more hub files with unsafe names.`);
  return warnings;
}

function resolveUrl(endpoint: string, repo: string, commit: string, filename: string): string {
  const path = filename.split("/").map(encodeURIComponent).join("/");
  return `${endpoint}/${repo}/resolve/${commit}/${path}`;
}

export function createModelService(options: ModelServiceOptions): ModelService {
  const { models, metadata, clock, log } = options;
  let openAiCache: { version: number; list: OpenAiModelList } | undefined;

  function requireModel(id: string): Model {
    const model = models.get(id);
    if (!model) throw new AppError("registry.not_found", `Model ${id} is not registered.`, { param: "id" });
    return model;
  }

  function duplicate(id: string): AppError {
    return new AppError("registry.duplicate", `Model ${id} is already registered.`, { param: "id" });
  }

  return {
    async register(request) {
      const reference = "url" in request ? parseModelInput(request.url) : parseModelParts(request);
      // Answer a plain duplicate before asking the hub anything.
      if (!reference.quantization && models.exists(modelIdOf(reference)))
        throw duplicate(modelIdOf(reference));

      const { metadata: repo, stale } = await metadata.get(reference.repo, reference.revision);
      const all = repo.files.map(toArtifact);
      const selected = selectFiles(reference, all);
      const artifacts = selected ? selected.files : all;
      if (!selected && !all.some((a) => a.format !== "other")) {
        throw new AppError(
          "hub.no_usable_file",
          `${reference.repo} has no model file (GGUF or safetensors) at ${reference.revision}.`,
          { param: "url" },
        );
      }
      if (repo.gated && !stale) {
        // A gated repo's listing is public; find out now, not at download time, whether its files are.
        const probe =
          artifacts.find((a) => a.format === "gguf") ?? artifacts.find((a) => a.format !== "other");
        if (probe) await options.hub.checkDownloadAccess(reference.repo, repo.commit, probe.filename);
      }
      const id = modelIdOf({ repo: reference.repo, filename: selected?.filename });
      const displayName = selected
        ? selected.filename
            .split("/")
            .pop()!
            .replace(/(-\d{5}-of-\d{5})?\.gguf$/i, "")
        : reference.repo.split("/")[1]!;
      const model = models.insert({
        id,
        repo: reference.repo,
        filename: selected?.filename ?? null,
        revision: reference.revision,
        commit: repo.commit,
        source: "huggingface",
        displayName,
        sizeBytes: artifacts.reduce((sum, a) => sum + a.size_bytes, 0),
        createdAt: new Date(clock.now()).toISOString(),
        artifacts,
      });
      log.info(
        { model: id, commit: repo.commit, artifacts: artifacts.length, stale: Boolean(stale) },
        "model registered",
      );
      const warnings = warningsFor(artifacts, repo.rejected);
      if (stale)
        warnings.unshift(`The hub could not be reached; used metadata cached ${stale.ageSeconds} s ago.`);
      return {
        ...model,
        status: "registered",
        warnings,
        ...(stale ? { stale: { age_seconds: stale.ageSeconds } } : {}),
      };
    },
    list(query) {
      const page = models.list(query);
      return { total: page.total, limit: query.limit, offset: query.offset, data: page.models };
    },
    get: requireModel,
    remove(id) {
      if (!models.remove(id))
        throw new AppError("registry.not_found", `Model ${id} is not registered.`, { param: "id" });
      log.info({ model: id }, "model removed");
    },
    manifest(id) {
      const model = requireModel(id);
      return {
        model: model.name,
        repo: model.repo,
        revision: model.revision,
        commit: model.commit,
        filename: model.filename,
        artifacts: model.artifacts.map((a) => ({
          ...a,
          url: resolveUrl(options.hubEndpoint, model.repo, model.commit, a.filename),
        })),
      };
    },
    count: () => models.count(),
    openAiList() {
      // Clients poll this; rebuild it only when the registry has changed since.
      if (openAiCache?.version === models.version()) return openAiCache.list;
      const version = models.version();
      const list: OpenAiModelList = {
        object: "list",
        data: models.listSummaries().map((m) => ({
          id: m.id,
          object: "model",
          created: Math.floor(Date.parse(m.createdAt) / 1000),
          owned_by: m.repo.split("/")[0]!,
          ready: m.ready,
        })),
      };
      openAiCache = { version, list };
      return list;
    },
  };
}
