import { expect, it } from "vitest";
import { createAuthThrottle } from "../../src-main/core/server/authThrottle";
import { isAppError, toHttpError } from "../../src-main/shared/errors";

it("answers 429 to an address past its wrong tries in the window, saying when to come back, and forgets them after", () => {
  let now = 1_000_000;
  const throttle = createAuthThrottle({ now: () => now, limit: 3, windowMs: 60_000 });
  for (let i = 0; i < 3; i++) {
    throttle.check("192.0.2.7");
    throttle.failed("192.0.2.7");
    now += 1_000;
  }
  const refused = (() => {
    try {
      throttle.check("192.0.2.7");
    } catch (error) {
      return error;
    }
  })();
  expect(isAppError(refused) && toHttpError(refused)).toMatchObject({
    status: 429,
    headers: { "retry-after": "57" },
  });
  // Another address is not held back by it.
  expect(() => throttle.check("192.0.2.8")).not.toThrow();
  // Once the first wrong try leaves the window, one more may be made.
  now += 57_000;
  expect(() => throttle.check("192.0.2.7")).not.toThrow();
});
