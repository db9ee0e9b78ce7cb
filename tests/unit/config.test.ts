import { describe, expect, it } from "vitest";
import { defaultDataDir, resolveConfig } from "../../src-main/core/config";
import { defaultHubCacheDir } from "../../src-main/shared/hubCacheDir";

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
    ).toThrow(/an origin is scheme:\/\/host\[:port\] with no path/);
    expect(resolveConfig({ env: { LLMLB_API_KEY: " , " }, homedir: home }).apiKeys).toEqual([]);
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
