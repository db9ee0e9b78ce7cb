import { useEffect, useId, useRef, useState, type FormEvent } from "react";
import type { Endpoint } from "../../src-main/contract";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { IconPlus, IconSpinner, IconTrash } from "../components/icons";
import { useActions, useAppStore } from "../useAppStore";

/** External OpenAI-compatible servers (vLLM, llama.cpp's server, Ollama, another llmlb) routed as nodes. */
export function EndpointsSection() {
  const state = useAppStore((s) => s.endpointsState);
  const error = useAppStore((s) => s.endpointsError);
  const endpoints = useAppStore((s) => s.endpoints);
  const { loadEndpoints } = useActions();
  const heading = useRef<HTMLHeadingElement>(null);

  useEffect(() => {
    void loadEndpoints();
  }, [loadEndpoints]);

  return (
    <section className="section" aria-labelledby="endpoints-heading">
      {/* Focusable by script: where the keyboard goes on from once a row is removed. */}
      <h2 id="endpoints-heading" ref={heading} className="section-title" tabIndex={-1}>
        External endpoints
      </h2>
      {state === "unavailable" ? (
        <p className="card note">
          This server does not support external endpoints yet. Update llmlb to add them.
        </p>
      ) : state === "failed" ? (
        <div className="card note note-row danger" role="alert">
          <p>Could not read endpoints: {error}</p>
          <button type="button" className="button" onClick={() => void loadEndpoints()}>
            Try again
          </button>
        </div>
      ) : (
        <>
          {state === "ready" && endpoints.length === 0 && (
            <p className="muted">
              None yet. Add a server that speaks the OpenAI API; its models are served here next to your own.
            </p>
          )}
          {endpoints.length > 0 && (
            <ul className="endpoint-list">
              {endpoints.map((endpoint) => (
                <EndpointRow
                  key={endpoint.id}
                  endpoint={endpoint}
                  onRemoved={() => heading.current?.focus()}
                />
              ))}
            </ul>
          )}
          {state !== "loading" && <AddEndpointForm />}
        </>
      )}
    </section>
  );
}

/** `onRemoved`: the row is going, its Remove button with it; focus must go somewhere. */
function EndpointRow({ endpoint, onRemoved }: { endpoint: Endpoint; onRemoved: () => void }) {
  const { removeEndpoint } = useActions();
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const online = endpoint.status === "online";
  return (
    <li className="card endpoint-row" aria-label={endpoint.name}>
      <div className="endpoint-main">
        <p className="endpoint-name">
          {endpoint.name}
          <span className={`health ${online ? "health-ok" : "health-offline"}`}>
            <span className="status-dot" aria-hidden="true" />
            {online ? "Online" : "Offline"}
          </span>
          {endpoint.has_api_key && <span className="pill pill-muted">API key</span>}
        </p>
        <p className="node-url">{endpoint.url}</p>
        {endpoint.last_error && <p className="state-text danger">Last check failed: {endpoint.last_error}</p>}
        <p className="muted">
          {endpoint.models.length === 0 ? "No models listed" : `Models: ${endpoint.models.join(", ")}`}
        </p>
      </div>
      <button
        type="button"
        className="icon-button icon-button-danger"
        aria-label={`Remove ${endpoint.name}`}
        title="Remove"
        onClick={() => setConfirming(true)}
      >
        <IconTrash size={18} />
      </button>
      {confirming && (
        <ConfirmDialog
          title={`Remove ${endpoint.name}?`}
          confirmLabel="Remove"
          busyLabel="Removing…"
          busy={busy}
          onCancel={() => setConfirming(false)}
          onConfirm={() => {
            setBusy(true);
            void removeEndpoint(endpoint.id).then((removed) => {
              setBusy(false);
              setConfirming(false);
              if (removed) onRemoved();
            });
          }}
        >
          <p>Its models stop being served here. The server itself is not touched.</p>
        </ConfirmDialog>
      )}
    </li>
  );
}

function AddEndpointForm() {
  const adding = useAppStore((s) => s.addingEndpoint);
  const { addEndpoint } = useActions();
  const [name, setName] = useState("");
  const [url, setUrl] = useState("");
  const [apiKey, setApiKey] = useState("");
  const id = useId();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const added = await addEndpoint({
      name: name.trim(),
      url: url.trim(),
      ...(apiKey.trim() ? { api_key: apiKey.trim() } : {}),
    });
    if (added) {
      setName("");
      setUrl("");
      setApiKey("");
    }
  };

  return (
    <form
      className="card endpoint-form"
      onSubmit={(event) => void submit(event)}
      aria-label="Add an endpoint"
    >
      <div className="field">
        <label htmlFor={`${id}-name`}>Name</label>
        <input
          id={`${id}-name`}
          className="input"
          value={name}
          required
          maxLength={64}
          placeholder="gpu-box"
          onChange={(event) => setName(event.target.value)}
        />
      </div>
      <div className="field field-wide">
        <label htmlFor={`${id}-url`}>URL</label>
        <input
          id={`${id}-url`}
          className="input"
          type="url"
          value={url}
          required
          placeholder="http://192.168.1.20:8000/v1"
          onChange={(event) => setUrl(event.target.value)}
        />
      </div>
      <div className="field">
        <label htmlFor={`${id}-key`}>
          API key <span className="muted">(optional)</span>
        </label>
        <input
          id={`${id}-key`}
          className="input"
          type="password"
          autoComplete="off"
          value={apiKey}
          onChange={(event) => setApiKey(event.target.value)}
        />
      </div>
      <button
        type="submit"
        className="button button-primary"
        disabled={adding || !name.trim() || !url.trim()}
      >
        {adding ? <IconSpinner /> : <IconPlus />}
        <span>{adding ? "Adding…" : "Add endpoint"}</span>
      </button>
    </form>
  );
}
