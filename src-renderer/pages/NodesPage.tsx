import { useRef } from "react";
import type { NodeInfo } from "../../src-main/contract";
import { IconChip, IconGlobe, IconNodes } from "../components/icons";
import { LoadingFor } from "../components/LoadingFor";
import { ProgressBar } from "../components/ProgressBar";
import { backendLabel, clockTime, formatAgo, formatBytes, percentOf, plural } from "../format";
import { useAppStore } from "../useAppStore";
import { useNow } from "../useNow";
import { EndpointsSection } from "./EndpointsSection";
import { PageHead } from "../components/PageHead";
import { RemoveNode } from "./RemoveNode";
import { AddMachine } from "./AddMachine";
import { DrainNode } from "./DrainNode";
import { UnloadModel } from "./UnloadModel";

export function NodesPage() {
  const nodes = useAppStore((s) => s.nodes);
  // Cut off from llmlb, the cards say what was, not what is: said so, and shown so.
  const stale = useAppStore((s) => s.snapshot === "ready" && s.connection === "down");
  const now = useNow();
  return (
    <div className="page">
      <PageHead title="Nodes">
        Workers run models on this machine's GPUs (or CPU); endpoints are OpenAI-compatible servers added by
        URL. Requests to <code>/v1</code> are balanced across every node that has the model ready.
      </PageHead>
      {stale && (
        // No role=status: the header's alert says it already, at the same moment.
        <p className="card note">
          Disconnected from llmlb: the nodes below are as they were last known. They update once it answers
          again.
        </p>
      )}
      {nodes.length === 0 ? (
        <div className="empty card">
          <p className="empty-title">No nodes yet</p>
          <p>
            Workers register by themselves when <code>llmlb</code> starts them. If none appears, check that
            the server was not started with <code>--workers none</code>.
          </p>
        </div>
      ) : (
        <ul className={`node-grid${stale ? " is-stale" : ""}`} aria-label="Nodes">
          {nodes.map((node) => (
            <NodeCard key={node.id} node={node} now={now} />
          ))}
        </ul>
      )}
      <AddMachine />
      <EndpointsSection />
    </div>
  );
}

function HealthBadge({ node, now }: { node: NodeInfo; now: number }) {
  const { state } = node.health;
  // Taking no new requests: not the green of a node that does.
  const draining = state === "ok" && node.draining === true;
  const label =
    state === "ok"
      ? node.drained
        ? "Drained"
        : node.draining
          ? "Stopping"
          : "Online"
      : state === "failing"
        ? "Failing"
        : // Not "just now": it has been silent for seconds at least, as its note says.
          `Offline · last seen ${formatAgo(node.last_seen_at, now, "under a minute ago")}`;
  return (
    <span className={`health health-${draining ? "draining" : state}`}>
      <span className="status-dot" aria-hidden="true" />
      {label}
    </span>
  );
}

function NodeCard({ node, now }: { node: NodeInfo; now: number }) {
  const online = node.status === "online";
  const serverVersion = useAppStore((s) => s.status?.version);
  const used = Math.max(0, node.memory.total_bytes - node.memory.free_bytes);
  const counts = countStates(node);
  const Icon = node.kind === "endpoint" ? IconGlobe : node.backend === "cpu" ? IconChip : IconNodes;
  const card = useRef<HTMLLIElement>(null);
  return (
    <li ref={card} className={`card node-card${online ? "" : " is-offline"}`} aria-label={node.name}>
      <div className="node-head">
        <span className="node-icon" aria-hidden="true">
          <Icon size={18} />
        </span>
        <div className="node-title-block">
          {/* Focusable by script: where the keyboard goes on from when the card before it is removed. */}
          <h2 className="node-title" tabIndex={-1}>
            {node.name}
          </h2>
          <p className="node-url">{node.url}</p>
        </div>
        <RemoveNode node={node} card={card} />
      </div>
      <div className="tags">
        <span className="tag">{node.kind === "endpoint" ? "Endpoint" : "Worker"}</span>
        {node.local && <span className="tag">This machine</span>}
        {/* An endpoint's backend is "external": its kind says that already. */}
        {node.kind !== "endpoint" && (
          <span className={`tag tag-${node.backend}`}>{backendLabel(node.backend)}</span>
        )}
        {node.parallel !== undefined && (
          <span className="tag" title="Requests llmlb sends this endpoint at once">
            {plural(node.parallel, "request")} at once
          </span>
        )}
        {node.llama_cpp && (
          <span className="tag" title="The llama.cpp this worker runs">
            llama.cpp {node.llama_cpp.release} ·{" "}
            {node.llama_cpp.build === "local" ? "built here" : "prebuilt"}
          </span>
        )}
        {online &&
          serverVersion !== undefined &&
          node.llmlb_version !== undefined &&
          node.llmlb_version !== serverVersion && (
            <span
              className="tag tag-warn"
              title={`This server runs llmlb ${serverVersion ?? "another version"}: run one llmlb on every machine`}
            >
              llmlb {node.llmlb_version}
            </span>
          )}
        <HealthBadge node={node} now={now} />
      </div>

      {node.status === "online" && node.draining && (
        <p className="node-section muted" role="note" aria-label={`Why ${node.name} takes no new requests`}>
          {node.drained
            ? "Drained: its running requests finish, and nothing new goes to it until it is put back in rotation."
            : "Its machine is stopping it: its running requests finish, and nothing new goes to it."}
        </p>
      )}

      {node.health.state !== "ok" && node.health.reason && (
        <div
          className="node-section not-serving"
          role="note"
          aria-label={`Why ${node.name} takes no requests`}
        >
          <p>{node.health.reason}</p>
          {node.health.state === "failing" && (
            <p className="muted">
              Passed over while other nodes can take its requests, and checked until it answers.
            </p>
          )}
        </div>
      )}

      {node.devices.length > 0 && (
        <ul className="devices" aria-label="Devices">
          {node.devices.map((device, index) => (
            <li key={`${device.name}-${index}`}>
              {device.name}
              <span className="muted">
                {" · "}
                {backendLabel(device.backend)}
                {device.memory_total_bytes > 0 && ` · ${formatBytes(device.memory_total_bytes)}`}
              </span>
            </li>
          ))}
        </ul>
      )}

      {node.backends_left_out.length > 0 && (
        <div
          className="node-section left-out"
          role="note"
          aria-label={`GPU backends left out on ${node.name}`}
        >
          <h4 className="node-section-title">GPU not used</h4>
          <ul>
            {node.backends_left_out.map(({ backend, reason }) => (
              <li key={backend}>
                <span className="pill pill-warn">{backendLabel(backend)}</span> {reason}
              </li>
            ))}
          </ul>
        </div>
      )}

      {node.memory.total_bytes > 0 && (
        <div className="memory">
          <div className="memory-text">
            <span>Memory</span>
            <span>
              {formatBytes(used)} used of {formatBytes(node.memory.total_bytes)}
            </span>
          </div>
          <ProgressBar
            value={used}
            max={node.memory.total_bytes}
            label={`Memory used on ${node.name}`}
            valueText={`${percentOf(used, node.memory.total_bytes)}%, ${formatBytes(used)} of ${formatBytes(node.memory.total_bytes)}`}
            tone={
              used / node.memory.total_bytes > 0.9
                ? "danger"
                : used / node.memory.total_bytes > 0.75
                  ? "warn"
                  : "accent"
            }
          />
        </div>
      )}

      {/* An endpoint loads its models itself: what it holds is not llmlb's to know. */}
      {node.kind !== "endpoint" && (
        <div className="node-section">
          <h4
            className="node-section-title"
            title={
              node.max_loaded_models !== undefined
                ? "The most models it holds at once (LLMLB_MAX_LOADED_MODELS): loading one more unloads the least recently used"
                : undefined
            }
          >
            {node.max_loaded_models !== undefined
              ? `Loaded · ${loadsOf(node.loaded)} of at most ${node.max_loaded_models}`
              : "Loaded"}
          </h4>
          {node.loaded.length === 0 ? (
            <p className="muted">Nothing in memory</p>
          ) : (
            <ul className="loaded">
              {node.loaded.map((loaded) => (
                <li key={loaded.model}>
                  <code>{loaded.model}</code>
                  <span className="loaded-state">
                    {loaded.loading_since ? (
                      <LoadingFor since={loaded.loading_since} className="pill pill-warn" />
                    ) : (
                      <span
                        className={loaded.busy > 0 ? "pill pill-accent" : "pill pill-muted"}
                        title={
                          loaded.idle_until
                            ? "It leaves memory then unless a request comes first (its idle time: llmlb model set <id> --ttl)"
                            : undefined
                        }
                      >
                        {loaded.busy > 0
                          ? `${loaded.busy} of ${loaded.sequences} busy`
                          : `idle · ${plural(loaded.sequences, "sequence")}`}
                        {loaded.idle_until && ` · until ${clockTime(loaded.idle_until, new Date(), false)}`}
                      </span>
                    )}
                    {loaded.unloading && (
                      <span
                        className="pill pill-warn"
                        title="Asked to unload: it leaves memory when its running requests end, unless another request comes first"
                      >
                        unloads when they end
                      </span>
                    )}
                    <UnloadModel node={node} loaded={loaded} />
                  </span>
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
      {node.kind === "worker" && (
        <div className="node-foot">
          <p className="node-models muted">
            {/* What an offline node last said: it has nothing ready now. */}
            {counts
              ? node.status === "online"
                ? counts
                : `When last seen: ${counts}`
              : "No models assigned"}
          </p>
          <DrainNode node={node} />
        </div>
      )}
    </li>
  );
}

/** "2 ready · 1 downloading · 1 error". */
function countStates(node: NodeInfo): string {
  const counts = new Map<string, number>();
  for (const model of node.models) counts.set(model.state, (counts.get(model.state) ?? 0) + 1);
  const words: Record<string, string> = { pending: "waiting" };
  return ["ready", "downloading", "verifying", "pending", "error", "unsupported"]
    .filter((state) => counts.has(state))
    .map((state) => `${counts.get(state)} ${words[state] ?? state}`)
    .join(" · ");
}

/** The loads in memory: models registered for one file, in one setting, share one. */
function loadsOf(loaded: readonly { model: string; shares_load_with?: string }[]): number {
  return new Set(loaded.map((entry) => entry.shares_load_with ?? entry.model)).size;
}
