import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src-main/shared/logger";
import { startCore, type TestServer } from "../helpers/startCore";

/** Another program on a loopback port. */
let other: net.Server;
let taken: number;

beforeAll(async () => {
  other = net.createServer();
  await new Promise<void>((resolve) => other.listen(0, "127.0.0.1", resolve));
  taken = (other.address() as net.AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => other.close(() => resolve())));

describe("a port another program holds", () => {
  it("stops `llmlb serve` with what to do (a script means that port)", async () => {
    await expect(startCore({ hubEndpoint: "http://127.0.0.1:9", config: { port: taken } })).rejects.toThrow(
      new RegExp(`Port ${taken} on 127\\.0\\.0\\.1 is in use.*--port or LLMLB_PORT`),
    );
  });

  it("does not keep the desktop app from starting: it serves on another port and says which", async () => {
    const lines: { level: number; msg: string; listening?: number }[] = [];
    let server: TestServer | undefined;
    try {
      server = await startCore({
        hubEndpoint: "http://127.0.0.1:9",
        config: { port: taken },
        core: {
          whenPortTaken: "use-another",
          log: createLogger({
            level: "warn",
            destination: { write: (line: string) => void lines.push(JSON.parse(line)) },
          }),
        },
      });
      const port = Number(new URL(server.url).port);
      expect(port).not.toBe(taken);
      expect((await server.request("GET", "/v0/status")).status).toBe(200);
      const warning = lines.find((line) => line.msg.includes(`Port ${taken} is in use`));
      expect(warning?.msg).toContain(`listening on ${port} instead`);
      // Settings says both: the port chosen, and the one it serves on.
      const settings = (await server.request("GET", "/v0/settings")).body;
      expect(settings).toMatchObject({ port: taken, listening_port: port, restart_required: false });
    } finally {
      await server?.core.dispose();
    }
  });
});
