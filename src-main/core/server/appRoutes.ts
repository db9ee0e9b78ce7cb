import type { FastifyInstance } from "fastify";
import {
  gpuBuildRequestSchema,
  servingUpdateSchema,
  settingsUpdateSchema,
  type QuitResponse,
  type Readiness,
  type Status,
} from "../../contract";
import { AppError } from "../../shared/errors";
import type { GpuBuildService } from "../gpuBuild/gpuBuildService";
import type { SettingsService } from "../settings/settingsService";

export interface AppRouteOptions {
  status: () => Status;
  setPaused: (paused: boolean) => void;
  settings: SettingsService;
  gpuBuild: GpuBuildService;
  /** Quits the app (see CoreOptions.requestQuit). Default: none; `POST /v0/quit` refuses. */
  requestQuit?: () => void;
  /** This llmlb's own workers, some not online yet (starting, or started again). Default: none. */
  workersStarting?: () => boolean;
}

/** What the dashboard, the tray and `llmlb status` read and change about the app itself. */
export function registerAppRoutes(app: FastifyInstance, options: AppRouteOptions): void {
  app.get("/v0/status", async () => options.status());
  app.get("/v0/ready", { config: { access: "public" } }, async (_request, reply): Promise<Readiness> => {
    const readiness = readinessOf(options.status(), options.workersStarting?.() ?? false);
    if (!readiness.ready) reply.code(503);
    return readiness;
  });
  app.put("/v0/serving", async (request) => {
    options.setPaused(servingUpdateSchema.parse(request.body ?? {}).paused);
    return options.status();
  });
  app.get("/v0/settings", async () => options.settings.get());
  app.put("/v0/settings", async (request) =>
    options.settings.update(settingsUpdateSchema.parse(request.body ?? {})),
  );
  // Building llama.cpp for this machine's GPU (`llmlb gpu build` from the dashboard); its progress
  // follows as `gpu.build` events.
  app.get("/v0/gpu/build", async () => options.gpuBuild.status());
  app.post("/v0/gpu/build", async (request, reply) => {
    const { gpu } = gpuBuildRequestSchema.parse(request.body ?? {});
    reply.code(202);
    return options.gpuBuild.start(gpu);
  });
  app.delete("/v0/gpu/build", async () => options.gpuBuild.cancel());
  app.post("/v0/quit", async (_request, reply): Promise<QuitResponse> => {
    const quit = options.requestQuit;
    if (!quit) {
      throw new AppError(
        "settings.read_only",
        "This llmlb cannot be quit from here; stop it where it was started.",
      );
    }
    // After the answer is out: quitting closes the server to new requests.
    reply.raw.once("finish", quit);
    reply.code(202);
    return { quitting: true };
  });
}

/** Whether `/v1` serves now, from the app's status, and if not why. */
function readinessOf({ paused, models }: Status, workersStarting: boolean): Readiness {
  const reason = paused
    ? "Serving is paused: `llmlb resume` (or Resume in the dashboard, or in the desktop app's tray menu) serves again."
    : models.ready > 0
      ? null
      : models.total === 0
        ? "No model is ready: none is registered (`llmlb model add <Hugging Face URL>`)."
        : workersStarting
          ? `No model is ready yet: ${models.total} registered, and this llmlb's workers are starting (those whose files are in the cache are ready within seconds; \`llmlb status\` says where each stands).`
          : `No model is ready yet: ${models.total} registered, none downloaded and loadable on an online node (\`llmlb status\` says where each stands).`;
  return { ready: reason === null, reason, models };
}
