import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ensureDataDir } from "../../src-main/core/dataDir";
import { tempDirForEachTest } from "../helpers/tempDir";

describe.skipIf(process.platform === "win32")("the data directory", () => {
  const temp = tempDirForEachTest();

  it("is made readable by this user only", () => {
    const dir = path.join(temp.path, "new", "llmlb");
    ensureDataDir(dir);
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
  });

  it("is closed to others when it was made open to them before llmlb started", () => {
    const dir = path.join(temp.path, "made-by-mkdir");
    fs.mkdirSync(dir, { mode: 0o755 });
    fs.chmodSync(dir, 0o755);
    ensureDataDir(dir);
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
  });
});
