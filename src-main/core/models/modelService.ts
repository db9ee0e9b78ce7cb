import {
  defaultModelSettings,
  type Alias,
  type Artifact,
  type AliasRequest,
  type Manifest,
  type Model,
  type ModelSettings,
  type ModelSettingsPatch,
  type ModelList,
  type ModelListQuery,
  type OpenAiModelList,
  type ModelUpdateResponse,
  type RegisterRequest,
  type RegisterResponse,
} from "../../contract";
import { isCommitSha } from "../../shared/hfNames";
import type { Clock } from "../../shared/clock";
import { formatDuration } from "../../contract/units";
import { AppError } from "../../shared/errors";
import { toArtifact } from "../../shared/classifyArtifacts";
import type { HubClient, RepoMetadata } from "../hub/hubClient";
import type { MetadataService } from "../hub/metadataService";
import { resolveUrl } from "../hub/hubUrls";
import { parseModelInput, parseModelParts } from "../hub/parseModelInput";
import type { Logger } from "../../shared/logger";
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
  onRegistryChange?: (change: { id: string; removed: boolean }) => void;
  /** Models OpenAI-compatible endpoints serve, registered or not. Default: none. */
  external?: ExternalModels;
  /** Names of the worker nodes known, which settings may pin models to. Default: none. */
  nodeNames?: () => string[];
}

/** An endpoint that lists a model. */
export interface ExternalServer {
  id: string;
  name: string;
  online: boolean;
  createdAt: string;
  /** Its instance id when it is another llmlb; null for any other server. */
  instance: string | null;
}

/** What endpoints serve, kept in memory; changes bump the registry version. */
export interface ExternalModels {
  /** Model id → the endpoints listing it (online or not). */
  servers(): ReadonlyMap<string, readonly ExternalServer[]>;
}

export interface ModelService {
  register(request: RegisterRequest): Promise<RegisterResponse>;
  /**
   * Moves a registered model to its revision's newest commit on the hub, keeping its id, aliases and
   * settings (as `ollama pull` updates a model); nodes fetch its files there.
   */
  update(name: string): Promise<ModelUpdateResponse>;
  list(query: ModelListQuery): ModelList;
  get(id: string): Model;
  /** " Did you mean `org/Repo`? …" when a registered id differs from `id` only in case; else "". */
  didYouMean(id: string): string;
  remove(id: string): void;
  /** The files removed models left unused, by sha256: what nodes may delete of their downloads. */
  removedFiles(): string[];
  /** Changes a model's settings (named by id or alias); nodes pick them up on their next sync. */
  updateSettings(id: string, patch: ModelSettingsPatch): Model;
  /** `existed`: the alias named that model already (asked twice), and nothing changed. */
  addAlias(request: AliasRequest): Alias & { existed?: true };
  removeAlias(alias: string): Alias;
  aliases(): Alias[];
  /** The registered id `name` stands for: the model an alias names, else `name` itself. */
  resolveName(name: string): string;
  /** The names of the nodes (workers or endpoints) a model's settings pin it to; empty: any node. */
  pinnedNodes(id: string): readonly string[];
  /** The requests a model's settings have a worker run at once; undefined: the worker decides. */
  parallelOf(id: string): number | undefined;
  /** The models whose pin names this node (or endpoint). */
  pinnedTo(nodeName: string): string[];
  manifest(id: string): Manifest;
  /**
   * `GET /v1/models`. `askedVia`: the instance ids of the llmlbs asking (another llmlb's health check
   * of this one sends its own): what only endpoints that are those llmlbs serve is not ready to them,
   * so two llmlbs that are each other's endpoints never list a model to each other that neither has.
   */
  openAiList(askedVia?: readonly string[]): OpenAiModelList;
  count(): number;
  /** Registered models, and how many of them are ready. */
  counts(): { total: number; ready: number };
}

function modelIdOf(reference: { repo: string; filename?: string }): string {
  return reference.filename ? `${reference.repo}/${reference.filename}` : reference.repo;
}

/** The settings after `patch`: a null puts a setting back to its default. */
function patched(settings: ModelSettings, patch: ModelSettingsPatch): ModelSettings {
  const next = { ...settings };
  for (const [key, value] of Object.entries(patch) as [keyof ModelSettings, unknown][]) {
    if (value === undefined) continue;
    (next as Record<string, unknown>)[key] = value ?? defaultModelSettings[key];
  }
  return next;
}

/** `org/repo:Q8_0`: a repo and a quantization. */
const tagForm = /^([^/:\s]+\/[^/:\s]+):([\w.-]+)$/;

export function createModelService(options: ModelServiceOptions): ModelService {
  const { models, metadata, clock, log } = options;
  let openAiCache: { version: number; list: OpenAiModelList } | undefined;
  // The balancer resolves names on every request: aliases are read once per registry version.
  let aliasCache:
    { version: number; byAlias: Map<string, string>; byTag: Map<string, string | undefined> } | undefined;
  // So do they pins and parallel settings, on every request: read once per model and registry version.
  let settingsCache = {
    version: -1,
    byModel: new Map<string, { nodes: readonly string[]; parallel: number | undefined }>(),
  };

  function resolveName(name: string): string {
    if (aliasCache?.version !== models.version()) {
      const version = models.version();
      aliasCache = {
        version,
        byAlias: new Map(models.aliases().map((entry) => [entry.alias, entry.model])),
        byTag: new Map(),
      };
    }
    return aliasCache.byAlias.get(name) ?? taggedModel(aliasCache.byTag, name) ?? name;
  }

  /**
   * `org/repo:Q8_0` for a model registered as that file by its path (or before tags were names): the
   * name registering it that way would have given, which would otherwise be refused as a duplicate
   * and unknown at once. Looked up once per registry version (misses too).
   */
  function taggedModel(byTag: Map<string, string | undefined>, name: string): string | undefined {
    const tag = tagForm.exec(name);
    if (!tag) return undefined;
    if (!byTag.has(name)) {
      if (byTag.size >= 1000) byTag.clear();
      byTag.set(name, models.taggedModel(tag[1]!, tag[2]!));
    }
    return byTag.get(name);
  }

  /** The model `name` is the `org/repo:QUANT` tag of, resolved as requests resolve it; else undefined. */
  function tagOf(name: string): string | undefined {
    const tag = tagForm.exec(name);
    if (!tag) return undefined;
    const tagged = models.taggedModel(tag[1]!, tag[2]!);
    return tagged !== undefined && resolveName(name) === tagged ? tagged : undefined;
  }

  const notRegistered = (id: string) =>
    new AppError("registry.not_found", `Model ${id} is not registered.${didYouMean(id)}`, { param: "id" });

  /** " Did you mean `org/Repo`? …" when an id registered differs only in case; else "". */
  function didYouMean(id: string): string {
    const similar = models.idsIgnoringCase(id).filter((other) => other !== id);
    if (similar.length === 0) return "";
    return ` Did you mean ${similar.map((other) => `\`${other}\``).join(" or ")}? Model ids are case-sensitive.`;
  }

  function requireModel(id: string): Model {
    const model = models.get(resolveName(id));
    if (!model) throw notRegistered(id);
    return model;
  }

  /** The endpoints' entries of a model in its `nodes`. */
  const endpointStates = (id: string, servers: readonly ExternalServer[]) =>
    servers.map((server) => ({
      node_id: server.id,
      node_name: server.name,
      node_status: server.online ? ("online" as const) : ("offline" as const),
      model: id,
      artifact: null,
      state: "ready" as const,
    }));

  /** Names that are aliases here: an endpoint's model of that name is never reached (the alias is). */
  const aliasNames = () => new Set(models.aliases().map((entry) => entry.alias));

  /**
   * Models only endpoints serve (none registered under their id, none an alias's name), by id, with the
   * endpoints listing each.
   */
  function endpointOnly(search?: string): [string, readonly ExternalServer[]][] {
    const servers = options.external?.servers();
    if (!servers || servers.size === 0) return [];
    const needle = search?.toLowerCase();
    const aliases = aliasNames();
    return [...servers]
      .filter(
        ([id]) => (!needle || id.toLowerCase().includes(needle)) && !models.exists(id) && !aliases.has(id),
      )
      .sort(([a], [b]) => (a < b ? -1 : 1));
  }

  /** A model only endpoints serve, as listings show it: `source: "endpoint"`, no files, its endpoints as its nodes. */
  const endpointModel = (id: string, listing: readonly ExternalServer[]): Model => ({
    name: id,
    repo: "",
    filename: null,
    revision: "",
    commit: "",
    source: "endpoint",
    display_name: id,
    size_bytes: 0,
    created_at: (listing.find((server) => server.online) ?? listing[0]!).createdAt,
    artifacts: [],
    ready: listing.some((server) => server.online),
    nodes: endpointStates(id, listing),
    aliases: [],
    settings: defaultModelSettings,
  });

  /** The settings the balancer reads on every request. */
  function routingSettings(id: string): { nodes: readonly string[]; parallel: number | undefined } {
    if (settingsCache.version !== models.version())
      settingsCache = { version: models.version(), byModel: new Map() };
    const cached = settingsCache.byModel.get(id);
    if (cached) return cached;
    const model = models.get(id);
    const settings = { nodes: model?.settings.nodes ?? [], parallel: model?.settings.parallel ?? undefined };
    // Only models registered or served by an endpoint are kept: clients can name any model, and must
    // not grow this map; an endpoint's model is asked for on each of its requests.
    if (model || options.external?.servers().has(id)) settingsCache.byModel.set(id, settings);
    return settings;
  }
  const pinnedNodes = (id: string) => routingSettings(id).nodes;

  /** Whether an endpoint serves model `id` now: online, and not pinned away by the model's settings. */
  function servesNow(id: string, server: ExternalServer): boolean {
    if (!server.online) return false;
    const pinned = pinnedNodes(id);
    return pinned.length === 0 || pinned.includes(server.name);
  }

  function withExternal(model: Model): Model {
    const servers = options.external?.servers().get(model.name);
    if (!servers) return model;
    return {
      ...model,
      ready: model.ready || servers.some((server) => servesNow(model.name, server)),
      nodes: [...model.nodes, ...endpointStates(model.name, servers)],
    };
  }

  /** A pin names nodes (or endpoints) this llmlb knows. */
  function checkNodesKnown(patch: ModelSettingsPatch): void {
    if (!patch.nodes) return;
    const known = options.nodeNames?.() ?? [];
    const unknown = patch.nodes.filter((node) => !known.includes(node));
    if (unknown.length > 0) {
      throw new AppError(
        "input.invalid",
        `No node is named ${unknown.join(", ")}. ${known.length > 0 ? `Nodes: ${known.join(", ")}.` : "No node has registered yet, and no endpoint is added."}`,
        { param: "settings.nodes" },
      );
    }
  }

  /** A gated repo's listing is public; whether its files are is found out now, not at download time. */
  async function checkGatedAccess(repo: RepoMetadata, artifacts: Artifact[], stale: boolean): Promise<void> {
    if (stale) {
      throw new AppError(
        "hub.unreachable",
        `${repo.repo} is gated, and whether its files can be downloaded cannot be checked while the hub is unreachable.`,
      );
    }
    const probe = artifacts.find((a) => a.format === "gguf") ?? artifacts.find((a) => a.format !== "other");
    if (probe) await options.hub.checkDownloadAccess(repo.repo, repo.commit, probe.filename);
  }

  return {
    async update(name) {
      const model = requireModel(name);
      const short = (commit: string) => commit.slice(0, 7);
      const unchanged = (message: string): ModelUpdateResponse => ({
        model: withExternal(model),
        updated: false,
        from_commit: model.commit,
        to_commit: model.commit,
        message,
      });
      if (isCommitSha(model.revision))
        return unchanged(
          `${model.name} is registered at a commit (${short(model.commit)}), which never changes: there is nothing to update. Register it at a branch (main) to follow it.`,
        );
      const { metadata: repo, stale } = await metadata.get(model.repo, model.revision);
      if (stale) {
        throw new AppError(
          "hub.unreachable",
          `${stale.why.replace(/\.$/, "")}: whether ${model.name} has a newer commit cannot be checked now; it stays as it is.`,
        );
      }
      // The same file (and its split set) at the new commit, or the whole repo's files there.
      const reference = {
        repo: model.repo,
        revision: model.revision,
        ...(model.filename && { filename: model.filename }),
      };
      let artifacts: Artifact[];
      try {
        ({ artifacts } = selectArtifacts(reference, repo.files.map(toArtifact), repo.rejected));
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        throw new AppError(
          error.code,
          `${model.revision} of ${model.repo} moved to ${short(repo.commit)}, where ${model.name} cannot be what it was: ${error.message} It stays at ${short(model.commit)}; register what the repo holds now as another model.`,
          { param: "model" },
        );
      }
      // At the same commit with the same files: up to date. With files it did not list (registered
      // offline, from what the cache held), it lists them all now.
      const listed = (list: Artifact[]) =>
        list
          .map((artifact) => `${artifact.filename} ${artifact.sha256}`)
          .sort()
          .join("\n");
      if (repo.commit === model.commit && listed(artifacts) === listed(model.artifacts))
        return unchanged(
          `${model.name} is up to date: ${model.revision} is still at ${short(model.commit)}.`,
        );
      if (repo.gated) await checkGatedAccess(repo, artifacts, false);
      // Changed while the hub was asked (removed, registered anew): not this update's to overwrite.
      if (!models.moveToCommit(model.name, model.commit, repo.commit, artifacts))
        throw new AppError(
          "registry.duplicate",
          `${model.name} changed while it was being updated (removed, or registered anew); nothing was updated. Ask again.`,
          { param: "model" },
        );
      log.info({ model: model.name, from: model.commit, to: repo.commit }, "model updated to a new commit");
      options.onRegistryChange?.({ id: model.name, removed: false });
      const moved = models.get(model.name)!;
      // Its model files (a README or a config changing moves the commit too).
      const same = artifacts
        .filter((artifact) => artifact.format !== "other")
        .every((artifact) =>
          model.artifacts.some((before) => before.sha256 !== null && before.sha256 === artifact.sha256),
        );
      return {
        model: withExternal(moved),
        updated: true,
        from_commit: model.commit,
        to_commit: repo.commit,
        message:
          repo.commit === model.commit
            ? `${model.name} lists all its files at ${short(model.commit)} now (it was registered from what the cache held).`
            : same
              ? `${model.name} moved from ${short(model.commit)} to ${short(repo.commit)}; its files are the same there, so nodes serve it on as they were.`
              : `${model.name} moved from ${short(model.commit)} to ${short(repo.commit)}: nodes fetch its files there, and serve it again once they have them.`,
      };
    },
    async register(request) {
      // Before the hub is asked anything: a registration refused changes nothing.
      if (request.settings) checkNodesKnown(request.settings);
      // Links to the hub llmlb uses (a mirror, through HF_ENDPOINT) are read as huggingface.co's.
      const parsing = { hubEndpoint: options.hubEndpoint };
      const reference =
        "url" in request ? parseModelInput(request.url, parsing) : parseModelParts(request, parsing);
      // Answer a plain duplicate before asking the hub anything.
      if (!reference.quantization && models.exists(modelIdOf(reference))) {
        const existing = models.get(modelIdOf(reference));
        throw existing && existing.revision !== reference.revision
          ? new AppError(
              "registry.duplicate",
              `Model ${existing.name} is already registered at revision ${existing.revision}; delete it first to register revision ${reference.revision}.`,
              { param: "id" },
            )
          : duplicateModel(modelIdOf(reference));
      }

      const { metadata: repo, stale } = await metadata.get(reference.repo, reference.revision);
      const selection = selectArtifacts(reference, repo.files.map(toArtifact), repo.rejected);
      const { artifacts, filename } = selection;
      if (repo.gated) await checkGatedAccess(repo, artifacts, stale !== undefined);
      const id = modelIdOf({ repo: reference.repo, filename });
      const displayName = filename
        ? filename
            .split("/")
            .pop()!
            .replace(/(-\d{5}-of-\d{5})?\.gguf$/i, "")
        : reference.repo.split("/")[1]!;
      const warnings = selection.warnings;
      // `org/repo:Q4_K_M` keeps answering to the name it was added by, as in Ollama, unless that
      // name is taken.
      const tagName = reference.quantization ? `${reference.repo}:${reference.quantization}` : undefined;
      const tagTakenBy = tagName === undefined ? undefined : models.aliasTarget(tagName);
      if (tagTakenBy !== undefined) {
        warnings.push(`${tagName} already names ${tagTakenBy}, so it does not name this model too.`);
      }
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
        aliases: tagName !== undefined && tagTakenBy === undefined && tagName !== id ? [tagName] : [],
      });
      // In the same turn as the row itself: no node syncs in between and sees it without its pin.
      if (request.settings) models.saveSettings(id, patched(model.settings, request.settings));
      const registered = request.settings ? (models.get(id) ?? model) : model;
      log.info(
        { model: id, commit: repo.commit, artifacts: artifacts.length, stale: Boolean(stale) },
        "model registered",
      );
      const tooLarge = tooLargeWarning(artifacts, options.largestNodeMemory?.());
      if (tooLarge) warnings.push(tooLarge);
      options.onRegistryChange?.({ id, removed: false });
      if (stale) {
        // Why the hub did not answer (down, or asking to wait), and how old what was used instead is.
        warnings.unshift(
          stale.fromCacheFolder
            ? `${stale.why.replace(/\.$/, "")}: used what the Hugging Face cache holds of ${reference.repo} (commit ${repo.commit.slice(0, 7)}, written ${formatDuration(Math.max(1, stale.ageSeconds))} ago); only its files there can be served.`
            : `${stale.why.replace(/\.$/, "")}: used the metadata cached ${formatDuration(Math.max(1, stale.ageSeconds))} ago.`,
        );
      }
      return {
        ...registered,
        status: "registered",
        warnings,
        ...(stale ? { stale: { age_seconds: stale.ageSeconds } } : {}),
      };
    },
    list(query) {
      const page = models.list(query);
      // The registered models come first; the page goes on into those only endpoints serve.
      const outside = endpointOnly(query.search);
      const skip = Math.max(0, query.offset - page.total);
      const room = query.limit - page.models.length;
      return {
        total: page.total + outside.length,
        limit: query.limit,
        offset: query.offset,
        data: [
          ...page.models.map(withExternal),
          ...outside.slice(skip, skip + Math.max(0, room)).map(([id, listing]) => endpointModel(id, listing)),
        ],
      };
    },
    get(id) {
      const model = models.get(resolveName(id));
      if (model) return withExternal(model);
      const listing = options.external?.servers().get(id);
      if (listing) return endpointModel(id, listing);
      throw notRegistered(id);
    },
    didYouMean,
    removedFiles: () => models.removedFiles(),
    remove(name) {
      // `org/repo:Q4_K_M`, the name a model was added by (or answers to), removes it, as `ollama rm` does.
      const id = tagOf(name) ?? name;
      const servers = options.external?.servers().get(id);
      if (!models.exists(id) && servers) {
        const names = servers.map((server) => server.name);
        throw new AppError(
          "registry.external",
          `Model ${id} is served by endpoint ${names.join(", ")}, not registered here: it goes when the endpoint does (llmlb endpoint rm ${names[0]}).`,
          { param: "id" },
        );
      }
      const aliasOf = models.aliasTarget(id);
      if (aliasOf !== undefined) {
        throw new AppError(
          "registry.not_found",
          `${id} is an alias of ${aliasOf}: remove the alias with \`llmlb model unalias ${id}\`, or the model with \`llmlb model rm ${aliasOf}\`.`,
          { param: "id" },
        );
      }
      if (!models.remove(id)) throw notRegistered(id);
      options.onRegistryChange?.({ id, removed: true });
      log.info({ model: id }, "model removed");
    },
    updateSettings(name, patch) {
      const model = requireModel(name);
      const settings = patched(model.settings, patch);
      checkNodesKnown(patch);
      models.saveSettings(model.name, settings);
      log.info({ model: model.name, settings }, "model settings changed");
      options.onRegistryChange?.({ id: model.name, removed: false });
      return withExternal(models.get(model.name)!);
    },
    addAlias({ alias, model: name }) {
      // The alias would take the requests meant for the endpoint's model.
      const servedBy = options.external?.servers().get(alias);
      if (servedBy?.length) {
        const names = servedBy.map((server) => server.name).join(", ");
        throw new AppError(
          "registry.duplicate",
          `${alias} is a model ${names} serves; an alias needs a name of its own.`,
          { param: "alias" },
        );
      }
      const model = requireModel(name);
      if (models.aliasTarget(alias) === model.name) return { alias, model: model.name, existed: true };
      models.addAlias(alias, model.name, new Date(clock.now()).toISOString());
      log.info({ model: model.name, alias }, "alias added");
      options.onRegistryChange?.({ id: model.name, removed: false });
      return { alias, model: model.name };
    },
    removeAlias(alias) {
      const modelId = models.removeAlias(alias);
      if (modelId === undefined) {
        throw new AppError("registry.not_found", `No model has the alias ${alias}.`, { param: "alias" });
      }
      log.info({ model: modelId, alias }, "alias removed");
      options.onRegistryChange?.({ id: modelId, removed: false });
      return { alias, model: modelId };
    },
    aliases: () => models.aliases(),
    resolveName,
    pinnedNodes,
    parallelOf: (id) => routingSettings(id).parallel,
    pinnedTo: (nodeName) =>
      models
        .listSummaries()
        .map((model) => model.id)
        .filter((id) => pinnedNodes(id).includes(nodeName)),
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
    counts() {
      const servers = options.external?.servers();
      if (!servers || servers.size === 0) return models.counts();
      const summaries = models.listSummaries();
      const servedOutside = (id: string) => servers.get(id)?.some((server) => servesNow(id, server)) ?? false;
      const outside = endpointOnly();
      return {
        total: summaries.length + outside.length,
        ready:
          summaries.filter((m) => m.ready || servedOutside(m.id)).length +
          outside.filter(([id]) => servedOutside(id)).length,
      };
    },
    openAiList(askedVia) {
      const servers = options.external?.servers() ?? new Map<string, readonly ExternalServer[]>();
      const asker = (server: ExternalServer) =>
        server.instance !== null && askedVia!.includes(server.instance);
      if (askedVia?.length && [...servers.values()].some((listing) => listing.some(asker))) {
        return buildOpenAiList(servers, (id, server) => servesNow(id, server) && !asker(server));
      }
      // Clients poll this; rebuild it only when the registry has changed since.
      if (openAiCache?.version === models.version()) return openAiCache.list;
      const version = models.version();
      const list = buildOpenAiList(servers, servesNow);
      openAiCache = { version, list };
      return list;
    },
  };

  /** `GET /v1/models`, counting as serving a model the endpoints `serving` says do. */
  function buildOpenAiList(
    servers: ReadonlyMap<string, readonly ExternalServer[]>,
    serving: (id: string, server: ExternalServer) => boolean,
  ): OpenAiModelList {
    const online = (id: string) => servers.get(id)?.some((server) => serving(id, server)) ?? false;
    const registered = models.listSummaries();
    const registeredIds = new Set(registered.map((m) => m.id));
    const aliases = aliasNames();
    const list: OpenAiModelList = {
      object: "list",
      data: [
        ...registered.map((m) => ({
          id: m.id,
          object: "model" as const,
          created: Math.floor(Date.parse(m.createdAt) / 1000),
          owned_by: m.repo.split("/")[0]!,
          ready: m.ready || online(m.id),
        })),
        // Models only endpoints serve, after the registered ones, owned by the endpoint serving them;
        // not one named like an alias, whose requests the alias takes.
        ...[...servers]
          .filter(([id]) => !registeredIds.has(id) && !aliases.has(id))
          .sort(([a], [b]) => (a < b ? -1 : 1))
          .map(([id, listing]) => {
            const owner = listing.find((server) => serving(id, server)) ?? listing[0]!;
            return {
              id,
              object: "model" as const,
              created: Math.floor(Date.parse(owner.createdAt) / 1000),
              owned_by: owner.name,
              ready: online(id),
            };
          }),
      ],
    };
    return list;
  }
}
