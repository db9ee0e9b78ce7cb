/** The one error type of the downloader, and how local and HTTP failures map onto it. */

export type DownloadErrorCode =
  "checksum" | "unauthorized" | "not_found" | "disk_full" | "network" | "invalid" | "aborted";

export interface DownloadErrorOptions {
  cause?: unknown;
  /** Default: true for "network" only; a later call may succeed without anything changing. */
  retryable?: boolean;
}

export class DownloadError extends Error {
  readonly code: DownloadErrorCode;
  readonly retryable: boolean;

  constructor(code: DownloadErrorCode, message: string, options: DownloadErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = "DownloadError";
    this.code = code;
    this.retryable = options.retryable ?? code === "network";
  }
}

/** `withToken`: a token was sent, and it was refused for this repo. */
export function unauthorizedMessage(repo: string, status: number, withToken = false): string {
  if (withToken)
    return (
      `The Hugging Face Hub refused the token set for llmlb access to ${repo} (HTTP ${status}): ` +
      `its account may not read ${repo} (if the repo is gated, accept its terms on https://huggingface.co/${repo} ` +
      "with that account; a fine-grained token also needs read access to gated repos), or the token was revoked. " +
      "Set another in Settings or with `llmlb settings set --hf-token <token>`."
    );
  return (
    `The Hugging Face Hub refused access to ${repo} (HTTP ${status}). ` +
    // HF_TOKEN counts where the workers' parent starts: `llmlb serve`, or `llmlb node --join` on a joined machine.
    "Set a Hugging Face token (in the dashboard's Settings, with `llmlb settings set --hf-token <token>`, or as " +
    "HF_TOKEN where `llmlb serve` starts, or `llmlb node --join` on a joined machine); " +
    `if the repo is gated, also accept its terms on https://huggingface.co/${repo} with that account.`
  );
}

export function abortedError(cause?: unknown): DownloadError {
  return new DownloadError("aborted", "The download was cancelled; its partial data is kept for later.", {
    cause,
  });
}

/** What to do about a disk too full to download to. */
export const makeRoom =
  "Free some space, or move the model cache (where `llmlb serve` runs: in Settings, or `llmlb settings set --cache-dir <folder>`, from its next start; for `llmlb node --join`: HF_HUB_CACHE in its environment). It resumes where it stopped.";

function errnoCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/**
 * A file-system error as a DownloadError: a full disk or quota, or a cache folder we may not write.
 * Anything else is returned unchanged (a bug or an unexpected state is not dressed up as a known case).
 */
export function fromLocalError(error: unknown, where: string): unknown {
  if (error instanceof DownloadError) return error;
  const code = errnoCode(error);
  if (code === "ENOSPC" || code === "EDQUOT") {
    return new DownloadError("disk_full", `The disk holding ${where} is full. ${makeRoom}`, {
      cause: error,
      retryable: false,
    });
  }
  if (code === "EACCES" || code === "EPERM" || code === "EROFS") {
    return new DownloadError("invalid", `Cannot write to the Hugging Face cache at ${where} (${code}).`, {
      cause: error,
    });
  }
  return error;
}
