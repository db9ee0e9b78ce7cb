import { z } from "zod";
import { errorBodySchema } from "../contract";
import { readAdminToken, readServerInfo, type ServerInfo } from "../core/dataDir";
import { isLoopbackHost } from "../shared/httpGuards";
import { packageVersion } from "../shared/packageVersion";

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
    /** The server's code, where the server refused (`registry.not_found`, …). */
    readonly code?: string | null,
  ) {
    super(message);
  }
}

export interface ApiClientOptions {
  /** Server base URL. Default: the one the running server wrote into the data directory. */
  url?: string;
  /** Admin token. Default: the data directory's admin-token file. */
  token?: string;
  /** Where `token` came from, for the message when the server refuses it (`--token`, LLMLB_ADMIN_TOKEN). */
  tokenSource?: string;
  dataDir: string;
  /** How long one request may take before the command gives up. Default: 60 s. */
  timeoutMs?: number;
}

export interface ApiClient {
  readonly url: string;
  readonly dataDir: string;
  /** The data directory's `server.json` entry when it describes the server at `url`; undefined otherwise. */
  readonly server?: ServerInfo;
  /** How long one request may take; what a command that waits on the server takes as its bound too. */
  readonly timeoutMs: number;
  /** The admin token sent (given, configured, or the data directory's for its own server). */
  readonly token: string | undefined;
  /**
   * The answer, read as `schema` (fields an older server leaves out take their defaults; an answer it
   * does not fit is refused in words). `timeoutMs`: this request's bound, where it may take longer
   * than others (a model's load).
   */
  request<S extends z.ZodType>(
    schema: S,
    method: string,
    path: string,
    body?: unknown,
    options?: { timeoutMs?: number },
  ): Promise<z.output<S>>;
  /**
   * A request whose answer is read as it comes (a stream of events, a streamed completion): the
   * response once the server has accepted it. Only the wait for its headers is bounded, by the
   * timeout or `timeoutMs`; `signal` stops it at any time.
   */
  open(
    method: string,
    path: string,
    body: unknown,
    signal: AbortSignal,
    options?: { timeoutMs?: number },
  ): Promise<Response>;
}

/** `localhost:8080` parses as a URL too (of the scheme "localhost:"): only http and https reach a server. */
function isHttpUrl(text: string): boolean {
  const parsed = URL.parse(text);
  return parsed !== null && (parsed.protocol === "http:" || parsed.protocol === "https:");
}

/**
 * Whether two URLs reach the same server: the same scheme, port and host, case and the default port
 * aside, loopback names taken as one (`llmlb serve` on 127.0.0.1 is reached as localhost too).
 */
function sameServer(a: string, b: string): boolean {
  const [one, two] = [URL.parse(a), URL.parse(b)];
  if (!one || !two || one.protocol !== two.protocol || one.port !== two.port) return false;
  // URL keeps an IPv6 host in brackets.
  const loopback = (url: URL) => isLoopbackHost(url.hostname.replace(/^\[(.*)\]$/, "$1"));
  return one.hostname === two.hostname || (loopback(one) && loopback(two));
}

export function createApiClient(options: ApiClientOptions): ApiClient {
  if (options.url !== undefined && !isHttpUrl(options.url)) {
    throw new CliError(
      `--url ${JSON.stringify(options.url)} is not an http(s) address: give the server's, like http://127.0.0.1:8080.`,
    );
  }
  // The URL the server prints for OpenAI clients ends in /v1: the management API is beside it.
  const baseOf = (text: string) => text.replace(/\/+$/, "").replace(/\/v1$/, "");
  const listed = readServerInfo(options.dataDir);
  const url = options.url !== undefined ? baseOf(options.url) : listed && baseOf(listed.url);
  if (!url) {
    throw new CliError(
      `No running llmlb server found for data directory ${options.dataDir}: start one with \`llmlb serve\`; or, for one started with another data directory, give the same --data-dir (or LLMLB_DATA_DIR), or pass --url.`,
    );
  }
  const listedUrl = listed && baseOf(listed.url);
  // The data directory's token is its own server's: another server named by --url (another machine's,
  // or anything listening on a port) is not sent it; a token given or configured goes where told.
  const ownServer = listedUrl !== undefined && sameServer(listedUrl, url);
  const token = options.token ?? (ownServer ? readAdminToken(options.dataDir) : undefined);
  const tokenSource =
    options.token !== undefined
      ? (options.tokenSource ?? "--token")
      : token !== undefined
        ? `the admin token of data directory ${options.dataDir}`
        : ownServer
          ? `no token: data directory ${options.dataDir} has none; a server started with LLMLB_ADMIN_TOKEN takes that token, given here with --token or LLMLB_ADMIN_TOKEN`
          : `no token: the admin token of data directory ${options.dataDir} goes only to the server it lists${listedUrl ? ` (${listedUrl})` : ""}; give ${url}'s with --token`;
  const timeoutMs = options.timeoutMs ?? 60_000;
  return {
    url,
    dataDir: options.dataDir,
    server: ownServer ? listed : undefined,
    timeoutMs,
    token,
    async request(schema, method, requestPath, body, { timeoutMs: bound = timeoutMs } = {}) {
      const response = await send(method, requestPath, body, AbortSignal.timeout(bound), bound);
      if (response.status === 204) return readAnswer(schema, undefined, method, requestPath);
      let text: string;
      try {
        text = await response.text();
      } catch {
        throw new CliError(
          `The llmlb server at ${url} stopped answering midway (within ${bound / 1000} s: --timeout sets how long to wait).`,
        );
      }
      let json: unknown;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = undefined;
        if (response.ok) {
          throw new CliError(
            `The server at ${url} answered ${response.status} with something that is not JSON: is it an llmlb server?`,
          );
        }
      }
      if (!response.ok) throw refusal(response.status, json, method, requestPath);
      return readAnswer(schema, json, method, requestPath);
    },
    async open(method, requestPath, body, signal, { timeoutMs: bound = timeoutMs } = {}) {
      const headersDue = new AbortController();
      const timer = setTimeout(() => headersDue.abort(new DOMException("", "TimeoutError")), bound);
      let response: Response;
      try {
        response = await send(method, requestPath, body, AbortSignal.any([signal, headersDue.signal]), bound);
      } finally {
        clearTimeout(timer);
      }
      if (response.ok && response.body) return response;
      const json: unknown = await response.json().catch(() => undefined);
      throw refusal(response.status, json, method, requestPath);
    },
  };

  /** `boundMs`: the bound `signal` holds, for the message when it runs out. */
  async function send(
    method: string,
    requestPath: string,
    body: unknown,
    signal: AbortSignal,
    boundMs: number,
  ) {
    const fetchFor = boundMs > fetchHeadsWithinMs ? await patientFetch() : fetch;
    try {
      return await fetchFor(url + requestPath, {
        method,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
        signal,
      });
    } catch (error) {
      // Stopped by the caller: theirs to tell.
      if ((error as Error).name === "AbortError") throw error;
      if ((error as Error).name === "TimeoutError") {
        throw new CliError(
          `The llmlb server at ${url} did not answer within ${boundMs / 1000} s: it may be stopped or overloaded (--timeout sets how long to wait).`,
        );
      }
      throw new CliError(`Cannot reach the llmlb server at ${url}: is \`llmlb serve\` running?`);
    }
  }

  /** An answer as `schema` reads it; one it does not fit comes from another llmlb (or not one). */
  function readAnswer<S extends z.ZodType>(
    schema: S,
    json: unknown,
    method: string,
    requestPath: string,
  ): z.output<S> {
    const read = schema.safeParse(json);
    if (read.success) {
      if (typeof read.data === "object" && read.data !== null) sentJson.set(read.data, json);
      return read.data;
    }
    // A value this CLI does not know (a state a newer llmlb added) is shown as it came; only what is
    // missing, or of another kind, cannot be shown.
    const unknownValuesOnly = read.error.issues.every(
      (issue) =>
        issue.code === "invalid_value" ||
        // A union's kind it does not know (a `state` a newer llmlb added), not a known kind missing a field.
        (issue.code === "invalid_union" && issue.discriminator !== undefined && issue.errors.length === 0),
    );
    if (unknownValuesOnly) return json as z.output<S>;
    const issue = read.error.issues[0];
    const what = issue ? `${issue.path.join(".") || "the answer"} ${issue.message}` : "its answer";
    throw new CliError(
      `The server at ${url} answered ${method} ${requestPath.split("?")[0]} in a shape this CLI (llmlb ${packageVersion()}) does not read (${what}): it is likely another llmlb version. Restart it with this llmlb (\`llmlb quit\`, then \`llmlb serve\`), or use the CLI that came with it.`,
    );
  }

  /** The server's refusal, in its own words. */
  function refusal(status: number, json: unknown, method: string, requestPath: string): CliError {
    const parsed = errorBodySchema.safeParse(json);
    // A route it lacks (in llmlb's words, or Fastify's own in an llmlb older than those).
    const routeMessage = parsed.success
      ? parsed.data.error.code === "request.not_found" && parsed.data.error.message
      : (json as { message?: unknown } | undefined)?.message;
    if (status === 404 && typeof routeMessage === "string" && routeMessage.startsWith("Route ")) {
      return new CliError(
        `The server at ${url} has no ${method} ${requestPath.split("?")[0]}: it is likely an llmlb older than this CLI (${packageVersion()}). Restart it with this llmlb (\`llmlb quit\`, then \`llmlb serve\`), or use the CLI that came with it.`,
      );
    }
    if (!parsed.success) {
      return new CliError(
        `The server at ${url} answered ${status} to ${method} ${requestPath}: is it an llmlb server?`,
      );
    }
    const { message, code } = parsed.data.error;
    // Which token was refused, so a CLI pointed at another server's URL knows what to give. Only
    // for the admin token: a 401 the hub gave (hub.unauthorized) is about the Hugging Face token.
    if (status === 401 && code?.startsWith("auth."))
      return new CliError(`${message} (the CLI sent ${tokenSource}.)`, 1, code);
    return new CliError(message, 1, code);
  }
}

/** Node's fetch gives up on an answer's head after 5 minutes, whatever the request's signal says. */
const fetchHeadsWithinMs = 290_000;

let patient: Promise<typeof fetch> | undefined;

/**
 * A fetch bounded by its signal alone, for waits meant to be longer than Node's (a model's load, a
 * reply that begins once its model has loaded): through an undici agent without timeouts of its own.
 * Loaded only then: undici costs a client command's start some 60 ms.
 */
function patientFetch(): Promise<typeof fetch> {
  patient ??= import("undici").then(({ fetch: undiciFetch, Agent }) => {
    const agent = new Agent({ headersTimeout: 0, bodyTimeout: 0 });
    return ((input: string, init?: RequestInit) =>
      undiciFetch(input, { ...(init as object), dispatcher: agent })) as unknown as typeof fetch;
  });
  return patient;
}

/** The JSON the server sent, by the answer read from it. */
const sentJson = new WeakMap<object, unknown>();

/**
 * The JSON the server sent for `answer` (a value `request` gave): what `--json` prints, fields this
 * CLI does not read included, none added.
 */
export function serverJson(answer: unknown): unknown {
  return typeof answer === "object" && answer !== null && sentJson.has(answer)
    ? sentJson.get(answer)
    : answer;
}

/** For a request whose answer says nothing the command reads (a deletion's). */
export const noAnswer = z.unknown();

export function encodeModelId(id: string): string {
  return encodeURIComponent(id);
}
