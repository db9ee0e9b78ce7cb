import type { Model } from "../../src-main/contract";

interface ReadyModelSelectProps {
  id: string;
  models: Model[];
  value: string | undefined;
  disabled?: boolean;
  onChange(model: string): void;
}

/** "Model [select]": the ready models to pick from, by id (the Endpoint page's snippets, the Playground). */
export function ReadyModelSelect({ id, models, value, disabled, onChange }: ReadyModelSelectProps) {
  return (
    <div className="field field-inline">
      <label htmlFor={id}>Model</label>
      <select
        id={id}
        className="input"
        value={value}
        disabled={disabled}
        onChange={(event) => onChange(event.target.value)}
      >
        {models.map((m) => (
          <option key={m.name} value={m.name}>
            {m.name}
          </option>
        ))}
      </select>
    </div>
  );
}
