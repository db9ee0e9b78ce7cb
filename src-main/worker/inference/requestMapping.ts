import { randomInt } from "node:crypto";
import type { ChatModelFunctions, GbnfJsonSchema, Token } from "node-llama-cpp";
import type {
  ChatCompletionRequest,
  CompletionRequest,
  EmbeddingRequest,
  RerankRequest,
} from "../../contract";
import { AppError } from "../../shared/errors";
import { chatHistoryFrom } from "./chatHistory";
import type {
  ChatJob,
  CompletionJob,
  EmbeddingJob,
  LogprobsAsked,
  RerankJob,
  ModelTarget,
  OutputFormat,
  SamplingOptions,
} from "./jobs";
import { grammarSchemaOf } from "./grammarSchema";

/** OpenAI's default for /v1/completions; chat completions default to the rest of the context window. */
export const DEFAULT_COMPLETION_MAX_TOKENS = 16;

type SamplingFields = Pick<
  ChatCompletionRequest,
  | "temperature"
  | "top_p"
  | "top_k"
  | "min_p"
  | "seed"
  | "frequency_penalty"
  | "presence_penalty"
  | "repeat_penalty"
>;

function unsupported(param: string, message: string): AppError {
  return new AppError("request.invalid", `${param}: ${message}`, { param });
}

/**
 * OpenAI's sampling defaults, not node-llama-cpp's: temperature 1 and no top-k/top-p/min-p cut (node-llama-cpp
 * defaults to greedy with top-k 40), no repeat penalty unless asked (LlamaChat applies one by default), and a
 * random seed when none is given (node-llama-cpp's default is the current second, so two unseeded requests
 * in the same second would sample alike).
 */
export function samplingFrom(
  request: SamplingFields,
  randomSeed: () => number = () => randomInt(2 ** 31),
): SamplingOptions {
  const penalised =
    request.frequency_penalty != null || request.presence_penalty != null || request.repeat_penalty != null;
  return {
    temperature: request.temperature ?? 1,
    topP: request.top_p ?? 1,
    topK: request.top_k ?? 0,
    minP: request.min_p ?? 0,
    seed: request.seed ?? randomSeed(),
    repeatPenalty: penalised
      ? {
          penalty: request.repeat_penalty ?? 1,
          frequencyPenalty: request.frequency_penalty ?? 0,
          presencePenalty: request.presence_penalty ?? 0,
        }
      : false,
  };
}

export function stopStrings(stop: string | string[] | null | undefined): string[] {
  if (stop == null) return [];
  // An empty stop string would end every generation at once; OpenAI ignores them too.
  return (typeof stop === "string" ? [stop] : stop).filter((text) => text.length > 0);
}

/** Most choices one request may ask for: each takes a sequence of the model's context. */
export const MAX_CHOICES = 8;

/**
 * `n`: how many answers to generate, each on its own sequence with its own seed (the request's, then
 * the next ones): answered together, or streamed side by side, each event naming its choice's index.
 */
export function choicesOf(n: number | null | undefined): number {
  const count = n ?? 1;
  if (count > MAX_CHOICES) throw unsupported("n", `at most ${MAX_CHOICES} choices per request.`);
  return count;
}

/** The job for choice `index` of several: the same, sampled from the next seed. */
export function nthChoice<Job extends { sampling: SamplingOptions }>(job: Job, index: number): Job {
  return index === 0 ? job : { ...job, sampling: { ...job.sampling, seed: job.sampling.seed + index } };
}

/**
 * Where a request's schemas are, in the words of the API its client called (a chat completion, a
 * Responses request, an Anthropic message), for the errors that name them.
 */
export interface SchemaFields {
  format: string;
  toolParameters: (index: number) => string;
}

export const chatSchemaFields: SchemaFields = {
  format: "response_format.json_schema.schema",
  toolParameters: (index) => `tools[${index}].function.parameters`,
};

function outputFormatFrom(request: ChatCompletionRequest, fields: SchemaFields): OutputFormat {
  const format = request.response_format;
  if (!format || format.type === "text") return { type: "text" };
  if (format.type === "json_object") return { type: "json" };
  const { schema, strict } = format.json_schema;
  return {
    type: "json_schema",
    schema: grammarSchemaOf(schema, { strict: strict === true, root: fields.format }),
  };
}

/**
 * OpenAI tools as node-llama-cpp functions: all of them, the one a named tool_choice names, or none
 * for "none". "required" and a named choice also make the answer a call (`forceToolCall`).
 */
function functionsFrom(request: ChatCompletionRequest, fields: SchemaFields): ChatModelFunctions | undefined {
  const tools = request.tools ?? [];
  const choice = request.tool_choice;
  // Not an answer without a call, as if no tool were asked for.
  if (tools.length === 0 && (choice === "required" || (typeof choice === "object" && choice)))
    throw unsupported("tool_choice", "it asks for a tool call, but the request gives no tools.");
  if (tools.length === 0 || choice === "none") return undefined;
  const offered =
    typeof choice === "object" && choice
      ? tools.filter((tool) => tool.function.name === choice.function.name)
      : tools;
  if (offered.length === 0 && typeof choice === "object" && choice) {
    throw unsupported("tool_choice", `no tool is named "${choice.function.name}".`);
  }
  const functions: Record<string, ChatModelFunctions[string]> = {};
  for (const tool of offered) {
    const fn = tool.function;
    // node-llama-cpp reads the JSON-schema subset it can turn into a grammar; what it cannot hold is
    // left out, as a tool's schema is not a promise (OpenAI's strict tools are not taken here).
    const root = fields.toolParameters(tools.indexOf(tool));
    const params = fn.parameters ? grammarSchemaOf(fn.parameters, { strict: false, root }) : undefined;
    functions[fn.name] = {
      ...(fn.description ? { description: fn.description } : {}),
      ...(params ? { params: params as GbnfJsonSchema } : {}),
    };
  }
  return functions;
}

/** The request's `ttl`, else the model's idle time; neither: the engine's default. */
function idleTtlOf(ttl: number | null | undefined, model: ModelTarget): { idleTtlMs?: number } {
  if (ttl != null) return { idleTtlMs: Math.round(ttl * 1000) };
  return model.idleTtlMs !== undefined ? { idleTtlMs: model.idleTtlMs } : {};
}

export function chatJobFrom(
  request: ChatCompletionRequest,
  model: ModelTarget,
  randomSeed?: () => number,
  fields: SchemaFields = chatSchemaFields,
): ChatJob {
  choicesOf(request.n);
  const format = outputFormatFrom(request, fields);
  const functions = functionsFrom(request, fields);
  const logprobs = chatLogprobsAsked(request);
  const choice = request.tool_choice;
  const forceToolCall = functions !== undefined && (choice === "required" || typeof choice === "object");
  const maxTokens = request.max_completion_tokens ?? request.max_tokens ?? undefined;
  return {
    model,
    history: chatHistoryFrom(request.messages),
    ...(functions ? { functions } : {}),
    ...(forceToolCall ? { forceToolCall } : {}),
    sampling: samplingFrom(request, randomSeed),
    ...(maxTokens !== undefined ? { maxTokens } : {}),
    stop: stopStrings(request.stop),
    format,
    overflow: request.context_overflow ?? model.overflow ?? "error",
    ...(logprobs ? { logprobs } : {}),
    ...idleTtlOf(request.ttl, model),
  };
}

/**
 * `logprobs: true`, with `top_logprobs` alternatives. Of the answer's text: a tool call has none (an
 * answer that is only a call has an empty list).
 */
function chatLogprobsAsked(request: ChatCompletionRequest): LogprobsAsked | undefined {
  const top = request.top_logprobs ?? 0;
  if (!request.logprobs) {
    if (top > 0) throw unsupported("top_logprobs", "send logprobs: true with it.");
    return undefined;
  }
  return { top };
}

export function completionJobFrom(
  request: CompletionRequest,
  model: ModelTarget,
  randomSeed?: () => number,
): CompletionJob {
  choicesOf(request.n);
  if (request.best_of != null && request.best_of !== 1)
    throw unsupported("best_of", "only one candidate per request is supported.");
  if (request.suffix) throw unsupported("suffix", "insertion (suffix) is not supported.");
  return {
    model,
    prompt: typeof request.prompt === "string" ? request.prompt : (request.prompt as Token[]),
    sampling: samplingFrom(request, randomSeed),
    maxTokens: request.max_tokens ?? DEFAULT_COMPLETION_MAX_TOKENS,
    stop: stopStrings(request.stop),
    echo: request.echo === true,
    ...(request.logprobs != null ? { logprobs: { top: request.logprobs } } : {}),
    ...idleTtlOf(request.ttl, model),
  };
}

export function embeddingJobFrom(request: EmbeddingRequest, model: ModelTarget): EmbeddingJob {
  return {
    model,
    inputs: typeof request.input === "string" ? [request.input] : request.input,
    ...(request.dimensions != null ? { dimensions: request.dimensions } : {}),
    ...idleTtlOf(request.ttl, model),
  };
}

export function rerankJobFrom(request: RerankRequest, model: ModelTarget): RerankJob {
  return {
    model,
    query: request.query,
    documents: request.documents.map((document) => (typeof document === "string" ? document : document.text)),
    ...idleTtlOf(request.ttl, model),
  };
}
