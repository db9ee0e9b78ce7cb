import { useState, type RefObject } from "react";
import type { NodeInfo } from "../../src-main/contract";
import { removeCard, RemoveButton } from "../components/RemoveButton";
import { useActions } from "../useAppStore";

/**
 * Remove on a worker's card: an offline one for good (a retired machine, a renamed worker), or another
 * machine's online one, whose token then stops working (to keep it out, replace the node token first).
 * This llmlb's own workers are offered it only while offline (one that runs would be back at once), and
 * an endpoint is removed in its own section. Should the worker start again later, it registers as a
 * new node.
 */
export function RemoveNode({ node, card }: { node: NodeInfo; card: RefObject<HTMLLIElement | null> }) {
  const { removeNode } = useActions();
  // Asked while it was offline, the dialog does not turn into a removal by force when it comes back.
  const [openedOffline, setOpenedOffline] = useState(false);
  if (node.kind !== "worker") return null;
  const online = node.status !== "offline";
  const remove = () =>
    removeCard(card.current, ".node-title", pageHeading, () => removeNode(node.id, online && !node.local));
  // This machine's: offered while it is offline; a dialog open when it comes back says so, and removes nothing.
  const unavailable =
    online && node.local
      ? `${node.name} is online again: it stays.`
      : online && openedOffline
        ? `${node.name} is online again: it stays. To remove it while it runs, close this and choose Remove again.`
        : undefined;
  return (
    <RemoveButton
      name={node.name}
      verb="Remove"
      title={`Remove ${node.name}?`}
      remove={remove}
      unavailable={unavailable}
      onOpen={() => setOpenedOffline(!online)}
      onClose={() => setOpenedOffline(false)}
      focusOnClose={() => card.current?.querySelector<HTMLElement>(".node-title")}
    >
      {online && !node.local && !openedOffline ? (
        <p>
          It is online: its running requests finish, nothing new goes to it, and its token stops working. It
          joins again with the node token unless that was replaced first (Replace the node token, below).
        </p>
      ) : (
        <p>
          It leaves the node list, and with it what it reported of its models. Files it downloaded stay in its
          cache; should its worker start again, it joins as a new node.
        </p>
      )}
    </RemoveButton>
  );
}

/** The page's heading, focusable by script (as App makes it after navigating). */
function pageHeading(): HTMLElement | null {
  const heading = document.querySelector<HTMLElement>("main h1");
  if (heading) heading.tabIndex = -1;
  return heading;
}
