import { describe, expect, it } from "vitest";
import { chooseSequenceCount } from "../../src-main/worker/inference/sequenceCount";

const mb = 1024 * 1024;
// A model whose context costs 100 MB of weights-side buffers plus 50 MB per sequence.
const bytesFor = async (sequences: number) => 100 * mb + sequences * 50 * mb;

describe("parallel sequences sized from memory", () => {
  it("gives the most wanted when memory is plenty", async () => {
    expect(await chooseSequenceCount({ max: 8, budgetBytes: 10_000 * mb, bytesFor })).toBe(8);
  });

  it("gives as many as fit when memory is short", async () => {
    expect(await chooseSequenceCount({ max: 8, budgetBytes: 300 * mb, bytesFor })).toBe(4);
    expect(await chooseSequenceCount({ max: 8, budgetBytes: 299 * mb, bytesFor })).toBe(3);
  });

  it("gives one when not even one fits (loading then fails with the library's own error)", async () => {
    expect(await chooseSequenceCount({ max: 8, budgetBytes: 10 * mb, bytesFor })).toBe(1);
  });
});
