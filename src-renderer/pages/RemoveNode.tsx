import { useState, type RefObject } from "react";
import type { NodeInfo } from "../../src-main/contract";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { IconTrash } from "../components/icons";
import { useActions } from "../useAppStore";

/**
 * Remove on an offline worker's card: a retired machine, a renamed worker. An online one would
 * register again at its next heartbeat, and an endpoint is removed in its own section, so neither
 * offers it. Should the worker start again later, it registers as a new node.
 */
export function RemoveNode({ node, card }: { node: NodeInfo; card: RefObject<HTMLLIElement | null> }) {
  const { removeNode } = useActions();
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const removable = node.kind === "worker" && node.status === "offline";

  const confirm = async () => {
    setBusy(true);
    // Chosen while the card is still there to tell its neighbours.
    const next = focusAfterRemoving(card.current);
    const removed = await removeNode(node.id);
    setBusy(false);
    setConfirming(false);
    // The card unmounts with the node, this button with it: the keyboard goes on nearby.
    if (removed) (next?.isConnected ? next : pageHeading())?.focus();
  };

  return (
    <>
      {removable && (
        <button
          type="button"
          className="icon-button icon-button-danger"
          aria-label={`Remove ${node.name}`}
          title="Remove"
          onClick={() => setConfirming(true)}
        >
          <IconTrash size={18} />
        </button>
      )}
      {/* Kept open should the node come back meanwhile: the server then says why it stays. */}
      {confirming && (
        <ConfirmDialog
          title={`Remove ${node.name}?`}
          confirmLabel="Remove"
          busyLabel="Removing…"
          busy={busy}
          onCancel={() => setConfirming(false)}
          onConfirm={() => void confirm()}
        >
          <p>
            It is no longer listed, nor what it reported of its models. Files it downloaded stay in its cache.
            Should its worker start again, it joins as a new node.
          </p>
        </ConfirmDialog>
      )}
    </>
  );
}

/** Where focus goes once `card` is removed: the next card's title, else the previous one's, else the page's heading. */
function focusAfterRemoving(card: HTMLElement | null): HTMLElement | null {
  const neighbour = card?.nextElementSibling ?? card?.previousElementSibling;
  return neighbour?.querySelector<HTMLElement>(".node-title") ?? pageHeading();
}

/** The page's heading, focusable by script (as App makes it after navigating). */
function pageHeading(): HTMLElement | null {
  const heading = document.querySelector<HTMLElement>("main h1");
  if (heading) heading.tabIndex = -1;
  return heading;
}
