import crypto from "node:crypto";
import os from "node:os";
import type { NodeJoinInfo } from "../../contract";
import { AppError } from "../../shared/errors";
import { isLoopbackHost, sameSecret } from "../../shared/httpGuards";
import { loadOrCreateNodeToken, replaceNodeToken } from "../dataDir";

export interface JoinTokenOptions {
  dataDir: string;
  /** Set by LLMLB_NODE_TOKEN or `nodeToken` in config.json: kept as it is, never replaced here. Default: none. */
  configured?: string;
}

/**
 * What lets a worker join (register with) this control plane: the node token another machine shows,
 * and this llmlb's own workers' secret. The node token is a bootstrap secret, like a Kubernetes join
 * token: a node that joined holds a token of its own, so replacing the node token keeps new machines
 * out without stopping those already joined (removing one, `node rm --force`, stops it).
 */
export interface JoinToken {
  /** The node token, as other machines show it now. */
  current(): string;
  /** Whether LLMLB_NODE_TOKEN or config.json sets it (then it is replaced there, not here). */
  readonly configured: boolean;
  /**
   * This llmlb's own workers' secret, new at each start and never replaced: a worker restarted after
   * the node token changed still joins.
   */
  readonly local: string;
  /** Whether a worker may join with this secret. */
  accepts(given: string): boolean;
  /** A new node token, kept in the data directory; the old one lets nothing in any more. */
  replace(): string;
}

export function createJoinToken(options: JoinTokenOptions): JoinToken {
  let token = loadOrCreateNodeToken(options.dataDir, options.configured);
  const local = `llmlb_local_${crypto.randomBytes(24).toString("base64url")}`;
  const configured = options.configured !== undefined;
  return {
    current: () => token,
    configured,
    local,
    accepts: (given) => sameSecret(given, token) || sameSecret(given, local),
    replace() {
      if (configured) {
        throw new AppError(
          "settings.read_only",
          "The node token is set by LLMLB_NODE_TOKEN (or nodeToken in config.json): change it there, then restart llmlb.",
        );
      }
      token = replaceNodeToken(options.dataDir);
      return token;
    },
  };
}

/**
 * How another machine joins this control plane, listening at `host` and `port`: a command for each
 * of this machine's addresses it may be reached by. Listening on loopback only, none can.
 */
export function joinInfo(token: JoinToken, host: string, port: number): NodeJoinInfo {
  const info = { node_token: token.current(), token_configured: token.configured };
  if (isLoopbackHost(host)) {
    return {
      ...info,
      commands: [],
      unreachable: `This llmlb listens on ${host} only, which other machines cannot reach: start it with --host 0.0.0.0 and an API key (--api-key; for the desktop app, "host" and "apiKeys" in config.json in its data folder), then run the command shown here on the other machine.`,
    };
  }
  const addresses = host === "0.0.0.0" || host === "::" ? machineAddresses(host === "::") : [host];
  if (addresses.length === 0) {
    return {
      ...info,
      commands: [],
      unreachable:
        "This machine has no network address beyond loopback: connect it to the network the other machines are on.",
    };
  }
  return {
    ...info,
    commands: addresses.map((address) => {
      const url = `http://${address.includes(":") ? `[${address}]` : address}:${port}`;
      return {
        url,
        command: `LLMLB_NODE_TOKEN=${token.current()} llmlb node --join ${url} --host 0.0.0.0`,
      };
    }),
  };
}

/** This machine's addresses beyond loopback: IPv4 first, then IPv6 (not link-local) when bound to `::`. */
function machineAddresses(withIpv6: boolean): string[] {
  const all = Object.values(os.networkInterfaces()).flatMap((entries) => entries ?? []);
  const external = all.filter((entry) => !entry.internal);
  const ipv4 = external.filter((entry) => entry.family === "IPv4").map((entry) => entry.address);
  const ipv6 = withIpv6
    ? external
        .filter((entry) => entry.family === "IPv6" && !entry.address.toLowerCase().startsWith("fe80"))
        .map((entry) => entry.address)
    : [];
  return [...new Set([...ipv4, ...ipv6])];
}
