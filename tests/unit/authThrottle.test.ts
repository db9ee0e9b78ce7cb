import { expect, it } from "vitest";
import { createAuthThrottle, guesserOf } from "../../src-main/core/server/authThrottle";
import { isAppError, toHttpError } from "../../src-main/shared/errors";

it("answers 429 to an address past its wrong tries in the window, saying when to come back, and forgets them after", () => {
  let now = 1_000_000;
  const throttle = createAuthThrottle({ now: () => now, limit: 3, windowMs: 60_000 });
  for (let i = 0; i < 3; i++) {
    throttle.check("192.0.2.7");
    throttle.failed("192.0.2.7", `guess-${i}`);
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

it("does not hold back an address that keeps sending one stale key (a client whose key was replaced)", () => {
  const throttle = createAuthThrottle({ limit: 3 });
  for (let i = 0; i < 50; i++) throttle.failed("192.0.2.7", "sk-old");
  expect(() => throttle.check("192.0.2.7")).not.toThrow();
});

it("counts an IPv6 /64 as one guesser, and an IPv4 address mapped into IPv6 as itself", () => {
  expect(guesserOf("2001:db8:1:2:aaaa::1")).toBe("2001:db8:1:2::/64");
  expect(guesserOf("2001:db8:1:2:bbbb:cccc:dddd:eeee")).toBe("2001:db8:1:2::/64");
  expect(guesserOf("::1")).toBe("0:0:0:0::/64");
  expect(guesserOf("::ffff:192.0.2.7")).toBe("192.0.2.7");
  const throttle = createAuthThrottle({ limit: 2 });
  throttle.failed("2001:db8:1:2::a", "one");
  throttle.failed("2001:db8:1:2::b", "two");
  expect(() => throttle.check("2001:db8:1:2::c")).toThrow(/Too many different wrong API keys/);
});
