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
