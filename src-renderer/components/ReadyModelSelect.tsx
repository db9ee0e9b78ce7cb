import type { Model } from "../../src-main/contract";

interface ReadyModelSelectProps {
  id: string;
  models: Model[];
  value: string | undefined;
  /** The value, when it is no longer among `models`: listed, not to be picked again. */
  unavailable?: string;
  disabled?: boolean;
  onChange(model: string): void;
}

/**
 * A model id as a select shows it: the name after the org first (`Llama-3-GGUF · some-long-org`), so a
 * select too narrow for the whole id still tells two models of one org apart.
 */
export function pickerLabel(id: string): string {
  const slash = id.indexOf("/");
  return slash > 0 && slash < id.length - 1 ? `${id.slice(slash + 1)} · ${id.slice(0, slash)}` : id;
}

/**
 * "Model [select]": the ready models to pick from (the Endpoint page's snippets, the Playground), each
 * by its name first, the whole id on hover.
 */
export function ReadyModelSelect(props: ReadyModelSelectProps) {
  const { id, models, value, unavailable, disabled, onChange } = props;
  return (
    <div className="field field-inline">
      <label htmlFor={id}>Model</label>
      <select
        id={id}
        className="input"
        value={value}
        title={value}
        disabled={disabled}
        onChange={(event) => onChange(event.target.value)}
      >
        {unavailable !== undefined && (
          <option value={unavailable} title={unavailable} disabled>
            {pickerLabel(unavailable)} (not ready)
          </option>
        )}
        {models.map((m) => (
          <option key={m.name} value={m.name} title={m.name}>
            {pickerLabel(m.name)}
          </option>
        ))}
      </select>
    </div>
  );
}
