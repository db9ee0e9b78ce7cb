import { listFiles, modelInfo } from "@huggingface/hub";
import { formatBytes } from "../../contract/units";
import { AppError } from "../../shared/errors";
import type { HubFile } from "../../shared/classifyArtifacts";
import { resolveUrl } from "./hubUrls";
import { isCommitSha, isSha256, unsafePathReason } from "../../shared/hfNames";

/** A repo as the hub described it at one commit, after every value was checked. */
export interface RepoMetadata {
  repo: string;
  /** The revision asked for (branch, tag or commit). */
  revision: string;
  commit: string;
  gated: boolean;
  files: HubFile[];
  /** Entries the hub listed that failed validation, with why; never stored as artifacts. */
  rejected: { path: string; reason: string }[];
}

export interface HubClient {
  fetchRepoMetadata(repo: string, revision: string, signal?: AbortSignal): Promise<RepoMetadata>;
  /**
   * For gated repos, whose metadata is public but whose files are not: asks for a file's headers
   * as a node would, and throws `hub.unauthorized` when the token (or its absence) is refused.
   */
  checkDownloadAccess(repo: string, commit: string, filename: string, signal?: AbortSignal): Promise<void>;
}

export interface HubClientOptions {
  /** Hub base URL (HF_ENDPOINT). */
  endpoint: string;
  /** Bearer token for gated and private repos, or where to read the current one. Default: none. */
  token?: string | (() => string | undefined);
  /**
   * Where the token comes from, in words for an error ("the Hugging Face token from HF_TOKEN in …").
   * Default: "the Hugging Face token".
   */
  tokenSource?: () => string | undefined;
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

/**
 * Where a token can be set so the control plane uses it: HF_TOKEN counts only in the environment
 * `llmlb serve` starts with (a CLI command's own environment reaches nothing).
 */
const setTokenWays =
  "in the dashboard's Settings, with `llmlb settings set --hf-token <token>`, or as HF_TOKEN where `llmlb serve` starts";

function hubErrorToAppError(
  error: HubHttpError,
  repo: string,
  revision: string,
  /** The token sent, described for the user ("the Hugging Face token saved in Settings"); undefined: none. */
  tokenFrom: string | undefined,
): AppError {
  const { status, errorCode } = error;
  if (errorCode === "GatedRepo" || status === 403) {
    return new AppError(
      "hub.unauthorized",
      tokenFrom
        ? `${repo} is gated and ${tokenFrom} has no access: accept its terms on the model page, then retry.`
        : `${repo} is gated: accept its terms on the model page, then set a Hugging Face token (${setTokenWays}).`,
      { cause: error },
    );
  }
  if (
    errorCode === "RepoNotFound" ||
    (status === 404 && errorCode !== "RevisionNotFound" && errorCode !== "EntryNotFound")
  ) {
    // The hub answers a missing repo and a private one alike (401 without a token, 404 with one).
    return new AppError(
      "hub.not_found",
      tokenFrom
        ? `Model repo ${repo} was not found on the hub, or ${tokenFrom} cannot read it.`
        : `Model repo ${repo} was not found on the hub. If it is private, set a Hugging Face token (${setTokenWays}).`,
      { cause: error },
    );
  }
  if (status === 401) {
    return new AppError(
      "hub.unauthorized",
      tokenFrom
        ? `The hub refused ${tokenFrom} for ${repo}: check that it is valid and can read this repo.`
        : `The hub wants a Hugging Face token for ${repo}: set one (${setTokenWays}).`,
      { cause: error },
    );
  }
  if (status === 404) {
    if (errorCode === "EntryNotFound") {
      return new AppError("hub.file_not_found", `The file does not exist in ${repo} at ${revision}.`, {
        cause: error,
      });
    }
    return new AppError("hub.revision_not_found", `Revision "${revision}" does not exist in ${repo}.`, {
      cause: error,
      param: "revision",
    });
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
/** The most one answer of the hub's API may hold: a page of a repo's files is some hundreds of KB. */
const maxHubAnswerBytes = 64_000_000;

/**
 * The response with its body read, or `tooLarge()` once it passes `limit` bytes (said up front by
 * its length, or found on the way): a hostile mirror's answer of gigabytes is not held in memory.
 */
async function withinSize(response: Response, limit: number, tooLarge: () => never): Promise<Response> {
  if (Number(response.headers.get("content-length") ?? 0) > limit) {
    await response.body?.cancel();
    tooLarge();
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (!response.body || [204, 205, 304].includes(response.status)) return response;
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.length;
    if (size > limit) {
      await response.body?.cancel().catch(() => undefined);
      tooLarge();
    }
    chunks.push(chunk);
  }
  return new Response(Buffer.concat(chunks), {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}

export function createHubClient(options: HubClientOptions): HubClient {
  const currentToken = () => (typeof options.token === "function" ? options.token() : options.token);
  const tokenFrom = (token: string | undefined) =>
    token === undefined ? undefined : (options.tokenSource?.() ?? "the Hugging Face token");
  const timeoutMs = options.timeoutMs ?? 15_000;

  const withTimeout = (signal?: AbortSignal) =>
    signal ? AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs);

  return {
    async checkDownloadAccess(repo, commit, filename, signal) {
      const token = currentToken();
      let response: Response;
      try {
        response = await fetch(resolveUrl(options.endpoint, repo, commit, filename), {
          method: "HEAD",
          redirect: "manual",
          headers: token === undefined ? undefined : { authorization: `Bearer ${token}` },
          signal: withTimeout(signal),
        });
      } catch (cause) {
        throw new AppError("hub.unreachable", `The hub at ${options.endpoint} cannot be reached.`, { cause });
      }
      if (response.status === 401 || response.status === 403) {
        throw hubErrorToAppError(
          new HubHttpError(
            response.status,
            response.headers.get("x-error-code") ?? "GatedRepo",
            undefined,
            "",
          ),
          repo,
          commit,
          tokenFrom(token),
        );
      }
    },
    async fetchRepoMetadata(repo, revision, signal) {
      const token = currentToken();
      const requestSignal = withTimeout(signal);
      // Non-2xx answers are turned into errors here, where their headers are still at hand.
      const hubOrigin = new URL(options.endpoint).origin;
      const checkedFetch: typeof fetch = async (input, init) => {
        // The token is the hub's: a page link (`Link: rel="next"`) elsewhere is followed without it.
        // Sent as it is: a mirror's token need not look like huggingface.co's (hf_…), and a wrong one
        // is the hub's to refuse, in words the user can act on.
        const target = new URL(input instanceof Request ? input.url : input.toString());
        const headers = new Headers(init?.headers);
        if (target.origin === hubOrigin && token !== undefined)
          headers.set("authorization", `Bearer ${token}`);
        else headers.delete("authorization");
        let response: Response;
        try {
          response = await fetch(input, { ...init, headers, signal: requestSignal, redirect: "follow" });
        } catch (cause) {
          throw new AppError("hub.unreachable", `The hub at ${options.endpoint} cannot be reached.`, {
            cause,
          });
        }
        response = await withinSize(response, maxHubAnswerBytes, () => {
          throw new AppError(
            "hub.invalid_response",
            `The hub's answer for ${repo} is larger than ${formatBytes(maxHubAnswerBytes)}: not metadata llmlb reads.`,
          );
        });
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
      // No accessToken: the library refuses one that does not start with hf_; checkedFetch sends it.
      const common = { hubUrl: options.endpoint, fetch: checkedFetch };
      try {
        const info = await modelInfo({ ...common, name: repo, revision, additionalFields: ["sha"] });
        if (typeof info.sha !== "string" || !isCommitSha(info.sha)) {
          throw new AppError("hub.invalid_response", `The hub sent no valid commit for ${repo}.`);
        }
        const files: HubFile[] = [];
        const rejected: RepoMetadata["rejected"] = [];
        // Names that differ only in case are one file on macOS and Windows nodes.
        const seen = new Set<string>();
        for await (const entry of listFiles({
          ...common,
          repo: { type: "model", name: repo },
          revision: info.sha,
          recursive: true,
        })) {
          if (entry.type !== "file") continue;
          const path = String(entry.path);
          const reason =
            checkFile(entry) ?? (seen.has(path.toLowerCase()) ? "another file has the same name" : undefined);
          seen.add(path.toLowerCase());
          if (reason) rejected.push({ path, reason });
          else files.push({ path, size: entry.size, sha256: entry.lfs?.oid ?? null });
        }
        return {
          repo,
          revision,
          commit: info.sha,
          gated: Boolean(info.gated),
          files,
          rejected,
        };
      } catch (error) {
        if (error instanceof AppError) throw error;
        if (error instanceof HubHttpError) throw hubErrorToAppError(error, repo, revision, tokenFrom(token));
        throw new AppError("hub.invalid_response", `The hub's answer for ${repo} could not be read.`, {
          cause: error,
        });
      }
    },
  };
}
