import { useId, useRef, useState, type FormEvent } from "react";
import type { Model, ModelSettings, ModelSettingsPatch } from "../../src-main/contract";
import { defaultIdleTtlSeconds, modelSettingBounds } from "../../src-main/contract/modelSettingLimits";
import { describedBy, FormError } from "../components/FormError";
import { IconClose, IconPlus } from "../components/icons";
import { softDisabled } from "../components/softDisabled";
import { useActions, useAppStore } from "../useAppStore";
import { useFormError } from "../useFormError";

/**
 * One model's settings, as `llmlb model set` changes them: context size, what happens when a
 * conversation outgrows it, parallel requests, idle unload, which nodes may serve it; and its aliases.
 * Empty number fields mean "automatic"; only what changed is sent.
 */
export function ModelSettingsPanel({ model, onClose }: { model: Model; onClose: () => void }) {
  const { saveModelSettings } = useActions();
  // Workers, and the endpoints that serve this model: a pin to one keeps it from the others.
  const candidates = useAppStore((s) => s.nodes).filter(
    (node) => node.kind === "worker" || node.models.some((entry) => entry.model === model.name),
  );
  /** A node as the list names it, with what matters for pinning: an endpoint, offline, gone. */
  const labelOf = (name: string) => {
    const node = candidates.find((candidate) => candidate.name === name);
    const tags = [
      ...(node?.kind === "endpoint" ? ["endpoint"] : []),
      ...(node?.status === "offline" ? ["offline"] : []),
      ...(node ? [] : ["not known now"]),
    ];
    return tags.length > 0 ? `${name} (${tags.join(", ")})` : name;
  };
  const loaded = useAppStore((s) => s.nodes)
    .flatMap((node) => node.loaded.map((entry) => ({ node: node.name, ...entry })))
    .filter((entry) => entry.model === model.name && entry.context_size !== undefined);
  const [draft, setDraft] = useState(() => draftOf(model.settings));
  // The settings the draft was made from. Changed elsewhere while open (another window, the CLI): the
  // fields not edited here follow, and a save sends only what was edited here, never undoing theirs.
  const [base, setBase] = useState(model.settings);
  if (!sameSettings(base, model.settings)) {
    setDraft(followed(draft, draftOf(base), draftOf(model.settings)));
    setBase(model.settings);
  }
  const [saving, setSaving] = useState(false);
  const [error, setError] = useFormError();
  const [checked, setChecked] = useState(false);
  const id = useId();
  const patch = patchOf(base, draft);
  // Told once Save was tried, then as the value is mended.
  const problems = checked ? problemsOf(draft) : {};

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!patch || saving) return;
    setChecked(true);
    const found = problemsOf(draft);
    const first = (Object.keys(found) as (keyof typeof found)[])[0];
    if (first) {
      document.getElementById(`${id}-${first}`)?.focus();
      return;
    }
    setSaving(true);
    const refusal = await saveModelSettings(model.name, patch);
    setSaving(false);
    setError(refusal);
    if (!refusal) onClose();
  };
  const toggleNode = (name: string, on: boolean) =>
    setDraft({ ...draft, nodes: on ? [...draft.nodes, name].sort() : draft.nodes.filter((n) => n !== name) });
  // Pinned to a node that has since left: still shown, so it can be unpinned.
  const nodeNames = [...new Set([...candidates.map((node) => node.name), ...model.settings.nodes])].sort();

  return (
    <section
      className="model-settings"
      aria-label={`Settings of ${model.name}`}
      onKeyDown={(event) => {
        if (event.key === "Escape") {
          event.stopPropagation();
          onClose();
        }
      }}
    >
      <form className="model-settings-form" onSubmit={(event) => void submit(event)} noValidate>
        <div className="model-settings-grid">
          <NumberField
            id={`${id}-context`}
            rule={numberRules.context}
            value={draft.context}
            problem={problems.context}
            onChange={(context) => setDraft({ ...draft, context })}
            hint={[
              draft.context.trim() === ""
                ? "Auto: what the model was trained on, as far as memory allows."
                : "At most what the model was trained on; empty for Auto.",
              loaded.length > 0 &&
                `Loaded now: ${loaded.map((entry) => `${entry.context_size!.toLocaleString("en-US")} on ${entry.node}`).join(", ")}.`,
            ]
              .filter(Boolean)
              .join(" ")}
          />
          <div className="field">
            <label htmlFor={`${id}-overflow`}>When a conversation outgrows it</label>
            <select
              id={`${id}-overflow`}
              className="input"
              value={draft.overflow}
              onChange={(event) =>
                setDraft({ ...draft, overflow: event.target.value as ModelSettings["context_overflow"] })
              }
            >
              <option value="error">Refuse it (an error)</option>
              <option value="truncate_oldest">Leave out the oldest messages</option>
            </select>
            <span className="hint">
              Refused requests get a 400 <code>context_length_exceeded</code>. A request&apos;s own
              context_overflow field overrides this.
            </span>
          </div>
          <NumberField
            id={`${id}-parallel`}
            rule={numberRules.parallel}
            value={draft.parallel}
            problem={problems.parallel}
            onChange={(parallel) => setDraft({ ...draft, parallel })}
          />
          <NumberField
            id={`${id}-ttl`}
            rule={numberRules.ttl}
            value={draft.ttl}
            problem={problems.ttl}
            onChange={(ttl) => setDraft({ ...draft, ttl })}
          />
        </div>
        <fieldset className="model-settings-nodes">
          <legend className="field-label">Nodes that may serve it</legend>
          {nodeNames.length === 0 ? (
            <p className="hint">No worker node has registered yet, and no endpoint serves it.</p>
          ) : (
            <div className="model-settings-node-list">
              {nodeNames.map((name) => (
                <label key={name} className="checkbox">
                  <input
                    type="checkbox"
                    checked={draft.nodes.includes(name)}
                    onChange={(event) => toggleNode(name, event.target.checked)}
                  />
                  {labelOf(name)}
                </label>
              ))}
            </div>
          )}
          <p className="hint">
            {draft.nodes.length === 0
              ? "None ticked: every node may serve it."
              : "Only the ticked nodes serve it; workers not ticked unload it."}
          </p>
        </fieldset>
        <FormError message={error} />
        <div className="model-settings-actions">
          <button type="button" className="button button-ghost" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="button button-primary" {...softDisabled(!patch || saving)}>
            {saving ? "Saving…" : "Save settings"}
          </button>
        </div>
      </form>
      <AliasEditor model={model} />
    </section>
  );
}

/** What a whole-number setting takes; empty means its default, shown as the placeholder. */
interface NumberRule {
  label: string;
  min: number;
  max: number;
  placeholder: string;
  /** What it counts: "tokens". */
  unit: string;
  /** What an empty field stands for, in "…, or empty for <this>". */
  emptyMeans: string;
}

/** As `modelSettingsSchema` bounds them. */
const numberRules = {
  context: {
    label: "Context size (tokens)",
    ...modelSettingBounds.context_size,
    placeholder: "Auto",
    unit: "tokens",
    emptyMeans: "Auto",
  },
  parallel: {
    label: "Parallel requests per worker",
    ...modelSettingBounds.parallel,
    placeholder: "Auto",
    unit: "requests",
    emptyMeans: "Auto",
  },
  ttl: {
    label: "Unload after idle (seconds)",
    ...modelSettingBounds.idle_ttl_seconds,
    placeholder: `${defaultIdleTtlSeconds} (default)`,
    unit: "seconds",
    emptyMeans: `the default, ${defaultIdleTtlSeconds / 60} minutes`,
  },
} satisfies Record<string, NumberRule>;

/** What is wrong with each number field, in the words of the form; none when all fit. */
function problemsOf(draft: Draft): Partial<Record<keyof typeof numberRules, string>> {
  const problems: Partial<Record<keyof typeof numberRules, string>> = {};
  for (const field of Object.keys(numberRules) as (keyof typeof numberRules)[]) {
    const rule: NumberRule = numberRules[field];
    const text = draft[field].trim();
    const value = Number(text);
    if (text === "" || (Number.isInteger(value) && value >= rule.min && value <= rule.max)) continue;
    const range = `${rule.min.toLocaleString("en-US")} to ${rule.max.toLocaleString("en-US")}`;
    problems[field] =
      `${rule.label.replace(/ \(.*\)$/, "")} must be a whole number of ${rule.unit} from ${range}, or empty for ${rule.emptyMeans}.`;
  }
  return problems;
}

function NumberField(props: {
  id: string;
  rule: NumberRule;
  value: string;
  problem?: string;
  onChange: (value: string) => void;
  hint?: string;
}) {
  const { id, rule, problem, hint } = props;

  return (
    <div className="field">
      <label htmlFor={id}>{rule.label}</label>
      <input
        id={id}
        className="input"
        type="number"
        inputMode="numeric"
        min={rule.min}
        max={rule.max}
        step={1}
        placeholder={rule.placeholder}
        value={props.value}
        aria-invalid={problem ? true : undefined}
        aria-describedby={describedBy(problem && `${id}-problem`, hint && `${id}-hint`)}
        onChange={(event) => props.onChange(event.target.value)}
      />
      <FormError id={`${id}-problem`} message={problem} />
      {hint && (
        <span id={`${id}-hint`} className="hint">
          {hint}
        </span>
      )}
    </div>
  );
}

/** The other names a model answers to, in `/v1` and here; each can be removed, more added. */
function AliasEditor({ model }: { model: Model }) {
  const { addAlias, removeAlias } = useActions();
  const [alias, setAlias] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useFormError();
  const id = useId();
  const field = useRef<HTMLInputElement>(null);

  const add = async (event: FormEvent) => {
    event.preventDefault();
    const name = alias.trim();
    if (!name || busy) return;
    setBusy(true);
    const refusal = await addAlias(model.name, name);
    setBusy(false);
    setError(refusal);
    if (!refusal) {
      setAlias("");
      field.current?.focus();
    }
  };
  const remove = async (name: string) => {
    const refusal = await removeAlias(model.name, name);
    setError(refusal);
    // Its × went with it: the keyboard goes on from the field that adds one.
    if (!refusal) field.current?.focus();
  };

  return (
    <div className="alias-editor">
      <h4 className="field-label" id={`${id}-heading`}>
        Aliases
      </h4>
      {model.aliases.length === 0 ? (
        <p className="hint">
          No other names yet. Requests may use an alias wherever they name the model; aliases are added and
          removed at once.
        </p>
      ) : (
        <ul className="tags" aria-labelledby={`${id}-heading`}>
          {model.aliases.map((name) => (
            <li key={name} className="tag alias-tag">
              <code>{name}</code>
              <button
                type="button"
                className="alias-remove"
                aria-label={`Remove alias ${name}`}
                title="Remove alias"
                onClick={() => void remove(name)}
              >
                <IconClose size={12} />
              </button>
            </li>
          ))}
        </ul>
      )}
      <form className="alias-form" onSubmit={(event) => void add(event)}>
        <label htmlFor={`${id}-alias`} className="visually-hidden">
          New alias for {model.name}
        </label>
        <input
          ref={field}
          id={`${id}-alias`}
          className="input"
          placeholder="e.g. chat:small"
          value={alias}
          aria-invalid={error ? true : undefined}
          onChange={(event) => setAlias(event.target.value)}
        />
        <button type="submit" className="button" {...softDisabled(!alias.trim() || busy)}>
          <IconPlus size={16} />
          <span>Add alias</span>
        </button>
      </form>
      <FormError message={error} />
    </div>
  );
}

interface Draft {
  context: string;
  overflow: ModelSettings["context_overflow"];
  parallel: string;
  ttl: string;
  nodes: string[];
}

function draftOf(settings: ModelSettings): Draft {
  const text = (value: number | null) => (value === null ? "" : String(value));
  return {
    context: text(settings.context_size),
    overflow: settings.context_overflow,
    parallel: text(settings.parallel),
    ttl: text(settings.idle_ttl_seconds),
    nodes: [...settings.nodes].sort(),
  };
}

function sameSettings(a: ModelSettings, b: ModelSettings): boolean {
  return JSON.stringify(draftOf(a)) === JSON.stringify(draftOf(b));
}

/** A number field's value: null when empty (automatic); otherwise as typed, for the server to judge. */
const numberOf = (text: string) => (text.trim() === "" ? null : Number(text));

/**
 * `draft`, its fields not edited since `before` taking their values in `after` (numbers compared as
 * numbers: `08` is 8); the nodes ticked or unticked here applied to `after`'s, the others' kept.
 */
function followed(draft: Draft, before: Draft, after: Draft): Draft {
  const next = { ...draft };
  for (const key of ["context", "parallel", "ttl"] as const)
    if (numberOf(draft[key]) === numberOf(before[key])) next[key] = after[key];
  if (draft.overflow === before.overflow) next.overflow = after.overflow;
  const added = draft.nodes.filter((node) => !before.nodes.includes(node));
  const removed = before.nodes.filter((node) => !draft.nodes.includes(node));
  next.nodes = [...new Set([...after.nodes, ...added])].filter((node) => !removed.includes(node)).sort();
  return next;
}

/**
 * What to send: the fields that differ from the saved settings, or null when none do. An empty
 * number field is `null` (back to automatic); anything else goes as typed, for the server to judge,
 * so a wrong value gets the server's own words.
 */
function patchOf(saved: ModelSettings, draft: Draft): ModelSettingsPatch | null {
  const number = numberOf;
  const patch: ModelSettingsPatch = {};
  const context = number(draft.context);
  if (context !== saved.context_size) patch.context_size = context;
  if (draft.overflow !== saved.context_overflow) patch.context_overflow = draft.overflow;
  const parallel = number(draft.parallel);
  if (parallel !== saved.parallel) patch.parallel = parallel;
  const ttl = number(draft.ttl);
  if (ttl !== saved.idle_ttl_seconds) patch.idle_ttl_seconds = ttl;
  if (draft.nodes.join("\n") !== [...saved.nodes].sort().join("\n")) patch.nodes = draft.nodes;
  return Object.keys(patch).length > 0 ? patch : null;
}
