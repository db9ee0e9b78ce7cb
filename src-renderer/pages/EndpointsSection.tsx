import { useEffect, useId, useRef, useState, type FormEvent } from "react";
import type { Endpoint, EndpointCreateRequest } from "../../src-main/contract";
import { defaultEndpointParallel, endpointParallelBounds } from "../../src-main/contract/endpointLimits";
import { RemoveButton } from "../components/RemoveButton";
import { describedBy, FormError } from "../components/FormError";
import { IconPlus, IconSpinner } from "../components/icons";
import { softDisabled } from "../components/softDisabled";
import { plural } from "../format";
import type { EndpointRefusal } from "../store/endpointsSlice";
import { SERVER_UNREACHABLE } from "../api";
import { useActions, useAppStore } from "../useAppStore";
import { useFormError } from "../useFormError";

const parallelRange = `${endpointParallelBounds.min.toLocaleString("en-US")} to ${endpointParallelBounds.max.toLocaleString("en-US")}`;
/** As `endpointParallelSchema` bounds it; the add form's field may be left empty for the default. */
const PARALLEL_PROBLEM = `Requests at once must be a whole number from ${parallelRange}.`;
const OPTIONAL_PARALLEL_PROBLEM = `Requests at once must be a whole number from ${parallelRange}, or empty for ${defaultEndpointParallel}.`;

/** Requests at once as typed, in decimal digits only (`Number` would take "1e3" or "0x10"); undefined when it does not fit. */
function parallelOf(text: string): number | undefined {
  const digits = text.trim();
  if (!/^\d{1,5}$/.test(digits)) return undefined;
  const parallel = Number(digits);
  return parallel >= endpointParallelBounds.min && parallel <= endpointParallelBounds.max
    ? parallel
    : undefined;
}

const atOnce = (parallel: number) => `${plural(parallel, "request")} at once`;

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
  const online = endpoint.status === "online";
  const remove = async () => {
    const removed = await removeEndpoint(endpoint.id);
    if (removed) onRemoved();
    return removed;
  };
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
        <ParallelSetting endpoint={endpoint} />
      </div>
      <RemoveButton name={endpoint.name} verb="Remove" title={`Remove ${endpoint.name}?`} remove={remove}>
        <p>Its models stop being served here. The server itself is not touched.</p>
      </RemoveButton>
    </li>
  );
}

/**
 * How many requests llmlb sends the endpoint at once, and a small form in place to change it. Told at
 * the field as typed; the server's refusal there too, until the field is edited.
 */
function ParallelSetting({ endpoint }: { endpoint: Endpoint }) {
  const { updateEndpoint } = useActions();
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState("");
  const [refusal, setRefusal] = useFormError();
  const [saving, setSaving] = useState(false);
  const id = useId();
  const field = useRef<HTMLInputElement>(null);
  const change = useRef<HTMLButtonElement>(null);
  // Where the keyboard goes when the form closes: back to the button that opened it.
  const returnFocus = useRef(false);

  useEffect(() => {
    if (editing) field.current?.focus();
    else if (returnFocus.current) {
      returnFocus.current = false;
      change.current?.focus();
    }
  }, [editing]);

  const close = () => {
    returnFocus.current = true;
    setEditing(false);
    setRefusal(null);
  };
  const value = parallelOf(text);
  const message = value === undefined ? PARALLEL_PROBLEM : refusal;

  const save = async (event: FormEvent) => {
    event.preventDefault();
    if (value === undefined || refusal || saving) return;
    if (value === endpoint.parallel) return close();
    setSaving(true);
    const refused = await updateEndpoint(endpoint.id, { parallel: value });
    setSaving(false);
    if (refused) setRefusal(refused);
    else close();
  };

  if (!editing) {
    return (
      <p className="endpoint-parallel">
        <span>{atOnce(endpoint.parallel)}</span>
        <button
          ref={change}
          type="button"
          className="button button-ghost button-small"
          aria-label={`Change requests at once for ${endpoint.name}`}
          onClick={() => {
            setText(String(endpoint.parallel));
            setEditing(true);
          }}
        >
          Change
        </button>
      </p>
    );
  }
  return (
    <form
      className="endpoint-parallel-form"
      onSubmit={(event) => void save(event)}
      onKeyDown={(event) => {
        if (event.key === "Escape") {
          event.stopPropagation();
          close();
        }
      }}
      noValidate
    >
      <div className="endpoint-parallel-row">
        <label htmlFor={`${id}-parallel`} className="field-label">
          Requests at once<span className="visually-hidden"> for {endpoint.name}</span>
        </label>
        <input
          ref={field}
          id={`${id}-parallel`}
          className="input parallel-input"
          inputMode="numeric"
          value={text}
          aria-invalid={message ? true : undefined}
          aria-describedby={describedBy(message && `${id}-problem`, `${id}-hint`)}
          onChange={(event) => {
            setText(event.target.value);
            setRefusal(null);
          }}
        />
        <span id={`${id}-hint`} className="hint">
          Running requests finish as they are.
        </span>
        <button
          type="submit"
          className="button button-primary button-small"
          {...softDisabled(!!message || saving)}
        >
          {saving ? "Saving…" : "Save"}
        </button>
        <button type="button" className="button button-ghost button-small" onClick={close}>
          Cancel
        </button>
      </div>
      <FormError id={`${id}-problem`} message={message} />
    </form>
  );
}

function AddEndpointForm() {
  const adding = useAppStore((s) => s.addingEndpoint);
  const { addEndpoint } = useActions();
  const [name, setName] = useState("");
  const [url, setUrl] = useState("");
  const [apiKey, setApiKey] = useState("");
  const [parallel, setParallel] = useState("");
  // The server's refusal, said under the form and at its field until a field is edited.
  const [refusal, setRefusal] = useFormError<EndpointRefusal>(unreachableRefusal);
  const id = useId();
  // Empty is the default; anything else must fit, and is told at the field as typed.
  const parallelValue = parallel.trim() === "" ? null : parallelOf(parallel);
  const parallelProblem = parallelValue === undefined ? OPTIONAL_PARALLEL_PROBLEM : null;
  const problem = parallelProblem ?? refusal?.message ?? null;
  const problemId = `${id}-problem`;
  /** What a field's input needs to say when the refusal is about it. */
  const refused = (field: keyof EndpointCreateRequest) =>
    refusal?.field === field ? { "aria-invalid": true as const, "aria-describedby": problemId } : {};
  const edited = (set: (value: string) => void) => (value: string) => {
    set(value);
    setRefusal(null);
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (adding || !name.trim() || !url.trim() || parallelValue === undefined) return;
    const answer = await addEndpoint({
      name: name.trim(),
      url: url.trim(),
      ...(apiKey.trim() ? { api_key: apiKey.trim() } : {}),
      ...(parallelValue !== null ? { parallel: parallelValue } : {}),
    });
    setRefusal(answer);
    if (answer) {
      // The field it is about (else the first), so the keyboard is where the fix goes.
      const field = { name: "name", url: "url", api_key: "key", parallel: "parallel" }[
        answer.field ?? "name"
      ];
      document.getElementById(`${id}-${field}`)?.focus();
      return;
    }
    setName("");
    setUrl("");
    setApiKey("");
    setParallel("");
    // Ready for the next one, from the button too.
    document.getElementById(`${id}-name`)?.focus();
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
          {...refused("name")}
          onChange={(event) => edited(setName)(event.target.value)}
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
          {...refused("url")}
          onChange={(event) => edited(setUrl)(event.target.value)}
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
          {...refused("api_key")}
          onChange={(event) => edited(setApiKey)(event.target.value)}
        />
      </div>
      <div className="field">
        <label htmlFor={`${id}-parallel`}>
          Requests at once <span className="muted">(optional)</span>
        </label>
        <input
          id={`${id}-parallel`}
          className="input"
          inputMode="numeric"
          placeholder={String(defaultEndpointParallel)}
          value={parallel}
          aria-invalid={parallelProblem || refusal?.field === "parallel" ? true : undefined}
          aria-describedby={describedBy((parallelProblem || refusal?.field === "parallel") && problemId)}
          onChange={(event) => edited(setParallel)(event.target.value)}
        />
      </div>
      <button
        type="submit"
        className="button button-primary"
        {...softDisabled(adding || !name.trim() || !url.trim() || !!parallelProblem)}
      >
        {adding ? <IconSpinner /> : <IconPlus />}
        <span>{adding ? "Adding…" : "Add endpoint"}</span>
      </button>
      {/* Below the whole row, so the fields stay in line while it shows. */}
      {problem && (
        <div className="endpoint-form-problem">
          <FormError id={problemId} message={problem} />
        </div>
      )}
    </form>
  );
}

/** A refusal that says llmlb could not be reached: no longer so once it is back. */
const unreachableRefusal = (refusal: EndpointRefusal) => refusal.message === SERVER_UNREACHABLE;
