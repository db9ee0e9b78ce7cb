import { writePrivateFile } from "../shared/privateFile";
import path from "node:path";
import { pathToFileURL } from "node:url";

/** The page that sends the browser on to the dashboard, kept in the data directory. */
export const redirectPageFile = "open-dashboard.html";

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);

/**
 * A page, readable by this user only, that opens `link` in the browser: the browser is started with
 * the page's path, not the link, so the token in it is not on a command line other users can read
 * (`ps`). Returns the page's file URL.
 */
export function writeRedirectPage(dataDir: string, link: string): string {
  const file = path.join(dataDir, redirectPageFile);
  const href = escapeHtml(link);
  const page = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=${href}"><title>llmlb</title></head>
<body><p><a href="${href}">Open the llmlb dashboard</a></p></body>
</html>
`;
  writePrivateFile(file, page);
  return pathToFileURL(file).href;
}
