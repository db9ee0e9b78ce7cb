import { describe, expect, it } from "vitest";
import {
  allowPermission,
  isDashboardUrl,
  isExternalWebUrl,
  navigationDecision,
  windowOpenDecision,
  windowOptions,
} from "../../../src-main/electron/windowOptions";

const dashboard = "http://127.0.0.1:8080";

describe("dashboard window options", () => {
  const options = windowOptions({ preload: "/app/out/preload/preload.cjs", icon: "/app/resources/icon.png" });

  it("gives the page no Node: context isolation, sandbox, no node integration", () => {
    expect(options.webPreferences).toMatchObject({
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInSubFrames: false,
      webviewTag: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      preload: "/app/out/preload/preload.cjs",
    });
  });

  it("starts hidden (shown when ready, no blank flash) with the app's icon", () => {
    expect(options.show).toBe(false);
    expect(options.icon).toBe("/app/resources/icon.png");
    expect(windowOptions({ preload: "/p.cjs" })).not.toHaveProperty("icon");
  });
});

describe("navigation in the window", () => {
  it("stays on the dashboard's own origin", () => {
    expect(navigationDecision(`${dashboard}/#/models`, dashboard)).toBe("allow");
    expect(navigationDecision(`${dashboard}/?token=x`, dashboard)).toBe("allow");
    expect(isDashboardUrl(`${dashboard}/v0/health`, dashboard)).toBe(true);
  });

  it("sends web pages elsewhere to the system browser", () => {
    expect(navigationDecision("https://huggingface.co/org/repo", dashboard)).toBe("open-external");
    // Another port on the same host is another origin.
    expect(navigationDecision("http://127.0.0.1:9090/", dashboard)).toBe("open-external");
    expect(navigationDecision("http://localhost:8080/", dashboard)).toBe("open-external");
  });

  it("refuses file:, javascript:, data: and custom schemes outright", () => {
    for (const url of [
      "file:///etc/passwd",
      "javascript:alert(1)",
      "data:text/html,<script>alert(1)</script>",
      "vscode://open",
      "not a url",
      "",
    ]) {
      expect(navigationDecision(url, dashboard), url).toBe("deny");
      expect(isExternalWebUrl(url), url).toBe(false);
    }
  });

  it("never opens a window: window.open goes to the system browser or nowhere", () => {
    expect(windowOpenDecision("https://github.com/")).toBe("open-external");
    expect(windowOpenDecision(`${dashboard}/`)).toBe("open-external");
    expect(windowOpenDecision("file:///tmp/x")).toBe("deny");
    expect(windowOpenDecision("javascript:void(0)")).toBe("deny");
  });
});

describe("web permissions", () => {
  it("lets only the dashboard write to the clipboard, and refuses everything else", () => {
    expect(allowPermission("clipboard-sanitized-write", `${dashboard}/`, dashboard)).toBe(true);
    expect(allowPermission("clipboard-sanitized-write", "https://evil.example/", dashboard)).toBe(false);
    for (const permission of ["media", "notifications", "geolocation", "clipboard-read", "openExternal"])
      expect(allowPermission(permission, `${dashboard}/`, dashboard), permission).toBe(false);
  });
});
