import type { Db } from "./openDatabase";

export interface CachedHubEntry<T> {
  payload: T;
  fetchedAt: number;
}

/** The last good hub metadata per repo and revision, for answering while the hub is down. */
export interface HubCacheRepository {
  get<T>(repo: string, revision: string): CachedHubEntry<T> | undefined;
  put(repo: string, revision: string, commit: string, payload: unknown, fetchedAt: number): void;
}

export function createHubCacheRepository(db: Db): HubCacheRepository {
  const select = db.prepare<[string, string], { payload: string; fetched_at: number }>(
    `SELECT payload, fetched_at FROM hub_cache WHERE repo = ? AND revision = ?`,
  );
  const upsert = db.prepare(`
    INSERT INTO hub_cache (repo, revision, commit_sha, payload, fetched_at) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (repo, revision) DO UPDATE SET
      commit_sha = excluded.commit_sha, payload = excluded.payload, fetched_at = excluded.fetched_at`);
  return {
    get<T>(repo: string, revision: string) {
      const row = select.get(repo, revision);
      return row ? { payload: JSON.parse(row.payload) as T, fetchedAt: row.fetched_at } : undefined;
    },
    put(repo, revision, commit, payload, fetchedAt) {
      upsert.run(repo, revision, commit, JSON.stringify(payload), fetchedAt);
    },
  };
}
