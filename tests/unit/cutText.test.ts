import { describe, expect, it } from "vitest";
import { cutText } from "../../src-main/shared/cutText";

describe("cutText", () => {
  it("keeps a short text whole and cuts a long one to its bound, ellipsis included", () => {
    expect(cutText("abc", 3)).toBe("abc");
    expect(cutText("abcdef", 4)).toBe("abc…");
  });

  it("never cuts an emoji in half: what it keeps encodes as UTF-8", () => {
    const cut = cutText("ab😀cd", 4);
    expect(cut).toBe("ab…");
    expect(Buffer.from(cut, "utf8").toString("utf8")).toBe(cut);
    expect(cut).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/);
  });
});
