/**
 * Names and paths as the Hub allows them. Everything from users and from the hub passes through
 * here before it reaches the database or the disk.
 */

// huggingface_hub's rule: word characters, '-' and '.', at most 96, no '--' or '..', and neither
// part may start or end with '-' or '.'.
const repoPart = /^(?![-.])[\w.-]{1,96}(?<![-.])$/;

export function isValidRepoId(repo: string): boolean {
  const parts = repo.split("/");
  if (parts.length !== 2) return false;
  return parts.every((part) => repoPart.test(part) && !part.includes("--") && !part.includes(".."));
}

/** Why a repo-relative file path is unsafe, or undefined when it is fine. */
export function unsafePathReason(filePath: string): string | undefined {
  if (filePath.length === 0) return "it is empty";
  if (filePath.length > 1024) return "it is longer than 1024 characters";
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(filePath)) return "it contains a control character";
  if (filePath.includes("\\")) return "it contains a backslash";
  if (filePath.startsWith("/") || /^[A-Za-z]:/.test(filePath)) return "it is absolute";
  const segments = filePath.split("/");
  if (segments.some((segment) => segment === "..")) return "it contains '..'";
  if (segments.some((segment) => segment === "" || segment === ".")) return "it has an empty or '.' segment";
  return undefined;
}

/** A revision is a branch, tag or commit name; the same rules as a path, plus no '..' anywhere. */
export function unsafeRevisionReason(revision: string): string | undefined {
  if (revision.length > 256) return "it is longer than 256 characters";
  if (revision.includes("..")) return "it contains '..'";
  return unsafePathReason(revision);
}

export function isSha256(value: string): boolean {
  return /^[0-9a-f]{64}$/.test(value);
}

export function isCommitSha(value: string): boolean {
  return /^[0-9a-f]{40}$/.test(value);
}
