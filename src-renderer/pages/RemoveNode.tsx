import type { RefObject } from "react";
import type { NodeInfo } from "../../src-main/contract";
import { RemoveButton } from "../components/RemoveButton";
import { useActions } from "../useAppStore";

/**
 * Remove on an offline worker's card: a retired machine, a renamed worker. An online one would
 * register again at its next heartbeat, and an endpoint is removed in its own section, so neither
 * offers it. Should the worker start again later, it registers as a new node.
 */
export function RemoveNode({ node, card }: { node: NodeInfo; card: RefObject<HTMLLIElement | null> }) {
  const { removeNode } = useActions();
  if (node.kind !== "worker") return null;
  const remove = async () => {
    // Chosen while the card is still there to tell its neighbours.
    const next = focusAfterRemoving(card.current);
    const removed = await removeNode(node.id);
    // The card unmounts with the node, this button with it: the keyboard goes on nearby.
    if (removed) (next?.isConnected ? next : pageHeading())?.focus();
    return removed;
  };
  // Offered while it is offline; a dialog open when it comes back says so, and removes nothing.
  return (
    <RemoveButton
      name={node.name}
      verb="Remove"
      title={`Remove ${node.name}?`}
      remove={remove}
      unavailable={node.status === "offline" ? undefined : `${node.name} is online again: it stays.`}
      focusOnClose={() => card.current?.querySelector<HTMLElement>(".node-title")}
    >
      <p>
        It leaves the node list, and with it what it reported of its models. Files it downloaded stay in its
        cache; should its worker start again, it joins as a new node.
      </p>
    </RemoveButton>
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
