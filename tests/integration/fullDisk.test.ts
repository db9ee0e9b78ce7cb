import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { modelSchema } from "../../src-main/contract";
import { startFakeHub, type FakeHub } from "../fixtures/fakeHub";
import { generateTinyGguf } from "../fixtures/tinyGguf";
import { startServeProcess, type ServeProcess } from "../helpers/cliProcess";
import { makeTempDir } from "../helpers/tempDir";
import { waitFor } from "../helpers/waitFor";

// `llmlb serve` whose data directory is a small disk of its own (a tmpfs, in a private mount namespace)
// that fills up while it serves: a full disk must degrade llmlb, not end it.
const canMountTmpfs =
  process.platform === "linux" &&
  spawnSync("unshare", ["-Urm", "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /tmp"]).status === 0;

const model = "acme/tiny-llama-GGUF";
const adminToken = "llmlb_admintoken_for_the_full_disk_test_0001";
let hub: FakeHub;
let serve: ServeProcess;
let temp: Awaited<ReturnType<typeof makeTempDir>>;
/** Files the test creates to have the disk filled, and freed, inside the server's namespace. */
let marks: { fill: string; filled: string; free: string; freed: string };

const admin = async (method: string, url: string, body?: unknown) => {
  const response = await fetch(serve.url + url, {
    method,
    headers: {
      authorization: `Bearer ${adminToken}`,
      ...(body ? { "content-type": "application/json" } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: response.status, body: (await response.json()) as any };
};
const chat = () =>
  fetch(`${serve.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "Hello" }], max_tokens: 2 }),
  });

describe.skipIf(!canMountTmpfs)("a data directory whose disk fills up", () => {
  beforeAll(async () => {
    hub = await startFakeHub({
      repos: [
        { id: model, files: [{ path: "tiny-llama-Q4_K_M.gguf", content: generateTinyGguf({ seed: 1 }) }] },
        {
          id: "acme/other-GGUF",
          files: [{ path: "other-Q4_K_M.gguf", content: generateTinyGguf({ seed: 2 }) }],
        },
      ],
    });
    temp = await makeTempDir();
    const dataDir = path.join(temp.path, "data");
    fs.mkdirSync(dataDir);
    marks = {
      fill: path.join(temp.path, "fill"),
      filled: path.join(temp.path, "filled"),
      free: path.join(temp.path, "free"),
      freed: path.join(temp.path, "freed"),
    };
    // Each mark is waited for a bounded while: the helper shell never outlives a failed test for long.
    const waitMark = (mark: string) =>
      `n=0; until [ -e '${mark}' ] || [ $n -gt 1200 ]; do sleep 0.05; n=$((n+1)); done`;
    const disk =
      `mount -t tmpfs -o size=16m tmpfs '${dataDir}' && ` +
      `(${waitMark(marks.fill)}; cat /dev/zero > '${dataDir}/filler' 2>/dev/null; touch '${marks.filled}'; ` +
      `${waitMark(marks.free)}; rm -f '${dataDir}/filler'; touch '${marks.freed}') & exec "$@"`;
    serve = await startServeProcess(
      ["--port", "0", "--workers", "1"],
      {
        HF_ENDPOINT: hub.url,
        HF_HUB_CACHE: path.join(temp.path, "hub"),
        LLMLB_DATA_DIR: dataDir,
        LLMLB_ADMIN_TOKEN: adminToken,
        LLMLB_LOG_LEVEL: "warn",
      },
      { wrapper: ["unshare", "-Urm", "sh", "-c", disk, "sh"] },
    );
    expect((await admin("POST", "/v0/models/register", { url: model })).status).toBe(201);
    await waitFor(
      "the model ready",
      async () =>
        modelSchema
          .parse((await admin("GET", `/v0/models/${model}`)).body)
          .nodes.some((n) => n.state === "ready"),
      { timeoutMs: 60_000, intervalMs: 200 },
    );
  }, 90_000);
  afterAll(async () => {
    for (const mark of Object.values(marks ?? {})) fs.writeFileSync(mark, "");
    await serve?.stop();
    await hub?.close();
    await temp?.remove();
  });

  it("keeps serving ready models past its nodes' offline cutoff, refuses what it must save with 507, and recovers once there is room", async () => {
    expect((await chat()).status).toBe(200);
    fs.writeFileSync(marks.fill, "");
    await waitFor("the disk full", () => fs.existsSync(marks.filled));
    await waitFor(
      "llmlb to notice (or to end)",
      () => /data directory is full/.test(serve.logs()) || serve.child.exitCode !== null,
    );

    // Nodes whose heartbeats go unrecorded this long were once swept offline, and the sweep's failed
    // write ended llmlb: every answer in that time must be a 200 from a live server.
    const until = Date.now() + 10_000;
    while (Date.now() < until) expect((await chat()).status).toBe(200);
    expect(serve.child.exitCode).toBeNull();

    const refused = await admin("POST", "/v0/models/register", { url: "acme/other-GGUF" });
    expect(refused.status).toBe(507);
    expect(refused.body.error.message).toMatch(
      /^The disk holding llmlb's data directory is full.*free some space/,
    );

    fs.writeFileSync(marks.free, "");
    await waitFor("the disk freed", () => fs.existsSync(marks.freed));
    expect((await admin("POST", "/v0/models/register", { url: "acme/other-GGUF" })).status).toBe(201);
  }, 60_000);
});
