import { formatDuration } from "../../contract/units";
import type { Clock } from "../../shared/clock";
import { AppError } from "../../shared/errors";
import type { Logger } from "../../shared/logger";
import type { HubCacheRepository } from "../registry/hubCacheRepository";
import type { CachedRepo } from "./cachedRepo";
import type { HubClient, RepoMetadata } from "./hubClient";

export interface MetadataResult {
  metadata: RepoMetadata;
  /**
   * The hub did not answer (or was not asked: offline): the copy's age, and why (the hub's trouble, in
   * a sentence). `fromCacheFolder`: read from the files of the Hugging Face cache, not a copy of the
   * hub's answer; its age is the snapshot's.
   */
  stale?: { ageSeconds: number; why: string; fromCacheFolder?: true };
}

export interface MetadataService {
  get(repo: string, revision: string, signal?: AbortSignal): Promise<MetadataResult>;
}

export interface MetadataServiceOptions {
  hub: HubClient;
  cache: HubCacheRepository;
  clock: Clock;
  log: Logger;
  /**
   * What the Hugging Face cache holds of a repo, for one this llmlb never fetched while the hub does
   * not answer. Default: nothing.
   */
  readCache?: (repo: string, revision: string) => Promise<CachedRepo | undefined>;
  /** HF_HUB_OFFLINE: the hub is never asked; what llmlb fetched before, or the cache holds, serves. */
  offline?: boolean;
}

// The hub failing this way says nothing about the repo, so the last good copy still holds.
const transientCodes = new Set(["hub.unreachable", "hub.rate_limited"]);

/** A Retry-After longer than this (a broken mirror or proxy) may not silence the hub for longer. */
export const maxQuietSeconds = 300;

/**
 * Hub metadata with a fallback: fresh when the hub answers, the last good copy (marked stale) when
 * it is down or rate-limiting, and no call at all while a Retry-After window is open.
 */
export function createMetadataService(options: MetadataServiceOptions): MetadataService {
  const { hub, cache, clock, log } = options;
  const inFlight = new Map<string, Promise<RepoMetadata>>();
  let quietUntil = 0;

  // Concurrent requests for the same repo share one hub round trip.
  function fetchShared(repo: string, revision: string, signal?: AbortSignal): Promise<RepoMetadata> {
    const key = `${repo}@${revision}`;
    let pending = inFlight.get(key);
    if (!pending) {
      pending = hub.fetchRepoMetadata(repo, revision, signal).finally(() => inFlight.delete(key));
      inFlight.set(key, pending);
    }
    return pending;
  }

  async function fromCache(repo: string, revision: string, error: AppError): Promise<MetadataResult> {
    const cached = cache.get<RepoMetadata>(repo, revision);
    const folder = cached ? undefined : await options.readCache?.(repo, revision).catch(() => undefined);
    if (folder) {
      const ageSeconds = Math.max(0, Math.round((clock.now() - folder.writtenAt) / 1000));
      log.warn(
        { repo, revision, commit: folder.metadata.commit, code: error.code },
        "hub unavailable; using the files in the Hugging Face cache",
      );
      return { metadata: folder.metadata, stale: { ageSeconds, why: error.message, fromCacheFolder: true } };
    }
    if (!cached) {
      const wait = Math.ceil(
        Math.min(error.retryAfter ?? (quietUntil - clock.now()) / 1000, maxQuietSeconds),
      );
      throw new AppError(
        error.code === "hub.rate_limited" ? "hub.rate_limited" : "hub.unreachable",
        `${error.message} ${repo} has never been fetched before, so it cannot be registered until the hub answers${wait > 0 ? `: try again in ${formatDuration(wait)}` : ""}.`,
        { cause: error, ...(wait > 0 ? { retryAfter: wait } : {}) },
      );
    }
    const ageSeconds = Math.max(0, Math.round((clock.now() - cached.fetchedAt) / 1000));
    log.warn({ repo, revision, ageSeconds, code: error.code }, "hub unavailable; using cached metadata");
    return { metadata: cached.payload, stale: { ageSeconds, why: error.message } };
  }

  return {
    async get(repo, revision, signal) {
      if (options.offline)
        return fromCache(
          repo,
          revision,
          new AppError("hub.unreachable", "HF_HUB_OFFLINE is set, so the hub is not asked."),
        );
      if (clock.now() < quietUntil) {
        return fromCache(
          repo,
          revision,
          new AppError(
            "hub.rate_limited",
            `The hub asked llmlb to wait before asking again (429), ${formatDuration((quietUntil - clock.now()) / 1000)} more.`,
          ),
        );
      }
      try {
        const metadata = await fetchShared(repo, revision, signal);
        cache.put(repo, revision, metadata.commit, metadata, clock.now());
        return { metadata };
      } catch (error) {
        if (!(error instanceof AppError) || !transientCodes.has(error.code)) throw error;
        if (error.retryAfter !== undefined) {
          const seconds = Math.min(error.retryAfter, maxQuietSeconds);
          quietUntil = Math.max(quietUntil, clock.now() + seconds * 1000);
        }
        return fromCache(repo, revision, error);
      }
    },
  };
}
