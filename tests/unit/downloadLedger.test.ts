import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { createLogger } from "../../src-main/shared/logger";
import { openDownloadLedger } from "../../src-main/worker/downloadLedger";
import { tempDirForEachTest } from "../helpers/tempDir";

const log = createLogger({ level: "silent" });
const commit = "c".repeat(40);
const sha = (char: string) => char.repeat(64);

describe("the download ledger's prune", () => {
  const temp = tempDirForEachTest();

  const openLedger = (cache = "hub") =>
    openDownloadLedger(path.join(temp.path, "ledger.json"), path.join(temp.path, cache), log);

  /** A download's lock on a blob, held by the process `pid` of this host. */
  function lockBy(repoDir: string, hash: string, pid: number): string {
    const lock = path.join(repoDir, "blobs", `${hash}.lock`);
    fs.writeFileSync(lock, JSON.stringify({ pid, host: os.hostname(), token: `held-by-${pid}` }));
    return lock;
  }

  /** A file of `repo` as huggingface_hub lays it out, recorded as this node's. */
  async function cached(
    ledger: Awaited<ReturnType<typeof openLedger>> | undefined,
    repo: string,
    hash: string,
    cache = "hub",
  ) {
    const repoDir = path.join(temp.path, cache, `models--${repo.replace("/", "--")}`);
    fs.mkdirSync(path.join(repoDir, "blobs"), { recursive: true });
    fs.mkdirSync(path.join(repoDir, "snapshots", commit), { recursive: true });
    fs.mkdirSync(path.join(repoDir, "refs"), { recursive: true });
    fs.writeFileSync(path.join(repoDir, "blobs", hash), "bytes");
    fs.symlinkSync(`../../blobs/${hash}`, path.join(repoDir, "snapshots", commit, "m.gguf"));
    fs.writeFileSync(path.join(repoDir, "refs", "main"), commit);
    await ledger?.record({ repo, commit, filename: "m.gguf", sha256: hash });
    return repoDir;
  }

  it("after the cache folder changes, claims nothing in the new one, and cleans its own in the old one", async () => {
    const before = await openLedger("old-hub");
    const mine = await cached(before, "org/moved", sha("9"), "old-hub");
    // The same file another tool (huggingface-cli) put in the cache used now.
    const theirs = await cached(undefined, "org/moved", sha("9"), "new-hub");

    const now = await openLedger("new-hub");
    expect(now.owns(sha("9"))).toBe(false);
    // Found there, recorded for this cache: then forgotten as the other tool's, as a download would.
    expect(await now.record({ repo: "org/moved", commit, filename: "m.gguf", sha256: sha("9") })).toBe(true);
    await now.forget({ repo: "org/moved", commit, filename: "m.gguf", sha256: sha("9") });

    expect((await now.prune(new Set(), new Set([sha("9")]))).map((entry) => entry.repo)).toEqual([
      "org/moved",
    ]);
    expect(fs.readFileSync(path.join(theirs, "blobs", sha("9")), "utf8")).toBe("bytes");
    expect(fs.existsSync(mine)).toBe(false);
  });

  it("deletes only what the registry says a removed model left, not what it merely does not list (a new or reset registry)", async () => {
    const ledger = await openLedger();
    const kept = await cached(ledger, "org/unknown-here", sha("7"));
    const gone = await cached(ledger, "org/removed", sha("8"));

    expect(await ledger.prune(new Set(), new Set())).toEqual([]);
    expect(fs.existsSync(path.join(kept, "blobs", sha("7")))).toBe(true);
    // Removed, but registered again since (another id for the file): still in use, so kept.
    expect(await ledger.prune(new Set([sha("8")]), new Set([sha("8")]))).toEqual([]);
    expect((await ledger.prune(new Set(), new Set([sha("8")]))).map((entry) => entry.repo)).toEqual([
      "org/removed",
    ]);
    expect(fs.existsSync(gone)).toBe(false);
    expect(fs.existsSync(path.join(kept, "blobs", sha("7")))).toBe(true);
  });

  it("leaves no folder, ref or dead download's lock of a repo it emptied", async () => {
    const ledger = await openLedger();
    const repoDir = await cached(ledger, "org/gone", sha("a"));
    // A worker killed mid-download left its lock: no process has that pid (above Linux's pid_max).
    lockBy(repoDir, sha("a"), 2 ** 22 + 17);

    await ledger.prune(new Set(), new Set([sha("a")]));
    expect(fs.existsSync(repoDir)).toBe(false);
  });

  it("keeps what another tool put in the repo, and a file whose download (by another process) still runs", async () => {
    const ledger = await openLedger();
    const repoDir = await cached(ledger, "org/shared", sha("b"));
    fs.writeFileSync(path.join(repoDir, "blobs", sha("f")), "another tool's");
    fs.writeFileSync(path.join(repoDir, "blobs", `${sha("b")}.incomplete`), "half of it");
    // pid 1 is alive: someone still downloads it (another llmlb on this cache), into these files.
    const lock = lockBy(repoDir, sha("b"), 1);

    await ledger.prune(new Set(), new Set([sha("b")]));
    expect(fs.readdirSync(path.join(repoDir, "blobs")).sort()).toEqual(
      [sha("b"), `${sha("b")}.incomplete`, `${sha("b")}.lock`, sha("f")].sort(),
    );
    // Its snapshot gone, the ref naming it goes too: huggingface_hub's scan would call it corrupted.
    expect(fs.existsSync(path.join(repoDir, "refs"))).toBe(false);
    expect(fs.existsSync(path.join(repoDir, "snapshots"))).toBe(false);
    expect(fs.existsSync(lock)).toBe(true);
  });

  it("leaves a file another process fetched while this node waited, once it is forgotten", async () => {
    const ledger = await openLedger();
    const repoDir = await cached(ledger, "org/theirs", sha("d"));
    await ledger.forget({ repo: "org/theirs", commit, filename: "m.gguf", sha256: sha("d") });

    expect(await ledger.prune(new Set(), new Set([sha("d")]))).toEqual([]);
    expect(fs.existsSync(path.join(repoDir, "blobs", sha("d")))).toBe(true);
    // Forgotten for good: a ledger opened again does not claim it either.
    expect(await (await openLedger()).prune(new Set(), new Set([sha("d")]))).toEqual([]);
  });

  it("keeps a blob another tool's snapshot links to (the same file at an older commit), removing only its own link", async () => {
    const ledger = await openLedger();
    const repoDir = await cached(ledger, "org/both", sha("e"));
    // huggingface-cli fetched the same file at an earlier commit: its link points at the same blob.
    const older = path.join(repoDir, "snapshots", "o".repeat(40));
    fs.mkdirSync(older, { recursive: true });
    fs.symlinkSync(`../../blobs/${sha("e")}`, path.join(older, "m.gguf"));

    await ledger.prune(new Set(), new Set([sha("e")]));
    expect(fs.readFileSync(path.join(older, "m.gguf"), "utf8")).toBe("bytes");
    expect(fs.existsSync(path.join(repoDir, "snapshots", commit))).toBe(false);
  });

  it("keeps a file another llmlb on the cache uses, and removes it once that llmlb's data directory is gone", async () => {
    const ledger = await openLedger();
    const repoDir = await cached(ledger, "org/shared", sha("f"));
    const otherData = path.join(temp.path, "other-llmlb");
    fs.mkdirSync(otherData);
    const other = await openDownloadLedger(
      path.join(otherData, "ledger.json"),
      path.join(temp.path, "hub"),
      log,
      path.join(otherData, "checked"),
      otherData,
    );
    await other.use([sha("f")]);

    expect(await ledger.prune(new Set(), new Set([sha("f")]))).toEqual([]);
    expect(fs.existsSync(path.join(repoDir, "blobs", sha("f")))).toBe(true);
    // Still this one's: gone at a later prune, once no llmlb uses it (that one's data was deleted).
    expect(ledger.owns(sha("f"))).toBe(true);
    fs.rmSync(otherData, { recursive: true });
    expect((await ledger.prune(new Set(), new Set([sha("f")]))).map((entry) => entry.repo)).toEqual([
      "org/shared",
    ]);
    expect(fs.existsSync(path.join(repoDir, "blobs", sha("f")))).toBe(false);
  });

  it("keeps a file another machine's llmlb marks (a cache on a share), whose data directory it cannot see", async () => {
    const ledger = await openLedger();
    const repoDir = await cached(ledger, "org/shared-far", sha("d"));
    const marks = path.join(temp.path, "hub", ".locks", "llmlb-users", sha("d"));
    fs.mkdirSync(marks, { recursive: true });
    fs.writeFileSync(
      path.join(marks, "elsewhere.json"),
      JSON.stringify({ data_dir: "/srv/llmlb-on-another-box", host: "another-box" }),
    );
    expect(await ledger.prune(new Set(), new Set([sha("d")]))).toEqual([]);
    expect(fs.existsSync(path.join(repoDir, "blobs", sha("d")))).toBe(true);
    expect(fs.existsSync(path.join(marks, "elsewhere.json"))).toBe(true);
  });

  it("remembers a blob hashed for every worker of this llmlb, until the file changes", async () => {
    const checkedDir = path.join(temp.path, "checked");
    const mine = await openDownloadLedger(
      path.join(temp.path, "a.json"),
      path.join(temp.path, "hub"),
      log,
      checkedDir,
    );
    const sibling = await openDownloadLedger(
      path.join(temp.path, "b.json"),
      path.join(temp.path, "hub"),
      log,
      checkedDir,
    );
    const blob = path.join(temp.path, "blob");
    fs.writeFileSync(blob, "bytes");
    expect(await sibling.checked(blob, sha("a"))).toBe(false);
    await mine.rememberChecked(blob, sha("a"));
    expect(await sibling.checked(blob, sha("a"))).toBe(true);
    // Another file's bytes, or the same path under another sha256, is not what was checked.
    expect(await sibling.checked(blob, sha("b"))).toBe(false);
    fs.writeFileSync(blob, "other");
    fs.utimesSync(blob, new Date(), new Date(Date.now() + 5000));
    expect(await sibling.checked(blob, sha("a"))).toBe(false);
  });
});
