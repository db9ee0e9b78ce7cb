import { useEffect, useRef, useState } from "react";
import { plural } from "../format";
import { ConfirmDialog } from "./ConfirmDialog";
import { useActions, useAppStore } from "../useAppStore";
import { IconPause, IconPlay } from "./icons";
import { softDisabled } from "./softDisabled";

/** The header line: is /v1 serving, how much of it is ready, and the pause switch. */
export function StatusBar() {
  const models = useAppStore((s) => s.models);
  const nodes = useAppStore((s) => s.nodes);
  const paused = useAppStore((s) => s.paused);
  const pausing = useAppStore((s) => s.pausing);
  const connection = useAppStore((s) => s.connection);
  const snapshot = useAppStore((s) => s.snapshot);
  const tokenRefused = useAppStore((s) => s.signedOut && s.tokenRefused);
  const quit = useAppStore((s) => s.quitState === "quit");
  const { setPaused } = useActions();
  const [confirming, setConfirming] = useState(false);
  const blocked = pausing || snapshot !== "ready" || (snapshot === "ready" && connection === "down");

  const ready = models.filter((m) => m.ready).length;
  const online = nodes.filter((n) => n.status === "online").length;
  const modelsText =
    models.length === 0 ? "No models yet" : `${ready} of ${plural(models.length, "model")} ready`;
  // Kept across restarts: a drain forgotten after maintenance would go on taking capacity unseen.
  const drained = nodes.filter((n) => n.status === "online" && n.drained).length;
  // Every node online drained or stopping: nothing is served, whatever is ready.
  const noneTaking = online > 0 && nodes.every((n) => n.status !== "online" || n.draining);
  const nodesText =
    (nodes.length === 0
      ? "no nodes"
      : online === nodes.length
        ? `${plural(online, "node")} online`
        : `${online} of ${plural(nodes.length, "node")} online`) +
    (drained > 0 ? ` (${drained} drained)` : "");
  // Until the first snapshot nothing is known: claim nothing. Once the connection is lost, what was
  // known is only that: the last known state, not the present one.
  const known = snapshot === "ready";
  const down = known && connection === "down";
  const state =
    !known || quit
      ? "idle"
      : down
        ? "down"
        : paused || noneTaking
          ? "paused"
          : ready > 0
            ? "serving"
            : "idle";
  const label = tokenRefused
    ? "Signed out"
    : quit
      ? "Quit"
      : snapshot === "failed"
        ? "Not connected"
        : !known
          ? "Connecting…"
          : down
            ? "Disconnected"
            : paused
              ? "Paused"
              : noneTaking
                ? "No node takes requests"
                : "Serving";

  // Said aloud only once it has held for a moment: on a reconnect the counts climb one by one as the
  // workers report ("1 of 5", "2 of 5", …). While the connection is lost the alert says so, and this
  // says nothing (what it last said is no longer so). Its own words, so the line on screen stays the
  // one place with those.
  const spoken = useSettled(
    down || !known
      ? undefined
      : `${label}. Models ready: ${ready} of ${models.length}. Nodes online: ${online} of ${nodes.length}${drained > 0 ? `, ${drained} drained` : ""}.`,
    SETTLE_MS,
  );

  return (
    <header className="statusbar">
      <p className="visually-hidden" aria-live="polite">
        {down ? "" : spoken}
      </p>
      <p className="status-line">
        <span className={`status-dot status-${state}`} aria-hidden="true" />
        <strong>{label}</strong>
        {snapshot === "ready" && (
          <span className="status-detail">
            <span className="status-sep">{" · "}</span>
            {down && "last known: "}
            {modelsText} · {nodesText}
          </span>
        )}
      </p>
      <button
        type="button"
        className={`button ${paused ? "button-primary" : ""}`}
        onClick={() => {
          if (blocked) return;
          if (paused) void setPaused(false);
          else setConfirming(true);
        }}
        {...softDisabled(blocked)}
        title={
          paused
            ? "Answer /v1 requests again"
            : "While paused, /v1 answers 503; management and downloads are unaffected"
        }
      >
        {paused ? <IconPlay /> : <IconPause />}
        <span>{paused ? "Resume" : "Pause"}</span>
      </button>
      {confirming && (
        <ConfirmDialog
          title="Pause serving?"
          confirmLabel="Pause serving"
          busyLabel="Pausing…"
          busy={pausing}
          onConfirm={() => void setPaused(true).then(() => setConfirming(false))}
          onCancel={() => setConfirming(false)}
        >
          <p>
            <code>/v1</code> answers 503 to every client on this machine and beyond until you resume; running
            requests finish. Management and downloads go on.
          </p>
        </ConfirmDialog>
      )}
    </header>
  );
}

/** How long the status line's words must hold before a screen reader is told them. */
const SETTLE_MS = 2000;

/** `value` once it has stayed the same for `ms`; undefined values are skipped (what was said stays). */
function useSettled(value: string | undefined, ms: number): string | undefined {
  const [settled, setSettled] = useState<string | undefined>(undefined);
  const first = useRef(true);
  useEffect(() => {
    if (value === undefined) return;
    // The first known state is not news: the page has just opened.
    if (first.current) {
      first.current = false;
      setSettled(value);
      return;
    }
    const timer = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return settled;
}

/** Under the header while the connection is lost: what is shown is stale, and how to get it back. */
export function ConnectionNotice() {
  // Signed out, the page itself says why and what to do.
  const down = useAppStore((s) => s.snapshot === "ready" && s.connection === "down" && !s.signedOut);
  const quit = useAppStore((s) => s.quitState === "quit");
  if (quit)
    return (
      <div className="quit-notice" role="status">
        <strong>llmlb has quit, as asked.</strong> This page shows how things were. To use it again, start it
        (<code>llmlb serve</code>, or the desktop app), then open the dashboard link it prints.
      </div>
    );
  if (!down) return null;
  return (
    <div className="connection-lost" role="alert">
      <strong>Lost the connection to llmlb at {location.origin}.</strong> Trying again every few seconds;
      until then this page shows how things were. If llmlb stopped, start it again. If it now runs on another
      port, open the dashboard link it printed (<code>llmlb serve</code>) or Open dashboard in its tray menu.
    </div>
  );
}
