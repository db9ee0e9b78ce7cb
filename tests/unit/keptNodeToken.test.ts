import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { keptNodeToken } from "../../src-main/worker/keptNodeToken";
import { makeTempDir } from "../helpers/tempDir";

let dir: { path: string; remove(): Promise<void> };
beforeEach(async () => {
  dir = await makeTempDir();
});
afterEach(async () => {
  await dir.remove();
});

describe("a worker's kept token", () => {
  it("is kept for this user alone, read back, and forgotten", () => {
    const kept = keptNodeToken(path.join(dir.path, "nodes", "box-cpu0", "node-token"));
    expect(kept.read()).toBeUndefined();
    kept.write("llmlb_nt_first");
    kept.write("llmlb_nt_second");
    expect(kept.read()).toBe("llmlb_nt_second");
    const file = path.join(dir.path, "nodes", "box-cpu0", "node-token");
    if (process.platform !== "win32") expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    kept.forget();
    expect(kept.read()).toBeUndefined();
  });

  it("that cannot be written is said, and nothing is left half-written", () => {
    // A file where its folder should be: nothing can be written under it.
    fs.writeFileSync(path.join(dir.path, "nodes"), "");
    const errors: unknown[] = [];
    const kept = keptNodeToken(path.join(dir.path, "nodes", "box-cpu0", "node-token"), (error) =>
      errors.push(error),
    );
    kept.write("llmlb_nt_first");
    expect(errors).toHaveLength(1);
    expect(kept.read()).toBeUndefined();
    expect(fs.readdirSync(dir.path)).toEqual(["nodes"]);
  });
});
