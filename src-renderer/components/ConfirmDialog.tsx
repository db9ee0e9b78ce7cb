import { useEffect, useId, useRef, type KeyboardEvent, type ReactNode } from "react";
import { createPortal } from "react-dom";

interface ConfirmDialogProps {
  title: string;
  children: ReactNode;
  confirmLabel: string;
  /** Shown on the confirm button while `busy`. */
  busyLabel?: string;
  busy?: boolean;
  /** Why it cannot be done now (said in the dialog, the confirm button disabled). Default: it can. */
  unavailable?: string;
  /** Where focus goes on closing when what opened the dialog is gone meanwhile. Default: nowhere. */
  focusOnClose?: () => HTMLElement | null | undefined;
  onConfirm(): void;
  onCancel(): void;
}

const focusable = 'button:not([disabled]), [href], input:not([disabled]), select, textarea, [tabindex="0"]';

/**
 * A modal confirmation for destructive actions. Focus starts on Cancel (the safe choice), stays inside
 * while open, and returns to where it was when closed; Escape and a click outside cancel.
 */
export function ConfirmDialog(props: ConfirmDialogProps) {
  const { title, children, confirmLabel, busyLabel, busy = false, unavailable, onConfirm, onCancel } = props;
  // Read when closing, as it is then: not as it was when the dialog opened.
  const focusOnClose = useRef(props.focusOnClose);
  focusOnClose.current = props.focusOnClose;
  const titleId = useId();
  const bodyId = useId();
  const dialog = useRef<HTMLDivElement>(null);
  const cancel = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    const opener = document.activeElement as HTMLElement | null;
    cancel.current?.focus();
    return () => {
      if (opener?.isConnected) opener.focus();
      else focusOnClose.current?.()?.focus();
    };
  }, []);

  const onKeyDown = (event: KeyboardEvent) => {
    if (event.key === "Escape") {
      event.stopPropagation();
      if (!busy) onCancel();
      return;
    }
    if (event.key !== "Tab" || !dialog.current) return;
    const items = [...dialog.current.querySelectorAll<HTMLElement>(focusable)];
    const first = items[0];
    const last = items[items.length - 1];
    if (!first || !last) return;
    // From the dialog itself (its text was clicked), Shift+Tab would leave it.
    if (event.shiftKey && (document.activeElement === first || document.activeElement === dialog.current)) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  };

  // Drawn at the top of the page, not inside the card that opened it: a dimmed (offline) card would dim
  // it too, and cards after it would paint over its backdrop and take clicks.
  return createPortal(
    <div
      className="dialog-backdrop"
      onMouseDown={(event) => {
        if (event.target === event.currentTarget && !busy) onCancel();
      }}
    >
      <div
        ref={dialog}
        className="dialog"
        role="dialog"
        aria-modal="true"
        aria-labelledby={titleId}
        aria-describedby={bodyId}
        onKeyDown={onKeyDown}
        // A click on its text keeps the focus in it (not on the page behind): Escape still closes it.
        tabIndex={-1}
      >
        <h2 id={titleId} className="dialog-title">
          {title}
        </h2>
        <div id={bodyId} className="dialog-body">
          {children}
          {unavailable && (
            <p className="dialog-unavailable" role="status">
              {unavailable}
            </p>
          )}
        </div>
        <div className="dialog-actions">
          <button ref={cancel} type="button" className="button" onClick={onCancel} disabled={busy}>
            Cancel
          </button>
          <button
            type="button"
            className="button button-danger"
            onClick={onConfirm}
            disabled={busy || unavailable !== undefined}
          >
            {busy ? (busyLabel ?? confirmLabel) : confirmLabel}
          </button>
        </div>
      </div>
    </div>,
    document.body,
  );
}
