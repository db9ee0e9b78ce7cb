import type { FastifyInstance, FastifyRequest } from "fastify";
import {
  aliasRequestSchema,
  instanceHeader,
  viaHeader,
  modelListQuerySchema,
  modelLoadRequestSchema,
  modelUpdateRequestSchema,
  modelUnloadRequestSchema,
  modelRetryRequestSchema,
  modelSettingsPatchSchema,
  nodeProtocol,
  registerRequestSchema,
  type AnthropicModel,
  type AnthropicModelList,
  type Health,
  type ModelLoadResponse,
  type ModelUpdateResponse,
  type ModelRetryResponse,
  type ModelUnloadResponse,
  type OpenAiModel,
  type RemovedFiles,
  type OpenAiModelList,
} from "../../contract";
import { AppError } from "../../shared/errors";
import { cutText } from "../../shared/cutText";
import type { ModelService } from "../models/modelService";
import type { NodeService } from "../nodes/nodeService";

export interface RouteOptions {
  models: ModelService;
  nodes: NodeService;
  version: string;
  uptimeSeconds: () => number;
  /** Random at each start (see `instanceHeader`). */
  instanceId: string;
}

/** A model id from a wildcard path: ids contain '/', sent raw or percent-encoded. */
function modelIdParam(request: FastifyRequest): string {
  const id = (request.params as { "*": string })["*"];
  if (id.length === 0 || id.length > 1300) {
    throw new AppError("request.invalid", "A model id is required.", { param: "id" });
  }
  return id;
}

const manifestSuffix = "/manifest.json";

export function registerManagementRoutes(app: FastifyInstance, options: RouteOptions): void {
  const { models, nodes } = options;

  /** A model registered here, by its id: an endpoint's model is loaded and unloaded by the endpoint. */
  const registeredHere = (name: string): string => {
    const model = models.get(name);
    if (model.source === "endpoint")
      throw new AppError(
        "registry.external",
        `Model ${model.name} is served by an endpoint, which loads and unloads its models itself.`,
        { param: "model" },
      );
    return model.name;
  };

  app.get(
    nodeProtocol.health.path,
    { config: { access: nodeProtocol.health.access } },
    async (): Promise<Health> => ({
      status: "ok",
      version: options.version,
      uptime_seconds: options.uptimeSeconds(),
      models: models.count(),
    }),
  );

  app.post("/v0/models/register", async (request, reply) => {
    const body = registerRequestSchema.parse(request.body ?? {});
    const registered = await models.register(body);
    return reply.status(201).send(registered);
  });

  app.post("/v0/models/retry", async (request): Promise<ModelRetryResponse> => {
    const { model } = modelRetryRequestSchema.parse(request.body ?? {});
    const id = models.get(model).name;
    return { model: id, nodes: await nodes.retry(id) };
  });
  app.post("/v0/models/update", async (request): Promise<ModelUpdateResponse> => {
    const { model } = modelUpdateRequestSchema.parse(request.body ?? {});
    return models.update(registeredHere(model));
  });
  app.post("/v0/models/load", async (request): Promise<ModelLoadResponse> => {
    const { model, node, ttl } = modelLoadRequestSchema.parse(request.body ?? {});
    const id = registeredHere(model);
    return { model: id, nodes: await nodes.load(id, node, ttl) };
  });
  app.post("/v0/models/unload", async (request): Promise<ModelUnloadResponse> => {
    const { model, node } = modelUnloadRequestSchema.parse(request.body ?? {});
    const id = registeredHere(model);
    return { model: id, nodes: await nodes.unload(id, node) };
  });

  // Nodes read the model list and manifests to sync (`nodeProtocol.listModels`, `.manifest`).
  const nodeReadable = { config: { access: nodeProtocol.listModels.access } };
  app.get(nodeProtocol.listModels.path, nodeReadable, async (request) =>
    models.list(modelListQuerySchema.parse(request.query)),
  );
  app.get(
    nodeProtocol.removedFiles.path,
    { config: { access: nodeProtocol.removedFiles.access } },
    async (): Promise<RemovedFiles> => ({ sha256: models.removedFiles() }),
  );
  app.get("/v0/models/registry/*", nodeReadable, async (request) => {
    const rest = modelIdParam(request);
    // Anything but `<id>/manifest.json` here is a model of an org named "registry", sent unencoded.
    return rest.endsWith(manifestSuffix)
      ? models.manifest(rest.slice(0, -manifestSuffix.length))
      : models.get(`registry/${rest}`);
  });
  app.get("/v0/models/*", async (request) => models.get(modelIdParam(request)));
  app.patch("/v0/models/*", async (request) =>
    models.updateSettings(modelIdParam(request), modelSettingsPatchSchema.parse(request.body ?? {}).settings),
  );
  app.delete("/v0/models/*", async (request, reply) => {
    models.remove(modelIdParam(request));
    return reply.status(204).send();
  });

  app.get("/v0/aliases", async () => ({ data: models.aliases() }));
  app.post("/v0/aliases", async (request, reply) => {
    const { existed, ...added } = models.addAlias(aliasRequestSchema.parse(request.body ?? {}));
    return reply.status(existed ? 200 : 201).send(added);
  });
  // Aliases may contain '/', like model ids.
  app.delete("/v0/aliases/*", async (request) => models.removeAlias(modelIdParam(request)));
}

/** A model as Anthropic's SDKs list it. */
function anthropicModelOf(model: OpenAiModel): AnthropicModel {
  return {
    type: "model",
    id: model.id,
    display_name: model.id,
    created_at: new Date(model.created * 1000).toISOString(),
    lifecycle: "active",
    capabilities: null,
    line: null,
    deprecated_at: null,
    retires_at: null,
    max_input_tokens: null,
    max_tokens: null,
  };
}

/** Anthropic's SDKs send their API's version with every request, `models.list()` too. */
const asksAnthropic = (request: FastifyRequest) => request.headers["anthropic-version"] !== undefined;

export function registerOpenAiRoutes(app: FastifyInstance, options: RouteOptions): void {
  // The list is rebuilt only when the registry changes; so is its JSON (a megabyte with 10,000 models).
  const serialized = new WeakMap<OpenAiModelList, Buffer>();
  app.get("/v1/models", async (request, reply) => {
    // Says which llmlb answers, so one is never added as an endpoint of itself.
    void reply.header(instanceHeader, options.instanceId);
    const via = request.headers[viaHeader];
    const list = options.models.openAiList(typeof via === "string" ? via.split(/\s*,\s*/) : undefined);
    if (asksAnthropic(request)) {
      const data = list.data.map(anthropicModelOf);
      const answer: AnthropicModelList = {
        data,
        has_more: false,
        first_id: data[0]?.id ?? null,
        last_id: data.at(-1)?.id ?? null,
      };
      return answer;
    }
    let body = serialized.get(list);
    if (body === undefined) serialized.set(list, (body = Buffer.from(JSON.stringify(list))));
    return reply.type("application/json; charset=utf-8").send(body);
  });
  // OpenAI's "retrieve model"; ids contain '/', sent raw or percent-encoded.
  app.get("/v1/models/*", async (request) => {
    const id = options.models.resolveName(modelIdParam(request));
    const model = options.models.openAiList().data.find((entry) => entry.id === id);
    if (!model) {
      throw new AppError("model.not_found", `The model \`${cutText(id, 200)}\` does not exist.`, {
        param: "model",
      });
    }
    return asksAnthropic(request) ? anthropicModelOf(model) : model;
  });
}
