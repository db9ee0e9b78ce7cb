import { useEffect, useState } from "react";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { CopyButton } from "../components/CopyButton";
import { useActions, useAppStore } from "../useAppStore";

/**
 * The Nodes page's "Add a machine": the command that joins another machine's workers to this llmlb
 * (`llmlb node token`), and a new node token for when the old one must let nobody in any more.
 */
export function AddMachine() {
  const join = useAppStore((s) => s.nodeJoin);
  const { loadNodeJoin, replaceNodeToken } = useActions();
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  // Over a shoulder, or on a shared screen, the command is shown without its token unless asked.
  const [shown, setShown] = useState(false);

  useEffect(() => {
    void loadNodeJoin();
  }, [loadNodeJoin]);

  if (!join) return null;
  const replace = async () => {
    setBusy(true);
    await replaceNodeToken();
    setBusy(false);
    setConfirming(false);
  };
  return (
    <section className="section" aria-labelledby="add-machine-heading">
      <h2 id="add-machine-heading" className="section-title">
        Add a machine
      </h2>
      <div className="card add-machine">
        {join.unreachable ? (
          <p className="note">{join.unreachable}</p>
        ) : (
          <>
            <p>
              On the other machine, with llmlb installed, run{join.commands.length > 1 ? " one of" : ""} the
              following. Its workers download the models there and take requests like this machine&apos;s.
            </p>
            {join.commands.map(({ url, command }) => (
              <div className="copy-field" key={url}>
                <code className="copy-field-text">
                  {shown ? command : command.replace(join.node_token, "•".repeat(12))}
                </code>
                <CopyButton text={command} label={`Copy the command that joins by ${url}`} />
              </div>
            ))}
            <button
              type="button"
              className="button button-ghost button-small"
              onClick={() => setShown(!shown)}
            >
              {shown ? "Hide the node token" : "Show the node token"}
            </button>
          </>
        )}
        <p className="muted">
          The node token only lets a machine join: once joined, it holds a token of its own.
          {join.token_configured
            ? " This one is set by LLMLB_NODE_TOKEN (or config.json): it is changed there."
            : " Replacing it keeps out new machines that have the old one; those joined stay until removed."}
        </p>
        {!join.token_configured && (
          <button type="button" className="button" onClick={() => setConfirming(true)}>
            Replace the node token
          </button>
        )}
      </div>
      {confirming && (
        <ConfirmDialog
          title="Replace the node token?"
          confirmLabel="Replace"
          busyLabel="Replacing…"
          busy={busy}
          onCancel={() => setConfirming(false)}
          onConfirm={() => void replace()}
        >
          <p>
            The old token lets no new machine join any more. Machines already joined stay, restarted too; a
            machine joining anew needs the new token. To keep one out, also remove it (Remove on its card).
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}
