import type { FastifyInstance } from "fastify";
import { keptRequests, requestListQuerySchema, type RequestList } from "../../contract";
import { AppError } from "../../shared/errors";
import type { RequestLog } from "../requestLog";

/**
 * `GET /v0/requests`: the inference requests kept (the latest `keptRequests`), a page at a time, newest
 * first; only failures or a model where asked, so a failure a burst pushed off the first page is found.
 */
export function registerRequestsRoute(app: FastifyInstance, requests: RequestLog): void {
  app.get("/v0/requests", async (request): Promise<RequestList> => {
    const query = requestListQuerySchema.parse(request.query ?? {});
    const page = requests.page({
      limit: query.limit,
      before: query.before,
      failuresOnly: query.failures === "true",
      model: query.model,
    });
    if (!page)
      throw new AppError(
        "request.invalid",
        `before: no request '${query.before}' is kept here: llmlb keeps the latest ${keptRequests.toLocaleString("en-US")} requests, and its log has every one.`,
        { param: "before" },
      );
    return page;
  });
}
