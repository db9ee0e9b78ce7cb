/** The public shapes of the downloader (see index.ts). */
import type { Logger } from "../../shared/logger";

export interface DownloadRequest {
  /** "org/name", already validated. */
  repo: string;
  /** As registered ("main", a tag, or a sha). */
  revision: string;
  /** 40-hex commit the revision resolved to. */
  commit: string;
  /** Repo-relative path, already validated (may contain "/"). */
  filename: string;
  /** The hub's resolve URL at the commit (may redirect to a CDN). */
  url: string;
  /** Expected bytes. */
  size: number;
  /** Expected LFS sha256 (64 hex). */
  sha256: string;
}

export interface DownloadProgress {
  bytesDone: number;
  bytesTotal: number;
  bytesPerSecond: number;
  /** The connection broke and the next try waits (speed 0): why, in a few words. */
  interrupted?: string;
  /** It began again from the start, its progress going back: why (said for a minute after). */
  restarted?: string;
}

export interface DownloadOptions {
  /** HF_HUB_CACHE root. */
  cacheDir: string;
  log: Logger;
  /**
   * HF token, sent as Bearer to the hub (not to a different-origin CDN redirect target). A function is
   * read at each request: a token changed mid-download goes with its next request.
   */
  token?: string | (() => string | undefined);
  signal?: AbortSignal;
  /** Throttled: at most every 250 ms, plus once at the end. */
  onProgress?: (progress: DownloadProgress) => void;
  /** Another process is downloading this file (its lock is held): this one waits for it, and why. */
  onWaiting?: (why: string) => void;
  /** Who downloads, in words (`llmlb worker gpu-1`): what another waiting on this file is told. */
  by?: string;
  /** Parallel range segments (connections) for large files; default 4. */
  segments?: number;
  /** Files smaller than segments * this download in one stream; default 32 MiB. */
  minSegmentBytes?: number;
  /** Attempts per segment/stream on 429/5xx/cut connections; default 8. Progress resets the count. */
  retries?: number;
  /** Exponential backoff base, default 500 ms, capped at 30 s; Retry-After wins (capped at 5 min). */
  retryBaseDelayMs?: number;
}

export interface DownloadResult {
  snapshotPath: string;
  blobPath: string;
  /** Body bytes received by this call (0 when the file was already cached). */
  fetchedBytes: number;
  alreadyCached: boolean;
  /** Complete when its lock came free: another process downloaded it while this one waited. */
  fetchedByAnother?: boolean;
}
