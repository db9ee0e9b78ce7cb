import { formatDuration } from "../format";
import { useNow } from "../useNow";

/** "Loading · 12 s", counting up each second: a first load on a GPU may compile kernels for a minute. */
export function LoadingFor({
  since,
  label = "Loading",
  className,
}: {
  since: string;
  label?: string;
  className?: string;
}) {
  const now = useNow(1000);
  const seconds = Math.max(0, (now - Date.parse(since)) / 1000);
  return (
    <span className={className}>
      {label} · {formatDuration(seconds)}
    </span>
  );
}
