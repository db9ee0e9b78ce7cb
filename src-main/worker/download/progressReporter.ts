/** Throttled progress for the caller: at most one report per interval, speed over the last few seconds. */
import type { DownloadProgress } from "./types";

const SPEED_WINDOW_MS = 3000;
/** How long a restart from the start is said after it: long enough to be seen, at a terminal too. */
const RESTART_SAID_MS = 60_000;

export class ProgressReporter {
  private lastReport = Number.NEGATIVE_INFINITY;
  /** (time, bytes fetched by this call) samples of the last few seconds. */
  private samples: Array<{ at: number; fetched: number }> = [];
  /** Why it began again from the start, and until when that is said. */
  private restart: { why: string; until: number } | undefined;

  constructor(
    private readonly bytesTotal: number,
    private readonly onProgress: ((progress: DownloadProgress) => void) | undefined,
    private readonly intervalMs = 250,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.samples.push({ at: this.now(), fetched: 0 });
  }

  /** Whether a report is due: at most one per interval. */
  due(): boolean {
    return this.now() - this.lastReport >= this.intervalMs;
  }

  /**
   * Nothing arrives now (the connection broke for `reason`; a retry waits): the speed is 0 until bytes
   * flow again.
   */
  stalled(bytesDone: number, fetched: number, reason: string): void {
    const at = this.now();
    this.lastReport = at;
    this.samples = [{ at, fetched }];
    this.onProgress?.({
      bytesDone,
      bytesTotal: this.bytesTotal,
      bytesPerSecond: 0,
      interrupted: reason.slice(0, 500),
    });
  }

  /** It begins again from the start, for `why`: its progress goes back to 0, which is said a while. */
  restarted(why: string): void {
    const at = this.now();
    this.restart = { why: why.slice(0, 500), until: at + RESTART_SAID_MS };
    this.lastReport = at;
    this.onProgress?.({
      bytesDone: 0,
      bytesTotal: this.bytesTotal,
      bytesPerSecond: 0,
      restarted: this.restart.why,
    });
  }

  report(bytesDone: number, fetched: number): void {
    // A report held back by a save may land after a stall reported newer numbers: it is old news.
    if (fetched < (this.samples.at(-1)?.fetched ?? 0)) return;
    const at = this.now();
    this.lastReport = at;
    this.samples.push({ at, fetched });
    while (this.samples.length > 2 && at - (this.samples[1]?.at ?? at) >= SPEED_WINDOW_MS)
      this.samples.shift();
    const first = this.samples[0] ?? { at, fetched };
    const seconds = (at - first.at) / 1000;
    const bytesPerSecond = seconds > 0 ? Math.max(0, Math.round((fetched - first.fetched) / seconds)) : 0;
    if (this.restart && at >= this.restart.until) this.restart = undefined;
    this.onProgress?.({
      bytesDone,
      bytesTotal: this.bytesTotal,
      bytesPerSecond,
      ...(this.restart ? { restarted: this.restart.why } : {}),
    });
  }
}
