import { describe, expect, it } from "vitest";
import { AppError, toHttpError } from "../../src-main/shared/errors";

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

  it("names inference errors as OpenAI does", () => {
    const tooLong = toHttpError(new AppError("inference.context_length_exceeded", "too long"));
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.error).toMatchObject({
      code: "context_length_exceeded",
      type: "invalid_request_error",
    });
    expect(toHttpError(new AppError("model.not_found", "no")).body.error.code).toBe("model_not_found");
    expect(toHttpError(new AppError("inference.unavailable", "stopping")).status).toBe(503);
    expect(toHttpError(new AppError("inference.failed", "boom")).status).toBe(500);
  });

  it("sends Retry-After in whole seconds", () => {
    expect(
      toHttpError(new AppError("hub.rate_limited", "wait", { retryAfter: 2.2 })).headers["retry-after"],
    ).toBe("3");
  });
});
