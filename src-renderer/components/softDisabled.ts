/**
 * For a button that cannot act now (busy, or nothing to send yet) but may have the keyboard: the
 * `disabled` attribute would drop the focus to <body>; `aria-disabled` says the same and keeps it.
 * The button's handler (or its form's) must ignore it meanwhile. Styled as disabled (styles.css).
 */
export function softDisabled(blocked: boolean): { "aria-disabled"?: true } {
  return blocked ? { "aria-disabled": true } : {};
}
