import { useState } from "react";
import type { NodeInfo } from "../../src-main/contract";
import { softDisabled } from "../components/softDisabled";
import { useActions } from "../useAppStore";

/**
 * Drain on an online worker's card, as HAProxy's: its running requests finish, nothing new goes to it
 * (maintenance, a machine needed for something else), until put back. Not offered while the node is
 * stopping by its own machine's word: there is nothing to put back then.
 */
export function DrainNode({ node }: { node: NodeInfo }) {
  const { setNodeDraining } = useActions();
  const [busy, setBusy] = useState(false);
  if (node.kind !== "worker" || node.status !== "online" || (node.draining && !node.drained)) return null;
  const drained = node.drained === true;
  const toggle = async () => {
    if (busy) return;
    setBusy(true);
    await setNodeDraining(node.id, !drained);
    setBusy(false);
  };
  return (
    <button
      type="button"
      className="button button-small"
      // The visible words first, then whose (voice control finds it by what it shows).
      aria-label={drained ? `Put back in rotation: ${node.name}` : `Drain ${node.name}`}
      title={
        drained
          ? "Send it requests again"
          : "Its running requests finish; nothing new goes to it until put back"
      }
      // Soft: a disabled button would drop the keyboard's focus, and a screen reader its place.
      {...softDisabled(busy)}
      onClick={() => void toggle()}
    >
      {drained ? "Put back in rotation" : "Drain"}
    </button>
  );
}
