import type { Logger } from "../../shared/logger";
import type { IncomingHttpHeaders } from "node:http";
import type { AppError } from "../../shared/errors";

/**
 * Where a node's answer goes: the client's HTTP response as it is, or something that reshapes it on
 * its way (the Responses API over a node's chat completions). The balancer knows nothing else of the
 * client.
 */
export interface AnswerSink {
  /** The client is gone: nobody will read an answer. */
  readonly gone: boolean;
  /** `listener` runs once if the client goes away before the answer ended; the result unsubscribes. */
  onGone(listener: () => void): () => void;
  /** The node's status and headers: from here on the request is the client's, never replayed. */
  head(status: number, headers: IncomingHttpHeaders): void;
  /** One chunk of the node's body; false: wait for `onDrain` before the next. */
  write(chunk: Buffer): boolean;
  onDrain(listener: () => void): void;
  /** Bytes the client's connection has taken so far: what moving on looks like while `write` waits. */
  taken(): number;
  /**
   * The client has read nothing for too long while the answer waited for it: its connection is
   * closed, and it is gone (its slot goes to others, as nginx's send_timeout frees one).
   */
  abandon(): void;
  /** The node's answer ended whole. */
  end(): void;
  /**
   * The node failed after the head: a stream ends with `error` as its last event; any other answer
   * is cut off, so the client cannot mistake it for a whole one.
   */
  cut(error: AppError, streaming: boolean): void;
}

/** What the balancer needs of a client's inference request. */
export interface InferenceRequest {
  /** Where it goes at a node: `/v1/chat/completions`. */
  path: string;
  /**
   * The route the client called, where it differs from `path` (`/v1/responses`, run as a chat
   * completion at the node): what metrics count it under. Default: `path`.
   */
  clientPath?: string;
  body: InferenceBody;
  /** The client's `accept`. */
  accept?: string;
  /** The loop mark other llmlb instances set on what they forward (`viaHeader`). */
  via?: string;
  /** The request's own log (its lines carry its `reqId`). Default: the balancer's. */
  log?: Logger;
  /** The address it came from, for the access log. */
  client?: string;
  /** Its `x-request-id`, for the access log. */
  id?: string;
}

/** An inference request's body: as the client sent it, and parsed. */
export interface InferenceBody {
  /** Forwarded byte for byte: nodes get exactly what the client wrote. */
  raw: Buffer;
  json: unknown;
}
