import { describe, expect, it } from "vitest";
import { AppError, toHttpError } from "../../src-main/core/errors";

describe("toHttpError", () => {
  it("maps codes to statuses and OpenAI error types", () => {
    expect(toHttpError(new AppError("registry.duplicate", "dup")).status).toBe(409);
    expect(toHttpError(new AppError("hub.unreachable", "down")).status).toBe(424);
    const notFound = toHttpError(new AppError("registry.not_found", "no such model", { param: "id" }));
    expect(notFound.status).toBe(404);
    expect(notFound.body.error).toEqual({
      message: "no such model",
      type: "not_found_error",
      code: "registry.not_found",
      param: "id",
    });
  });

  it("never leaks an internal message on 500", () => {
    const http = toHttpError(new AppError("internal", "SQLITE_CORRUPT at /home/ada/secret.db"));
    expect(http.status).toBe(500);
    expect(http.body.error.message).toBe("Internal server error");
  });

  it("sends Retry-After in whole seconds", () => {
    expect(
      toHttpError(new AppError("hub.rate_limited", "wait", { retryAfter: 2.2 })).headers["retry-after"],
    ).toBe("3");
  });
});
