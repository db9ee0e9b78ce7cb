import type { FastifyInstance } from "fastify";
import { z } from "zod";
import {
  responsesRequestSchema,
  type ResponseInputItemsList,
  type ResponseObject,
  type ResponsesRequest,
} from "../../contract";
import { AppError } from "../../shared/errors";
import { parseBody } from "../../shared/parseBody";
import type { Balancer } from "../balancer/balancer";
import { forwarded, inferenceBodyLimit, inferenceRequestOf, replySink } from "./inferenceRoutes";
import type { Clock } from "../../shared/clock";
import type { NewResponse, ResponseRepository, StoredResponse } from "../registry/responseRepository";
import { checkCallOutputs, chatRequestOf, inputItemsOf, outputAsInput } from "../responses/chatOfResponse";
import { responseBase } from "../responses/responseOfChat";
import { responsesSink } from "../responses/responsesSink";

export interface ResponsesRouteOptions {
  balancer: Balancer;
  /** A model's id for the name a client sent (an alias): what a response names from its first event. */
  resolveName: (name: string) => string;
  responses: ResponseRepository;
  clock: Clock;
}

/** How long a stored response is kept, as OpenAI keeps them. */
export const responseRetentionDays = 30;

const idParams = z.object({ id: z.string().min(1) });
const inputItemsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  order: z.enum(["asc", "desc"]).default("desc"),
  after: z.string().min(1).optional(),
});

/**
 * OpenAI's Responses API: each response runs as a chat completion at a node the balancer picks (a
 * worker or an endpoint), its answer reshaped on the way back; responses are kept in the registry
 * unless `store: false`, so `previous_response_id` continues a conversation on any node.
 */
export function registerResponsesRoutes(scope: FastifyInstance, options: ResponsesRouteOptions): void {
  const { balancer, responses, clock } = options;

  /**
   * The latest responses that were to be stored but did not complete (their stream cut off by their
   * client or their node), the newest last: a later previous_response_id to one is told so.
   */
  const unfinished = new Set<string>();
  const unfinishedKept = 1000;
  const rememberUnfinished = (id: string) => {
    unfinished.add(id);
    if (unfinished.size > unfinishedKept) unfinished.delete(unfinished.values().next().value!);
  };

  /** Unix seconds before which a response is no longer kept. */
  const oldest = () => Math.floor(clock.now() / 1000) - responseRetentionDays * 86_400;

  const stored = (id: string): StoredResponse => {
    const found = responses.get(id, oldest());
    if (!found) throw new AppError("response.not_found", `No response with id '${id}' is stored here.`);
    return found;
  };

  /** The chain a request continues, then its own input, and where the chain came from. */
  function conversationOf(request: ResponsesRequest): Pick<NewResponse, "input" | "continues"> {
    const own = inputItemsOf(request.input);
    if (!request.previous_response_id) return { input: own };
    const previous = responses.get(request.previous_response_id, oldest());
    if (!previous && unfinished.has(request.previous_response_id)) {
      throw new AppError(
        "request.invalid",
        `Previous response with id '${request.previous_response_id}' did not complete (its stream was cut off, by its client or its node), so it was not stored: send that turn again, or continue from the response before it.`,
        { param: "previous_response_id" },
      );
    }
    if (!previous) {
      throw new AppError(
        "request.invalid",
        `Previous response with id '${request.previous_response_id}' not found (it was stored with store: false, deleted, or is older than ${responseRetentionDays} days).`,
        { param: "previous_response_id" },
      );
    }
    return {
      input: [...previous.input, ...outputAsInput(previous.response.output), ...own],
      continues: { id: previous.response.id, items: previous.input.length },
    };
  }

  scope.post("/v1/responses", { bodyLimit: inferenceBodyLimit }, async (request, reply) => {
    const inference = inferenceRequestOf(request, "/v1/responses");
    const body = parseBody(responsesRequestSchema, inference.body.json);
    const conversation = conversationOf(body);
    if (conversation.input.length === 0) {
      throw new AppError("request.invalid", "input: must have at least one item (text or a message).", {
        param: "input",
      });
    }
    checkCallOutputs(conversation.input, conversation.input.length - body.input.length);
    const chat = chatRequestOf(body, conversation.input);
    const now = clock.now();
    const base = responseBase({ ...body, model: options.resolveName(body.model) }, Math.floor(now / 1000));
    let kept = false;
    const keep = (response: ResponseObject) => {
      kept = true;
      if (!response.store) return;
      try {
        responses.insert({ response, ...conversation }, oldest());
      } catch (error) {
        // The client has its answer; only a later previous_response_id to it will miss it.
        request.log.error({ err: error, response: response.id }, "the response could not be stored");
      }
    };
    forwarded.add(request);
    await balancer.forward(
      {
        path: "/v1/chat/completions",
        clientPath: "/v1/responses",
        body: { raw: Buffer.from(JSON.stringify(chat)), json: chat },
        accept: body.stream ? "text/event-stream" : "application/json",
        via: inference.via,
        log: inference.log,
        client: inference.client,
        id: inference.id,
      },
      responsesSink(replySink(request, reply), base, keep),
    );
    if (!kept && base.store) rememberUnfinished(base.id);
  });

  scope.get("/v1/responses/:id", async (request) => {
    const { id } = parseBody(idParams, request.params);
    // The OpenAI SDKs' retrieve(id, { stream: true }) replays a background response's events; a JSON
    // answer would read as a stream with no events at all.
    if (/^(true|1)$/.test(String((request.query as { stream?: unknown }).stream))) {
      throw new AppError(
        "request.invalid",
        "stream: a stored response is not streamed again here (llmlb runs no background responses); retrieve it without stream.",
        { param: "stream" },
      );
    }
    return stored(id).response;
  });

  scope.post("/v1/responses/:id/cancel", async (request) => {
    stored(parseBody(idParams, request.params).id);
    throw new AppError(
      "request.invalid",
      "Only a background response can be cancelled, and llmlb runs none: every response here is finished when it is answered.",
    );
  });

  scope.delete("/v1/responses/:id", async (request) => {
    const { id } = parseBody(idParams, request.params);
    if (!responses.remove(id)) stored(id);
    return { id, object: "response", deleted: true };
  });

  scope.get("/v1/responses/:id/input_items", async (request): Promise<ResponseInputItemsList> => {
    const { id } = parseBody(idParams, request.params);
    const query = parseBody(inputItemsQuery, request.query);
    const items = stored(id).input;
    const ordered = query.order === "asc" ? items : [...items].reverse();
    const start = query.after ? ordered.findIndex((item) => item.id === query.after) + 1 : 0;
    if (query.after && start === 0)
      throw new AppError("request.invalid", `after: no input item '${query.after}' in this response.`, {
        param: "after",
      });
    const page = ordered.slice(start, start + query.limit);
    return {
      object: "list",
      data: page,
      first_id: page[0]?.id ?? null,
      last_id: page.at(-1)?.id ?? null,
      has_more: start + query.limit < ordered.length,
    };
  });
}
