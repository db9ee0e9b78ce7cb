import type { Model } from "../../src-main/contract";

interface ReadyModelSelectProps {
  id: string;
  models: Model[];
  value: string | undefined;
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
export function ReadyModelSelect({ id, models, value, disabled, onChange }: ReadyModelSelectProps) {
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
        {models.map((m) => (
          <option key={m.name} value={m.name} title={m.name}>
            {pickerLabel(m.name)}
          </option>
        ))}
      </select>
    </div>
  );
}
