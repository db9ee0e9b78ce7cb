import type { ConfigInput } from "./config";

/**
 * What the configuration's errors and warnings say: where a value came from as the user wrote it
 * (`LLMLB_PORT`, `--cors-origin`, `"port" in <data dir>/config.json`) and what a good one looks like,
 * never the schema's key paths ("corsOrigins.0") or zod's terms.
 */
type Key = keyof ConfigInput;

/** Where a configuration value came from. */
export type ConfigSource =
  | { type: "default" }
  | { type: "file"; path: string }
  | { type: "env"; name: string }
  | { type: "flag"; name: string };

interface ValueRule {
  /** What the value should have been, after "which is not". */
  noun: string;
  /** What a good value looks like, after "give". */
  good: string;
  /** Never repeated in a message: it may sit in a terminal's scrollback or a log. */
  secret?: true;
  /** A list: in config.json, an array like this one. */
  list?: string;
}

const rules: Record<Key, ValueRule> = {
  host: { noun: "an address to listen on", good: "a host name or IP address, like 127.0.0.1 or 0.0.0.0" },
  port: { noun: "a port", good: "a whole number from 0 to 65535 (0 picks a free one)" },
  dataDir: { noun: "a folder", good: "the path of the folder llmlb keeps its data in" },
  hubEndpoint: {
    noun: "a hub URL",
    good: "an http(s) address without a user name or password, https://huggingface.co or a mirror's (https://hf-mirror.example; its token goes in HF_TOKEN)",
  },
  hfToken: {
    noun: "a usable Hugging Face token",
    good: "the token from your Hugging Face account's settings (hf_…)",
    secret: true,
  },
  hubCacheDir: { noun: "a folder", good: "the path of the Hugging Face cache folder" },
  hubOffline: { noun: "on or off", good: "1 (offline) or unset" },
  adminToken: {
    noun: "a usable admin token",
    good: "a token of at least 16 characters, or none to have one generated",
    secret: true,
  },
  nodeToken: {
    noun: "a usable node token",
    good: "a token of at least 16 characters, or none to have one generated",
    secret: true,
  },
  maxLoadedModels: { noun: "a count of models", good: "a whole number from 1 to 64" },
  drainTimeoutSeconds: {
    noun: "a drain timeout",
    good: "a whole number of seconds from 0 to 3600 (0 stops at once)",
  },
  workers: {
    noun: "a workers mode",
    good: "auto, cuda, vulkan, metal, cpu, none, or a number of CPU workers from 1 to 64",
  },
  allowedHosts: {
    noun: "a host name",
    good: "a name clients reach this machine by, like gpu-box.lan",
    list: '["gpu-box.lan"]',
  },
  apiKeys: {
    noun: "a usable API key",
    good: "the text /v1 clients must send as a bearer token (not empty)",
    secret: true,
    list: '["<key>"]',
  },
  corsOrigins: {
    noun: "a web origin",
    good: "scheme://host[:port] with no path, like http://localhost:3000, or * for any",
    list: '["http://localhost:3000"]',
  },
  bodyLimitBytes: { noun: "a body limit", good: "a whole number of bytes above 0, like 1048576" },
  logLevel: { noun: "a log level", good: "fatal, error, warn, info, debug, trace or silent" },
  overridden: { noun: "a list of settings", good: "the names of settings", list: '["port"]' },
};

function shown(value: unknown): string {
  // A URL's password is not repeated: it may sit in a terminal's scrollback or a log.
  const text = (JSON.stringify(value) ?? String(value)).replace(
    /\/\/([^/\s"]*)@/g,
    (_, userinfo: string) => `//${userinfo.includes(":") ? `${userinfo.split(":")[0]}:…` : "…"}@`,
  );
  return text.length > 80 ? `${text.slice(0, 77)}…` : text;
}

/**
 * One sentence on a value that does not fit: where it came from, what it was (unless a secret), and
 * what to give instead. `item` is set when one entry of a list is at fault.
 */
export function configValueMessage(
  key: Key,
  source: ConfigSource,
  value: unknown,
  item?: { value: unknown },
): string {
  const rule = rules[key];
  const where =
    source.type === "env" || source.type === "flag"
      ? source.name
      : source.type === "file"
        ? `${JSON.stringify(key)} in ${source.path}`
        : `llmlb's default ${key}`;
  // Each use of a repeatable flag is one item; a variable or a file's array holds several.
  const verb = item && source.type !== "flag" ? "includes" : "is";
  if (!item && rule.list && source.type === "file" && !Array.isArray(value)) {
    return `${where} is ${shown(value)}, which is not a list: give one like ${rule.list}.`;
  }
  const what = rule.secret ? "" : ` ${verb} ${shown(item ? item.value : value)},`;
  return `${where}${what}${rule.secret ? " is not" : " which is not"} ${rule.noun}: give ${rule.good}.`;
}

/** Keys config.json may hold; `overridden` is worked out at each start, never read from the file. */
const knownKeys = (Object.keys(rules) as Key[]).filter((key) => key !== "overridden");

/** Edits (insert, delete, substitute, swap two neighbours) from one word to another. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
      }
    }
  }
  return d[a.length]![b.length]!;
}

/** The known key a typo most likely meant: the same in another case or spelling (`hub_cache_dir`), or a letter or two off. */
function closestKey(key: string): string | undefined {
  const plain = (text: string) => text.toLowerCase().replace(/[-_]/g, "");
  const same = knownKeys.find((known) => plain(known) === plain(key));
  if (same) return same;
  const allowed = key.length >= 5 ? 2 : 1;
  let best: { key: string; distance: number } | undefined;
  for (const known of knownKeys) {
    const d = distance(plain(key), plain(known));
    if (d <= allowed && (!best || d < best.distance)) best = { key: known, distance: d };
  }
  return best?.key;
}

/** The keys of a config.json llmlb does not read (a typo is otherwise silently ignored), with what each may have meant. */
export function unknownConfigKeys(file: Record<string, unknown>): { key: string; suggestion?: string }[] {
  return Object.keys(file)
    .filter((key) => !(knownKeys as string[]).includes(key))
    .map((key) => {
      const suggestion = closestKey(key);
      return suggestion ? { key, suggestion } : { key };
    });
}

/** One line for a key config.json holds that llmlb does not read. */
export function unknownConfigKeyWarning(
  filePath: string,
  unknown: { key: string; suggestion?: string },
): string {
  const meant = unknown.suggestion ? ` (did you mean ${JSON.stringify(unknown.suggestion)}?)` : "";
  return `${filePath}: ${JSON.stringify(unknown.key)} is not a setting llmlb reads, so it is ignored${meant}.`;
}
