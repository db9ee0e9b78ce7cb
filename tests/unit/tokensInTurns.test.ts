import { describe, expect, it } from "vitest";
import { SLICE_CHARS, slicesOf } from "../../src-main/worker/inference/tokensInTurns";

describe("slicesOf", () => {
  it("gives a short text whole, and nothing for an empty one", () => {
    expect([...slicesOf("a few words")]).toEqual(["a few words"]);
    expect([...slicesOf("")]).toEqual([]);
  });

  it("cuts a long text into slices of at most SLICE_CHARS, each before a whitespace, that join into it", () => {
    const text = "lorem ipsum dolor sit amet\n".repeat(Math.ceil((3.5 * SLICE_CHARS) / 27));
    const slices = [...slicesOf(text)];
    expect(slices.join("")).toBe(text);
    expect(slices.length).toBe(4);
    for (const slice of slices) expect(slice.length).toBeLessThanOrEqual(SLICE_CHARS);
    for (const slice of slices.slice(1)) expect(slice).toMatch(/^\s/);
  });

  it("cuts before a whole run of whitespace, and through a run longer than it looks back", () => {
    const paragraphs = "lorem ipsum dolor\n\n\n".repeat(Math.ceil((2.5 * SLICE_CHARS) / 20));
    const slices = [...slicesOf(paragraphs)];
    expect(slices.join("")).toBe(paragraphs);
    for (const slice of slices.slice(0, -1)) expect(slice).toMatch(/[^\s]$/);
    const spaces = " ".repeat(3 * SLICE_CHARS);
    const cut = [...slicesOf(spaces)];
    expect(cut.join("")).toBe(spaces);
    expect(cut.length).toBeLessThanOrEqual(4);
  });

  it("cuts a text without whitespace at the limit, never between the halves of a surrogate pair", () => {
    // An odd count of ASCII characters before the emoji puts a pair across every other boundary.
    const text = `x${"😀".repeat(SLICE_CHARS)}`;
    const slices = [...slicesOf(text)];
    expect(slices.join("")).toBe(text);
    for (const slice of slices) {
      expect(slice.length).toBeLessThanOrEqual(SLICE_CHARS);
      // A lone half would not survive a round trip through UTF-8.
      expect(Buffer.from(slice, "utf8").toString("utf8")).toBe(slice);
    }
  });
});
