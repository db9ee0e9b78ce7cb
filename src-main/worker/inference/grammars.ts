import type { GbnfJsonSchema, Llama, LlamaGrammar } from "node-llama-cpp";
import { AppError } from "../../shared/errors";
import type { OutputFormat } from "./jobs";

/** Clients send the same few schemas again and again; a grammar takes a few ms to build. */
const MAX_CACHED_SCHEMAS = 32;

/**
 * node-llama-cpp's rules for JSON numbers (3.21) let an integer take an exponent and any number one of
 * up to 16 digits: sampled, a model wrote `1969E+86739` for an integer and `99e-3758144` for a number,
 * which JSON parsers read as Infinity or 0 and OpenAI's SDK `parse()` (pydantic) refuses. An integer
 * is at most 15 digits here, so a safe integer (what zod's `int()` and JavaScript take; 16 digits may
 * be past 2^53), and an exponent has at most two digits, so every number fits a double.
 */
const numberRules: readonly [rule: string, replacement: string][] = [
  [
    'integer-number-rule ::= "-"? ("0" | [1-9] [0-9]{0,15}) ([eE] [-+]? ("0" | [1-9] [0-9]{0,15}))?',
    'integer-number-rule ::= "-"? ("0" | [1-9] [0-9]{0,14})',
  ],
  [
    'fractional-number-rule ::= "-"? ("0" | [1-9] [0-9]{0,15}) ("." [0-9]{1,16})? ([eE] [-+]? ("0" | [1-9] [0-9]{0,15}))?',
    'fractional-number-rule ::= "-"? ("0" | [1-9] [0-9]{0,15}) ("." [0-9]{1,16})? ([eE] [-+]? [0-9]{1,2})?',
  ],
];

/** The schema's grammar with integers as digits and exponents bounded; as it was should its rules differ. */
async function withFiniteNumbers(llama: Llama, grammar: LlamaGrammar): Promise<LlamaGrammar> {
  let text = grammar.grammar;
  for (const [rule, replacement] of numberRules) text = text.replace(rule, replacement);
  if (text === grammar.grammar) return grammar;
  // What node-llama-cpp's JSON schema grammar sets besides its rules.
  return llama.createGrammar({
    grammar: text,
    stopGenerationTriggers: ["\n".repeat(4)],
    trimWhitespaceSuffix: true,
  });
}

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
      .then((made) => withFiniteNumbers(llama, made))
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
