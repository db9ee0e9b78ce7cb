import { IconAlert } from "./icons";
import { ServerWords } from "./ServerWords";

/**
 * What is wrong with a field or a form, said where it is and announced as it appears; nothing while all
 * is well. Its `id` goes into the field's `aria-describedby` (see `describedBy`).
 */
export function FormError({ id, message }: { id?: string; message: string | null | undefined }) {
  if (!message) return null;
  return (
    <p id={id} className="form-error" role="alert">
      <IconAlert size={14} />
      {/* One box for the words: the row's flex would set each code span and the text between apart. */}
      <span>
        <ServerWords text={message} />
      </span>
    </p>
  );
}

/** A field's `aria-describedby`: the ids given, those left out that are not there now. */
export function describedBy(...ids: (string | null | undefined | false)[]): string | undefined {
  return ids.filter(Boolean).join(" ") || undefined;
}
