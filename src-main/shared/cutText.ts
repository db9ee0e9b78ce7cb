/**
 * `text` whole, or cut to `max` characters with an ellipsis: what a message or a log line quotes of a
 * client's input (a model name of a megabyte is not echoed whole). Never between the two halves of
 * a character outside the BMP (an emoji): half of one is not valid UTF-8, and strict JSON readers
 * refuse it.
 */
export function cutText(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max - 1;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${text.slice(0, end)}…`;
}
