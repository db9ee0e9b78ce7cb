import type { GbnfJsonSchema, Llama, LlamaGrammar } from "node-llama-cpp";
import { AppError } from "../../core/errors";
import type { OutputFormat } from "./jobs";

/** Clients send the same few schemas again and again; a grammar takes a few ms to build. */
const MAX_CACHED_SCHEMAS = 32;

export interface GrammarCache {
  /** The grammar that constrains output to `format`; undefined for plain text. */
  grammarFor(format: OutputFormat): Promise<LlamaGrammar | undefined>;
}

export function createGrammarCache(llama: Llama): GrammarCache {
  let json: Promise<LlamaGrammar> | undefined;
  const bySchema = new Map<string, Promise<LlamaGrammar>>();

  const schemaGrammar = (schema: Record<string, unknown>): Promise<LlamaGrammar> => {
    const key = JSON.stringify(schema);
    const cached = bySchema.get(key);
    if (cached) {
      // Re-insert: the map's order is the eviction order.
      bySchema.delete(key);
      bySchema.set(key, cached);
      return cached;
    }
    // node-llama-cpp supports a subset of JSON schema; what it cannot turn into a grammar is the client's error.
    const grammar = llama
      .createGrammarForJsonSchema<GbnfJsonSchema>(schema as GbnfJsonSchema)
      .catch((error: unknown) => {
        bySchema.delete(key);
        throw new AppError(
          "request.invalid",
          `response_format.json_schema.schema: ${error instanceof Error ? error.message : String(error)}`,
          { param: "response_format.json_schema.schema", cause: error },
        );
      });
    bySchema.set(key, grammar);
    for (const oldest of bySchema.keys()) {
      if (bySchema.size <= MAX_CACHED_SCHEMAS) break;
      bySchema.delete(oldest);
    }
    return grammar;
  };

  return {
    async grammarFor(format) {
      if (format.type === "text") return undefined;
      if (format.type === "json") return (json ??= llama.getGrammarFor("json"));
      return schemaGrammar(format.schema);
    },
  };
}
