import { contextBridge } from "electron";

// The dashboard talks to the control plane over HTTP like any browser; the bridge only says
// that it runs inside the desktop app.
contextBridge.exposeInMainWorld("llmlbDesktop", { isDesktop: true, platform: process.platform });
