/**
 * `text` whole, or cut to `max` characters with an ellipsis: what a message or a log line quotes of a
 * client's input (a model name of a megabyte is not echoed whole).
 */
export function cutText(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
