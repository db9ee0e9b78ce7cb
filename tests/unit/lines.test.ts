import { describe, expect, it } from "vitest";
import { createLineSplitter } from "../../src-main/core/lines";

describe("worker output lines", () => {
  it("joins a line split across chunks, and skips blank ones", () => {
    const lines: string[] = [];
    const splitter = createLineSplitter((line) => lines.push(line));
    splitter.push('starting\n{"devi');
    splitter.push('ces":{"gpus":[]}}\n\n');
    splitter.push("last line without newline");
    expect(lines).toEqual(["starting", '{"devices":{"gpus":[]}}']);
    splitter.end();
    expect(lines.at(-1)).toBe("last line without newline");
  });

  it("drops Windows line endings", () => {
    const lines: string[] = [];
    const splitter = createLineSplitter((line) => lines.push(line));
    splitter.push("one\r\ntwo\r\n");
    expect(lines).toEqual(["one", "two"]);
  });
});
