import { describe, expect, it } from "vitest";
import { createAdmission } from "../../src-main/core/balancer/admission";
import { AppError } from "../../src-main/shared/errors";

const never = new AbortController().signal;

describe("admission", () => {
  it("runs up to capacity, queues up to the limit in order, and refuses the rest with Retry-After", async () => {
    const admission = createAdmission({ queueSize: 2, queueTimeoutMs: 5000 });
    const first = await admission.enter("m", 1, never);
    const order: number[] = [];
    const second = admission.enter("m", 1, never).then((release) => (order.push(2), release));
    const third = admission.enter("m", 1, never).then((release) => (order.push(3), release));
    const refused = await admission.enter("m", 1, never).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(AppError);
    expect((refused as AppError).retryAfter).toBeGreaterThanOrEqual(1);
    // Those turned away together are told to come back at different times, not all in one second.
    const waits = new Set<number | undefined>();
    for (let turned = 0; turned < 40; turned++)
      waits.add(
        ((await admission.enter("m", 1, never).catch((error: unknown) => error)) as AppError).retryAfter,
      );
    expect(
      [...waits].every((wait) => wait !== undefined && Number.isInteger(wait) && wait >= 1 && wait <= 3),
    ).toBe(true);
    expect(waits.size).toBeGreaterThan(1);
    expect(admission.depth("m")).toEqual({ running: 1, waiting: 2 });
    first();
    (await second)();
    (await third)();
    expect(order).toEqual([2, 3]);
    expect(admission.depths()).toEqual([]);
  });

  it("lets waiters in at once when capacity grows (another node became ready)", async () => {
    const admission = createAdmission({ queueTimeoutMs: 5000 });
    await admission.enter("m", 1, never);
    const waiting = admission.enter("m", 1, never);
    expect(admission.depth("m").waiting).toBe(1);
    const grown = await admission.enter("m", 3, never);
    await waiting;
    expect(admission.depth("m")).toEqual({ running: 3, waiting: 0 });
    grown();
  });

  it("drops a waiter whose client left, and times out the others", async () => {
    const admission = createAdmission({ queueTimeoutMs: 50 });
    await admission.enter("m", 1, never);
    const controller = new AbortController();
    const leaving = admission.enter("m", 1, controller.signal);
    controller.abort(new Error("client disconnected"));
    await expect(leaving).rejects.toThrow("client disconnected");
    await expect(admission.enter("m", 1, never)).rejects.toThrow(/no slot freed within 50 ms/);
    expect(admission.depth("m")).toEqual({ running: 1, waiting: 0 });
  });

  it("tryEnter admits at once while there is room, and otherwise leaves the request to wait", async () => {
    const admission = createAdmission({ queueTimeoutMs: 5000 });
    const first = admission.tryEnter("m", 1);
    expect(first).toBeTypeOf("function");
    expect(admission.tryEnter("m", 1)).toBeUndefined();
    const waiting = admission.enter("m", 1, never);
    expect(admission.depth("m")).toEqual({ running: 1, waiting: 1 });
    // The slot freed goes to the waiter, not to whoever tries next.
    first!();
    expect(admission.tryEnter("m", 1)).toBeUndefined();
    (await waiting)();
    expect(admission.depths()).toEqual([]);
  });
});
