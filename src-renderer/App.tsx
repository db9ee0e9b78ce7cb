import { useEffect, useState, type FormEvent } from "react";
import { useStore } from "zustand";
import type { AppStore } from "./store";

function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = bytes / 1000;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

export function App({ store }: { store: AppStore }) {
  const models = useStore(store, (s) => s.models);
  const banners = useStore(store, (s) => s.banners);
  const busy = useStore(store, (s) => s.busy);
  const loadError = useStore(store, (s) => s.loadError);
  const [input, setInput] = useState("");

  useEffect(() => {
    void store.getState().refresh();
  }, [store]);

  const submit = async (event?: FormEvent) => {
    event?.preventDefault();
    if (input.trim() && (await store.getState().register(input))) setInput("");
  };

  return (
    <main className="app">
      <header>
        <h1>llmlb</h1>
        <p className="endpoint">
          OpenAI API: <code>{`${location.origin}/v1`}</code>
        </p>
      </header>
      <section aria-live="polite" className="banners">
        {banners.map((b) => (
          <div key={b.id} className={`banner ${b.kind}`} role={b.kind === "error" ? "alert" : "status"}>
            <span>{b.text}</span>
            <button aria-label="Close" onClick={() => store.getState().dismiss(b.id)}>
              ×
            </button>
          </div>
        ))}
      </section>
      <form className="register" onSubmit={submit}>
        <label htmlFor="model-input">Register a Hugging Face model</label>
        <textarea
          id="model-input"
          rows={1}
          value={input}
          placeholder="https://huggingface.co/org/repo, org/repo or org/repo:Q4_K_M"
          onChange={(e) => setInput(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter" && !e.shiftKey) {
              e.preventDefault();
              void submit();
            }
          }}
        />
        <button type="submit" disabled={busy || !input.trim()}>
          {busy ? "Registering…" : "Register"}
        </button>
      </form>
      <section className="models">
        <h2>Models</h2>
        {loadError && <p role="alert">{loadError}</p>}
        {models.length === 0 ? (
          <p className="empty">No models yet. Paste a Hugging Face URL above, for example a GGUF repo.</p>
        ) : (
          <table>
            <thead>
              <tr>
                <th>Model</th>
                <th>Size</th>
                <th>State</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {models.map((m) => (
                <tr key={m.name}>
                  <td>{m.name}</td>
                  <td>{formatBytes(m.size_bytes)}</td>
                  <td>{m.ready ? "ready" : "waiting for a node"}</td>
                  <td>
                    <button
                      aria-label={`Delete ${m.name}`}
                      onClick={() => {
                        if (confirm(`Delete ${m.name}?`)) void store.getState().remove(m.name);
                      }}
                    >
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </main>
  );
}
