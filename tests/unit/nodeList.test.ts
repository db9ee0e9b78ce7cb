import type { z } from "zod";
import { describe, expect, it } from "vitest";
import { workerInfo as worker } from "../helpers/workerInfo";
import type { ApiClient } from "../../src-main/cli/apiClient";
import { listNodes } from "../../src-main/cli/nodeCommands";
import { packageVersion } from "../../src-main/shared/packageVersion";

describe("llmlb node list", () => {
  it("tells a node an operator drained from one its own machine is stopping", async () => {
    const data = [
      worker("in-maintenance", { draining: true, drained: true }),
      worker("shutting-down", { draining: true }),
      worker("serving"),
    ];
    // As the real client, the answer read by the command's schema.
    const client = {
      request: async (schema: z.ZodType, _method: string, path: string) =>
        schema.parse(
          path === "/v0/nodes"
            ? { data }
            : { status: "ok", version: packageVersion(), uptime_seconds: 1, models: 0 },
        ),
    } as unknown as ApiClient;
    const lines: string[] = [];
    await listNodes(client, {}, { out: (line) => lines.push(line), err: () => undefined });
    const status = (name: string) =>
      lines
        .join("\n")
        .split("\n")
        .find((line) => line.startsWith(`${name} `))!
        .split(/\s{2,}/)[5];
    expect(status("in-maintenance")).toBe("drained");
    expect(status("shutting-down")).toBe("stopping");
    expect(status("serving")).toBe("online");
  });
});
