import type { IncomingHttpHeaders } from "node:http";
import type { Dispatcher } from "undici";
import type { AnswerSink } from "./answerSink";
import { parseRetryAfter } from "../../shared/backoff";
import { cutText } from "../../shared/cutText";
import { errorOfAnswer, isMissingRoute } from "./answerError";

/** Errors of a connection never made: what was sent never reached the node. */
const neverReached = new Set(["ECONNREFUSED", "UND_ERR_CONNECT_TIMEOUT", "EHOSTUNREACH", "ENETUNREACH"]);

/** One try at a node: where it goes and what it carries. */
export interface NodeRequest {
  origin: string;
  path: string;
  headers: Record<string, string>;
  /** The client's body, byte for byte. */
  body: Buffer;
  /**
   * How long the node may go without sending a byte (the answer's head, then each next chunk) before
   * the try is given up. Default: no limit.
   */
  idleTimeoutMs?: number;
  /**
   * How long the client may read nothing while the answer waits for it before it is let go of (a
   * stopped `less`, a hung UI): it would hold its slot for ever. Default: no limit.
   */
  clientStallMs?: number;
  /**
   * A refusal (400 or more) that is not JSON (a proxy's HTML page, plain text), as the client gets it
   * instead: its status stays, and its body is `reword(status, what it said, its content type)`.
   * Absent: passed on as it came.
   */
  reword?: (status: number, said: string, contentType: string) => unknown;
  /**
   * Another node may take the request: a 429 (the node's rate limit, or its full queue) is then the
   * node's trouble, as a 503 is. Absent: a 429 is the client's answer, its Retry-After with it.
   */
  othersToTry?: boolean;
  /**
   * An endpoint (another server), not an llmlb worker: where no other node is left to try, its 502,
   * 503 or 504 is the client's answer. Default: a worker, whose are always the balancer's to handle.
   */
  endpoint?: boolean;
}

/**
 * How a try ended:
 * - `answered`: the node's answer reached the client whole;
 * - `unavailable`: the node could not be reached, or answered 5xx but 500, 401 or 404, before the client saw
 *   a byte: another node may take the request;
 * - `cut`: the node failed mid-answer; the client has part of it, and it is never replayed;
 * - `left`: the client went away, and the request at the node was aborted.
 */
export type ProxyOutcome =
  | { type: "answered"; status: number }
  /**
   * `status`: what the node answered, when it answered; `missingRoute`: its 404 said it has no such
   * route (an older llmlb's worker, an OpenAI-compatible server without it), not that a model is gone.
   */
  | {
      type: "unavailable";
      reason: string;
      status?: number;
      missingRoute?: true;
      /** What a 404 that is not a missing route said (a model the server no longer has), if it said. */
      said?: string;
      /** A 429 dropped for another node to take the request: its Retry-After, in ms, where it said one. */
      retryAfterMs?: number;
      /**
       * Not reached at all (no connection): the request never got there, and a worker's process that
       * died may come back at another address.
       */
      unreachable?: true;
    }
  | { type: "cut"; cause: Error }
  | { type: "left" };

/** A try in flight, which the balancer can call off when its node is lost. */
export interface PendingTry {
  /** Before the answer's head: the try ends `unavailable`; after: `cut`. */
  cancel(reason: Error): void;
  /** Milliseconds since the node last sent a byte of this answer (or since the try began). */
  silentForMs(): number;
}

export interface AnswerObserver {
  /** The answer's head goes to the sink next: from here on the request is the client's. */
  onHead(status: number, headers: IncomingHttpHeaders): void;
  /** Each chunk of the body on its way to the sink. */
  onChunk(chunk: Buffer): void;
}

/**
 * Headers of a node's answer never passed on: hop-by-hop ones are the connection's own, not the
 * answer's; cookies and CORS are llmlb's origin's, not a node's to set (an endpoint that sets a
 * cookie would set it on llmlb's origin, its dashboard's included); a request id is llmlb's own, the
 * one its log knows the request by.
 */
const notPassed = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
  "proxy-connection",
  "set-cookie",
  "clear-site-data",
  "x-request-id",
  "request-id",
  "access-control-allow-origin",
  "access-control-allow-credentials",
  "access-control-allow-headers",
  "access-control-allow-methods",
  "access-control-expose-headers",
  "access-control-max-age",
]);

/** Bytes of a refused answer read before its connection is given up instead. */
const maxDropped = 128 * 1024;
/** How much of a refusal is kept to read what it says. */
const refusalKept = 4096;

/**
 * 502, 503, 504 and the like, and a node that no longer has the model or no longer knows our token,
 * are the node's trouble: another node may do better. A 500 is the node's own answer to this request
 * (it ran it and it failed: the same request fails the same way elsewhere), passed on as it came,
 * as a proxy does by default (nginx's proxy_next_upstream).
 */
const nodesTrouble = (status: number) => (status > 500 && status < 600) || status === 401 || status === 404;

/**
 * Sends the request to a node and streams its answer into the sink chunk by chunk. Undici's
 * dispatch API rather than `request()`: no body stream, async iterator or AbortSignal per request,
 * which at the rates of a small model on a fast node were most of what the proxy itself cost.
 */
export function proxyToNode(
  dispatcher: Dispatcher,
  request: NodeRequest,
  sink: AnswerSink,
  observer: AnswerObserver,
  /** The tries in flight at this node: this one is in it until it ends. */
  pending: Set<PendingTry>,
): Promise<ProxyOutcome> {
  return new Promise((resolve) => {
    if (sink.gone) return resolve({ type: "left" });
    const { origin, path, headers, body } = request;
    const idle = request.idleTimeoutMs ?? 0;
    dispatcher.dispatch(
      { origin, path, method: "POST", headers, body, headersTimeout: idle, bodyTimeout: idle },
      new AnswerRelay(sink, observer, pending, resolve, idle, request),
    );
  });
}

/** Undici's handler for one try: passes the node's answer on to the sink, or drops it. */
class AnswerRelay implements Dispatcher.DispatchHandler, PendingTry {
  private controller: Dispatcher.DispatchController | undefined;
  private left = false;
  private cancelled: Error | undefined;
  /**
   * Waiting for the head; dropping an answer another node may do better; reading a refusal to word
   * it anew (`reword`); passing it on.
   */
  private phase: "waiting" | "refusing" | "rewording" | "passing" = "waiting";
  /** A 429 dropped: its Retry-After, in ms. */
  private retryAfterMs: number | undefined;
  /** A refusal being worded anew: its content type, and the headers that go on with it. */
  private rewording: { contentType: string; headers: IncomingHttpHeaders } | undefined;
  private status = 0;
  /** Bytes of a refused answer read so far. */
  private dropped = 0;
  /** The beginning of a refusal's body, for its error's code. */
  private refusal: Buffer[] = [];
  /** Set while the answer waits for its client to read (see `watchStall`). */
  private stallTimer: NodeJS.Timeout | undefined;
  /** When the node last sent something of this answer (`performance.now()`). */
  private heardAt = performance.now();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly sink: AnswerSink,
    private readonly observer: AnswerObserver,
    private readonly pending: Set<PendingTry>,
    private readonly resolve: (outcome: ProxyOutcome) => void,
    private readonly idleTimeoutMs: number,
    private readonly request: Pick<NodeRequest, "clientStallMs" | "reword" | "othersToTry" | "endpoint">,
  ) {
    this.unsubscribe = sink.onGone(() => this.clientGone());
    pending.add(this);
  }

  cancel(reason: Error): void {
    this.cancelled = reason;
    this.controller?.abort(reason);
  }

  silentForMs(): number {
    return performance.now() - this.heardAt;
  }

  /** A client that goes away aborts its request at the node, which frees the sequence. */
  private clientGone(): void {
    this.left = true;
    this.controller?.abort(new Error("client disconnected"));
  }

  private finished = false;

  private finish(outcome: ProxyOutcome): void {
    // Once: a refusal worded anew from its beginning ends the try before its connection is let go.
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.stallTimer);
    this.unsubscribe();
    this.pending.delete(this);
    this.resolve(outcome);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.left) controller.abort(new Error("client disconnected"));
    else if (this.cancelled) controller.abort(this.cancelled);
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    status: number,
    headers: IncomingHttpHeaders,
  ): void {
    this.heardAt = performance.now();
    if (status < 200) return; // informational: the real head follows
    this.status = status;
    const limited = status === 429 && this.request.othersToTry === true;
    // An endpoint that is the model's last node to try: its 502, 503 or 504 is the client's answer,
    // its words and Retry-After with it (another llmlb's, vLLM's "overloaded, try again in 30 s").
    const lastWord = this.request.endpoint === true && this.request.othersToTry !== true && status > 500;
    this.phase = (nodesTrouble(status) && !lastWord) || limited ? "refusing" : "passing";
    if (limited) this.retryAfterMs = parseRetryAfter(String(headers["retry-after"] ?? ""));
    if (this.phase === "refusing") return;
    const contentType = String(headers["content-type"] ?? "");
    if (status >= 400 && this.request.reword && !/json|event-stream/i.test(contentType)) {
      this.phase = "rewording";
      const retryAfter = headers["retry-after"];
      this.rewording = {
        contentType,
        headers: retryAfter === undefined ? {} : { "retry-after": retryAfter },
      };
      return;
    }
    this.observer.onHead(status, headers);
    const passed: IncomingHttpHeaders = {};
    for (const name in headers) {
      const value = headers[name];
      if (value !== undefined && !notPassed.has(name)) passed[name] = value;
    }
    this.sink.head(status, passed);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.heardAt = performance.now();
    if (this.phase === "refusing" || this.phase === "rewording") {
      // As undici's dump(): a short refusal is read to its end, so the connection stays in the pool.
      if (this.dropped < refusalKept) this.refusal.push(chunk);
      this.dropped += chunk.length;
      if (this.dropped <= maxDropped) return;
      // A refusal worded anew needs no more than its beginning: its client gets it, the rest is dropped.
      if (this.phase === "rewording") this.passReworded();
      controller.abort(new Error(`answered ${this.status}`));
      return;
    }
    this.observer.onChunk(chunk);
    // A client that stops reading slows the node down; one that reads nothing for too long is let go.
    if (!this.sink.write(chunk)) {
      controller.pause();
      this.watchStall();
      this.sink.onDrain(() => {
        clearTimeout(this.stallTimer);
        controller.resume();
      });
    }
  }

  /**
   * Lets the client go once it has taken nothing for `clientStallMs`. Taken, not drained: a slow
   * reader empties the socket's buffers (megabytes on loopback) a little at a time, and goes on.
   */
  private watchStall(taken = this.sink.taken()): void {
    const { clientStallMs } = this.request;
    if (clientStallMs === undefined) return;
    clearTimeout(this.stallTimer);
    this.stallTimer = setTimeout(() => {
      const now = this.sink.taken();
      if (now > taken) this.watchStall(now);
      else this.sink.abandon();
    }, clientStallMs);
    this.stallTimer.unref();
  }

  onResponseEnd(): void {
    if (this.phase === "rewording") return this.passReworded();
    if (this.phase !== "passing") {
      const body = Buffer.concat(this.refusal);
      const missingRoute = this.status === 404 && isMissingRoute(body);
      // "Not Found" alone says nothing more than the status (a route missing, as most servers word it).
      const message = this.status === 404 && !missingRoute ? errorOfAnswer(body)?.message : undefined;
      const said = message !== undefined && !/^\s*not found\.?\s*$/i.test(message) ? message : undefined;
      return this.finish({
        type: "unavailable",
        reason: `answered ${this.status}`,
        status: this.status,
        ...(missingRoute && { missingRoute: true as const }),
        ...(said !== undefined && { said }),
        ...(this.retryAfterMs !== undefined && { retryAfterMs: this.retryAfterMs }),
      });
    }
    this.sink.end();
    this.finish({ type: "answered", status: this.status });
  }

  /** The refusal read whole, passed on in the words `reword` gives it. */
  private passReworded(): void {
    if (this.finished) return;
    const { contentType, headers } = this.rewording!;
    const kept = Buffer.concat(this.refusal).subarray(0, refusalKept);
    const type = contentType.split(";")[0]!.trim();
    // An API's error under another content type (text/plain) is one: passed on as it is, its code kept.
    const body =
      errorOfAnswer(kept) !== undefined
        ? kept
        : Buffer.from(
            JSON.stringify(this.request.reword!(this.status, plainText(kept.toString("utf8")), type)),
          );
    const head = { ...headers, "content-type": "application/json" };
    this.observer.onHead(this.status, head);
    this.sink.head(this.status, head);
    this.observer.onChunk(body);
    this.sink.write(body);
    this.sink.end();
    this.finish({ type: "answered", status: this.status });
  }

  onResponseError(_controller: Dispatcher.DispatchController, failure: Error): void {
    const error = this.explained(failure);
    if (this.left) this.finish({ type: "left" });
    else if (this.phase === "passing") this.finish({ type: "cut", cause: error });
    else if (this.phase === "refusing" || this.phase === "rewording")
      this.finish({ type: "unavailable", reason: `answered ${this.status}`, status: this.status });
    else if (error !== failure) this.finish({ type: "unavailable", reason: error.message });
    else
      this.finish({
        type: "unavailable",
        reason: `unreachable: ${error.message}`,
        ...(neverReached.has((error as { code?: string }).code ?? "") && { unreachable: true as const }),
      });
  }

  /** Undici's timeouts in words: "Headers Timeout Error" says nothing of how long was waited. */
  private explained(error: Error): Error {
    const code = (error as { code?: string }).code;
    const seconds = this.idleTimeoutMs / 1000;
    if (code === "UND_ERR_HEADERS_TIMEOUT") return new Error(`no answer within ${seconds} s`);
    if (code === "UND_ERR_BODY_TIMEOUT") return new Error(`nothing more for ${seconds} s`);
    // Undici's "other side closed": the node's process ended, or its machine dropped the connection.
    if (code === "UND_ERR_SOCKET" && this.phase === "passing")
      return new Error("its connection closed (its process ended, or its machine went away)");
    return error;
  }
}

/** What a page or a text says, on one line: its tags, scripts and styles left out, at most 300 characters. */
function plainText(said: string): string {
  const text = wordsOf(said, true);
  // A page whose only words are its title: its title, then.
  return text === "" ? wordsOf(said, false) : text;
}

function wordsOf(said: string, withoutTitle: boolean): string {
  // A page cut short may end inside a script or a style: to its end, then (linear, whatever the page).
  // Its title goes too: pages repeat it as their heading.
  const text = said
    .replace(
      withoutTitle
        ? /<(script|style|title)\b[\s\S]*?(?:<\/\1\s*>|$)/gi
        : /<(script|style)\b[\s\S]*?(?:<\/\1\s*>|$)/gi,
      " ",
    )
    .replace(/<[^>]*>/g, " ")
    .replace(/&nbsp;/g, " ")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, "&")
    .replace(/\s+/g, " ")
    .trim();
  return cutText(text, 300);
}
