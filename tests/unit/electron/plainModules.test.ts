import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const shell = path.resolve(import.meta.dirname, "../../../src-main/electron");

/**
 * The shell's logic lives in modules that load without Electron (the unit tests import them under plain
 * Node, where `import "electron"` would try to download it). Only these files use Electron at run time.
 */
const electronModules = ["main.ts", "preload.ts", "tray.ts", "window.ts", "desktopSettings.ts"];

describe("the Electron shell", () => {
  it("keeps Electron out of its plain modules (type imports aside)", () => {
    const plain = fs
      .readdirSync(shell)
      .filter((file) => file.endsWith(".ts") && !electronModules.includes(file));
    expect(plain).toEqual(
      expect.arrayContaining([
        "trayMenu.ts",
        "throttle.ts",
        "lifecycle.ts",
        "windowOptions.ts",
        "encryptedSecretStore.ts",
        "utilityLauncher.ts",
        "appMenu.ts",
        "loginItems.ts",
      ]),
    );
    for (const file of plain) {
      const text = fs.readFileSync(path.join(shell, file), "utf8");
      const runtime = [...text.matchAll(/^import\s+(?!type\s)[^;]*from\s+["']electron["']/gm)];
      expect(
        runtime.map((match) => match[0]),
        file,
      ).toEqual([]);
      expect(text, file).not.toMatch(/(require|import)\(\s*["']electron["']\s*\)/);
    }
  });
});
