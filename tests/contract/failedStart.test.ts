import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, expect, it } from "vitest";
import { startCore } from "../helpers/startCore";
import { makeTempDir } from "../helpers/tempDir";

// A core that fails part way through its start (a broken or newer database) lets go of what it took:
// the data directory's lock and the database. Fixed, the same process (the desktop app, which stays
// up) starts it again, rather than being told llmlb is already running there.
let temp: Awaited<ReturnType<typeof makeTempDir>>;
afterEach(async () => {
  await temp?.remove();
});
const start = () => startCore({ hubEndpoint: "http://127.0.0.1:9", dataDir: temp.path });
const databaseFile = () => path.join(temp.path, "llmlb.db");

it("a database file that is not one: the start fails saying so, and once it is moved away the same process starts", async () => {
  temp = await makeTempDir();
  fs.writeFileSync(databaseFile(), "this is not a database ".repeat(200));
  await expect(start()).rejects.toThrow(/not a database/);
  fs.renameSync(databaseFile(), `${databaseFile()}.broken`);
  const server = await start();
  expect((await server.request("GET", "/v0/health")).status).toBe(200);
  await server.close();
});

it("a database from a newer llmlb: the start says so, and closes it, so it can be replaced and started", async () => {
  temp = await makeTempDir();
  const newer = new Database(databaseFile());
  newer.pragma("user_version = 999");
  newer.close();
  await expect(start()).rejects.toThrow(/newer than this app understands/);
  fs.rmSync(databaseFile());
  const server = await start();
  expect((await server.request("GET", "/v0/health")).status).toBe(200);
  await server.close();
});
