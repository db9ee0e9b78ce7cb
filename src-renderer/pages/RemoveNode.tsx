import type { RefObject } from "react";
import type { NodeInfo } from "../../src-main/contract";
import { removeCard, RemoveButton } from "../components/RemoveButton";
import { useActions } from "../useAppStore";

/**
 * Remove on an offline worker's card: a retired machine, a renamed worker. An online one would
 * register again at its next heartbeat, and an endpoint is removed in its own section, so neither
 * offers it. Should the worker start again later, it registers as a new node.
 */
export function RemoveNode({ node, card }: { node: NodeInfo; card: RefObject<HTMLLIElement | null> }) {
  const { removeNode } = useActions();
  if (node.kind !== "worker") return null;
  const remove = () => removeCard(card.current, ".node-title", pageHeading, () => removeNode(node.id));
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

/** The page's heading, focusable by script (as App makes it after navigating). */
function pageHeading(): HTMLElement | null {
  const heading = document.querySelector<HTMLElement>("main h1");
  if (heading) heading.tabIndex = -1;
  return heading;
}
