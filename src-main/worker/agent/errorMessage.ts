import { DownloadError } from "../download";

/** What went wrong, in words for the log and the model's state. */
export function errorMessage(error: unknown): string {
  if (error instanceof DownloadError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}
