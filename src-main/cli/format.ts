/** Human-readable output for the terminal. */
export { formatBytes } from "../contract/units";

/** A plain aligned table: a header row, then one row per item. */
export function formatTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? "").length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]!)))
      .join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)].join("\n");
}

/** "a, b, c, +2 more": the first few of a list of names. */
export function summarizeNames(names: string[], shown = 3): string {
  const first = names.slice(0, shown).join(", ");
  return names.length > shown ? `${first}, +${names.length - shown} more` : first;
}

/* eslint-disable no-control-regex -- finding control characters is the point */
const controlCharacters = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
/* eslint-enable no-control-regex */

/**
 * A line as a terminal may be given it: control characters other than tab and newline (escape
 * sequences that retitle the window, clear the screen or rewrite lines above) shown as `\u001b`
 * instead of obeyed, and so are the bidirectional overrides and isolates (U+202A to U+202E, U+2066
 * to U+2069), which would show text in another order than it is written. What llmlb prints includes
 * names from outside (a hub's file names, an endpoint's model ids, a joined node's report); it writes
 * none of its own. JSON output stays JSON: `\u` is one of its escapes.
 */
export function printable(line: string): string {
  return line.replace(controlCharacters, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
