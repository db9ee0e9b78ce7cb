import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const root = path.resolve(import.meta.dirname, "../..");

function sources(dir: string): string[] {
  return fs
    .readdirSync(path.join(root, dir), { recursive: true, encoding: "utf8" })
    .filter((file) => /\.tsx?$/.test(file))
    .map((file) => path.join(dir, file));
}

function importsOf(file: string): string[] {
  const text = fs.readFileSync(path.join(root, file), "utf8");
  return [...text.matchAll(/(?:from|import)\s*\(?\s*["']([^"']+)["']/g)].map((match) => match[1]!);
}

describe("dependency direction", () => {
  it("core, worker, contract and cli never import electron", () => {
    for (const dir of ["src-main/core", "src-main/worker", "src-main/contract", "src-main/cli"]) {
      for (const file of sources(dir)) expect(importsOf(file), file).not.toContain("electron");
    }
  });

  it("contract imports nothing but zod and itself", () => {
    for (const file of sources("src-main/contract")) {
      for (const spec of importsOf(file))
        expect(spec === "zod" || spec.startsWith("./"), `${file}: ${spec}`).toBe(true);
    }
  });

  it("shared, the kernel core and worker both stand on, imports contract, libraries and itself, never core or worker", () => {
    for (const file of sources("src-main/shared")) {
      for (const spec of importsOf(file)) {
        const local = spec.startsWith(".");
        expect(!local || spec.startsWith("./") || spec.startsWith("../contract"), `${file}: ${spec}`).toBe(
          true,
        );
      }
    }
  });

  it("worker and core never import each other: a worker runs as its own process, on another machine with `node --join`", () => {
    const resolved = (file: string, spec: string) => path.normalize(path.join(path.dirname(file), spec));
    for (const [from, never] of [
      ["src-main/worker", "src-main/core"],
      ["src-main/core", "src-main/worker"],
    ] as const) {
      for (const file of sources(from)) {
        for (const spec of importsOf(file).filter((spec) => spec.startsWith("."))) {
          expect(resolved(file, spec).startsWith(never + path.sep), `${file}: ${spec}`).toBe(false);
        }
      }
    }
  });

  it("Fastify stands only in the HTTP layers: core/server, worker/server and shared's HTTP helpers", () => {
    const httpLayers = [
      `src-main${path.sep}core${path.sep}server${path.sep}`,
      `src-main${path.sep}worker${path.sep}server${path.sep}`,
      `src-main${path.sep}shared${path.sep}http`,
    ];
    const users = ["src-main/core", "src-main/worker", "src-main/shared", "src-main/contract", "src-main/cli"]
      .flatMap(sources)
      .filter((file) => importsOf(file).some((spec) => spec === "fastify" || spec.startsWith("@fastify/")));
    expect(users.length).toBeGreaterThan(0);
    for (const file of users)
      expect(
        httpLayers.some((layer) => file.startsWith(layer)),
        file,
      ).toBe(true);
  });

  it("the renderer imports only types from src-main's contract, values only from units, modelFiles, requestRecords, headers, modelSettingLimits, endpointLimits and dashboardLink, and shared's chat stream reader", () => {
    for (const file of sources("src-renderer")) {
      const text = fs.readFileSync(path.join(root, file), "utf8");
      // Each import or export from src-main, on one line however prettier wrapped it.
      const statements = text.match(/^(import|export)\b[^;]*?from\s+["'][./]*src-main[^"']*["'];$/gm) ?? [];
      expect(statements.length, file).toBe(text.match(/from\s+["'][./]*src-main/g)?.length ?? 0);
      for (const line of statements.map((statement) =>
        statement.replace(/\s*\n\s*/g, " ").replace(/, \}/, " }"),
      )) {
        expect(line, file).toMatch(
          /^(import type .* from ["'](\.\.\/)+src-main\/contract["']|(import|export) \{.*\} from ["'](\.\.\/)+src-main\/(contract\/(units|modelFiles|requestRecords|headers|modelSettingLimits|endpointLimits|dashboardLink)|shared\/chatStream)["']);$/,
        );
      }
    }
    // What the dashboard bundle takes from src-main at run time stands alone.
    expect(importsOf("src-main/contract/units.ts")).toEqual([]);
    expect(importsOf("src-main/contract/headers.ts")).toEqual([]);
    expect(importsOf("src-main/contract/modelSettingLimits.ts")).toEqual([]);
    expect(importsOf("src-main/contract/endpointLimits.ts")).toEqual([]);
    expect(importsOf("src-main/contract/dashboardLink.ts")).toEqual([]);
    // The chat stream reader, which `llmlb chat` reads streams with too: a parser and types.
    const chatStream = fs.readFileSync(path.join(root, "src-main/shared/chatStream.ts"), "utf8");
    expect(chatStream.split("\n").filter((l) => /^import /.test(l) && !/^import type /.test(l))).toEqual([
      'import { createParser } from "eventsource-parser";',
    ]);
    const modelFiles = fs.readFileSync(path.join(root, "src-main/contract/modelFiles.ts"), "utf8");
    expect(modelFiles.split("\n").filter((l) => /^import /.test(l) && !/^import type /.test(l))).toEqual([]);
    const requestRecords = fs.readFileSync(path.join(root, "src-main/contract/requestRecords.ts"), "utf8");
    expect(requestRecords.split("\n").filter((l) => /^import /.test(l) && !/^import type /.test(l))).toEqual(
      [],
    );
  });
});
