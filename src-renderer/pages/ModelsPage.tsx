import { useId, useRef, useState } from "react";
import type { Model } from "../../src-main/contract";
import { IconClose, IconSearch } from "../components/icons";
import { useAppStore } from "../useAppStore";
import { ModelCard } from "./ModelCard";
import { RegisterForm } from "./RegisterForm";
import { PageHead } from "../components/PageHead";

/** What the server's `search` matches (id and display name), plus the repo, case-insensitively. */
export function matches(model: Model, query: string): boolean {
  const q = query.trim().toLowerCase();
  if (!q) return true;
  return [model.name, model.display_name, model.repo].some((field) => field.toLowerCase().includes(q));
}

export const examples = [
  "https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF",
  "https://huggingface.co/unsloth/gemma-3-1b-it-GGUF/blob/main/gemma-3-1b-it-Q4_K_M.gguf",
  "hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF",
  "ggml-org/gemma-3-270m-it-GGUF:Q8_0",
];

export function ModelsPage() {
  const models = useAppStore((s) => s.models);
  const total = useAppStore((s) => s.modelsTotal);
  const [query, setQuery] = useState("");
  // Filtering is local so live updates keep the results current without asking the server again.
  const shown = models.filter((model) => matches(model, query));
  const searchId = useId();
  const search = useRef<HTMLInputElement>(null);

  return (
    <div className="page">
      <PageHead title="Models" />
      <RegisterForm />

      {models.length === 0 ? (
        <EmptyModels />
      ) : (
        <section aria-labelledby={`${searchId}-heading`}>
          <div className="list-head">
            <h2 id={`${searchId}-heading`} className="section-title">
              All models <span className="count">{models.length}</span>
            </h2>
            <div className="search">
              <IconSearch className="search-icon" />
              <label htmlFor={searchId} className="visually-hidden">
                Search models
              </label>
              <input
                ref={search}
                id={searchId}
                type="search"
                className="input search-input"
                placeholder="Search models"
                value={query}
                onChange={(event) => setQuery(event.target.value)}
                onKeyDown={(event) => {
                  if (event.key === "Escape") setQuery("");
                }}
              />
            </div>
          </div>
          {shown.length === 0 ? (
            <div className="empty card">
              <p className="empty-title">No models match “{query.trim()}”</p>
              <button
                type="button"
                className="button"
                onClick={() => {
                  setQuery("");
                  // The button goes with the empty state: the keyboard goes back to the search.
                  search.current?.focus();
                }}
              >
                <IconClose />
                <span>Clear search</span>
              </button>
            </div>
          ) : (
            <ul className="model-list">
              {shown.map((model) => (
                <ModelCard key={model.name} model={model} />
              ))}
            </ul>
          )}
          {total > models.length && (
            <p className="hint">
              Showing the newest {models.length} of {total} models.
            </p>
          )}
        </section>
      )}
    </div>
  );
}

function EmptyModels() {
  return (
    <div className="empty card">
      <p className="empty-title">No models yet</p>
      <p>Paste any of these into the box above and press Enter:</p>
      <ul className="examples">
        {examples.map((example) => (
          <li key={example}>
            <code>{example}</code>
          </li>
        ))}
      </ul>
      <p className="hint">
        GGUF repositories work best: each node picks the quantization that fits its memory (Q4_K_M first).
      </p>
    </div>
  );
}
