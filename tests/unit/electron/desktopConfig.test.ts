import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  electronProfileDir,
  iconsDir,
  loadDesktopConfig,
  trayIconFile,
  whenPortTaken,
} from "../../../src-main/electron/desktopConfig";
import { tempDirForEachTest } from "../../helpers/tempDir";

const root = path.resolve(import.meta.dirname, "../../..");

describe("the desktop app's configuration", () => {
  const dir = tempDirForEachTest("llmlb-desktop-config-");

  it("applies the port and cache folder saved from Settings, under the environment", () => {
    fs.writeFileSync(
      path.join(dir.path, "config.json"),
      JSON.stringify({ port: 9123, hubCacheDir: "/models/hub" }),
    );
    const config = loadDesktopConfig({ LLMLB_DATA_DIR: dir.path });
    expect(config).toMatchObject({ dataDir: dir.path, port: 9123, hubCacheDir: "/models/hub" });
    expect(loadDesktopConfig({ LLMLB_DATA_DIR: dir.path, LLMLB_PORT: "0" }).port).toBe(0);
  });

  it("serves on another port where its own is in use, unless the environment set it for this start", () => {
    fs.writeFileSync(path.join(dir.path, "config.json"), JSON.stringify({ port: 9123 }));
    expect(whenPortTaken(loadDesktopConfig({ LLMLB_DATA_DIR: dir.path }))).toBe("use-another");
    expect(whenPortTaken(loadDesktopConfig({ LLMLB_DATA_DIR: dir.path, LLMLB_PORT: "9124" }))).toBe("fail");
  });

  it("uses the defaults without a config file, and names a broken one", () => {
    expect(loadDesktopConfig({ LLMLB_DATA_DIR: dir.path }).port).toBe(8080);
    fs.writeFileSync(path.join(dir.path, "config.json"), "{ nope");
    expect(() => loadDesktopConfig({ LLMLB_DATA_DIR: dir.path })).toThrow(/config\.json/);
  });

  it("keeps Chromium's profile (and so the single-instance lock) in the data directory", () => {
    expect(electronProfileDir("/data/llmlb")).toBe(path.join("/data/llmlb", "electron"));
  });
});

describe("icons", () => {
  it("come from resources/ in the source tree and <resources>/icons when packaged", () => {
    expect(iconsDir({ packaged: false, appPath: "/src/llmlb", resourcesPath: "/x" })).toBe(
      path.join("/src/llmlb", "resources"),
    );
    expect(iconsDir({ packaged: true, appPath: "/x/app.asar", resourcesPath: "/opt/llmlb/resources" })).toBe(
      path.join("/opt/llmlb/resources", "icons"),
    );
  });

  it("are a template image on macOS and a coloured one elsewhere", () => {
    expect(trayIconFile("darwin")).toBe("trayTemplate.png");
    expect(trayIconFile("win32")).toBe("tray.png");
    expect(trayIconFile("linux")).toBe("tray.png");
  });

  /** Width, height and colour type of a PNG, from its IHDR. */
  function pngHeader(file: string) {
    const data = fs.readFileSync(file);
    expect(data.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(data.toString("ascii", 12, 16)).toBe("IHDR");
    return { width: data.readUInt32BE(16), height: data.readUInt32BE(20), colorType: data[25] };
  }

  it("exist in resources/ at the sizes the platforms want, with transparency", () => {
    const sizes: Record<string, number> = {
      "icon.png": 512,
      "tray.png": 16,
      "tray@2x.png": 32,
      "trayTemplate.png": 16,
      "trayTemplate@2x.png": 32,
    };
    for (const [name, size] of Object.entries(sizes)) {
      expect(pngHeader(path.join(root, "resources", name)), name).toEqual({
        width: size,
        height: size,
        colorType: 6,
      });
    }
  });
});
