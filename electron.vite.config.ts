import { resolve } from "node:path";
import react from "@vitejs/plugin-react";
import { defineConfig } from "electron-vite";

// Sources live in src-main/ and src-renderer/, where electron-vite does not look by itself:
// every entry is named here.
export default defineConfig({
  main: {
    build: {
      outDir: "out/main",
      rollupOptions: {
        input: {
          main: resolve("src-main/electron/main.ts"),
          cli: resolve("src-main/cli/main.ts"),
          worker: resolve("src-main/worker/main.ts"),
        },
      },
    },
  },
  preload: {
    build: {
      outDir: "out/preload",
      rollupOptions: {
        input: { preload: resolve("src-main/electron/preload.ts") },
        // The window is sandboxed, and a sandboxed preload runs as a plain script: CommonJS, one file.
        output: { format: "cjs", entryFileNames: "[name].cjs" },
      },
    },
  },
  renderer: {
    root: "src-renderer",
    plugins: [react()],
    // Served over HTTP to any browser on the machine too, not only to Electron's Chromium.
    build: {
      outDir: "out/renderer",
      target: "es2022",
      minify: true,
      rollupOptions: { input: resolve("src-renderer/index.html") },
    },
  },
});
