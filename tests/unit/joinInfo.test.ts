import os from "node:os";
import { describe, expect, it } from "vitest";
import { joinInfo, type JoinToken } from "../../src-main/core/nodes/joinToken";

const token: JoinToken = {
  current: () => "llmlb_node_abc",
  configured: false,
  local: "llmlb_local_xyz",
  accepts: () => false,
  replace: () => "llmlb_node_new",
};

describe("how another machine joins", () => {
  it("is a command with the node token and this llmlb's address, as it listens on one", () => {
    expect(joinInfo(token, "192.0.2.10", 8080)).toEqual({
      node_token: "llmlb_node_abc",
      token_configured: false,
      commands: [
        {
          url: "http://192.0.2.10:8080",
          command: "LLMLB_NODE_TOKEN=llmlb_node_abc llmlb node --join http://192.0.2.10:8080 --host 0.0.0.0",
        },
      ],
    });
    expect(joinInfo(token, "2001:db8::5", 8081).commands.map((entry) => entry.url)).toEqual([
      "http://[2001:db8::5]:8081",
    ]);
  });

  it("lists each of this machine's addresses beyond loopback when it listens on all of them", () => {
    const external = Object.values(os.networkInterfaces())
      .flatMap((entries) => entries ?? [])
      .filter((entry) => !entry.internal && entry.family === "IPv4")
      .map((entry) => `http://${entry.address}:8080`);
    const info = joinInfo(token, "0.0.0.0", 8080);
    expect(info.commands.map((entry) => entry.url)).toEqual([...new Set(external)]);
    if (external.length === 0) expect(info.unreachable).toMatch(/no network address beyond loopback/);
  });

  it("is none on loopback, with what to do instead", () => {
    for (const host of ["127.0.0.1", "localhost", "::1"]) {
      const info = joinInfo(token, host, 8080);
      expect(info.commands).toEqual([]);
      expect(info.unreachable).toContain(`listens on ${host} only`);
      expect(info.unreachable).toContain("--host 0.0.0.0");
    }
  });
});
