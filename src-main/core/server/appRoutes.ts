import type { FastifyInstance } from "fastify";
import { servingUpdateSchema, settingsUpdateSchema, type Status } from "../../contract";
import type { SettingsService } from "../settings/settingsService";

export interface AppRouteOptions {
  status: () => Status;
  setPaused: (paused: boolean) => void;
  settings: SettingsService;
}

/** What the dashboard, the tray and `llmlb status` read and change about the app itself. */
export function registerAppRoutes(app: FastifyInstance, options: AppRouteOptions): void {
  app.get("/v0/status", async () => options.status());
  app.put("/v0/serving", async (request) => {
    options.setPaused(servingUpdateSchema.parse(request.body ?? {}).paused);
    return options.status();
  });
  app.get("/v0/settings", async () => options.settings.get());
  app.put("/v0/settings", async (request) =>
    options.settings.update(settingsUpdateSchema.parse(request.body ?? {})),
  );
}
