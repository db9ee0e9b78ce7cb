import { afterEach, describe, expect, it, vi } from "vitest";
import type { RequestRecord, ServerEvent } from "../../src-main/contract";
import { createRequestLog } from "../../src-main/core/requestLog";

const request = (id: number): RequestRecord => ({
  id: `req-${id}`,
  at: new Date(Date.UTC(2026, 0, 1, 0, 0, id)).toISOString(),
  model: "org/repo",
  path: "/v1/chat/completions",
  status: 200,
  ms: 10,
});

describe("the request log", () => {
  afterEach(() => vi.useRealTimers());

  it("keeps the latest, newest first, up to its capacity, and forgets those pushed out", () => {
    const log = createRequestLog({ publish: () => {}, capacity: 3 });
    for (let id = 1; id <= 5; id++) log.record(request(id));
    const ids = (page: { data: RequestRecord[] } | undefined) => page?.data.map((entry) => entry.id);
    expect(ids(log.page({ limit: 10 }))).toEqual(["req-5", "req-4", "req-3"]);
    expect(log.page({ limit: 2 })).toMatchObject({ has_more: true });
    expect(ids(log.page({ limit: 2, before: "req-4" }))).toEqual(["req-3"]);
    expect(log.page({ limit: 2, before: "req-3" })).toEqual({ data: [], has_more: false });
    expect(log.page({ limit: 2, before: "req-2" })).toBeUndefined();
    log.dispose();
  });

  it("sends the requests answered within a batch's time in one event, oldest first, and nothing when none was", () => {
    vi.useFakeTimers();
    const sent: ServerEvent[] = [];
    const log = createRequestLog({ publish: (event) => sent.push(event), batchMs: 500 });
    log.record(request(1));
    log.record(request(2));
    expect(sent).toEqual([]);
    vi.advanceTimersByTime(500);
    expect(sent).toEqual([{ type: "requests.done", requests: [request(1), request(2)] }]);
    vi.advanceTimersByTime(5000);
    expect(sent).toHaveLength(1);
    log.record(request(3));
    log.dispose();
    expect(sent.at(-1)).toEqual({ type: "requests.done", requests: [request(3)] });
  });
});
