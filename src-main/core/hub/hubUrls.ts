/** The hub's download URL of one file at one revision, each path segment escaped. */
export function resolveUrl(endpoint: string, repo: string, revision: string, filename: string): string {
  const path = filename.split("/").map(encodeURIComponent).join("/");
  return `${endpoint}/${repo}/resolve/${encodeURIComponent(revision)}/${path}`;
}
