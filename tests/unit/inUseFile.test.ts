import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { createInUseFile } from "../../src-main/worker/inUseFile";
import { tempDirForEachTest } from "../helpers/tempDir";

describe("the note of the models a worker has in use", () => {
  const temp = tempDirForEachTest();

  it("says which models run, and, when it cannot be written, says nothing rather than what ran before", () => {
    const file = path.join(temp.path, "in-use.json");
    const failures: string[] = [];
    const inUse = createInUseFile(file, (error) => failures.push(error.message));
    const leave = inUse.enter("org/a");
    expect(JSON.parse(fs.readFileSync(file, "utf8"))).toEqual({ in_use: ["org/a"], served: [] });
    leave();

    // Its temporary file's place taken by a folder: the next write fails, as on a full disk.
    fs.mkdirSync(`${file}.tmp`);
    const request = inUse.enter("org/b");
    expect(failures).toHaveLength(1);
    // A crash now must not be blamed on org/a, which no longer runs: no note at all.
    expect(fs.existsSync(file)).toBe(false);
    request();
  });
});
