import type {
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
import { toArtifact } from "../hub/classifyArtifacts";
import type { HubClient } from "../hub/hubClient";
import type { MetadataService } from "../hub/metadataService";
import { resolveUrl } from "../hub/hubUrls";
import { parseModelInput, parseModelParts } from "../hub/parseModelInput";
import type { Logger } from "../logger";
import { duplicateModel, type ModelRepository } from "../registry/modelRepository";
import { selectArtifacts, tooLargeWarning } from "./selectArtifacts";

export interface ModelServiceOptions {
  models: ModelRepository;
  metadata: MetadataService;
  hub: HubClient;
  clock: Clock;
  log: Logger;
  /** Hub base URL, for the download URLs in manifests. */
  hubEndpoint: string;
  /** The largest memory of any online node, for the too-large warning. Default: no warning. */
  largestNodeMemory?: () => number | undefined;
  /** Called after a model was registered or removed (nodes sync on it). Default: nothing. */
  onRegistryChange?: () => void;
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

export function createModelService(options: ModelServiceOptions): ModelService {
  const { models, metadata, clock, log } = options;
  let openAiCache: { version: number; list: OpenAiModelList } | undefined;

  const notRegistered = (id: string) =>
    new AppError("registry.not_found", `Model ${id} is not registered.`, { param: "id" });

  function requireModel(id: string): Model {
    const model = models.get(id);
    if (!model) throw notRegistered(id);
    return model;
  }

  return {
    async register(request) {
      const reference = "url" in request ? parseModelInput(request.url) : parseModelParts(request);
      // Answer a plain duplicate before asking the hub anything.
      if (!reference.quantization && models.exists(modelIdOf(reference))) {
        throw duplicateModel(modelIdOf(reference));
      }

      const { metadata: repo, stale } = await metadata.get(reference.repo, reference.revision);
      const selection = selectArtifacts(reference, repo.files.map(toArtifact), repo.rejected);
      const { artifacts, filename } = selection;
      if (repo.gated) {
        if (stale) {
          throw new AppError(
            "hub.unreachable",
            `${reference.repo} is gated, and whether its files can be downloaded cannot be checked while the hub is unreachable.`,
          );
        }
        // A gated repo's listing is public; find out now, not at download time, whether its files are.
        const probe =
          artifacts.find((a) => a.format === "gguf") ?? artifacts.find((a) => a.format !== "other");
        if (probe) await options.hub.checkDownloadAccess(reference.repo, repo.commit, probe.filename);
      }
      const id = modelIdOf({ repo: reference.repo, filename });
      const displayName = filename
        ? filename
            .split("/")
            .pop()!
            .replace(/(-\d{5}-of-\d{5})?\.gguf$/i, "")
        : reference.repo.split("/")[1]!;
      const model = models.insert({
        id,
        repo: reference.repo,
        filename: filename ?? null,
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
      const warnings = selection.warnings;
      const tooLarge = tooLargeWarning(artifacts, options.largestNodeMemory?.());
      if (tooLarge) warnings.push(tooLarge);
      options.onRegistryChange?.();
      if (stale) {
        warnings.unshift(`The hub could not be reached; used metadata cached ${stale.ageSeconds} s ago.`);
      }
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
      if (!models.remove(id)) throw notRegistered(id);
      options.onRegistryChange?.();
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
