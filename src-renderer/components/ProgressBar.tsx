interface ProgressBarProps {
  value: number;
  max: number;
  label: string;
  /** What a screen reader says instead of the raw numbers ("45%, 1.2 GB of 2.7 GB"). */
  valueText?: string;
  tone?: "accent" | "warn" | "danger";
}

/** A thin bar; without a known `max` it sweeps (indeterminate). */
export function ProgressBar({ value, max, label, valueText, tone = "accent" }: ProgressBarProps) {
  const known = max > 0;
  const percent = known ? Math.min(100, Math.max(0, (value / max) * 100)) : 0;
  return (
    <div
      className={`progress progress-${tone}${known ? "" : " progress-indeterminate"}`}
      role="progressbar"
      aria-label={label}
      aria-valuemin={known ? 0 : undefined}
      aria-valuemax={known ? max : undefined}
      aria-valuenow={known ? value : undefined}
      aria-valuetext={valueText}
    >
      <div className="progress-fill" style={{ width: known ? `${percent}%` : undefined }} />
    </div>
  );
}
