import { describe, expect, it } from "vitest";
import {
  backoffDelayMs,
  MAX_BACKOFF_MS,
  MAX_RETRY_AFTER_MS,
  parseRetryAfter,
} from "../../src-main/worker/download/backoff";

describe("backoffDelayMs", () => {
  it("doubles from the base, jittered within the upper half", () => {
    expect(backoffDelayMs(1, 500, undefined, () => 0)).toBe(250);
    expect(backoffDelayMs(1, 500, undefined, () => 1)).toBe(500);
    expect(backoffDelayMs(3, 500, undefined, () => 1)).toBe(2000);
    expect(backoffDelayMs(3, 500, undefined, () => 0.5)).toBe(1500);
  });

  it("is capped at 30 s", () => {
    expect(backoffDelayMs(20, 500, undefined, () => 1)).toBe(MAX_BACKOFF_MS);
    expect(MAX_BACKOFF_MS).toBe(30_000);
  });

  it("lets Retry-After win, capped at 5 minutes", () => {
    expect(backoffDelayMs(1, 500, 1000, () => 0)).toBe(1000);
    expect(backoffDelayMs(7, 500, 0)).toBe(0);
    expect(backoffDelayMs(1, 500, 3_600_000)).toBe(MAX_RETRY_AFTER_MS);
  });
});

describe("parseRetryAfter", () => {
  const now = Date.parse("2026-01-01T00:00:00Z");

  it("reads delta-seconds", () => {
    expect(parseRetryAfter("1", now)).toBe(1000);
    expect(parseRetryAfter(" 120 ", now)).toBe(120_000);
  });

  it("reads an HTTP date relative to now, never negative", () => {
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:30 GMT", now)).toBe(30_000);
    expect(parseRetryAfter("Wed, 31 Dec 2025 23:00:00 GMT", now)).toBe(0);
  });

  it("caps both forms at 5 minutes", () => {
    expect(parseRetryAfter("86400", now)).toBe(MAX_RETRY_AFTER_MS);
    expect(parseRetryAfter("Fri, 02 Jan 2026 00:00:00 GMT", now)).toBe(MAX_RETRY_AFTER_MS);
  });

  it("ignores what it cannot read", () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter("soon", now)).toBeUndefined();
    expect(parseRetryAfter("-5", now)).toBeUndefined();
  });
});
