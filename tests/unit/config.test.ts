import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { defaultDataDir, resolveConfig, type ResolveConfigOptions } from "../../src-main/core/config";
import { resolveConfigWithFile } from "../../src-main/core/configFile";
import { unknownConfigKeys } from "../../src-main/core/configMessages";
import { defaultHubCacheDir } from "../../src-main/shared/hubCacheDir";
import { tempDirForEachTest } from "../helpers/tempDir";

describe("resolveConfig", () => {
  const home = "/home/ada";

  it("defaults to loopback, port 8080, the public hub and the platform's folders", () => {
    const config = resolveConfig({ env: {}, platform: "linux", homedir: home });
    expect(config).toMatchObject({
      host: "127.0.0.1",
      port: 8080,
      hubEndpoint: "https://huggingface.co",
      dataDir: "/home/ada/.local/share/llmlb",
      hubCacheDir: "/home/ada/.cache/huggingface/hub",
    });
    expect(config.hfToken).toBeUndefined();
    expect(config.drainTimeoutSeconds).toBe(30);
  });

  it("takes how long stopping waits for running requests from the environment, config.json or --drain-timeout", () => {
    expect(resolveConfig({ env: { LLMLB_DRAIN_TIMEOUT: "120" }, homedir: home }).drainTimeoutSeconds).toBe(
      120,
    );
    expect(
      resolveConfig({ env: {}, file: { drainTimeoutSeconds: 0 }, homedir: home }).drainTimeoutSeconds,
    ).toBe(0);
    expect(
      resolveConfig({
        env: { LLMLB_DRAIN_TIMEOUT: "120" },
        flags: { drainTimeoutSeconds: "5" },
        homedir: home,
      }).drainTimeoutSeconds,
    ).toBe(5);
  });

  it("reads HF_HUB_OFFLINE as huggingface_hub does, and it claims no setting", () => {
    for (const [value, offline] of [
      ["1", true],
      ["TRUE", true],
      ["yes", true],
      ["on", true],
      ["0", false],
      ["", false],
      [undefined, false],
    ] as const) {
      const config = resolveConfig({
        env: value === undefined ? {} : { HF_HUB_OFFLINE: value },
        homedir: home,
      });
      expect(config.hubOffline, String(value)).toBe(offline);
      expect(config.overridden).toEqual([]);
    }
  });

  it("layers defaults < file < environment < flags", () => {
    const config = resolveConfig({
      env: { LLMLB_PORT: "9000", HF_ENDPOINT: "http://127.0.0.1:5000/", HF_TOKEN: "hf_x" },
      file: { port: 7000, host: "127.0.0.2" },
      flags: { port: 0, host: undefined },
      homedir: home,
    });
    expect(config).toMatchObject({
      port: 0,
      host: "127.0.0.2",
      hubEndpoint: "http://127.0.0.1:5000",
      hfToken: "hf_x",
    });
  });

  it("knows which settings the environment and flags set, so a saved value does not claim them", () => {
    const config = resolveConfig({
      env: { LLMLB_PORT: "9000", HF_TOKEN: "hf_x" },
      file: { port: 7000, host: "127.0.0.2", overridden: ["host"] },
      flags: { workers: "cpu", host: undefined },
      homedir: home,
    });
    expect([...config.overridden].sort()).toEqual(["hfToken", "port", "workers"]);
    expect(resolveConfig({ env: {}, file: { port: 7000 }, homedir: home }).overridden).toEqual([]);
  });

  it("reads API keys, extra host names and CORS origins as comma-separated lists from the environment", () => {
    const config = resolveConfig({
      env: { LLMLB_API_KEY: " sk-a, sk-b ,,", LLMLB_ALLOWED_HOSTS: "gpu-box.lan" },
      homedir: home,
    });
    expect(config.apiKeys).toEqual(["sk-a", "sk-b"]);
    expect(config.allowedHosts).toEqual(["gpu-box.lan"]);
    const cors = resolveConfig({
      env: { LLMLB_CORS_ORIGINS: "http://localhost:3000,https://app.example:8443" },
      homedir: home,
    });
    expect(cors.corsOrigins).toEqual(["http://localhost:3000", "https://app.example:8443"]);
    expect(() =>
      resolveConfig({ env: { LLMLB_CORS_ORIGINS: "http://localhost:3000/chat" }, homedir: home }),
    ).toThrow(/scheme:\/\/host\[:port\] with no path/);
    expect(resolveConfig({ env: { LLMLB_API_KEY: " , " }, homedir: home }).apiKeys).toEqual([]);
  });

  it("takes the cache folder HF_HUB_CACHE or HF_HOME sets over config.json's, and says it set it", () => {
    const file = { hubCacheDir: "/saved/hub" };
    const fromEnv = resolveConfig({ env: { HF_HOME: "/h" }, file, homedir: home });
    expect(fromEnv.hubCacheDir).toBe("/h/hub");
    expect(fromEnv.overridden).toEqual(["hubCacheDir"]);
    // XDG_CACHE_HOME only moves the default, as it does for huggingface_hub.
    const saved = resolveConfig({ env: { XDG_CACHE_HOME: "/x" }, file, homedir: home });
    expect(saved.hubCacheDir).toBe("/saved/hub");
    expect(saved.overridden).toEqual([]);
  });

  it("reads the Hugging Face cache location as huggingface_hub does", () => {
    expect(defaultHubCacheDir({ HF_HUB_CACHE: "/c", HF_HOME: "/h" }, home)).toBe("/c");
    expect(defaultHubCacheDir({ HF_HOME: "/h" }, home)).toBe("/h/hub");
    expect(defaultHubCacheDir({ XDG_CACHE_HOME: "/x" }, home)).toBe("/x/huggingface/hub");
  });

  it("puts data in each platform's app-data folder", () => {
    expect(defaultDataDir({}, "darwin", home)).toBe("/home/ada/Library/Application Support/llmlb");
    expect(defaultDataDir({ APPDATA: "C:\\Users\\ada\\AppData\\Roaming" }, "win32", home)).toContain("llmlb");
    expect(defaultDataDir({ XDG_DATA_HOME: "/d" }, "linux", home)).toBe("/d/llmlb");
  });

  it("drops trailing slashes from the hub URL wherever it comes from", () => {
    expect(
      resolveConfig({ env: {}, file: { hubEndpoint: "https://mirror.example/" }, homedir: home }).hubEndpoint,
    ).toBe("https://mirror.example");
  });

  it("refuses values that make no sense", () => {
    expect(() => resolveConfig({ env: { HF_ENDPOINT: "ftp://mirror.example" }, homedir: home })).toThrow();
    expect(() => resolveConfig({ env: { LLMLB_PORT: "70000" }, homedir: home })).toThrow();
    expect(() => resolveConfig({ env: { HF_ENDPOINT: "not a url" }, homedir: home })).toThrow();
    expect(() => resolveConfig({ env: { LLMLB_ADMIN_TOKEN: "short" }, homedir: home })).toThrow();
  });
});

describe("a configuration value that does not fit", () => {
  const home = "/home/ada";
  const messageOf = (options: Partial<ResolveConfigOptions>): string => {
    try {
      resolveConfig({ env: {}, homedir: home, ...options });
    } catch (error) {
      return (error as Error).message;
    }
    throw new Error("resolveConfig accepted it");
  };
  // How the CLI spells its flags.
  const flagNames = { port: "--port", apiKeys: "--api-key", corsOrigins: "--cors-origin" };

  it("names the environment variable as the user set it, and says what a good value looks like", () => {
    expect(messageOf({ env: { LLMLB_PORT: "abc" } })).toBe(
      'LLMLB_PORT is "abc", which is not a port: give a whole number from 0 to 65535 (0 picks a free one).',
    );
    expect(messageOf({ env: { LLMLB_PORT: "70000" } })).toMatch(/^LLMLB_PORT is "70000", .* 0 to 65535/);
    expect(messageOf({ env: { LLMLB_WORKERS: "banana" } })).toBe(
      'LLMLB_WORKERS is "banana", which is not a workers mode: give auto, cuda, vulkan, metal, cpu, none, or a number of CPU workers from 1 to 64.',
    );
    expect(messageOf({ env: { LLMLB_DRAIN_TIMEOUT: "a minute" } })).toBe(
      'LLMLB_DRAIN_TIMEOUT is "a minute", which is not a drain timeout: give a whole number of seconds from 0 to 3600 (0 stops at once).',
    );
    expect(messageOf({ env: { HF_ENDPOINT: "notaurl" } })).toMatch(
      /^HF_ENDPOINT is "notaurl", which is not a hub URL: give .*https:\/\/huggingface\.co/,
    );
    // A mirror's password in the URL: fetch cannot send it, and it is not repeated.
    const withPassword = messageOf({ env: { HF_ENDPOINT: "http://hfuser:MIRRORPASS@127.0.0.1:5000" } });
    expect(withPassword).toMatch(
      /^HF_ENDPOINT is "http:\/\/hfuser:…@127\.0\.0\.1:5000", which is not a hub URL: give .*without a user name or password/,
    );
    expect(withPassword).not.toContain("MIRRORPASS");
    // A token as the user name, and a password with an @ in it, are not repeated either.
    expect(messageOf({ env: { HF_ENDPOINT: "https://hf_SECRETTOKEN@mirror.example" } })).toMatch(
      /^HF_ENDPOINT is "https:\/\/…@mirror\.example",/,
    );
    expect(messageOf({ env: { HF_ENDPOINT: "https://u:pa@ss@mirror.example" } })).toMatch(
      /^HF_ENDPOINT is "https:\/\/u:…@mirror\.example",/,
    );
    // One item of a comma-separated list: the one at fault.
    expect(messageOf({ env: { LLMLB_CORS_ORIGINS: "http://localhost:3000,notaurl" } })).toMatch(
      /^LLMLB_CORS_ORIGINS includes "notaurl", which is not a web origin: give scheme:\/\/host\[:port\]/,
    );
  });

  it("names the flag as the user typed it", () => {
    expect(messageOf({ flags: { corsOrigins: ["notaurl"] }, flagNames })).toMatch(
      /^--cors-origin is "notaurl", which is not a web origin: give .*http:\/\/localhost:3000.*\*/,
    );
    expect(messageOf({ flags: { apiKeys: [""] }, flagNames })).toBe(
      "--api-key is not a usable API key: give the text /v1 clients must send as a bearer token (not empty).",
    );
  });

  it("names config.json's key and the file's path", () => {
    expect(messageOf({ file: { port: "abc" }, filePath: "/d/llmlb/config.json" })).toBe(
      '"port" in /d/llmlb/config.json is "abc", which is not a port: give a whole number from 0 to 65535 (0 picks a free one).',
    );
    expect(
      messageOf({ file: { corsOrigins: ["http://a.example", "nope"] }, filePath: "/d/config.json" }),
    ).toMatch(/^"corsOrigins" in \/d\/config\.json includes "nope", which is not a web origin/);
    expect(messageOf({ file: { logLevel: "loud" }, filePath: "/d/config.json" })).toMatch(
      /"logLevel" in \/d\/config\.json is "loud", .*fatal, error, warn, info, debug, trace or silent/,
    );
  });

  it("never repeats a secret it refuses", () => {
    const message = messageOf({ env: { LLMLB_ADMIN_TOKEN: "short-secret" } });
    expect(message).toMatch(/^LLMLB_ADMIN_TOKEN is not a usable admin token: give .*at least 16 characters/);
    expect(message).not.toContain("short-secret");
  });
});

describe("config.json keys llmlb does not read", () => {
  it("are named, with the closest known key when one is close", () => {
    expect(
      unknownConfigKeys({ prot: 18760, port: 1, hub_cache_dir: "/m", LogLevel: "info", zzz: 1 }),
    ).toEqual([
      { key: "prot", suggestion: "port" },
      { key: "hub_cache_dir", suggestion: "hubCacheDir" },
      { key: "LogLevel", suggestion: "logLevel" },
      { key: "zzz" },
    ]);
    expect(unknownConfigKeys({ port: 1, hubCacheDir: "/m" })).toEqual([]);
  });
});

describe("config.json as a user may have written it", () => {
  const temp = tempDirForEachTest();
  const resolveWith = (contents: string) => {
    fs.writeFileSync(path.join(temp.path, "config.json"), contents);
    const warnings: string[] = [];
    const config = resolveConfigWithFile({
      env: { LLMLB_DATA_DIR: temp.path },
      platform: "linux",
      homedir: "/home/ada",
      onWarning: (warning) => warnings.push(warning),
    });
    return { config, warnings };
  };
  const refusal = (contents: string) => {
    try {
      resolveWith(contents);
      return "accepted";
    } catch (error) {
      return (error as Error).message;
    }
  };

  it("reads a file Windows PowerShell wrote, with a byte order mark", () => {
    expect(resolveWith('\uFEFF{"port": 9001}').config.port).toBe(9001);
  });

  it("refuses a file that holds no object, saying what it must hold", () => {
    const file = path.join(temp.path, "config.json");
    expect(refusal('"hello"')).toBe(
      `${file} holds a string; it must hold one JSON object of settings, like {"port": 8080}.`,
    );
    expect(refusal("[]")).toMatch(/holds an array; it must hold one JSON object/);
    expect(refusal("null")).toMatch(/holds null; it must hold one JSON object/);
  });

  it("takes a relative cache folder from the folder llmlb starts in, as before, and says it would move with it", () => {
    const { config, warnings } = resolveWith('{"hubCacheDir": "relcache"}');
    expect(config.hubCacheDir).toBe(path.resolve("relcache"));
    expect(warnings).toEqual([
      expect.stringMatching(
        /"hubCacheDir" is "relcache", a relative path, taken from the folder llmlb started in as \S+relcache; started elsewhere, it would be another folder\. Give the cache folder's absolute path\./,
      ),
    ]);
  });

  it("says a dataDir in it is not read", () => {
    const { config, warnings } = resolveWith('{"dataDir": "/elsewhere", "port": 9002}');
    expect(config).toMatchObject({ dataDir: temp.path, port: 9002 });
    expect(warnings).toEqual([
      expect.stringMatching(/"dataDir" is not read from the file inside the data directory/),
    ]);
  });
});
