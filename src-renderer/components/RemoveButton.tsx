import { useState, type ReactNode } from "react";
import { ConfirmDialog } from "./ConfirmDialog";
import { IconTrash } from "./icons";

interface RemoveButtonProps {
  /** What goes: the button is "<verb> <name>" to a screen reader. */
  name: string;
  verb: "Remove" | "Delete";
  /** The dialog's question. */
  title: string;
  /** Does it; whether it went (when not, the store's banner says why, and the dialog closes). */
  remove(): Promise<boolean>;
  /**
   * Why it cannot go now (a node that came back online): the button is not offered, and a dialog
   * already open says so instead of confirming. Default: it can.
   */
  unavailable?: string;
  /** Where focus goes when the dialog closes and the button is gone meanwhile. Default: nowhere. */
  focusOnClose?: () => HTMLElement | null | undefined;
  /** The dialog opens, or closes (what it asks may depend on how things stood when it opened). Default: nothing. */
  onOpen?: () => void;
  onClose?: () => void;
  /** What it means, in the dialog. */
  children: ReactNode;
}

/**
 * The trash button of a card or row, which asks first. While `remove` runs, the dialog says so; the
 * caller moves the focus on, as the card goes with its button.
 */
export function RemoveButton(props: RemoveButtonProps) {
  const { name, verb, title, remove, unavailable, focusOnClose, onOpen, onClose, children } = props;
  const [confirming, setShownConfirming] = useState(false);
  const setConfirming = (open: boolean) => {
    if (!open) onClose?.();
    setShownConfirming(open);
  };
  const [busy, setBusy] = useState(false);
  const confirm = async () => {
    setBusy(true);
    if (await remove()) return;
    setBusy(false);
    setConfirming(false);
  };
  return (
    <>
      {unavailable === undefined && (
        <button
          type="button"
          className="icon-button icon-button-danger"
          aria-label={`${verb} ${name}`}
          title={verb}
          onClick={() => {
            onOpen?.();
            setConfirming(true);
          }}
        >
          <IconTrash size={18} />
        </button>
      )}
      {confirming && (
        <ConfirmDialog
          title={title}
          unavailable={unavailable}
          focusOnClose={focusOnClose}
          confirmLabel={verb}
          busyLabel={`${verb === "Remove" ? "Removing" : "Deleting"}…`}
          busy={busy}
          onCancel={() => setConfirming(false)}
          onConfirm={() => void confirm()}
        >
          {children}
        </ConfirmDialog>
      )}
    </>
  );
}

/**
 * Removes what a card of a list shows, and moves the keyboard on: to the next card's title (by
 * `titleSelector`), else the previous one's, else `fallback()`. The neighbour is chosen while the card
 * is still there to tell it; the card goes with the button that had the focus. Whether it went.
 */
export async function removeCard(
  card: HTMLElement | null,
  titleSelector: string,
  fallback: () => HTMLElement | null,
  remove: () => Promise<boolean>,
): Promise<boolean> {
  const neighbour = card?.nextElementSibling ?? card?.previousElementSibling;
  const next = neighbour?.querySelector<HTMLElement>(titleSelector) ?? fallback();
  const removed = await remove();
  if (removed) (next?.isConnected ? next : fallback())?.focus();
  return removed;
}
