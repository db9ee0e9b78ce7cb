import { AppError } from "../../shared/errors";

/**
 * A client's JSON schema brought to the subset node-llama-cpp turns into a grammar. Some of what it
 * lacks has a like it has: `anyOf` is generated as `oneOf` (node-llama-cpp would answer null for it),
 * `definitions` as `$defs`, a one-item `allOf` as its item, and a list of types that holds object or
 * array as a `oneOf` of each. The rest (`pattern`, `minimum`, …) cannot be held: a strict schema
 * (OpenAI's `strict: true`, a promise that the answer fits) that asks for it is refused, naming the
 * keyword; another one has it left out, as node-llama-cpp would. Annotations and unknown keys pass.
 */
export function grammarSchemaOf(
  schema: Record<string, unknown>,
  { strict, root = "schema" }: { strict: boolean; root?: string },
): Record<string, unknown> {
  const refuse = (path: string, problem: string): never => {
    throw new AppError("request.invalid", `${path}: ${problem}`, { param: root });
  };
  const cannotHold = (path: string, keyword: string) =>
    refuse(
      path,
      `${keyword} cannot be enforced here (strict). Leave it out, or send strict: false to have it ignored.`,
    );

  const objectAt = (value: unknown, path: string): Record<string, unknown> =>
    typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : refuse(path, "must be an object.");
  const listAt = (value: unknown, path: string): unknown[] =>
    Array.isArray(value) ? value : refuse(path, "must be an array.");

  /**
   * Counts what a grammar is made of (a schema, an enum value) and refuses the schema past
   * maxSchemas, before anything is built of it: a schema of a million properties would hold the
   * node's only thread for seconds, here and in the grammar and prompt made of it.
   */
  let schemas = 0;
  const count = (added: number, what: string) => {
    if ((schemas += added) > maxSchemas)
      refuse(
        root,
        `holds more than ${maxSchemas.toLocaleString("en-US")} schemas ${what}; it may hold at most that many.`,
      );
  };
  function walk(node: unknown, path: string, depth = 0): Record<string, unknown> {
    count(1, "(properties, items and alternatives at any depth)");
    if (depth > maxDepth)
      refuse(path, `nests deeper than ${maxDepth} levels; a schema may nest at most that deep.`);
    // `true` is any value, as an empty schema is; `false` (nothing fits) has no grammar, and is taken so too.
    if (typeof node === "boolean") return {};
    const source = objectAt(node, path);
    const out: Record<string, unknown> = {};
    const defs: Record<string, unknown> = {};
    let alternatives: Record<string, unknown>[] | undefined;
    const bounds: NumberBounds = {};
    for (const [key, value] of Object.entries(source)) {
      const at = (child: string) => `${path}.${child}`;
      switch (key) {
        case "type":
          out.type = checkedType(value, path);
          break;
        case "properties":
          out.properties = Object.fromEntries(
            Object.entries(objectAt(value, at(key))).map(([name, child]) => [
              name,
              walk(child, at(`properties.${name}`), depth + 1),
            ]),
          );
          break;
        case "additionalProperties":
          out.additionalProperties = typeof value === "boolean" ? value : walk(value, at(key), depth + 1);
          break;
        case "items":
          // An array of item schemas is the older spelling of prefixItems.
          if (Array.isArray(value))
            out.prefixItems = value.map((child, i) => walk(child, at(`items[${i}]`), depth + 1));
          else out.items = walk(value, at(key), depth + 1);
          break;
        case "prefixItems":
          out.prefixItems = listAt(value, at(key)).map((child, i) =>
            walk(child, at(`${key}[${i}]`), depth + 1),
          );
          break;
        case "oneOf":
        case "anyOf":
          alternatives = [
            ...(alternatives ?? []),
            ...listAt(value, at(key)).map((child, i) => walk(child, at(`${key}[${i}]`), depth + 1)),
          ];
          break;
        case "allOf": {
          const parts = listAt(value, at(key));
          if (parts.length !== 1 && strict) cannotHold(path, '"allOf" of more than one schema');
          for (const [i, part] of parts.entries())
            Object.assign(out, walk(part, at(`allOf[${i}]`), depth + 1));
          break;
        }
        case "$defs":
        case "definitions":
          for (const [name, child] of Object.entries(objectAt(value, at(key)))) {
            defs[name] = walk(child, at(`${key}.${name}`), depth + 1);
            defined.add(name);
          }
          break;
        case "$ref": {
          const ref = String(value);
          const local = /^#\/(\$defs|definitions)\/(.+)$/.exec(ref);
          if (local) {
            out.$ref = `#/$defs/${local[2]}`;
            refs.push({ name: local[2]!, path });
          } else if (strict)
            refuse(path, `"$ref" must point into "#/$defs/" (or "#/definitions/"), not "${ref}".`);
          break;
        }
        case "format":
          if (stringFormats.has(String(value))) out.format = value;
          else if (strict) cannotHold(path, `"format": "${String(value)}"`);
          break;
        case "minimum":
        case "maximum":
        case "exclusiveMinimum":
        case "exclusiveMaximum":
          bounds[key] = value;
          break;
        case "enum":
          // Each value is an alternative of the grammar, as a schema is.
          if (Array.isArray(value)) count(value.length, "and enum values at any depth");
          out[key] = value;
          break;
        default:
          if (held.has(key)) out[key] = value;
          else if (notHeld.has(key)) {
            if (strict) cannotHold(path, `"${key}"`);
          } else out[key] = value; // an annotation, or a key of the client's own: node-llama-cpp passes over it
      }
    }
    holdBounds(out, bounds, path);
    if (Object.keys(defs).length > 0) out.$defs = defs;
    const types = Array.isArray(out.type) ? (out.type as string[]) : undefined;
    if (types?.some((type) => type === "object" || type === "array")) {
      // node-llama-cpp reads a list of types as simple values only: one alternative per type.
      delete out.type;
      alternatives = [...(alternatives ?? []), ...types.map((type) => ({ type }))];
    }
    if (alternatives) {
      // The keywords beside the alternatives hold for each of them.
      const { $defs, ...beside } = out;
      const shared = Object.fromEntries(Object.entries(beside).filter(([key]) => !annotations.has(key)));
      return {
        ...Object.fromEntries(Object.entries(beside).filter(([key]) => annotations.has(key))),
        oneOf: alternatives.map((alternative) => ({ ...shared, ...alternative })),
        ...($defs ? { $defs } : {}),
      };
    }
    return out;
  }

  /**
   * A number's bounds, where the grammar can hold them: none at all past the safe integers (as schema
   * writers such as zod's give every integer), and an integer's few values between two bounds as an
   * `enum` of them. Others are refused when strict, and left out otherwise.
   */
  function holdBounds(out: Record<string, unknown>, bounds: NumberBounds, path: string): void {
    const keys = Object.keys(bounds) as (keyof NumberBounds)[];
    if (keys.length === 0) return;
    const integer = out.type === "integer";
    let low = -Infinity;
    let high = Infinity;
    for (const key of keys) {
      const value = bounds[key];
      // Draft 4 spelled exclusivity as a flag beside minimum and maximum.
      if (typeof value === "boolean") continue;
      if (typeof value !== "number" || !Number.isFinite(value)) {
        if (strict) refuse(`${path}.${key}`, "must be a number.");
        return;
      }
      const exclusive = key.startsWith("exclusive") || bounds[exclusiveFlag[key]] === true;
      if (key === "minimum" || key === "exclusiveMinimum") {
        if (value <= -Number.MAX_SAFE_INTEGER) continue;
        low = Math.max(low, !integer ? value : exclusive ? Math.floor(value) + 1 : Math.ceil(value));
      } else {
        if (value >= Number.MAX_SAFE_INTEGER) continue;
        high = Math.min(high, !integer ? value : exclusive ? Math.ceil(value) - 1 : Math.floor(value));
      }
    }
    if (low === -Infinity && high === Infinity) return;
    if (integer && high - low < maxEnumeratedIntegers && out.enum === undefined && out.const === undefined) {
      if (high < low) refuse(path, "no integer lies within its minimum and maximum.");
      // Each value spelled out is an alternative of the grammar, as a client's enum value is.
      count(high - low + 1, "and enum values at any depth (an integer's values between its bounds count)");
      out.enum = Array.from({ length: high - low + 1 }, (_, index) => low + index);
      return;
    }
    if (strict) cannotHold(path, `"${keys.find((key) => typeof bounds[key] === "number") ?? keys[0]}"`);
  }

  function checkedType(value: unknown, path: string): unknown {
    const listed = Array.isArray(value) ? value : [value];
    const wrong = listed.find((type) => !jsonTypes.includes(type as string));
    if (wrong !== undefined || listed.length === 0) {
      refuse(
        path,
        `"type" must be string, number, integer, boolean, null, object or array (or a list of them), not ${JSON.stringify(wrong ?? value)}.`,
      );
    }
    return value;
  }

  /**
   * Every `#/$defs/…` reference, and where, and every definition's name: a reference names one
   * (node-llama-cpp looks a name up in the definitions of the schema and of those around it).
   */
  const refs: { name: string; path: string }[] = [];
  const defined = new Set<string>();
  const walked = walk(schema, root) as Record<string, unknown>;
  if (strict) {
    const dangling = refs.find((ref) => !defined.has(ref.name));
    if (dangling)
      refuse(dangling.path, `"$ref" points to "#/$defs/${dangling.name}", which the schema does not define.`);
  }
  return walked;
}

const jsonTypes = ["string", "number", "integer", "boolean", "null", "object", "array"];

/** The most schemas one may hold, at any depth (OpenAI's structured outputs take 5,000 properties). */
const maxSchemas = 10_000;
/** The deepest a schema may nest (OpenAI's structured outputs take 10 levels; tools' schemas nest more). */
const maxDepth = 64;

interface NumberBounds {
  minimum?: unknown;
  maximum?: unknown;
  exclusiveMinimum?: unknown;
  exclusiveMaximum?: unknown;
}

/** Where draft 4's flag for a bound's exclusivity is. */
const exclusiveFlag: Record<keyof NumberBounds, keyof NumberBounds> = {
  minimum: "exclusiveMinimum",
  maximum: "exclusiveMaximum",
  exclusiveMinimum: "exclusiveMinimum",
  exclusiveMaximum: "exclusiveMaximum",
};

/** The most integer values between two bounds that are spelled out as an `enum` (a grammar holds them). */
const maxEnumeratedIntegers = 1000;

/** Kept as they are: node-llama-cpp's grammar holds them. */
const held = new Set([
  "required",
  "minProperties",
  "maxProperties",
  "minItems",
  "maxItems",
  "minLength",
  "maxLength",
  "enum",
  "const",
]);

/** The string formats node-llama-cpp's grammar spells out. */
const stringFormats = new Set(["date-time", "date", "time"]);

/** Words that say what a value is, not what it may be. */
const annotations = new Set([
  "description",
  "title",
  "default",
  "examples",
  "$schema",
  "$id",
  "$comment",
  "deprecated",
  "readOnly",
  "writeOnly",
]);

/** Validation keywords the grammar cannot hold. */
const notHeld = new Set([
  "pattern",
  "patternProperties",
  "propertyNames",
  "multipleOf",
  "uniqueItems",
  "contains",
  "minContains",
  "maxContains",
  "not",
  "if",
  "then",
  "else",
  "dependentRequired",
  "dependentSchemas",
  "dependencies",
  "unevaluatedProperties",
  "unevaluatedItems",
  "contentEncoding",
  "contentMediaType",
]);
