import { request } from "undici";
import {
  instanceHeader,
  upstreamModelListSchema,
  upstreamModelSchema,
  upstreamModelsKept,
  viaHeader,
} from "../../contract";
import { cutText } from "../../shared/cutText";
import { AppError } from "../../shared/errors";

export interface ProbeOptions {
  /** The endpoint's normalized base URL (ending in `/v1`). */
  url: string;
  /** Sent as `Authorization: Bearer …`. Default: none. */
  apiKey?: string | null;
  /** How long the whole exchange may take. */
  timeoutMs: number;
  /** Aborts the probe (the endpoint was removed, the app is quitting). Default: none. */
  signal?: AbortSignal;
  /**
   * This llmlb's instance id: a server answering with it is this llmlb itself. Sent as `viaHeader`, so
   * another llmlb leaves out what it serves only through this one. Default: none.
   */
  selfInstance?: string;
}

/** What a server answered: its models' ids, and its instance id when it is another llmlb. */
export interface ProbeAnswer {
  models: string[];
  instance: string | null;
  /**
   * Entries of the list that are no model id (an empty or overlong id, no id at all) or past the
   * most read: how many, and the first, in short. Absent when none.
   */
  leftOut?: { count: number; first: string };
}

/** Larger model lists than this are not a model list. */
const maxAnswerBytes = 8 * 1024 * 1024;

function reasonOf(error: unknown): string {
  const failure = error as { code?: string; message?: string; cause?: { code?: string } };
  const code = failure.code ?? failure.cause?.code;
  if (code === "ECONNREFUSED") return "connection refused";
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return "host not found";
  if (code === "ECONNRESET" || code === "UND_ERR_SOCKET") return "connection reset";
  if (code === "CERT_HAS_EXPIRED" || code?.includes("CERT") || code?.includes("SELF_SIGNED")) {
    return `TLS certificate not accepted (${code})`;
  }
  return failure.message ?? String(error);
}

async function readCapped(body: AsyncIterable<Buffer> & { destroy(): unknown }): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > maxAnswerBytes) {
      body.destroy();
      return undefined;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * Asks an OpenAI-compatible server for its models (`GET <url>/models`) once; resolves with their ids.
 * Another llmlb told by `viaHeader` who asks lists as not ready what only the asker serves it.
 * Fails with `endpoint.unreachable` (no answer in time, refused, 5xx), `endpoint.unauthorized` (401,
 * 403) or `endpoint.invalid_response` (anything that is not an OpenAI model list).
 */
export async function probeEndpoint(options: ProbeOptions): Promise<ProbeAnswer> {
  const { url, timeoutMs } = options;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  const where = `${url}/models`;
  try {
    const answer = await request(where, {
      method: "GET",
      headers: {
        accept: "application/json",
        ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}),
        ...(options.selfInstance ? { [viaHeader]: options.selfInstance } : {}),
      },
      signal,
    });
    const status = answer.statusCode;
    if (options.selfInstance && answer.headers[instanceHeader] === options.selfInstance) {
      await answer.body.dump().catch(() => {});
      throw new AppError(
        "endpoint.is_self",
        `${url} is this llmlb itself: its requests would come back here. Add other servers.`,
        { param: "url" },
      );
    }
    if (status < 200 || status >= 300) {
      await answer.body.dump().catch(() => {});
      if (status === 401 || status === 403) {
        throw new AppError(
          "endpoint.unauthorized",
          options.apiKey
            ? `${url} refused the API key (HTTP ${status}).`
            : `${url} needs an API key (HTTP ${status}): give it as api_key (\`--api-key\` on the command line).`,
          { param: "api_key" },
        );
      }
      if (status >= 500) {
        throw new AppError("endpoint.unreachable", `${where} answered HTTP ${status}.`, { param: "url" });
      }
      throw new AppError(
        "endpoint.invalid_response",
        `${where} answered HTTP ${status}: is ${url} the base URL of an OpenAI-compatible server?`,
        { param: "url" },
      );
    }
    const text = await readCapped(answer.body);
    let list;
    try {
      list = text === undefined ? undefined : upstreamModelListSchema.safeParse(JSON.parse(text));
    } catch {
      list = undefined;
    }
    if (!list?.success) {
      throw new AppError(
        "endpoint.invalid_response",
        `${where} did not answer with an OpenAI model list ({"data": [{"id": …}]}): is ${url} an OpenAI-compatible server?`,
        { param: "url" },
      );
    }
    const instance = answer.headers[instanceHeader];
    const models = new Set<string>();
    let leftOut: ProbeAnswer["leftOut"];
    for (const entry of list.data.data) {
      const model = upstreamModelSchema.safeParse(entry);
      if (model.success && models.size < upstreamModelsKept) {
        if (model.data.ready !== false) models.add(model.data.id);
        continue;
      }
      leftOut ??= { count: 0, first: cutText(JSON.stringify(entry) ?? String(entry), 120) };
      leftOut.count++;
    }
    return {
      models: [...models],
      instance: typeof instance === "string" ? instance : null,
      ...(leftOut && { leftOut }),
    };
  } catch (error) {
    if (error instanceof AppError) throw error;
    // Aborted from outside: the caller asked for it, and knows why.
    if (options.signal?.aborted) throw error;
    const reason = timeout.aborted ? `no answer within ${timeoutMs / 1000} s` : reasonOf(error);
    throw new AppError("endpoint.unreachable", `Cannot reach ${url}: ${reason}.`, {
      param: "url",
      cause: error,
    });
  }
}
