import { writePrivateFile } from "../../shared/privateFile";
import net from "node:net";
import path from "node:path";
import type { Settings, SettingsUpdate } from "../../contract";
import type { Config } from "../config";
import { AppError } from "../../shared/errors";
import type { Logger } from "../../shared/logger";
import type { SecretStore } from "./secretStore";
import { configFilePath, readConfigFile } from "../configFile";
import { whyFolderCannotBeUsed } from "../../shared/usableFolder";

/** Why llmlb could not listen on `port` now (another program has it; this user may not), or undefined. */
async function whyPortUnusable(host: string, port: number): Promise<string | undefined> {
  const probe = net.createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      probe.once("error", reject);
      probe.listen({ host, port, exclusive: true }, resolve);
    });
    return undefined;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EADDRINUSE") return "another program (or another llmlb) listens on it now";
    if (code === "EACCES") return "this user may not listen on it (ports below 1024 need privileges)";
    return undefined;
  } finally {
    probe.close();
  }
}

/** Starting the desktop app at login: only the Electron shell can do it. */
export interface LoginItem {
  get(): boolean;
  set(enabled: boolean): void;
}

export interface SettingsServiceOptions {
  /** The configuration this process runs with. */
  config: Config;
  /** Where the Hugging Face token set from the app is kept. */
  hfTokenStore: SecretStore;
  /** Default: none (headless: start at login does not apply). */
  loginItem?: LoginItem;
  log: Logger;
  /** The token changed: the hub client and the workers use the new one. Default: nothing. */
  onHfTokenChange?: (token: string | undefined) => void;
  /** The port this start listens on, once it does. Default: unknown. */
  listeningPort?: () => number | undefined;
}

export interface SettingsService {
  get(): Settings;
  update(change: SettingsUpdate): Promise<Settings>;
  /** Where the token in effect comes from, in words for an error message; undefined without one. */
  hfTokenSource(): string | undefined;
  /** The Hugging Face token in effect: the configured one (HF_TOKEN), else the saved one. */
  hfToken(): string | undefined;
}

type FileSettings = { port?: number; hubCacheDir?: string } & Record<string, unknown>;

/**
 * What the dashboard's Settings screen reads and changes. The port and the cache folder are written
 * to `<data dir>/config.json` and apply at the next start; the token applies at once.
 */
export async function createSettingsService(options: SettingsServiceOptions): Promise<SettingsService> {
  const { config, hfTokenStore, loginItem, log } = options;
  const configFile = configFilePath(config.dataDir);
  let saved = await hfTokenStore.read();

  function readFile(): FileSettings {
    try {
      return (readConfigFile(config.dataDir) ?? {}) as FileSettings;
    } catch (error) {
      throw new AppError("input.invalid", `${configFile} is not valid JSON; fix or remove it.`, {
        cause: error,
      });
    }
  }

  function writeFile(file: FileSettings): void {
    writePrivateFile(configFile, `${JSON.stringify(file, null, 2)}\n`);
  }

  // A flag or LLMLB_PORT set the port: that is what runs, and the saved one waits for a start without it.
  const portOverridden = config.overridden.includes("port");
  // HF_HUB_CACHE or HF_HOME set the cache folder, as they do for every Hugging Face tool.
  const cacheOverridden = config.overridden.includes("hubCacheDir");

  function get(): Settings {
    const file = readFile();
    const port = portOverridden ? config.port : (file.port ?? config.port);
    const hubCacheDir = cacheOverridden ? config.hubCacheDir : (file.hubCacheDir ?? config.hubCacheDir);
    const listening = options.listeningPort?.();
    return {
      hf_token: {
        set: (config.hfToken ?? saved) !== undefined,
        storage: config.hfToken ? "env" : hfTokenStore.storage,
        saved_ignored: config.hfToken !== undefined && saved !== undefined,
      },
      hub_cache_dir: hubCacheDir,
      port,
      data_dir: config.dataDir,
      start_at_login: loginItem ? loginItem.get() : null,
      restart_required: port !== config.port || hubCacheDir !== config.hubCacheDir,
      overridden: [
        ...(portOverridden ? (["port"] as const) : []),
        ...(cacheOverridden ? (["hub_cache_dir"] as const) : []),
      ],
      ...(listening !== undefined ? { listening_port: listening } : {}),
    };
  }

  return {
    get,
    async update(change) {
      if (change.hf_token !== undefined && config.hfToken) {
        throw new AppError(
          "settings.read_only",
          "The Hugging Face token comes from HF_TOKEN in the environment; change it there.",
          { param: "hf_token" },
        );
      }
      if (change.port !== undefined && portOverridden) {
        throw new AppError(
          "settings.read_only",
          "The port comes from --port or LLMLB_PORT, given when llmlb started; change it there.",
          { param: "port" },
        );
      }
      if (change.hub_cache_dir !== undefined && cacheOverridden) {
        throw new AppError(
          "settings.read_only",
          "The model cache folder comes from HF_HUB_CACHE (or HF_HOME) in llmlb's environment; change it there.",
          { param: "hub_cache_dir" },
        );
      }
      if (change.hub_cache_dir !== undefined && !path.isAbsolute(change.hub_cache_dir)) {
        throw new AppError("input.invalid", "The cache folder must be an absolute path.", {
          param: "hub_cache_dir",
        });
      }
      // Found now, where it was chosen, not at the next start, which it would stop.
      const cacheProblem =
        change.hub_cache_dir !== undefined ? whyFolderCannotBeUsed(change.hub_cache_dir) : undefined;
      if (cacheProblem) {
        throw new AppError(
          "input.invalid",
          `The model cache folder ${change.hub_cache_dir} cannot be used: ${cacheProblem}. Choose a folder this user can write.`,
          { param: "hub_cache_dir" },
        );
      }
      const portProblem =
        change.port !== undefined &&
        change.port !== 0 &&
        change.port !== (options.listeningPort?.() ?? config.port)
          ? await whyPortUnusable(config.host, change.port)
          : undefined;
      if (portProblem) {
        throw new AppError(
          "input.invalid",
          `Port ${change.port} cannot be used: ${portProblem}. Choose another (0 takes any free port at each start).`,
          { param: "port" },
        );
      }
      if (change.start_at_login !== undefined && !loginItem) {
        throw new AppError("settings.read_only", "Start at login applies to the desktop app only.", {
          param: "start_at_login",
        });
      }
      if (change.port !== undefined || change.hub_cache_dir !== undefined) {
        writeFile({
          ...readFile(),
          ...(change.port !== undefined ? { port: change.port } : {}),
          ...(change.hub_cache_dir !== undefined ? { hubCacheDir: change.hub_cache_dir } : {}),
        });
      }
      if (change.start_at_login !== undefined) loginItem!.set(change.start_at_login);
      if (change.hf_token !== undefined) {
        const token = change.hf_token ?? undefined;
        await hfTokenStore.write(token);
        saved = token;
        log.info({ set: token !== undefined, storage: hfTokenStore.storage }, "Hugging Face token changed");
        options.onHfTokenChange?.(token);
      }
      return get();
    },
    hfToken: () => config.hfToken ?? saved,
    hfTokenSource: () =>
      config.hfToken !== undefined
        ? `the Hugging Face token from HF_TOKEN in llmlb's environment${saved !== undefined ? " (the one saved in Settings is not used while it is set)" : ""}`
        : saved !== undefined
          ? "the Hugging Face token saved in Settings"
          : undefined,
  };
}
