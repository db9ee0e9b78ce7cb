import path from "node:path";
import { describe, expect, it } from "vitest";
import { responsesRequestSchema, type ResponseObject } from "../../src-main/contract";
import { openDatabase, type Db } from "../../src-main/core/registry/openDatabase";
import {
  createResponseRepository,
  type ResponseRepository,
  type StoredInputItem,
} from "../../src-main/core/registry/responseRepository";
import { inputItemsOf, outputAsInput } from "../../src-main/core/responses/chatOfResponse";
import { responseBase } from "../../src-main/core/responses/responseOfChat";
import { createLogger } from "../../src-main/shared/logger";
import { migrations } from "../../src-main/core/registry/migrations";
import { tempDirForEachTest } from "../helpers/tempDir";
import { olderDatabase } from "../helpers/olderDatabase";

const log = createLogger({ level: "silent" });
const model = "org/repo";
/** Nothing is old enough to forget unless a test says so. */
const keepAll = 0;

/** The input items of a request that says `words`, as the route takes them. */
const said = (words: string) => inputItemsOf(responsesRequestSchema.parse({ model, input: words }).input);

function setUp() {
  const db = openDatabase({ file: ":memory:", log });
  return { db, repo: createResponseRepository(db) };
}

/**
 * One turn as the Responses route takes it: the stored conversation it continues, its own message, and
 * an answer. Returns the response id.
 */
function turn(
  repo: ResponseRepository,
  options: { previous?: string; say: string; answer: string; createdAt?: number; olderThan?: number },
): string {
  const own = said(options.say);
  const previous = options.previous ? repo.get(options.previous, keepAll) : undefined;
  if (options.previous && !previous) throw new Error(`${options.previous} is not stored`);
  const input: StoredInputItem[] = previous
    ? [...previous.input, ...outputAsInput(previous.response.output), ...own]
    : own;
  const response: ResponseObject = {
    ...responseBase({ model, input: [], previous_response_id: options.previous }, options.createdAt ?? 1_000),
    status: "completed",
    output: [
      {
        type: "message",
        id: `msg_${options.answer}`,
        role: "assistant",
        status: "completed",
        content: [{ type: "output_text", text: options.answer, annotations: [] }],
      },
    ],
  };
  repo.insert(
    {
      response,
      input,
      continues: previous && { id: previous.response.id, items: previous.input.length },
    },
    options.olderThan ?? keepAll,
  );
  return response.id;
}

/** The words of each message a response saw, oldest first. */
function conversationOf(repo: ResponseRepository, id: string): string[] {
  const stored = repo.get(id, keepAll);
  if (!stored) throw new Error(`${id} is not stored`);
  return stored.input.map((item) => {
    if (!("content" in item)) throw new Error(`unexpected item ${JSON.stringify(item)}`);
    return typeof item.content === "string"
      ? item.content
      : item.content.map((part) => ("text" in part ? part.text : "")).join("");
  });
}

/** A chain of `length` turns, "q1"/"a1" to "qN"/"aN"; the ids, oldest first. */
function chain(repo: ResponseRepository, length: number, createdAt = (i: number) => 1_000 + i): string[] {
  const ids: string[] = [];
  for (let i = 1; i <= length; i++)
    ids.push(turn(repo, { previous: ids.at(-1), say: `q${i}`, answer: `a${i}`, createdAt: createdAt(i) }));
  return ids;
}

const rows = (db: Db) => db.prepare<[], { n: number }>(`SELECT COUNT(*) AS n FROM responses`).get()!.n;
/** What the responses table holds: every row's items and response, in bytes. */
const heldBytes = (db: Db) =>
  db
    .prepare<[], { bytes: number }>(
      `SELECT SUM(length(CAST(input AS BLOB)) + length(CAST(response AS BLOB))) AS bytes FROM responses`,
    )
    .get()!.bytes;
const storedBytes = (db: Db) =>
  db.prepare<[], { bytes: number }>(`SELECT SUM(length(input)) AS bytes FROM responses`).get()!.bytes;

describe("response repository", () => {
  const temp = tempDirForEachTest();

  it("keeps at most its limit of responses, the oldest going first, counted across a restart", () => {
    const db = openDatabase({ file: path.join(temp.path, "llmlb.db"), log });
    const repo = createResponseRepository(db, { maxKept: 3 });
    const ids = [1, 2, 3, 4, 5].map((n) =>
      turn(repo, { say: `q${n}`, answer: `a${n}`, createdAt: 1_000 + n }),
    );
    const readable = (store: ResponseRepository) => ids.filter((id) => store.get(id, keepAll) !== undefined);
    expect(readable(repo)).toEqual(ids.slice(2));
    // A deleted one frees its place: the next turn drops nothing.
    expect(repo.remove(ids[2]!)).toBe(true);
    ids.push(turn(repo, { say: "q6", answer: "a6", createdAt: 1_006 }));
    expect(readable(repo)).toEqual([ids[3], ids[4], ids[5]]);
    // Started again on the same database, it counts what it holds.
    const again = createResponseRepository(db, { maxKept: 3 });
    ids.push(turn(again, { say: "q7", answer: "a7", createdAt: 1_007 }));
    expect(readable(again)).toEqual([ids[4], ids[5], ids[6]]);
    db.close();
  });

  it("keeps at most its limit of bytes, the oldest going first, counted across a restart", () => {
    const db = openDatabase({ file: path.join(temp.path, "llmlb.db"), log });
    // The whole conversation sent again each turn, as clients that keep no response ids do.
    const history: string[] = [];
    const ids: string[] = [];
    const store = (into: ResponseRepository) => {
      history.push("x".repeat(2_000));
      ids.push(
        turn(into, { say: history.join(" "), answer: `a${ids.length}`, createdAt: 1_000 + ids.length }),
      );
    };
    const readable = (store: ResponseRepository) => ids.filter((id) => store.get(id, keepAll) !== undefined);
    const repo = createResponseRepository(db, { maxBytes: 20_000 });
    for (let i = 0; i < 8; i++) store(repo);
    // The newest that fit in 20,000 bytes: the last turn alone holds 8 × 2,000 of history.
    const kept = readable(repo);
    expect(kept).toEqual(ids.slice(ids.length - kept.length));
    expect(kept.length).toBeGreaterThanOrEqual(1);
    expect(kept.length).toBeLessThan(4);
    expect(heldBytes(db)).toBeLessThanOrEqual(20_000);
    // Started again on the same database, it counts the bytes it holds.
    const again = createResponseRepository(db, { maxBytes: 20_000 });
    store(again);
    expect(heldBytes(db)).toBeLessThanOrEqual(20_000);
    expect(readable(again).at(-1)).toBe(ids.at(-1));
    // One response larger than the limit is still stored (and read back), alone.
    const huge = createResponseRepository(db, { maxBytes: 1_000 });
    store(huge);
    expect(readable(huge)).toEqual([ids.at(-1)]);
    db.close();
  });

  it("past its limit of bytes, keeps a conversation still continued whole, and frees it once another takes its place", () => {
    const db = openDatabase({ file: ":memory:", log });
    const repo = createResponseRepository(db, { maxBytes: 20_000 });
    const words = "x".repeat(1_000);
    const ids: string[] = [];
    for (let i = 0; i < 50; i++)
      ids.push(
        turn(repo, { previous: ids.at(-1), say: `${i} ${words}`, answer: `${i}`, createdAt: 1_000 + i }),
      );
    // Its earlier turns can no longer be read, but the conversation goes on with every message.
    expect(repo.get(ids[0]!, keepAll)).toBeUndefined();
    expect(conversationOf(repo, ids.at(-1)!)).toHaveLength(99);
    // Another conversation takes its place: the first goes for good, and what is stored fits again.
    let other: string | undefined;
    for (let i = 0; i < 10; i++)
      other = turn(repo, { previous: other, say: `${i}`, answer: `${i}`, createdAt: 2_000 + i });
    expect(repo.get(ids.at(-1)!, keepAll)).toBeUndefined();
    expect(heldBytes(db)).toBeLessThanOrEqual(20_000);
  });

  it("never drops the response it has just stored, though stamped before others (a long answer)", () => {
    const capped = createResponseRepository(openDatabase({ file: ":memory:", log }), { maxKept: 2 });
    const first = turn(capped, { say: "q1", answer: "a1", createdAt: 1_001 });
    const second = turn(capped, { say: "q2", answer: "a2", createdAt: 1_002 });
    // Asked before the two others, answered after them.
    const slow = turn(capped, { say: "q0", answer: "a0", createdAt: 1_000 });
    expect([first, second, slow].map((id) => capped.get(id, keepAll) !== undefined)).toEqual([
      false,
      true,
      true,
    ]);
  });

  it("reads a conversation back whole, each turn in order", () => {
    const { repo } = setUp();
    const ids = chain(repo, 4);
    expect(conversationOf(repo, ids[3]!)).toEqual(["q1", "a1", "q2", "a2", "q3", "a3", "q4"]);
    expect(conversationOf(repo, ids[0]!)).toEqual(["q1"]);
  });

  it("keeps a long conversation in room that grows with its turns, not with their square", () => {
    const { db, repo } = setUp();
    const turns = 200;
    const words = "x".repeat(1_000);
    let last: string | undefined;
    for (let i = 0; i < turns; i++)
      last = turn(repo, { previous: last, say: `${i} ${words}`, answer: `${i}` });
    const whole = repo.get(last!, keepAll)!.input;
    expect(whole).toHaveLength(2 * turns - 1);
    // Each message once, give or take the JSON around it; every turn holding its whole past would be
    // about a hundred times this.
    expect(storedBytes(db)).toBeLessThan(1.5 * JSON.stringify(whole).length);
  });

  it("deleting a turn leaves every later turn whole, branches included, and they can go on", () => {
    const { repo } = setUp();
    const ids = chain(repo, 5);
    const branch = turn(repo, { previous: ids[2], say: "other", answer: "path" });
    const before = conversationOf(repo, ids[4]!);

    expect(repo.remove(ids[2]!)).toBe(true);
    expect(repo.get(ids[2]!, keepAll)).toBeUndefined();
    expect(conversationOf(repo, ids[4]!)).toEqual(before);
    expect(conversationOf(repo, branch)).toEqual(["q1", "a1", "q2", "a2", "q3", "a3", "other"]);
    expect(repo.remove(ids[1]!)).toBe(true);
    const next = turn(repo, { previous: ids[4], say: "q6", answer: "a6" });
    expect(conversationOf(repo, next)).toEqual([...before, "a5", "q6"]);
    expect(repo.remove(ids[2]!)).toBe(false);
  });

  it("forgetting old turns leaves the newer ones of their conversation whole", () => {
    const { repo } = setUp();
    const ids = chain(repo, 5, (i) => i * 100);
    const before = conversationOf(repo, ids[4]!);

    // Storing anything forgets what was created before 350: turns 1 to 3.
    turn(repo, { say: "unrelated", answer: "x", createdAt: 600, olderThan: 350 });
    expect(ids.map((id) => repo.get(id, keepAll) !== undefined)).toEqual([false, false, false, true, true]);
    expect(conversationOf(repo, ids[4]!)).toEqual(before);
    expect(conversationOf(repo, ids[3]!)).toEqual(before.slice(0, -2));
  });

  it("deleting a turn many others continue copies nothing, and the last of them to go takes it along", () => {
    const { db, repo } = setUp();
    const [base] = chain(repo, 1);
    const branches = Array.from({ length: 50 }, (_, i) =>
      turn(repo, { previous: base, say: `branch ${i}`, answer: `answer ${i}` }),
    );
    const before = storedBytes(db);

    expect(repo.remove(base!)).toBe(true);
    expect(repo.get(base!, keepAll)).toBeUndefined();
    expect(repo.remove(base!)).toBe(false);
    expect(storedBytes(db)).toBe(before);
    expect(conversationOf(repo, branches[7]!)).toEqual(["q1", "a1", "branch 7"]);

    for (const id of branches) repo.remove(id);
    expect(rows(db)).toBe(0);
  });

  it("a turn whose predecessor expires as it is stored keeps the whole conversation", () => {
    const { repo } = setUp();
    const ids = chain(repo, 2, (i) => i * 100);
    // Read at the request's start; by its answer the predecessor is older than the retention.
    const late = turn(repo, { previous: ids[1], say: "q3", answer: "a3", createdAt: 300, olderThan: 250 });
    expect(ids.map((id) => repo.get(id, keepAll))).toEqual([undefined, undefined]);
    expect(conversationOf(repo, late)).toEqual(["q1", "a1", "q2", "a2", "q3"]);
  });

  it("a turn stamped before the one it continues (the clock went back) expires alone", () => {
    const { db, repo } = setUp();
    const ids = chain(repo, 4, (i) => 1_000 - i * 100);
    turn(repo, { say: "unrelated", answer: "x", createdAt: 1_000, olderThan: 750 });
    expect(ids.map((id) => repo.get(id, keepAll) !== undefined)).toEqual([true, true, false, false]);
    expect(conversationOf(repo, ids[1]!)).toEqual(["q1", "a1", "q2"]);
    expect(rows(db)).toBe(3);
  });

  it("a turn whose predecessor was deleted while it was answered keeps the whole conversation", () => {
    const { repo } = setUp();
    const [first] = chain(repo, 1);
    const previous = repo.get(first!, keepAll)!;
    repo.remove(first!);
    const own = said("q2");
    const response = { ...previous.response, id: "resp_late", previous_response_id: first! };
    repo.insert(
      {
        response,
        input: [...previous.input, ...outputAsInput(previous.response.output), ...own],
        continues: { id: first!, items: previous.input.length },
      },
      keepAll,
    );
    expect(conversationOf(repo, "resp_late")).toEqual(["q1", "a1", "q2"]);
  });

  it("a conversation stored before turns were linked reads back whole and goes on", () => {
    const file = path.join(temp.path, "llmlb.db");
    const linking = migrations.findIndex((migration) => migration.includes("previous_id"));
    const old = olderDatabase(file, linking);
    // Then, each response kept every item it saw.
    const { repo: scratch } = setUp();
    const ids = chain(scratch, 2);
    const insertOld = old.prepare(
      `INSERT INTO responses (id, model, created_at, input, response) VALUES (?, ?, ?, ?, ?)`,
    );
    for (const id of ids) {
      const stored = scratch.get(id, keepAll)!;
      insertOld.run(id, model, 1_000, JSON.stringify(stored.input), JSON.stringify(stored.response));
    }
    old.close();

    const repo = createResponseRepository(openDatabase({ file, log }));
    expect(conversationOf(repo, ids[1]!)).toEqual(["q1", "a1", "q2"]);
    const next = turn(repo, { previous: ids[1], say: "q3", answer: "a3" });
    repo.remove(ids[1]!);
    expect(conversationOf(repo, next)).toEqual(["q1", "a1", "q2", "a2", "q3"]);
  });

  it("counts the bytes of responses stored before their size was kept", () => {
    const file = path.join(temp.path, "llmlb.db");
    const sized = migrations.findIndex((migration) => migration.includes("responses ADD COLUMN bytes "));
    const old = olderDatabase(file, sized);
    const { repo: scratch } = setUp();
    const insertOld = old.prepare(
      `INSERT INTO responses (id, model, created_at, input, response) VALUES (?, ?, ?, ?, ?)`,
    );
    const ids = [1, 2, 3].map((n) =>
      turn(scratch, { say: "x".repeat(5_000), answer: `a${n}`, createdAt: 1_000 + n }),
    );
    for (const id of ids) {
      const stored = scratch.get(id, keepAll)!;
      insertOld.run(
        id,
        model,
        stored.response.created_at,
        JSON.stringify(stored.input),
        JSON.stringify(stored.response),
      );
    }
    old.close();

    const repo = createResponseRepository(openDatabase({ file, log }), { maxBytes: 14_000 });
    const next = turn(repo, { say: "y".repeat(5_000), answer: "a4", createdAt: 1_004 });
    // About 6,000 bytes each (5,000 of input, the response): the newest two fit.
    expect([...ids, next].map((id) => repo.get(id, keepAll) !== undefined)).toEqual([
      false,
      false,
      true,
      true,
    ]);
  });
});
