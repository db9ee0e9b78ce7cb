import { describe, expect, it } from "vitest";
import { ProgressReporter } from "../../src-main/worker/download/progressReporter";
import type { DownloadProgress } from "../../src-main/worker/download/types";

/** A reporter of a 10,000-byte download from 0, on `clock`, and what it reported. */
function reporterAt(clock: { now: number }) {
  const seen: DownloadProgress[] = [];
  const reporter = new ProgressReporter(
    10_000,
    (progress) => seen.push(progress),
    0,
    () => clock.now,
  );
  return { reporter, seen };
}

describe("download progress", () => {
  it("never goes back nor below zero when a report held back by a save lands after a stall", () => {
    const clock = { now: 0 };
    const { reporter, seen } = reporterAt(clock);
    clock.now = 100;
    reporter.report(1_000, 1_000);
    // A piece's connection breaks while that piece's progress is being saved…
    clock.now = 200;
    reporter.stalled(2_000, 2_000, "ECONNRESET: socket hang up");
    // …and the report that waited for the save comes after, with its older numbers.
    clock.now = 250;
    reporter.report(1_000, 1_000);
    clock.now = 1_250;
    reporter.report(3_000, 3_000);

    expect(seen.map((progress) => progress.bytesDone)).toEqual([1_000, 2_000, 3_000]);
    // The speed starts again from the stall: 1,000 bytes in the 1.05 s since.
    expect(seen.map((progress) => progress.bytesPerSecond)).toEqual([10_000, 0, Math.round(1_000 / 1.05)]);
    // Why it stalled is told with the stall only.
    expect(seen.map((progress) => progress.interrupted)).toEqual([
      undefined,
      "ECONNRESET: socket hang up",
      undefined,
    ]);
  });

  it("says for a while after that a download began again from the start, and why", () => {
    const clock = { now: 0 };
    const { reporter, seen } = reporterAt(clock);
    reporter.report(4_000, 4_000);
    clock.now = 100;
    reporter.restarted("the server sent the whole file instead of the rest");
    clock.now = 200;
    reporter.report(500, 4_500);
    clock.now = 100 + 60_000;
    reporter.report(9_000, 13_000);
    expect(seen.map((progress) => [progress.bytesDone, progress.restarted])).toEqual([
      [4_000, undefined],
      [0, "the server sent the whole file instead of the rest"],
      [500, "the server sent the whole file instead of the rest"],
      [9_000, undefined],
    ]);
  });
});
