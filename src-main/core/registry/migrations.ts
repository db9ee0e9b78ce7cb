/**
 * Schema history. Each entry runs once, in order, inside a transaction; `PRAGMA user_version`
 * records how far a database has come. Never edit a shipped entry: add the next one.
 */
export const migrations: readonly string[] = [
  `
  CREATE TABLE models (
    id            TEXT PRIMARY KEY,
    repo          TEXT NOT NULL,
    filename      TEXT,
    revision      TEXT NOT NULL,
    commit_sha    TEXT NOT NULL,
    source        TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    size_bytes    INTEGER NOT NULL CHECK (size_bytes >= 0),
    created_at    TEXT NOT NULL
  ) STRICT;

  CREATE TABLE artifacts (
    model_id      TEXT NOT NULL REFERENCES models (id) ON DELETE CASCADE,
    filename      TEXT NOT NULL,
    format        TEXT NOT NULL CHECK (format IN ('gguf', 'safetensors', 'other')),
    quantization  TEXT,
    size_bytes    INTEGER NOT NULL CHECK (size_bytes >= 0),
    sha256        TEXT,
    split_group   TEXT,
    PRIMARY KEY (model_id, filename)
  ) STRICT;

  CREATE TABLE nodes (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    url            TEXT,
    token_hash     TEXT,
    backend        TEXT,
    status         TEXT NOT NULL DEFAULT 'online' CHECK (status IN ('online', 'offline')),
    registered_at  TEXT NOT NULL,
    last_seen_at   TEXT
  ) STRICT;

  CREATE TABLE node_models (
    node_id      TEXT NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    model_id     TEXT NOT NULL REFERENCES models (id) ON DELETE CASCADE,
    state        TEXT NOT NULL CHECK (state IN ('pending', 'downloading', 'verifying', 'ready', 'error', 'unsupported')),
    bytes_done   INTEGER,
    bytes_total  INTEGER,
    message      TEXT,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (node_id, model_id)
  ) STRICT;
  CREATE INDEX node_models_ready ON node_models (model_id) WHERE state = 'ready';

  CREATE TABLE hub_cache (
    repo        TEXT NOT NULL,
    revision    TEXT NOT NULL,
    commit_sha  TEXT NOT NULL,
    payload     TEXT NOT NULL,
    fetched_at  INTEGER NOT NULL,
    PRIMARY KEY (repo, revision)
  ) STRICT;
  `,
  `
  ALTER TABLE nodes ADD COLUMN devices TEXT NOT NULL DEFAULT '[]';
  ALTER TABLE nodes ADD COLUMN memory_total_bytes INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE nodes ADD COLUMN memory_free_bytes INTEGER NOT NULL DEFAULT 0;
  CREATE UNIQUE INDEX nodes_by_name ON nodes (name);
  ALTER TABLE node_models ADD COLUMN artifact TEXT;
  ALTER TABLE node_models ADD COLUMN bytes_per_second REAL;
  `,
  // OpenAI-compatible servers added by URL. Their models are whatever they list, not registered
  // models, so they live here rather than in node_models (whose rows must name a registered model).
  `
  CREATE TABLE endpoints (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL UNIQUE,
    url              TEXT NOT NULL,
    api_key          TEXT,
    status           TEXT NOT NULL CHECK (status IN ('online', 'offline')),
    models           TEXT NOT NULL DEFAULT '[]',
    last_error       TEXT,
    last_checked_at  TEXT,
    last_seen_at     TEXT,
    created_at       TEXT NOT NULL
  ) STRICT;
  `,
  // Per-model settings (JSON, only what differs from the defaults) and other names for models.
  `
  ALTER TABLE models ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';

  CREATE TABLE model_aliases (
    alias       TEXT PRIMARY KEY,
    model_id    TEXT NOT NULL REFERENCES models (id) ON DELETE CASCADE,
    created_at  TEXT NOT NULL
  ) STRICT;
  CREATE INDEX model_aliases_by_model ON model_aliases (model_id);
  `,
  // A model in error because it crashed the node's worker (not retried until asked).
  `
  ALTER TABLE node_models ADD COLUMN crashed INTEGER NOT NULL DEFAULT 0;
  `,
  // GPU backends a node's machine left out after its device probe, and why (JSON).
  `
  ALTER TABLE nodes ADD COLUMN backends_left_out TEXT NOT NULL DEFAULT '[]';
  `,
  // Responses kept for the Responses API (previous_response_id, GET): the response as answered and
  // every input item it saw, the chain before it included, as JSON.
  `
  CREATE TABLE responses (
    id          TEXT PRIMARY KEY,
    model       TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    input       TEXT NOT NULL,
    response    TEXT NOT NULL
  ) STRICT;
  CREATE INDEX responses_by_age ON responses (created_at);
  `,
  // A response that continues another keeps only the items after that one's, and a link to it
  // (rows from before keep every item, with no link). A response deleted or expired while others
  // continue it stays, gone, for their sake, until none does.
  `
  ALTER TABLE responses ADD COLUMN previous_id TEXT REFERENCES responses (id);
  ALTER TABLE responses ADD COLUMN gone INTEGER NOT NULL DEFAULT 0;
  CREATE INDEX responses_by_previous ON responses (previous_id);
  `,
  // A model in error that its node no longer tries by itself (a file that failed verification twice).
  `
  ALTER TABLE node_models ADD COLUMN waits_for_retry INTEGER NOT NULL DEFAULT 0;
  `,
  // How many requests llmlb sends an endpoint at once; those added before had the balancer's 4. No
  // upper bound here: the API's may grow without a migration.
  `
  ALTER TABLE endpoints ADD COLUMN parallel INTEGER NOT NULL DEFAULT 4 CHECK (parallel >= 1);
  `,
  // Each response's own size (its items and the response, as stored): the newest are kept up to a size.
  `
  ALTER TABLE responses ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0;
  UPDATE responses SET bytes = length(CAST(input AS BLOB)) + length(CAST(response AS BLOB));
  `,
  // What a pending model waits for when not the queue: another process's download of its file.
  `
  ALTER TABLE node_models ADD COLUMN waiting_for TEXT;
  `,
  // A worker node an operator took out of rotation (maintenance): it stays out across restarts.
  `
  ALTER TABLE nodes ADD COLUMN drained INTEGER NOT NULL DEFAULT 0;
  `,
  // The files of removed models that no model registered since uses, by sha256: what nodes may delete
  // of what they downloaded. A node deletes on such a notice only, never a file this registry merely
  // does not know (a new or reset database, another control plane).
  `
  CREATE TABLE removed_files (
    sha256      TEXT PRIMARY KEY,
    removed_at  TEXT NOT NULL
  ) STRICT;
  `,
];
