import fs from "node:fs/promises";
import path from "node:path";
import type { HubFile } from "../../shared/classifyArtifacts";
import { repoCacheDir } from "../../shared/hfCachePaths";
import { isCommitSha, isSha256, unsafePathReason } from "../../shared/hfNames";
import type { RepoMetadata } from "./hubClient";

/** A repo as the Hugging Face cache holds it at a revision, and when that snapshot was last written. */
export interface CachedRepo {
  metadata: RepoMetadata;
  writtenAt: number;
}

/**
 * What the Hugging Face cache holds of `repo` at `revision` (a branch or tag its `refs/` names, or a
 * commit), read as the hub would describe it: the snapshot's files, their sizes, and the sha256 of each
 * stored by it (a blob named by its sha256, as huggingface_hub names LFS files). Only what was
 * downloaded is there: a repo of many quantizations may hold one. Undefined when it holds nothing.
 */
export async function readCachedRepo(
  cacheDir: string,
  repo: string,
  revision: string,
): Promise<CachedRepo | undefined> {
  const repoDir = repoCacheDir(cacheDir, repo);
  const commit = isCommitSha(revision)
    ? revision
    : (await fs.readFile(path.join(repoDir, "refs", revision), "utf8").catch(() => "")).trim();
  if (!isCommitSha(commit)) return undefined;
  const snapshot = path.join(repoDir, "snapshots", commit);
  const entries = await fs.readdir(snapshot, { recursive: true, withFileTypes: true }).catch(() => []);
  const files: HubFile[] = [];
  let writtenAt = 0;
  for (const entry of entries) {
    if (!entry.isFile() && !entry.isSymbolicLink()) continue;
    const file = path.join(entry.parentPath, entry.name);
    const name = path.relative(snapshot, file).split(path.sep).join("/");
    if (unsafePathReason(name)) continue;
    // A link to a blob gone (removed by hand, a download that failed) is no file.
    const stat = await fs.stat(file).catch(() => undefined);
    if (!stat?.isFile()) continue;
    const target = entry.isSymbolicLink() ? await fs.readlink(file).catch(() => "") : "";
    const blob = path.basename(target);
    files.push({ path: name, size: stat.size, sha256: isSha256(blob) ? blob : null });
    writtenAt = Math.max(writtenAt, (await fs.lstat(file)).mtimeMs);
  }
  if (files.length === 0) return undefined;
  return {
    metadata: { repo, revision, commit, gated: false, files, rejected: [] },
    writtenAt,
  };
}
