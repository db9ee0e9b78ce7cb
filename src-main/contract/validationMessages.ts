import { z } from "zod";

/**
 * How a field that does not fit its schema is told, wherever a schema of this contract judges one
 * (the API's 400s, what the CLI prints of them): in plain words about the field, not zod's terms
 * ("Too small: expected array to have >=1 items"). A message a schema gives itself still wins.
 */
type Issue = z.core.$ZodRawIssue;

const kinds: Record<string, string> = {
  string: "a string",
  number: "a number",
  int: "a whole number",
  boolean: "true or false",
  array: "an array",
  object: "an object",
  record: "an object",
  tuple: "an array",
  date: "a date",
  bigint: "a whole number",
  null: "null",
};

const plural = (count: number | bigint, one: string) => `${count} ${one}${count === 1 ? "" : "s"}`;

function sizeOf(origin: string, bound: number | bigint): string {
  if (origin === "array" || origin === "set") return plural(bound, "item");
  if (origin === "string") return plural(bound, "character");
  return String(bound);
}

function plainMessage(issue: Issue): string | undefined {
  switch (issue.code) {
    case "invalid_type": {
      if (issue.input === undefined) return "is required";
      const kind = kinds[issue.expected] ?? issue.expected;
      return `must be ${kind}`;
    }
    case "too_small": {
      if (issue.origin === "number" || issue.origin === "int" || issue.origin === "bigint") {
        return `must be ${issue.inclusive === false ? "more than" : "at least"} ${issue.minimum}`;
      }
      if (issue.minimum === 1 && issue.origin === "array") return "must have at least one item";
      if (issue.minimum === 1 && issue.origin === "string") return "must not be empty";
      return `must have at least ${sizeOf(issue.origin, issue.minimum)}`;
    }
    case "too_big": {
      if (issue.origin === "number" || issue.origin === "int" || issue.origin === "bigint") {
        return `must be ${issue.inclusive === false ? "less than" : "at most"} ${issue.maximum}`;
      }
      return `must have at most ${sizeOf(issue.origin, issue.maximum)}`;
    }
    case "invalid_value":
      return issue.values.length === 1
        ? `must be ${JSON.stringify(issue.values[0])}`
        : `must be one of ${issue.values.map((value) => JSON.stringify(value)).join(", ")}`;
    case "unrecognized_keys":
      return `has a field this API does not take: ${issue.keys.join(", ")}`;
    default:
      return undefined;
  }
}

z.config({ customError: plainMessage });
