import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { createLogger, openLogFile } from "../../src-main/shared/logger";
import { tempDirForEachTest } from "../helpers/tempDir";
import { waitFor } from "../helpers/waitFor";

const temp = tempDirForEachTest();

const linesOf = (file: string) =>
  fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n").filter(Boolean) : [];

describe("the desktop app's log file", () => {
  it("sets itself aside once past its limit while the app runs, and goes on in a new file", async () => {
    const file = path.join(temp.path, "llmlb.log");
    const aside = path.join(temp.path, "llmlb.1.log");
    const log = createLogger({
      destination: openLogFile(file, { limitBytes: 4096, checkEveryMs: 20 }).destination,
    });
    for (let i = 0; i < 60; i++) log.info({ i }, "a request was refused");
    await waitFor("the full log set aside", () => fs.existsSync(aside), { timeoutMs: 5000 });
    log.info({ i: 60 }, "after the change");
    await waitFor("the next line in the new file", () =>
      linesOf(file).some((line) => line.includes('"i":60')),
    );
    // Nothing lost: every line is in one of the two.
    const all = [...linesOf(aside), ...linesOf(file)].map((line) => (JSON.parse(line) as { i: number }).i);
    expect(all.sort((a, b) => a - b)).toEqual(Array.from({ length: 61 }, (_, i) => i));
    expect(fs.statSync(file).size).toBeLessThan(4096);
  });

  it("sets a full log aside at start", async () => {
    const file = path.join(temp.path, "llmlb.log");
    fs.writeFileSync(file, "x".repeat(5000));
    openLogFile(file, { limitBytes: 4096, checkEveryMs: 60_000 });
    expect(fs.readFileSync(path.join(temp.path, "llmlb.1.log"), "utf8")).toHaveLength(5000);
  });
});
