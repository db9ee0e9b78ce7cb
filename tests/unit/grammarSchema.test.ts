import { describe, expect, it } from "vitest";
import { grammarSchemaOf } from "../../src-main/worker/inference/grammarSchema";

// What node-llama-cpp turns into a grammar is a subset of JSON schema: a schema is brought to it, and a
// strict one (OpenAI's `strict: true`) that asks for what the grammar cannot hold is refused, by name.

describe("a JSON schema for the grammar", () => {
  it("takes anyOf as oneOf (node-llama-cpp would generate null for it), definitions as $defs, and a one-item allOf", () => {
    const asked = {
      type: "object",
      properties: {
        name: { anyOf: [{ type: "string" }, { type: "null" }] },
        tag: { $ref: "#/definitions/Tag" },
        size: { allOf: [{ type: "integer" }] },
      },
      required: ["name", "tag", "size"],
      definitions: { Tag: { type: "string", enum: ["a", "b"] } },
    };
    expect(grammarSchemaOf(asked, { strict: true })).toEqual({
      type: "object",
      properties: {
        name: { oneOf: [{ type: "string" }, { type: "null" }] },
        tag: { $ref: "#/$defs/Tag" },
        size: { type: "integer" },
      },
      required: ["name", "tag", "size"],
      $defs: { Tag: { type: "string", enum: ["a", "b"] } },
    });
  });

  it("refuses, when strict, what the grammar cannot hold, naming the keyword and where it is", () => {
    const refusal = (schema: Record<string, unknown>) => {
      try {
        grammarSchemaOf(schema, { strict: true });
        return "accepted";
      } catch (error) {
        return (error as Error).message;
      }
    };
    expect(refusal({ type: "object", properties: { v: { type: "string", pattern: "^[a-z]{3}$" } } })).toBe(
      'schema.properties.v: "pattern" cannot be enforced here (strict). Leave it out, or send strict: false to have it ignored.',
    );
    expect(refusal({ type: "array", items: { type: "number", minimum: 0 } })).toMatch(
      /^schema\.items: "minimum"/,
    );
    expect(refusal({ type: "string", format: "email" })).toMatch(/^schema: "format": "email"/);
    expect(refusal({ type: "wat" })).toBe(
      'schema: "type" must be string, number, integer, boolean, null, object or array (or a list of them), not "wat".',
    );
    expect(refusal({ $ref: "https://example.com/x.json" })).toMatch(
      /^schema: "\$ref" must point into "#\/\$defs\/"/,
    );
    // Malformed, strict or not: said, never a failure of the server's own.
    expect(refusal({ type: "object", properties: null })).toBe("schema.properties: must be an object.");
    expect(refusal({ oneOf: { type: "string" } })).toBe("schema.oneOf: must be an array.");
  });

  it("leaves out, when not strict, what the grammar cannot hold, as node-llama-cpp would", () => {
    expect(
      grammarSchemaOf({ type: "string", pattern: "^x$", description: "d", title: "t" }, { strict: false }),
    ).toEqual({ type: "string", description: "d", title: "t" });
  });
});

describe("a list of types with object in it", () => {
  it("is one alternative per type, each with the keywords beside it", () => {
    expect(
      grammarSchemaOf(
        { type: ["object", "null"], properties: { a: { type: "string" } }, description: "maybe" },
        { strict: true },
      ),
    ).toEqual({
      description: "maybe",
      oneOf: [
        { properties: { a: { type: "string" } }, type: "object" },
        { properties: { a: { type: "string" } }, type: "null" },
      ],
    });
  });
});
