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

// Names Windows reserves for devices, with or without an extension.
const windowsDeviceName = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$/i;

/**
 * Why a repo-relative file path is unsafe, or undefined when it is fine. Paths become file names
 * in the cache on every platform a node may run on, so Windows' rules apply too.
 */
export function unsafePathReason(filePath: string): string | undefined {
  if (filePath.length === 0) return "it is empty";
  if (filePath.length > 1024) return "it is longer than 1024 characters";
  // C0 and C1 controls, line and paragraph separators, and bidirectional overrides that disguise names.
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/.test(filePath)) {
    return "it contains a control character";
  }
  if (filePath.includes("\\")) return "it contains a backslash";
  if (filePath.startsWith("/") || /^[A-Za-z]:/.test(filePath)) return "it is absolute";
  if (/[:*?"<>|]/.test(filePath)) return "it contains a character Windows does not allow in file names";
  const segments = filePath.split("/");
  if (segments.some((segment) => segment === "..")) return "it contains '..'";
  if (segments.some((segment) => segment === "" || segment === ".")) return "it has an empty or '.' segment";
  if (segments.some((segment) => /[. ]$/.test(segment))) return "a name in it ends with a dot or a space";
  if (segments.some((segment) => windowsDeviceName.test(segment))) return "it uses a name Windows reserves";
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
