import type { Model } from "../../contract";
import { AppError } from "../errors";
import { formatBytes, formatDuration } from "../../contract/units";

/**
 * Why a registered model cannot be served right now, as a 503 a client can act on: how far its
 * download is (and so when to retry), or what the nodes said about it.
 */
export function unavailableError(model: Model): AppError {
  const id = model.name;
  const online = model.nodes.filter((node) => node.node_status === "online");
  const downloading = online.filter((node) => node.state === "downloading");
  if (downloading.length > 0) {
    const best = downloading.reduce((a, b) =>
      b.bytes_done / (b.bytes_total || 1) > a.bytes_done / (a.bytes_total || 1) ? b : a,
    );
    const percent = best.bytes_total > 0 ? Math.floor((best.bytes_done / best.bytes_total) * 100) : 0;
    const left =
      best.bytes_per_second > 0 ? (best.bytes_total - best.bytes_done) / best.bytes_per_second : undefined;
    return new AppError(
      "model.not_ready",
      `Model ${id} is still downloading on ${best.node_name}: ${percent}% (${formatBytes(best.bytes_done)} of ${formatBytes(best.bytes_total)}${left !== undefined ? `, about ${formatDuration(left)} left` : ""}). Retry later.`,
      { param: "model", retryAfter: Math.min(60, Math.max(2, Math.ceil((left ?? 10) / 2))) },
    );
  }
  const preparing = online.find((node) => node.state === "pending" || node.state === "verifying");
  if (preparing) {
    return new AppError(
      "model.not_ready",
      `Model ${id} is being prepared on ${preparing.node_name} (${preparing.state}). Retry shortly.`,
      {
        param: "model",
        retryAfter: 5,
      },
    );
  }
  const problems = online.flatMap((node) =>
    node.state === "error"
      ? [`${node.node_name}: ${node.message}`]
      : node.state === "unsupported"
        ? [`${node.node_name}: ${node.reason}`]
        : [],
  );
  if (problems.length > 0) {
    return new AppError("model.not_ready", `No node can serve model ${id}: ${problems.join("; ")}.`, {
      param: "model",
      retryAfter: 30,
    });
  }
  return new AppError(
    "model.not_ready",
    `Model ${id} is registered, but no node is online to serve it yet. Retry shortly.`,
    {
      param: "model",
      retryAfter: 10,
    },
  );
}
