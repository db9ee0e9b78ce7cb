import { listFiles, modelInfo } from "@huggingface/hub";
import { AppError } from "../errors";
import type { HubFile } from "./classifyArtifacts";
import { isCommitSha, isSha256, unsafePathReason } from "./names";

/** A repo as the hub described it at one commit, after every value was checked. */
export interface RepoMetadata {
  repo: string;
  /** The revision asked for (branch, tag or commit). */
  revision: string;
  commit: string;
  gated: boolean;
  private: boolean;
  files: HubFile[];
  /** Entries the hub listed that failed validation, with why; never stored as artifacts. */
  rejected: { path: string; reason: string }[];
}

export interface HubClient {
  fetchRepoMetadata(repo: string, revision: string, signal?: AbortSignal): Promise<RepoMetadata>;
}

export interface HubClientOptions {
  /** Hub base URL (HF_ENDPOINT). */
  endpoint: string;
  /** Bearer token for gated and private repos. Default: none. */
  token?: string;
  /** Per-request timeout in milliseconds. Default: 15000. */
  timeoutMs?: number;
}

/** A non-2xx answer of the hub, with the headers that say what it meant. */
class HubHttpError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string | null,
    readonly retryAfter: number | undefined,
    readonly hubMessage: string,
  ) {
    super(`hub answered ${status}`);
  }
}

function parseRetryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, (date - Date.now()) / 1000);
}

function hubErrorToAppError(error: HubHttpError, repo: string, revision: string, hasToken: boolean): AppError {
  const { status, errorCode } = error;
  if (errorCode === "GatedRepo" || status === 403) {
    return new AppError(
      "hub.unauthorized",
      hasToken
        ? `${repo} is gated and the Hugging Face token has no access: accept its terms on the model page, then retry.`
        : `${repo} is gated: set a Hugging Face token (HF_TOKEN, or Settings in the app) after accepting its terms on the model page.`,
      { cause: error },
    );
  }
  if (status === 401) {
    // The hub answers 401 alike for private and for missing repos when no valid token is sent.
    return new AppError(
      "hub.unauthorized",
      hasToken
        ? `The hub refused the Hugging Face token for ${repo}: check that it is valid and can read this repo.`
        : `${repo} was not found or is private: if it is private, set a Hugging Face token (HF_TOKEN, or Settings in the app).`,
      { cause: error },
    );
  }
  if (status === 404) {
    if (errorCode === "RevisionNotFound") {
      return new AppError("hub.revision_not_found", `Revision "${revision}" does not exist in ${repo}.`, {
        cause: error,
        param: "revision",
      });
    }
    return new AppError("hub.not_found", `Model repo ${repo} was not found on the hub.`, { cause: error });
  }
  if (status === 429) {
    return new AppError("hub.rate_limited", "The hub is rate-limiting requests (429).", {
      cause: error,
      retryAfter: error.retryAfter,
    });
  }
  if (status >= 500) {
    return new AppError("hub.unreachable", `The hub answered ${status}.`, {
      cause: error,
      retryAfter: error.retryAfter,
    });
  }
  return new AppError("hub.invalid_response", `The hub answered ${status} for ${repo}.`, { cause: error });
}

function checkFile(entry: { path: string; size: number; lfs?: { oid: string } }): string | undefined {
  const reason = unsafePathReason(entry.path);
  if (reason) return reason;
  if (!Number.isSafeInteger(entry.size) || entry.size < 0) return "its size is not a whole number of bytes";
  if (entry.lfs && !isSha256(entry.lfs.oid)) return "its sha256 is malformed";
  return undefined;
}

/** `@huggingface/hub` against HF_ENDPOINT: model info for the commit, then the file tree at it. */
export function createHubClient(options: HubClientOptions): HubClient {
  const hasToken = options.token !== undefined;
  const timeoutMs = options.timeoutMs ?? 15_000;

  return {
    async fetchRepoMetadata(repo, revision, signal) {
      const requestSignal = signal
        ? AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)])
        : AbortSignal.timeout(timeoutMs);
      // Non-2xx answers are turned into errors here, where their headers are still at hand.
      const checkedFetch: typeof fetch = async (input, init) => {
        let response: Response;
        try {
          response = await fetch(input, { ...init, signal: requestSignal, redirect: "follow" });
        } catch (cause) {
          throw new AppError("hub.unreachable", `The hub at ${options.endpoint} cannot be reached.`, { cause });
        }
        if (!response.ok) {
          const body = await response.text().catch(() => "");
          throw new HubHttpError(
            response.status,
            response.headers.get("x-error-code"),
            parseRetryAfter(response.headers.get("retry-after")),
            body.slice(0, 500),
          );
        }
        return response;
      };
      const common = { hubUrl: options.endpoint, fetch: checkedFetch, ...(hasToken ? { accessToken: options.token } : {}) };
      try {
        const info = await modelInfo({ ...common, name: repo, revision, additionalFields: ["sha"] });
        if (typeof info.sha !== "string" || !isCommitSha(info.sha)) {
          throw new AppError("hub.invalid_response", `The hub sent no valid commit for ${repo}.`);
        }
        const files: HubFile[] = [];
        const rejected: RepoMetadata["rejected"] = [];
        for await (const entry of listFiles({ ...common, repo: { type: "model", name: repo }, revision: info.sha, recursive: true })) {
          if (entry.type !== "file") continue;
          const path = String(entry.path);
          const reason = checkFile(entry);
          if (reason) rejected.push({ path, reason });
          else files.push({ path, size: entry.size, sha256: entry.lfs?.oid ?? null });
        }
        return {
          repo,
          revision,
          commit: info.sha,
          gated: Boolean(info.gated),
          private: Boolean(info.private),
          files,
          rejected,
        };
      } catch (error) {
        if (error instanceof AppError) throw error;
        if (error instanceof HubHttpError) throw hubErrorToAppError(error, repo, revision, hasToken);
        throw new AppError("hub.invalid_response", `The hub's answer for ${repo} could not be read.`, { cause: error });
      }
    },
  };
}
