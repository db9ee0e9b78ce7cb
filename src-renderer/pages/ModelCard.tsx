import { Fragment, useId, useRef, useState } from "react";
import type { Model, ModelOnNode } from "../../src-main/contract";
import { removeCard, RemoveButton } from "../components/RemoveButton";
import { CopyButton } from "../components/CopyButton";
import { IconAlert, IconBan, IconCheck, IconClock, IconSettings, IconSpinner } from "../components/icons";
import { ProgressBar } from "../components/ProgressBar";
import {
  artifactSize,
  baseName,
  findArtifact,
  formatBytes,
  formatDuration,
  percentOf,
  plural,
  repoFilesText,
  servedArtifact,
} from "../format";
import { LoadingFor } from "../components/LoadingFor";
import { softDisabled } from "../components/softDisabled";
import { useActions, useAppStore } from "../useAppStore";
import { useFocusHandoff } from "../useFocusHandoff";
import { ModelSettingsPanel } from "./ModelSettingsPanel";

/** One registered model: what it is, and where each node stands with it. */
export function ModelCard({ model }: { model: Model }) {
  const { removeModel } = useActions();
  const [editing, setEditing] = useState(false);
  const gear = useRef<HTMLButtonElement>(null);
  const card = useRef<HTMLLIElement>(null);
  const file = fileOf(model);
  // Listed because an OpenAI-compatible endpoint serves it; nothing here to download or delete.
  const servedByEndpoint = model.source === "endpoint";
  const summary = summaryOf(model);
  const titleId = useId();
  const panelId = useId();
  const changed = changedSettings(model);

  const remove = () => removeCard(card.current, ".model-title", registerBox, () => removeModel(model.name));

  return (
    <li ref={card} className="card model-card" aria-labelledby={titleId}>
      <div className="model-head">
        <div className="model-title-block">
          {/* Focusable by script: where the keyboard goes on from when the card before it is deleted. */}
          <h3 id={titleId} className="model-title" tabIndex={-1}>
            {model.display_name}
          </h3>
          <p className="model-id">
            <code>{breakableId(model.name)}</code>
            <CopyButton text={model.name} label={`Copy model id ${model.name}`} showText={false} />
          </p>
          {model.aliases.length > 0 && (
            <p className="model-aliases">
              Also answers to{" "}
              {model.aliases.map((alias, index) => (
                <span key={alias}>
                  {index > 0 && ", "}
                  <code>{alias}</code>
                </span>
              ))}
            </p>
          )}
        </div>
        <span className={`badge badge-${summary.tone}`}>
          {summary.tone === "ready" && <IconCheck size={14} />}
          {summary.text}
        </span>
        {!servedByEndpoint && (
          <button
            ref={gear}
            type="button"
            className={`icon-button${editing ? " is-active" : ""}`}
            aria-label={`Edit settings of ${model.name}`}
            aria-expanded={editing}
            aria-controls={editing ? panelId : undefined}
            title="Settings"
            onClick={() => setEditing(!editing)}
          >
            <IconSettings size={18} />
          </button>
        )}
        {!servedByEndpoint && (
          <RemoveButton
            name={model.name}
            verb="Delete"
            title={`Delete ${model.display_name}?`}
            remove={remove}
          >
            <p>
              <code>{model.name}</code> leaves <code>/v1</code> at once. Nodes unload it and remove its files
              unless another registered model uses them.
            </p>
          </RemoveButton>
        )}
      </div>

      {servedByEndpoint ? (
        <p className="model-facts">
          Served by {plural(model.nodes.length, "endpoint")} (
          {model.nodes.map((node) => node.node_name).join(", ")}), not registered here: it comes and goes with
          {model.nodes.length === 1 ? " it" : " them"} (Nodes page).
        </p>
      ) : (
        <dl className="model-facts">
          {model.repo !== model.name && (
            <div>
              <dt>Repository</dt>
              <dd>{model.repo}</dd>
            </div>
          )}
          <div>
            <dt>File</dt>
            <dd>{file.name}</dd>
          </div>
          {file.quantization && (
            <div>
              <dt>Quantization</dt>
              <dd>{file.quantization}</dd>
            </div>
          )}
          <div>
            <dt>Size</dt>
            <dd>{file.size}</dd>
          </div>
          {changed.map(([term, value]) => (
            <div key={term}>
              <dt>{term}</dt>
              <dd>{value}</dd>
            </div>
          ))}
        </dl>
      )}

      {editing && (
        <div id={panelId}>
          <ModelSettingsPanel
            model={model}
            onClose={() => {
              setEditing(false);
              gear.current?.focus();
            }}
          />
        </div>
      )}

      {model.nodes.length === 0 ? (
        <p className="node-states-empty">
          <IconClock size={14} /> Waiting for a node to pick it up
        </p>
      ) : (
        <ul className="node-states" aria-label={`${model.display_name} on each node`}>
          {model.nodes.map((node) => (
            <NodeStateRow key={node.node_id} model={model} node={node} />
          ))}
        </ul>
      )}
    </li>
  );
}

function NodeStateRow({ model, node }: { model: Model; node: ModelOnNode }) {
  const artifact = findArtifact(model, node.artifact);
  // Ready on disk and being loaded into memory now: requests for it wait meanwhile.
  // A load in its new setting beside the old one going (its setting changed while it answered) is the one.
  const inMemory = useAppStore((s) => {
    const loaded = s.nodes.find((candidate) => candidate.id === node.node_id)?.loaded ?? [];
    return (
      loaded.find((entry) => entry.model === model.name && entry.unloading !== true) ??
      loaded.find((entry) => entry.model === model.name)
    );
  });
  // An endpoint loads and unloads its models itself: there is nothing to load there.
  const endpoint = useAppStore(
    (s) => s.nodes.find((candidate) => candidate.id === node.node_id)?.kind === "endpoint",
  );
  const loadingSince = inMemory?.loading_since;
  const loaded = inMemory !== undefined;
  const chosen = artifact?.quantization ?? (node.artifact ? baseName(node.artifact) : null);
  return (
    <li className={`node-state node-state-${node.state}`}>
      <span className="node-state-name">
        {node.node_name}
        {node.node_status === "offline" && <span className="pill pill-muted">offline</span>}
      </span>
      <div className="node-state-body">
        {node.state === "ready" && loadingSince ? (
          <span className="state-text">
            <IconSpinner size={14} /> <LoadingFor since={loadingSince} label="Loading into memory" />
          </span>
        ) : (
          <StateText model={model.name} node={node} nodeCount={model.nodes.length} />
        )}
        {node.state === "ready" && !loadingSince && node.node_status === "online" && !endpoint && (
          <InMemory model={model.name} node={node} loaded={loaded} unloading={inMemory?.unloading === true} />
        )}
        {chosen && node.state !== "unsupported" && <span className="node-state-file">{chosen}</span>}
      </div>
    </li>
  );
}

/**
 * Whether a model ready on a worker is in its memory: "In memory", or Load, which loads it now (as
 * LM Studio's load), so that its first request does not wait for it.
 */
function InMemory({
  model,
  node,
  loaded,
  unloading,
}: {
  model: string;
  node: ModelOnNode;
  loaded: boolean;
  /** Asked to go, it stays until its running requests end (as the Nodes page says). */
  unloading: boolean;
}) {
  const { loadModel } = useActions();
  const [loading, setLoading] = useState(false);
  if (loaded && unloading && !loading)
    return <span className="pill pill-muted">Unloading once its requests end</span>;
  if (loaded && !loading) return <span className="pill pill-accent">In memory</span>;
  return (
    <button
      type="button"
      className="button button-small"
      aria-label={`Load ${model} on ${node.node_name}`}
      title="Load it into memory now: its first request then does not wait for the load"
      {...softDisabled(loading)}
      onClick={() => {
        if (loading) return;
        setLoading(true);
        void loadModel(model, node.node_name).finally(() => setLoading(false));
      }}
    >
      {loading ? "Loading…" : "Load"}
    </button>
  );
}

/**
 * A model the node no longer tries by itself (it crashed the node's worker, or its file failed
 * verification twice): the way to retry is here.
 */
function StoppedText({
  model,
  node,
  label,
  message,
}: {
  model: string;
  /** The node's name where the card lists several, so that each Retry says which it is. */
  node: string | undefined;
  label: string;
  message: string;
}) {
  const { retryModel } = useActions();
  const [retrying, setRetrying] = useState(false);
  // Once tried again the model is no longer stopped, and this Retry goes: the keyboard goes on from
  // the card's title rather than from the top of the page.
  const button = useFocusHandoff<HTMLButtonElement>((element) => {
    const title = element.closest(".model-card")?.querySelector<HTMLElement>(".model-title");
    return () => (title?.isConnected ? title : null);
  });
  return (
    <div className="crashed">
      <span className="state-text danger">
        <IconAlert size={14} /> {label}: {message}
      </span>
      <button
        type="button"
        ref={button}
        className="button button-small"
        aria-label={`Retry ${model}${node ? ` on ${node}` : ""}`}
        {...softDisabled(retrying)}
        onClick={() => {
          if (retrying) return;
          setRetrying(true);
          void retryModel(model).finally(() => setRetrying(false));
        }}
      >
        {retrying ? "Retrying…" : "Retry"}
      </button>
    </div>
  );
}

function StateText({ model, node, nodeCount }: { model: string; node: ModelOnNode; nodeCount: number }) {
  const where = nodeCount > 1 ? node.node_name : undefined;
  switch (node.state) {
    case "pending":
      return (
        <span className="state-text muted">
          <IconClock size={14} />{" "}
          {node.queued_behind
            ? `Queued after ${node.queued_behind}'s download`
            : node.waiting_for
              ? `Waiting for ${node.waiting_for}`
              : "Waiting"}
        </span>
      );
    case "downloading": {
      const percent = percentOf(node.bytes_done, node.bytes_total);
      const left =
        node.bytes_per_second > 0
          ? formatDuration((node.bytes_total - node.bytes_done) / node.bytes_per_second)
          : undefined;
      const text = [
        `${formatBytes(node.bytes_done)} of ${formatBytes(node.bytes_total)}`,
        node.bytes_per_second > 0 ? `${formatBytes(node.bytes_per_second)}/s` : undefined,
        left ? `${left} left` : undefined,
      ]
        .filter(Boolean)
        .join(" · ");
      return (
        <div className="download">
          <ProgressBar
            value={node.bytes_done}
            max={node.bytes_total}
            label={`Downloading on ${node.node_name}`}
            valueText={`${percent}%, ${text}`}
          />
          <span className="state-text">
            Downloading {percent}% · {text}
          </span>
          {node.interrupted && (
            <span className="state-text warn">
              <IconAlert size={14} /> The connection broke ({node.interrupted}); trying again
            </span>
          )}
          {node.restarted && (
            <span className="state-text warn">
              <IconAlert size={14} /> Begun again from the start: {node.restarted}
            </span>
          )}
        </div>
      );
    }
    case "verifying":
      return (
        <span className="state-text">
          <IconSpinner size={14} /> Verifying
        </span>
      );
    case "ready":
      return (
        <span className="state-text ok">
          <IconCheck size={14} /> Ready
        </span>
      );
    case "error":
      if (node.crashed)
        return <StoppedText model={model} node={where} label="Crashed the worker" message={node.message} />;
      return node.waits_for_retry ? (
        <StoppedText model={model} node={where} label="Error" message={node.message} />
      ) : (
        <span className="state-text danger">
          <IconAlert size={14} /> Error: {node.message} <span className="muted">(retrying)</span>
        </span>
      );
    case "unsupported":
      return (
        <span className="state-text warn">
          <IconBan size={14} /> Can't run here: {node.reason}
        </span>
      );
  }
}

/** The file a model stands for: the registered one, or the one nodes chose, or how many there are. */
function fileOf(model: Model): { name: string; quantization: string | null; size: string } {
  const artifact = servedArtifact(model);
  if (artifact) {
    return {
      name: baseName(artifact.split_group ?? artifact.filename),
      quantization: artifact.quantization,
      size: formatBytes(artifactSize(model, artifact)),
    };
  }
  if (model.filename)
    return { name: baseName(model.filename), quantization: null, size: formatBytes(model.size_bytes) };
  const quantizations = [
    ...new Set(model.artifacts.map((a) => a.quantization).filter((q): q is string => !!q)),
  ];
  return {
    name: repoFilesText(model),
    quantization: quantizations.length > 0 ? quantizations.join(", ") : null,
    size: `${formatBytes(model.size_bytes)} in all`,
  };
}

/** The settings that differ from the defaults, as facts on the card. */
function changedSettings(model: Model): [string, string][] {
  const { context_size, context_overflow, parallel, idle_ttl_seconds, nodes } = model.settings;
  const facts: [string, string][] = [];
  if (context_size !== null) facts.push(["Context", `${context_size.toLocaleString("en-US")} tokens`]);
  if (context_overflow === "truncate_oldest") facts.push(["Long chats", "Oldest messages left out"]);
  if (parallel !== null) facts.push(["Parallel", String(parallel)]);
  if (idle_ttl_seconds !== null) facts.push(["Unload after", formatDuration(idle_ttl_seconds)]);
  if (nodes.length > 0) facts.push(["Only on", nodes.join(", ")]);
  return facts;
}

type Tone = "ready" | "progress" | "waiting" | "danger" | "warn";

/** One word for the whole model, from the node that is furthest along. */
function summaryOf(model: Model): { text: string; tone: Tone } {
  if (model.ready) return { text: "Ready", tone: "ready" };
  const states = model.nodes.filter((n) => n.node_status === "online");
  const downloading = states.filter((n) => n.state === "downloading");
  if (downloading.length > 0) {
    const best = Math.max(...downloading.map((n) => percentOf(n.bytes_done, n.bytes_total)));
    return { text: `Downloading ${best}%`, tone: "progress" };
  }
  if (states.some((n) => n.state === "verifying")) return { text: "Verifying", tone: "progress" };
  if (states.length > 0 && states.every((n) => n.state === "unsupported"))
    return { text: "No node can run it", tone: "warn" };
  if (states.some((n) => n.state === "error" && n.crashed)) return { text: "Crashed", tone: "danger" };
  if (states.some((n) => n.state === "error")) return { text: "Error", tone: "danger" };
  if (model.nodes.length > 0 && states.length === 0) return { text: "Nodes offline", tone: "waiting" };
  return { text: "Waiting", tone: "waiting" };
}

/** The Models page's register box: where the keyboard goes on from when no card is left. */
function registerBox(): HTMLElement | null {
  return document.querySelector<HTMLElement>(".register-input");
}

/** An id that a narrow card wraps after a "/" or a "-", between its parts, rather than inside a word. */
function breakableId(id: string) {
  return id.split(/(?<=[/-])/).map((part, index) => (
    <Fragment key={index}>
      {index > 0 && <wbr />}
      {part}
    </Fragment>
  ));
}
