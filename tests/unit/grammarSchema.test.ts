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
    // A reference to nothing would leave its value unconstrained, which strict promises it is not.
    expect(
      refusal({
        type: "object",
        properties: { tag: { $ref: "#/$defs/Missing" } },
        $defs: { Tag: { type: "string" } },
      }),
    ).toBe('schema.properties.tag: "$ref" points to "#/$defs/Missing", which the schema does not define.');
    expect(
      refusal({
        type: "object",
        properties: { tag: { $ref: "#/definitions/Tag" } },
        definitions: { Tag: {} },
      }),
    ).toBe("accepted");
    // Malformed, strict or not: said, never a failure of the server's own.
    expect(refusal({ type: "object", properties: null })).toBe("schema.properties: must be an object.");
    expect(refusal({ oneOf: { type: "string" } })).toBe("schema.oneOf: must be an array.");
  });

  it("holds an integer's bounds: none past the safe integers (as zod writes them), and a few values as an enum", () => {
    const safe = { type: "integer", minimum: -Number.MAX_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER };
    expect(grammarSchemaOf(safe, { strict: true })).toEqual({ type: "integer" });
    expect(grammarSchemaOf({ type: "integer", minimum: 1, maximum: 5 }, { strict: true })).toEqual({
      type: "integer",
      enum: [1, 2, 3, 4, 5],
    });
    expect(
      grammarSchemaOf({ type: "integer", exclusiveMinimum: 0, exclusiveMaximum: 3.5 }, { strict: true }),
    ).toEqual({ type: "integer", enum: [1, 2, 3] });
    // Draft 4: exclusivity as a flag beside the bound.
    expect(
      grammarSchemaOf(
        { type: "integer", minimum: 0, exclusiveMinimum: true, maximum: 2, exclusiveMaximum: false },
        { strict: true },
      ),
    ).toEqual({ type: "integer", enum: [1, 2] });
  });

  it("refuses, when strict, bounds it cannot hold: one-sided, too wide, not integers, or with nothing between", () => {
    const refusal = (schema: Record<string, unknown>) => {
      try {
        return grammarSchemaOf(schema, { strict: true });
      } catch (error) {
        return (error as Error).message;
      }
    };
    expect(refusal({ type: "integer", minimum: 0 })).toMatch(/^schema: "minimum" cannot be enforced here/);
    expect(refusal({ type: "integer", minimum: 0, maximum: 5000 })).toMatch(/^schema: "minimum" cannot/);
    expect(refusal({ type: "number", minimum: 0, maximum: 1 })).toMatch(/^schema: "minimum" cannot/);
    expect(refusal({ type: "integer", minimum: 3, maximum: 2 })).toBe(
      "schema: no integer lies within its minimum and maximum.",
    );
    expect(grammarSchemaOf({ type: "number", minimum: 0 }, { strict: false })).toEqual({ type: "number" });
  });

  it("refuses, strict or not, a schema of more than 10,000 schemas or nested deeper than 64 levels", () => {
    const wide = {
      type: "object",
      properties: Object.fromEntries(Array.from({ length: 10_001 }, (_, i) => [`p${i}`, {}])),
    };
    expect(() => grammarSchemaOf(wide, { strict: false })).toThrow(
      "schema: holds more than 10,000 schemas (properties, items and alternatives at any depth); it may hold at most that many.",
    );
    const listed = {
      type: "object",
      properties: { v: { enum: Array.from({ length: 10_000 }, (_, i) => `v${i}`) } },
    };
    expect(() => grammarSchemaOf(listed, { strict: true })).toThrow(
      /holds more than 10,000 schemas and enum values/,
    );
    const bounded = {
      type: "object",
      properties: Object.fromEntries(
        Array.from({ length: 11 }, (_, i) => [`n${i}`, { type: "integer", minimum: 0, maximum: 999 }]),
      ),
    };
    expect(() => grammarSchemaOf(bounded, { strict: false })).toThrow(
      /an integer's values between its bounds count/,
    );
    let deep: Record<string, unknown> = { type: "string" };
    for (let level = 0; level < 65; level++) deep = { type: "array", items: deep };
    expect(() => grammarSchemaOf(deep, { strict: false })).toThrow(/nests deeper than 64 levels/);
    let fits: Record<string, unknown> = { type: "string" };
    for (let level = 0; level < 64; level++) fits = { type: "array", items: fits };
    expect(() => grammarSchemaOf(fits, { strict: true })).not.toThrow();
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
