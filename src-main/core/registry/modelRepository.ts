import {
  defaultModelSettings,
  modelSettingsSchema,
  type Alias,
  type Artifact,
  type ArtifactFormat,
  type Model,
  type ModelOnNode,
  type ModelSettings,
} from "../../contract";
import { AppError } from "../../shared/errors";
import { toNodeModelState, type NodeModelRow } from "./nodeModelRows";
import type { Db } from "./openDatabase";
import type { RegistryVersion } from "./registryVersion";

export interface NewModel {
  id: string;
  repo: string;
  filename: string | null;
  revision: string;
  commit: string;
  source: string;
  displayName: string;
  sizeBytes: number;
  createdAt: string;
  artifacts: Artifact[];
  /** Other names it answers to from the start (`org/repo:Q4_K_M`). Default: none. */
  aliases?: string[];
}

export interface ModelPage {
  total: number;
  models: Model[];
}

export interface ModelRepository {
  /** Inserts the model and its artifacts in one transaction; `registry.duplicate` if the id exists. */
  insert(model: NewModel): Model;
  get(id: string): Model | undefined;
  exists(id: string): boolean;
  /** Registered ids equal to `id` but for case (a few at most). */
  idsIgnoringCase(id: string): string[];
  list(query: { search?: string; limit: number; offset: number }): ModelPage;
  /** Every model, newest first, with readiness: what `GET /v1/models` shows. */
  listSummaries(): { id: string; createdAt: string; repo: string; ready: boolean }[];
  /**
   * Grows with every write that changes what lists show, so views of them can be cached. Writes of
   * node state that change readiness must bump it too.
   */
  version(): number;
  remove(id: string): boolean;
  /**
   * Moves a model to a new commit of its revision, with the files it has there (`llmlb model update`):
   * the files of the old one no other model uses are noted removed, for nodes to delete. False if it
   * is not registered, or no longer at `from` (changed meanwhile).
   */
  moveToCommit(id: string, from: string, commit: string, artifacts: Artifact[]): boolean;
  /**
   * The sha256 of each file a removed model left unused (and no model registered since uses), oldest
   * first: nodes delete what they downloaded of these, and nothing else.
   */
  removedFiles(): string[];
  /** Saves a model's settings; false if it is not registered. */
  saveSettings(id: string, settings: ModelSettings): boolean;
  /** Names `modelId` by `alias` too; `registry.duplicate` if a model or alias already has that name. */
  addAlias(alias: string, modelId: string, createdAt: string): void;
  /** Removes an alias; the model it named, or undefined if there was none. */
  removeAlias(alias: string): string | undefined;
  /** Every alias and the model it names. */
  aliases(): Alias[];
  /** The model an alias names, if `name` is one. */
  aliasTarget(name: string): string | undefined;
  /**
   * The one model registered as a single file of `repo` in `quantization` (as `org/repo:Q4_K_M`
   * would have chosen it), if exactly one is; case aside.
   */
  taggedModel(repo: string, quantization: string): string | undefined;
  count(): number;
  /** Registered models, and how many of them are ready. */
  counts(): { total: number; ready: number };
}

interface ModelRow {
  id: string;
  repo: string;
  filename: string | null;
  revision: string;
  commit_sha: string;
  source: string;
  display_name: string;
  size_bytes: number;
  created_at: string;
  settings: string;
  ready: number;
}

interface ArtifactRow {
  model_id: string;
  filename: string;
  format: ArtifactFormat;
  quantization: string | null;
  size_bytes: number;
  sha256: string | null;
  split_group: string | null;
}

export function duplicateModel(id: string): AppError {
  return new AppError("registry.duplicate", `Model ${id} is already registered.`, { param: "id" });
}

function nameTakenByAlias(name: string, modelId: string): AppError {
  return new AppError(
    "registry.duplicate",
    `${name} is already an alias of ${modelId}; remove it first (llmlb model unalias ${name}).`,
    { param: "alias" },
  );
}

/** Stored as only what differs from the defaults, so new defaults reach models nobody configured. */
function parseSettings(json: string): ModelSettings {
  const stored = modelSettingsSchema.partial().safeParse(JSON.parse(json));
  return { ...defaultModelSettings, ...(stored.success ? stored.data : {}) };
}

function storedSettings(settings: ModelSettings): string {
  const changed = Object.entries(settings).filter(
    ([key, value]) =>
      JSON.stringify(value) !== JSON.stringify(defaultModelSettings[key as keyof ModelSettings]),
  );
  return JSON.stringify(Object.fromEntries(changed));
}

/**
 * Whether node `n` may serve model `m`: its settings pin it to no node (their `nodes` absent or empty),
 * or to `n` among others. A node pinned away still has it ready until its next sync drops it.
 */
const allowedOn = `(COALESCE(json_array_length(m.settings, '$.nodes'), 0) = 0
  OR n.name IN (SELECT value FROM json_each(m.settings, '$.nodes')))`;

// A model is ready while at least one online node it may be served by has it ready.
const readyColumn = `EXISTS (
  SELECT 1 FROM node_models nm JOIN nodes n ON n.id = nm.node_id
  WHERE nm.model_id = m.id AND nm.state = 'ready' AND n.status = 'online' AND ${allowedOn}
) AS ready`;

// A null pattern matches every model.
const matching = `WHERE @pattern IS NULL OR m.id LIKE @pattern ESCAPE '\\' OR m.display_name LIKE @pattern ESCAPE '\\'
  OR EXISTS (SELECT 1 FROM model_aliases a WHERE a.model_id = m.id AND a.alias LIKE @pattern ESCAPE '\\')`;
type ListParams = { pattern: string | null; limit: number; offset: number };

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (char) => `\\${char}`);
}

function toArtifact(row: ArtifactRow): Artifact {
  return {
    filename: row.filename,
    format: row.format,
    quantization: row.quantization,
    size_bytes: row.size_bytes,
    sha256: row.sha256,
    split_group: row.split_group,
  };
}

/** How many removed files are kept noted: a node away for longer leaves the oldest in its cache. */
const removedFilesKept = 10_000;

export function createModelRepository(db: Db, registryVersion: RegistryVersion): ModelRepository {
  const statements = {
    insertModel: db.prepare(`
      INSERT INTO models (id, repo, filename, revision, commit_sha, source, display_name, size_bytes, created_at)
      VALUES (@id, @repo, @filename, @revision, @commit, @source, @displayName, @sizeBytes, @createdAt)`),
    insertArtifact: db.prepare(`
      INSERT INTO artifacts (model_id, filename, format, quantization, size_bytes, sha256, split_group)
      VALUES (@modelId, @filename, @format, @quantization, @sizeBytes, @sha256, @splitGroup)`),
    get: db.prepare<[string], ModelRow>(`SELECT m.*, ${readyColumn} FROM models m WHERE m.id = ?`),
    exists: db.prepare<[string], { one: number }>(`SELECT 1 AS one FROM models WHERE id = ?`),
    idsIgnoringCase: db.prepare<[string], { id: string }>(
      `SELECT id FROM models WHERE id = ? COLLATE NOCASE ORDER BY id LIMIT 3`,
    ),
    nodesOf: db.prepare<
      [string],
      NodeModelRow & { node_id: string; node_name: string; node_status: "online" | "offline" }
    >(
      `SELECT nm.*, n.name AS node_name, n.status AS node_status
       FROM node_models nm JOIN nodes n ON n.id = nm.node_id WHERE nm.model_id = ? ORDER BY n.name`,
    ),
    artifactsOf: db.prepare<[string], ArtifactRow>(
      `SELECT * FROM artifacts WHERE model_id = ? ORDER BY filename`,
    ),
    summaries: db.prepare<[], { id: string; created_at: string; repo: string }>(
      `SELECT id, created_at, repo FROM models ORDER BY rowid DESC`,
    ),
    readyIds: db
      .prepare<[], string>(
        `SELECT DISTINCT nm.model_id FROM node_models nm JOIN nodes n ON n.id = nm.node_id
         JOIN models m ON m.id = nm.model_id
         WHERE nm.state = 'ready' AND n.status = 'online' AND ${allowedOn}`,
      )
      .pluck(),
    countMatching: db.prepare<ListParams, { n: number }>(`SELECT COUNT(*) AS n FROM models m ${matching}`),
    pageMatching: db.prepare<ListParams, ModelRow>(
      `SELECT m.*, ${readyColumn} FROM models m ${matching} ORDER BY m.rowid DESC LIMIT @limit OFFSET @offset`,
    ),
    remove: db.prepare<[string]>(`DELETE FROM models WHERE id = ?`),
    moveModel: db.prepare<[string, number, string, string]>(
      `UPDATE models SET commit_sha = ?, size_bytes = ? WHERE id = ? AND commit_sha = ?`,
    ),
    removeArtifacts: db.prepare<[string]>(`DELETE FROM artifacts WHERE model_id = ?`),
    // A file no model uses once its model is gone (artifacts go with their model).
    noteRemovedFiles: db.prepare<[string, string]>(
      `INSERT OR REPLACE INTO removed_files (sha256, removed_at)
       SELECT DISTINCT a.sha256, ? FROM artifacts a
       WHERE a.model_id = ? AND a.sha256 IS NOT NULL
         AND NOT EXISTS (SELECT 1 FROM artifacts b WHERE b.sha256 = a.sha256 AND b.model_id <> a.model_id)`,
    ),
    keepNewestRemoved: db.prepare<[number]>(
      `DELETE FROM removed_files WHERE sha256 NOT IN
       (SELECT sha256 FROM removed_files ORDER BY removed_at DESC LIMIT ?)`,
    ),
    // Registered again: no longer a removed file.
    unremove: db.prepare<[string]>(`DELETE FROM removed_files WHERE sha256 = ?`),
    removedFiles: db.prepare<[], string>(`SELECT sha256 FROM removed_files ORDER BY removed_at`).pluck(),
    saveSettings: db.prepare<[string, string]>(`UPDATE models SET settings = ? WHERE id = ?`),
    aliasesOf: db
      .prepare<[string], string>(`SELECT alias FROM model_aliases WHERE model_id = ? ORDER BY alias`)
      .pluck(),
    aliasTarget: db.prepare<[string], string>(`SELECT model_id FROM model_aliases WHERE alias = ?`).pluck(),
    tagged: db
      .prepare<[string, string], string>(
        `SELECT m.id FROM models m JOIN artifacts a ON a.model_id = m.id AND a.filename = m.filename
         WHERE m.repo = ? AND upper(a.quantization) = upper(?) LIMIT 2`,
      )
      .pluck(),
    allAliases: db.prepare<[], { alias: string; model_id: string }>(
      `SELECT alias, model_id FROM model_aliases ORDER BY alias`,
    ),
    insertAlias: db.prepare<[string, string, string]>(
      `INSERT INTO model_aliases (alias, model_id, created_at) VALUES (?, ?, ?)`,
    ),
    removeAlias: db
      .prepare<[string], string>(`DELETE FROM model_aliases WHERE alias = ? RETURNING model_id`)
      .pluck(),
    count: db.prepare<[], { n: number }>(`SELECT COUNT(*) AS n FROM models`),
    counts: db.prepare<[], { total: number; ready: number | null }>(
      `SELECT COUNT(*) AS total, SUM(ready) AS ready FROM (SELECT ${readyColumn} FROM models m)`,
    ),
  };

  function toModel(row: ModelRow): Model {
    return {
      name: row.id,
      repo: row.repo,
      filename: row.filename,
      revision: row.revision,
      commit: row.commit_sha,
      source: row.source,
      display_name: row.display_name,
      size_bytes: row.size_bytes,
      created_at: row.created_at,
      artifacts: statements.artifactsOf.all(row.id).map(toArtifact),
      ready: row.ready === 1,
      nodes: statements.nodesOf.all(row.id).map((node): ModelOnNode => ({
        node_id: node.node_id,
        node_name: node.node_name,
        node_status: node.node_status,
        ...toNodeModelState(node),
      })),
      aliases: statements.aliasesOf.all(row.id),
      settings: parseSettings(row.settings),
    };
  }

  function addAlias(alias: string, modelId: string, createdAt: string): void {
    if (statements.exists.get(alias)) {
      throw new AppError(
        "registry.duplicate",
        `${alias} is a registered model's id; an alias needs a name of its own.`,
        {
          param: "alias",
        },
      );
    }
    const taken = statements.aliasTarget.get(alias);
    if (taken !== undefined) throw nameTakenByAlias(alias, taken);
    statements.insertAlias.run(alias, modelId, createdAt);
  }

  const insertAll = db.transaction((model: NewModel) => {
    const aliasOf = statements.aliasTarget.get(model.id);
    if (aliasOf !== undefined) throw nameTakenByAlias(model.id, aliasOf);
    statements.insertModel.run({ ...model });
    insertArtifacts(model.id, model.artifacts);
    for (const alias of model.aliases ?? []) addAlias(alias, model.id, model.createdAt);
  });

  /** The model's files as `artifacts` say, in place of the ones it had (each noted unremoved). */
  function insertArtifacts(modelId: string, artifacts: Artifact[]): void {
    for (const artifact of artifacts) {
      if (artifact.sha256 !== null) statements.unremove.run(artifact.sha256);
      statements.insertArtifact.run({
        modelId,
        filename: artifact.filename,
        format: artifact.format,
        quantization: artifact.quantization,
        sizeBytes: artifact.size_bytes,
        sha256: artifact.sha256,
        splitGroup: artifact.split_group,
      });
    }
  }

  const moveWithNotice = db.transaction(
    (id: string, from: string, commit: string, artifacts: Artifact[]): boolean => {
      const size = artifacts.reduce((sum, artifact) => sum + artifact.size_bytes, 0);
      if (statements.moveModel.run(commit, size, id, from).changes === 0) return false;
      // Its old files as a removed model's would be: noted for nodes to delete unless another model (or
      // it, at the new commit: the same bytes) uses them.
      statements.noteRemovedFiles.run(new Date().toISOString(), id);
      statements.removeArtifacts.run(id);
      insertArtifacts(id, artifacts);
      statements.keepNewestRemoved.run(removedFilesKept);
      return true;
    },
  );

  /** Removes a model, noting the files it leaves unused for nodes to delete (the newest 10,000 kept). */
  const removeWithNotice = db.transaction((id: string): boolean => {
    statements.noteRemovedFiles.run(new Date().toISOString(), id);
    const removed = statements.remove.run(id).changes > 0;
    statements.keepNewestRemoved.run(removedFilesKept);
    return removed;
  });

  return {
    insert(model) {
      try {
        insertAll(model);
        registryVersion.bump();
      } catch (error) {
        // Only the model's own key makes a duplicate; any other failure is not the user's.
        if ((error as { code?: string }).code === "SQLITE_CONSTRAINT_PRIMARYKEY" && this.exists(model.id)) {
          throw duplicateModel(model.id);
        }
        throw error;
      }
      return this.get(model.id)!;
    },
    get(id) {
      const row = statements.get.get(id);
      return row ? toModel(row) : undefined;
    },
    exists(id) {
      return statements.exists.get(id) !== undefined;
    },
    idsIgnoringCase(id) {
      return statements.idsIgnoringCase.all(id).map((row) => row.id);
    },
    list({ search, limit, offset }) {
      const params = { pattern: search ? `%${escapeLike(search)}%` : null, limit, offset };
      const total = statements.countMatching.get(params)!.n;
      return { total, models: statements.pageMatching.all(params).map(toModel) };
    },
    listSummaries() {
      // Two plain scans beat a correlated readiness check per row at 10,000 models.
      const ready = new Set(statements.readyIds.all());
      return statements.summaries
        .all()
        .map((row) => ({ id: row.id, createdAt: row.created_at, repo: row.repo, ready: ready.has(row.id) }));
    },
    remove(id) {
      const removed = removeWithNotice(id);
      if (removed) registryVersion.bump();
      return removed;
    },
    moveToCommit(id, from, commit, artifacts) {
      const moved = moveWithNotice(id, from, commit, artifacts);
      if (moved) registryVersion.bump();
      return moved;
    },
    removedFiles: () => statements.removedFiles.all(),
    saveSettings(id, settings) {
      const saved = statements.saveSettings.run(storedSettings(settings), id).changes > 0;
      if (saved) registryVersion.bump();
      return saved;
    },
    addAlias(alias, modelId, createdAt) {
      addAlias(alias, modelId, createdAt);
      registryVersion.bump();
    },
    removeAlias(alias) {
      const modelId = statements.removeAlias.get(alias);
      if (modelId !== undefined) registryVersion.bump();
      return modelId;
    },
    aliases: () => statements.allAliases.all().map((row) => ({ alias: row.alias, model: row.model_id })),
    aliasTarget: (name) => statements.aliasTarget.get(name),
    taggedModel(repo, quantization) {
      const found = statements.tagged.all(repo, quantization);
      return found.length === 1 ? found[0] : undefined;
    },
    version: () => registryVersion.current(),
    count() {
      return statements.count.get()!.n;
    },
    counts() {
      const row = statements.counts.get()!;
      return { total: row.total, ready: row.ready ?? 0 };
    },
  };
}
