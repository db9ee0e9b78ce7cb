import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import {
  anthropicCountTokensRequestSchema,
  anthropicMessagesRequestSchema,
  chatCompletionRequestSchema,
  clientPathHeader,
  completionRequestSchema,
  embeddingRequestSchema,
  rerankRequestSchema,
  truncatedMessagesHeader,
  modelWaitHeader,
} from "../../contract";
import { anthropicErrorOf, AppError, toHttpError } from "../../shared/errors";
import { toAppError } from "../../shared/httpErrors";
import type { InferenceEngine } from "../inference/engine";
import type { GenerationHooks, GenerationResult, ModelTarget } from "../inference/jobs";
import {
  anthropicChunker,
  anthropicMessageBody,
  anthropicSchemaFields,
  chatRequestOfMessages,
  refuseThread,
} from "../inference/anthropic";
import { parseBody } from "../../shared/parseBody";
import {
  chatJobFrom,
  choicesOf,
  completionJobFrom,
  embeddingJobFrom,
  nthChoice,
  rerankJobFrom,
  type SchemaFields,
} from "../inference/requestMapping";

/** A Responses request's schemas, named as its client sent them (run here as a chat completion). */
const responsesSchemaFields: SchemaFields = {
  format: "text.format.schema",
  toolParameters: (index) => `tools[${index}].parameters`,
};
import {
  chatChunker,
  chatCompletionBody,
  completionBody,
  severalChoices,
  completionChunker,
  embeddingsBody,
  rerankBody,
  responseMeta,
  usageOf,
  usageOfChoices,
  type StreamChunker,
} from "../inference/responses";
import { openSse, type SseStyle, type SseWriter } from "../inference/sse";
import { nodeProtocol } from "../../contract";

/** How long a whole answer waited for its model, for the control plane's measure of this node's speed. */
function sayModelWait(reply: FastifyReply, results: GenerationResult[]): void {
  const waited = Math.max(...results.map((result) => result.modelWaitMs ?? 0));
  if (waited > 0) void reply.header(modelWaitHeader, String(waited));
}
export interface InferenceRoutesOptions {
  engine: InferenceEngine;
  /**
   * The GGUF and settings of a model this node has ready; undefined for any other id. It may look
   * (the file is still there) and throw an AppError that says why it cannot serve it now.
   */
  resolveModel(
    modelId: string,
  ): Omit<ModelTarget, "id"> | undefined | Promise<Omit<ModelTarget, "id"> | undefined>;
  /** A request for a model starts (it may load it); the answer is called when it ends. Default: none. */
  /**
   * A request for (or a load of) the model starts; call the answer when it ends (`served: false`: it
   * proved nothing of the model, as a load that decoded nothing).
   */
  onModelInUse?(modelId: string): (options?: { served?: boolean }) => void;
  /**
   * What the node holds in memory changed on the control plane's word (a load, an unload): resolves
   * once the control plane has been told, so that its answer and its listings agree. Default: nothing.
   */
  onMemoryChanged?(): Promise<void>;
}

/** Long prompts and many-message chats are bigger than management bodies. */
const BODY_LIMIT = 64 * 1024 * 1024;

class ClientGoneError extends Error {
  constructor() {
    super("The client closed the connection.");
    this.name = "ClientGoneError";
  }
}

/**
 * A signal that aborts when the client goes away. The response's close is the one to watch:
 * `request.raw` closes as soon as the body has been read (Node >= 16), long before a client could leave.
 */
function clientSignal(reply: FastifyReply): { signal: AbortSignal; release(): void } {
  const controller = new AbortController();
  const onClose = () => {
    if (!reply.raw.writableFinished) controller.abort(new ClientGoneError());
  };
  reply.raw.once("close", onClose);
  return { signal: controller.signal, release: () => reply.raw.off("close", onClose) };
}

function clientLeft(signal: AbortSignal): boolean {
  return signal.aborted && signal.reason instanceof ClientGoneError;
}

/** Nothing can reach a client that left; the handler only stops Fastify from trying. */
function dropReply(reply: FastifyReply): void {
  if (!reply.sent) reply.hijack();
  if (!reply.raw.writableEnded && !reply.raw.destroyed) reply.raw.end();
}

async function answerOnce<T>(
  reply: FastifyReply,
  run: (signal: AbortSignal) => Promise<T>,
): Promise<T | undefined> {
  const { signal, release } = clientSignal(reply);
  try {
    return await run(signal);
  } catch (error) {
    if (!clientLeft(signal)) throw error;
    dropReply(reply);
    return undefined;
  } finally {
    release();
  }
}

/** `count` answers to one request (`n`), generated at once, each from its own seed (`nthChoice`). */
function answerChoices<Job extends Parameters<typeof nthChoice>[0], Result>(
  reply: FastifyReply,
  count: number,
  job: Job,
  run: (job: Job, signal: AbortSignal) => Promise<Result>,
): Promise<Result[] | undefined> {
  return answerOnce(reply, (signal) =>
    Promise.all(Array.from({ length: count }, (_, index) => run(nthChoice(job, index), signal))),
  );
}

/**
 * Streams generations as server-sent events: one, or a request's `n` choices side by side, each
 * through its own chunker (whose events name its index). The stream opens only once the engine starts
 * generating, so an error found before that (unknown model, prompt too long, load failure) is still a
 * plain HTTP error; one after it is sent as an `{error}` event, and stops the other choices.
 */
async function streamGeneration<Chunk>(
  request: FastifyRequest,
  reply: FastifyReply,
  chunkers: StreamChunker<Chunk>[],
  run: (choice: number, hooks: GenerationHooks) => Promise<GenerationResult>,
  style: SseStyle = "openai",
): Promise<void> {
  const client = clientSignal(reply);
  // One choice failing ends them all: the stream ends with its error.
  const siblingFailed = new AbortController();
  const signal = AbortSignal.any([client.signal, siblingFailed.signal]);
  let sse: SseWriter | undefined;
  let headers: Record<string, string> = {};
  const open = (): SseWriter => {
    if (sse) return sse;
    reply.hijack();
    sse = openSse(reply.raw, headers, style);
    return sse;
  };
  try {
    const results = await Promise.all(
      chunkers.map(async (chunker, choice) => {
        let started = false;
        /** The choice's first events, once its prompt is counted (or with its first text). */
        const begin = (info: { promptTokens: number; echoed?: string }) => {
          const writer = open();
          if (!started) for (const chunk of chunker.start(info)) writer.send(chunk);
          started = true;
          return writer;
        };
        try {
          const result = await run(choice, {
            signal,
            onStart: ({ truncatedMessages, ...info }) => {
              // Never silently: the answer says how much of the conversation it left out.
              if (truncatedMessages > 0 && !sse)
                headers = { [truncatedMessagesHeader]: String(truncatedMessages) };
              begin(info);
            },
            onText: (piece) => {
              for (const chunk of chunker.text(piece)) begin({ promptTokens: 0 }).send(chunk);
            },
          });
          const writer = begin(result);
          for (const chunk of chunker.finish(result)) writer.send(chunk);
          return result;
        } catch (error) {
          siblingFailed.abort(error);
          throw error;
        }
      }),
    );
    const writer = open();
    if (chunkers.length > 1)
      for (const chunk of chunkers[0]!.usage?.(usageOfChoices(results.map(usageOf))) ?? [])
        writer.send(chunk);
    writer.done();
  } catch (error) {
    if (clientLeft(client.signal)) return dropReply(reply);
    if (!sse) throw error;
    const http = toHttpError(toAppError(error));
    if (http.status >= 500) request.log.error({ err: error }, "generation failed mid-stream");
    sse.fail(style === "anthropic" ? anthropicErrorOf(http) : http.body);
  } finally {
    client.release();
  }
}

/** POST /v1/chat/completions, /v1/completions and /v1/embeddings, answered by this node's engine. */
export function registerInferenceRoutes(app: FastifyInstance, options: InferenceRoutesOptions): void {
  const { engine } = options;
  const inUse = async <T>(modelId: string, work: () => Promise<T>): Promise<T> => {
    const release = options.onModelInUse?.(modelId);
    try {
      return await work();
    } finally {
      release?.();
    }
  };
  const targetOf = async (modelId: string): Promise<ModelTarget> => {
    const found = await options.resolveModel(modelId);
    if (!found) {
      const message = `The model "${modelId}" does not exist or is not ready on this node.`;
      throw new AppError("model.not_found", message, { param: "model" });
    }
    return { ...found, id: modelId };
  };

  // The control plane's load and unload (`llmlb model load|unload`): the node server lets only it in.
  const { load, unload } = nodeProtocol;
  app.route({
    method: load.method,
    url: load.path,
    handler: async (request, reply) => {
      const { model, ttl } = load.request.parse(request.body ?? {});
      const { signal, release } = clientSignal(reply);
      // A load that kills this process counts against the model, as a request's would; one that
      // loads proves nothing of its decoding, so the model is not taken as one that has served.
      const done = options.onModelInUse?.(model);
      try {
        const found = await options.resolveModel(model);
        if (!found) return load.response.parse({ outcome: "not_ready" });
        await engine.load(
          { ...found, id: model, ...(ttl !== undefined && { idleTtlMs: ttl * 1000 }) },
          signal,
        );
        await options.onMemoryChanged?.();
        return load.response.parse({ outcome: "loaded" });
      } catch (error) {
        const failure = toAppError(error);
        request.log.warn({ err: error, model }, "a load asked for failed");
        return load.response.parse({ outcome: "failed", message: failure.message.slice(0, 2000) });
      } finally {
        done?.({ served: false });
        release();
      }
    },
  });
  app.route({
    method: unload.method,
    url: unload.path,
    handler: async (request) => {
      const { model } = unload.request.parse(request.body ?? {});
      const outcome = await engine.unloadModel(model);
      // Gone, or going once its requests end: either way the listings say so at once.
      if (outcome !== "not_loaded") await options.onMemoryChanged?.();
      return unload.response.parse({ outcome });
    },
  });

  app.post("/v1/chat/completions", { bodyLimit: BODY_LIMIT }, async (request, reply) => {
    const body = parseBody(chatCompletionRequestSchema, request.body);
    // A Responses request the control plane runs as a chat completion: its errors name its fields.
    const responses = request.headers[clientPathHeader] === "/v1/responses";
    const job = {
      ...chatJobFrom(
        body,
        await targetOf(body.model),
        undefined,
        responses ? responsesSchemaFields : undefined,
      ),
      ...(responses && { api: "responses" as const }),
    };
    const meta = responseMeta("chatcmpl", body.model);
    return inUse(body.model, async () => {
      const count = choicesOf(body.n);
      if (body.stream) {
        const includeUsage = body.stream_options?.include_usage === true;
        const chunkers = Array.from({ length: count }, (_, index) =>
          chatChunker(meta, includeUsage, { index, of: count }, job.functions !== undefined),
        );
        return streamGeneration(request, reply, chunkers, (choice, hooks) =>
          engine.chat(nthChoice(job, choice), hooks),
        );
      }
      const results = await answerChoices(reply, count, job, (each, signal) => engine.chat(each, { signal }));
      if (!results) return undefined;
      if (results[0]!.truncatedMessages > 0)
        reply.header(truncatedMessagesHeader, String(results[0]!.truncatedMessages));
      sayModelWait(reply, results);
      return severalChoices(results.map((result) => chatCompletionBody(meta, result)));
    });
  });

  app.post("/v1/completions", { bodyLimit: BODY_LIMIT }, async (request, reply) => {
    const body = parseBody(completionRequestSchema, request.body);
    const job = completionJobFrom(body, await targetOf(body.model));
    const meta = responseMeta("cmpl", body.model);
    return inUse(body.model, async () => {
      const count = choicesOf(body.n);
      if (body.stream) {
        const includeUsage = body.stream_options?.include_usage === true;
        const chunkers = Array.from({ length: count }, (_, index) =>
          completionChunker(meta, includeUsage, { index, of: count }),
        );
        return streamGeneration(request, reply, chunkers, (choice, hooks) =>
          engine.complete(nthChoice(job, choice), hooks),
        );
      }
      const results = await answerChoices(reply, count, job, (each, signal) =>
        engine.complete(each, { signal }),
      );
      if (results) sayModelWait(reply, results);
      return results && severalChoices(results.map((result) => completionBody(meta, result)));
    });
  });

  // Anthropic's Messages API on the same engine: the request read as a chat completion, the answer
  // and its stream in Anthropic's shapes (errors too: see the error handler).
  app.post("/v1/messages", { bodyLimit: BODY_LIMIT }, async (request, reply) => {
    refuseThread(request.body);
    const body = parseBody(anthropicMessagesRequestSchema, request.body);
    const job = {
      ...chatJobFrom(
        chatRequestOfMessages(body),
        await targetOf(body.model),
        undefined,
        anthropicSchemaFields(body),
      ),
      api: "anthropic" as const,
    };
    return inUse(body.model, async () => {
      if (body.stream) {
        const chunker = anthropicChunker(body.model);
        return streamGeneration(
          request,
          reply,
          [chunker],
          (_, hooks) => engine.chat(job, hooks),
          "anthropic",
        );
      }
      const result = await answerOnce(reply, (signal) => engine.chat(job, { signal }));
      return result && anthropicMessageBody(body.model, result);
    });
  });

  app.post("/v1/messages/count_tokens", { bodyLimit: BODY_LIMIT }, async (request, reply) => {
    refuseThread(request.body);
    const body = parseBody(anthropicCountTokensRequestSchema, request.body);
    const job = chatJobFrom(
      chatRequestOfMessages(body),
      await targetOf(body.model),
      undefined,
      anthropicSchemaFields(body),
    );
    return inUse(body.model, async () => {
      const tokens = await answerOnce(reply, (signal) => engine.countChatTokens(job, signal));
      return tokens === undefined ? undefined : { input_tokens: tokens };
    });
  });

  app.post("/v1/embeddings", { bodyLimit: BODY_LIMIT }, async (request, reply) => {
    const body = parseBody(embeddingRequestSchema, request.body);
    const job = embeddingJobFrom(body, await targetOf(body.model));
    return inUse(body.model, async () => {
      const result = await answerOnce(reply, (signal) => engine.embed(job, signal));
      return result && embeddingsBody(body.model, result, body.encoding_format ?? "float");
    });
  });

  // Rerank, under both names clients use for it (llama-server serves both).
  for (const path of ["/v1/rerank", "/v1/reranking"]) {
    app.post(path, { bodyLimit: BODY_LIMIT }, async (request, reply) => {
      const body = parseBody(rerankRequestSchema, request.body);
      const job = rerankJobFrom(body, await targetOf(body.model));
      return inUse(body.model, async () => {
        const result = await answerOnce(reply, (signal) => engine.rerank(job, signal));
        return result && rerankBody(body, result);
      });
    });
  }
}
