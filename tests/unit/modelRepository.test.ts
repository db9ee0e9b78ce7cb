import { describe, expect, it } from "vitest";
import { createLogger } from "../../src-main/shared/logger";
import { createModelRepository, type NewModel } from "../../src-main/core/registry/modelRepository";
import { openDatabase } from "../../src-main/core/registry/openDatabase";
import { createRegistryVersion } from "../../src-main/core/registry/registryVersion";

const log = createLogger({ level: "silent" });
const artifact = {
  format: "gguf" as const,
  quantization: "Q4_K_M",
  size_bytes: 10,
  sha256: "a".repeat(64),
  split_group: null,
};

function newModel(id: string, filenames: string[]): NewModel {
  return {
    id,
    repo: "org/repo",
    filename: null,
    revision: "main",
    commit: "c".repeat(40),
    source: "huggingface",
    displayName: "repo",
    sizeBytes: 10 * filenames.length,
    createdAt: new Date().toISOString(),
    artifacts: filenames.map((filename) => ({ ...artifact, filename })),
  };
}

describe("model repository", () => {
  it("stores a model and its artifacts together", () => {
    const repo = createModelRepository(openDatabase({ file: ":memory:", log }), createRegistryVersion());
    const model = repo.insert(newModel("org/repo", ["a.gguf", "b.gguf"]));
    expect(model.artifacts.map((a) => a.filename)).toEqual(["a.gguf", "b.gguf"]);
    expect(model.ready).toBe(false);
  });

  it("leaves no half model when an artifact cannot be stored", () => {
    const repo = createModelRepository(openDatabase({ file: ":memory:", log }), createRegistryVersion());
    expect(() => repo.insert(newModel("org/repo", ["a.gguf", "a.gguf"]))).toThrow();
    expect(repo.get("org/repo")).toBeUndefined();
    expect(repo.count()).toBe(0);
  });

  it("deleting a model deletes its artifacts (foreign keys are on)", () => {
    const db = openDatabase({ file: ":memory:", log });
    const repo = createModelRepository(db, createRegistryVersion());
    repo.insert(newModel("org/repo", ["a.gguf"]));
    expect(repo.remove("org/repo")).toBe(true);
    expect(db.prepare("SELECT COUNT(*) AS n FROM artifacts").get()).toEqual({ n: 0 });
  });

  it("is ready while an online node has the model ready, and not otherwise", () => {
    const db = openDatabase({ file: ":memory:", log });
    const repo = createModelRepository(db, createRegistryVersion());
    repo.insert(newModel("org/repo", ["a.gguf"]));
    const now = new Date().toISOString();
    db.prepare("INSERT INTO nodes (id, name, status, registered_at) VALUES ('n1', 'gpu0', 'online', ?)").run(
      now,
    );
    db.prepare(
      "INSERT INTO node_models (node_id, model_id, state, updated_at) VALUES ('n1', 'org/repo', 'ready', ?)",
    ).run(now);
    expect(repo.get("org/repo")!.ready).toBe(true);
    expect(repo.listSummaries()[0]!.ready).toBe(true);
    db.prepare("UPDATE nodes SET status = 'offline'").run();
    expect(repo.get("org/repo")!.ready).toBe(false);
  });
});
