import { useState } from "react";
import type { LoadedModel, NodeInfo } from "../../src-main/contract";
import { softDisabled } from "../components/softDisabled";
import { useActions } from "../useAppStore";

/**
 * Unload on a model a worker holds in memory, as LM Studio's eject: frees its memory there (for
 * another model, another program) now, or once its running requests end; it loads again at its next
 * request. Not offered while it loads, nor on a node that is offline; once asked, it says it is unloading.
 */
export function UnloadModel({ node, loaded }: { node: NodeInfo; loaded: LoadedModel }) {
  const { unloadModel } = useActions();
  const [busy, setBusy] = useState(false);
  if (node.kind !== "worker" || node.status !== "online" || loaded.loading_since) return null;
  // Asked already: it goes when its requests end. The button stays, so a keyboard's focus stays on it.
  const asked = loaded.unloading === true;
  const unload = async () => {
    if (busy || asked) return;
    setBusy(true);
    await unloadModel(loaded.model, node.name);
    setBusy(false);
  };
  return (
    <button
      type="button"
      className="button button-small"
      aria-label={`Unload ${loaded.model} from ${node.name}`}
      title={
        asked
          ? "Asked to unload: it leaves memory when its running requests end"
          : "Free its memory here; it loads again at its next request"
      }
      // Soft: a disabled button would drop the keyboard's focus.
      {...softDisabled(busy || asked)}
      onClick={() => void unload()}
    >
      {busy || asked ? "Unloading…" : "Unload"}
    </button>
  );
}
