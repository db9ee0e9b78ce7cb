import type { NodeModelState } from "../../contract";

/** A `node_models` row, as stored. */
export interface NodeModelRow {
  model_id: string;
  artifact: string | null;
  state: NodeModelState["state"];
  bytes_done: number | null;
  bytes_total: number | null;
  bytes_per_second: number | null;
  /**
   * The state's words: an error's message, why unsupported, why a download is interrupted, or the
   * model a pending one is queued behind.
   */
  message: string | null;
  /** 1 for an error that is a crash of the node's worker. */
  crashed: number;
  /** 1 for an error the node no longer tries by itself. */
  waits_for_retry: number;
  /** What a pending one waits for, when not the queue (another process's download of its file). */
  waiting_for: string | null;
}

/** One definition of how a node's model state maps onto the table's columns, both ways. */
export function toNodeModelState(row: NodeModelRow): NodeModelState {
  const base = { model: row.model_id, artifact: row.artifact };
  switch (row.state) {
    case "downloading":
      return {
        ...base,
        state: "downloading",
        bytes_done: row.bytes_done ?? 0,
        bytes_total: row.bytes_total ?? 0,
        bytes_per_second: row.bytes_per_second ?? 0,
        ...(row.message !== null && { interrupted: row.message }),
      };
    case "pending":
      return {
        ...base,
        state: "pending",
        ...(row.message !== null && { queued_behind: row.message }),
        ...(row.waiting_for !== null && { waiting_for: row.waiting_for }),
      };
    case "error":
      return {
        ...base,
        state: "error",
        message: row.message ?? "",
        ...(row.crashed ? { crashed: true } : {}),
        ...(row.waits_for_retry ? { waits_for_retry: true } : {}),
      };
    case "unsupported":
      return { ...base, state: "unsupported", reason: row.message ?? "" };
    default:
      return { ...base, state: row.state };
  }
}

export function toNodeModelRow(state: NodeModelState): NodeModelRow {
  return {
    model_id: state.model,
    artifact: state.artifact,
    state: state.state,
    bytes_done: state.state === "downloading" ? state.bytes_done : null,
    bytes_total: state.state === "downloading" ? state.bytes_total : null,
    bytes_per_second: state.state === "downloading" ? state.bytes_per_second : null,
    message: messageOf(state) ?? null,
    crashed: state.state === "error" && state.crashed ? 1 : 0,
    waits_for_retry: state.state === "error" && state.waits_for_retry ? 1 : 0,
    waiting_for: state.state === "pending" ? (state.waiting_for ?? null) : null,
  };
}

function messageOf(state: NodeModelState): string | undefined {
  switch (state.state) {
    case "error":
      return state.message;
    case "unsupported":
      return state.reason;
    case "downloading":
      return state.interrupted;
    case "pending":
      return state.queued_behind;
    default:
      return undefined;
  }
}
