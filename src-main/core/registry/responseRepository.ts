import type { ResponseInputItem, ResponseObject } from "../../contract";
import type { Db } from "./openDatabase";

/** An input item as kept: with the id `input_items` lists it by. */
export type StoredInputItem = ResponseInputItem & { id: string };

/** A response kept for `previous_response_id` and `GET /v1/responses/{id}`. */
export interface StoredResponse {
  response: ResponseObject;
  /** Every input item it saw, oldest first: the chain's before its own. */
  input: StoredInputItem[];
}

/** A response to keep, and the stored one it continues. */
export interface NewResponse extends StoredResponse {
  /** The response it continues, and how many items at the head of `input` are that one's input. */
  continues?: { id: string; items: number };
}

/**
 * Responses the Responses API stored (`store`, the default). A response that continues another keeps
 * only the items after that one's, and a link to it, so a conversation of n turns takes room in
 * proportion to n, not n². A response deleted or past its age while others continue it is only marked
 * gone: it can no longer be read or continued, but it keeps its items for the turns after it, and goes
 * for good with the last of them. Nothing is copied when a response goes, however many continue it.
 */
export interface ResponseRepository {
  /** Keeps a response, and forgets those created before `olderThan` (unix seconds). */
  insert(entry: NewResponse, olderThan: number): void;
  /** A response kept, unless it was created before `notBefore` (unix seconds). */
  get(id: string, notBefore: number): StoredResponse | undefined;
  remove(id: string): boolean;
}

interface ResponseRow {
  input: string;
  response: string;
}

/** Responses readable (not gone), and the bytes stored (gone ones a later turn needs included). */
interface Held {
  count: number;
  bytes: number;
}

export interface ResponseRepositoryOptions {
  /**
   * The most responses kept: past it, the oldest go as if past their age. A local server answers
   * clients that store every turn by default (the Agents SDK, Codex-style tools), at thousands of
   * turns an hour; kept for 30 days alone, they would fill a disk. Default: 100,000.
   */
  maxKept?: number;
  /**
   * The most bytes stored responses take (each one's own items and the response, as stored, gone
   * ones a later turn still links to included): past it, the oldest go too. A client that sends the
   * whole conversation each turn with `store` on (the default) stores it again each turn, and a
   * request may carry 64 MiB. Only a conversation still continued past it keeps its earlier turns'
   * items (unreadable, for its sake). Default: 1 GiB.
   */
  maxBytes?: number;
}

export function createResponseRepository(
  db: Db,
  options: ResponseRepositoryOptions = {},
): ResponseRepository {
  const maxKept = options.maxKept ?? 100_000;
  const maxBytes = options.maxBytes ?? 1024 ** 3;
  const statements = {
    insert: db.prepare(
      `INSERT INTO responses (id, model, created_at, input, response, previous_id, bytes)
       VALUES (@id, @model, @createdAt, @input, @response, @previousId, @bytes)`,
    ),
    /** Gone or not: a gone one still holds its items for a turn that links to it. */
    exists: db.prepare<[string], { id: string }>(`SELECT id FROM responses WHERE id = ?`),
    /** A response's own items and those of every response before it, the newest first. */
    chain: db.prepare<[string], { input: string }>(
      `WITH RECURSIVE chain (id, previous_id, input, depth) AS (
         SELECT id, previous_id, input, 0 FROM responses WHERE id = ?
         UNION ALL
         SELECT r.id, r.previous_id, r.input, chain.depth + 1
           FROM responses r JOIN chain ON r.id = chain.previous_id
       )
       SELECT input FROM chain ORDER BY depth`,
    ),
    get: db.prepare<[string, number], ResponseRow>(
      `SELECT input, response FROM responses WHERE id = ? AND created_at >= ? AND gone = 0`,
    ),
    markGone: db.prepare<[string]>(`UPDATE responses SET gone = 1 WHERE id = ? AND gone = 0`),
    markExpired: db
      .prepare<[number], string>(
        `UPDATE responses SET gone = 1 WHERE created_at < ? AND gone = 0 RETURNING id`,
      )
      .pluck(),
    /** A gone response no turn links to any more, and the one it continues. */
    unneeded: db.prepare<[string], { previous_id: string | null }>(
      `SELECT previous_id FROM responses r
       WHERE id = ? AND gone = 1 AND NOT EXISTS (SELECT 1 FROM responses c WHERE c.previous_id = r.id)`,
    ),
    remove: db.prepare<[string], number>(`DELETE FROM responses WHERE id = ? RETURNING bytes`).pluck(),
    held: db.prepare<[], Held>(
      `SELECT coalesce(sum(gone = 0), 0) AS count, coalesce(sum(bytes), 0) AS bytes FROM responses`,
    ),
    /** The oldest kept, but never the one just stored (stamped when asked, it may be older than others). */
    markOldest: db
      .prepare<[string, number], string>(
        `UPDATE responses SET gone = 1 WHERE id IN
           (SELECT id FROM responses WHERE gone = 0 AND id != ? ORDER BY created_at, rowid LIMIT ?)
         RETURNING id`,
      )
      .pluck(),
  };
  /** Responses readable now (not gone), and the bytes stored: counted once, then kept up to date. */
  const held: Held = statements.held.get() ?? { count: 0, bytes: 0 };

  /** Every input item a stored response saw, oldest first. */
  function inputOf(id: string): StoredInputItem[] {
    const parts = statements.chain.all(id).map((row) => JSON.parse(row.input) as StoredInputItem[]);
    return parts.reverse().flat();
  }

  /**
   * Deletes a gone response once no turn needs it, then the gone ones before it that no turn needs.
   * Returns the bytes deleted.
   */
  function sweep(id: string): number {
    let freed = 0;
    for (let next: string | null = id; next !== null;) {
      const row = statements.unneeded.get(next);
      if (!row) break;
      freed += statements.remove.get(next) ?? 0;
      next = row.previous_id;
    }
    return freed;
  }

  /** Keeps a response; says how many more are readable now and how many more bytes are stored. */
  const insert = db.transaction((entry: NewResponse, olderThan: number): Held => {
    const change: Held = { count: 0, bytes: 0 };
    const drop = (marked: string[]) => {
      for (const id of marked) {
        change.count--;
        change.bytes -= sweep(id);
      }
      return marked.length;
    };
    drop(statements.markExpired.all(olderThan));
    // The one it continues may have gone for good while it was answered: then it keeps every item.
    const linked = entry.continues && statements.exists.get(entry.continues.id) ? entry.continues : undefined;
    const input = JSON.stringify(linked ? entry.input.slice(linked.items) : entry.input);
    const response = JSON.stringify(entry.response);
    const bytes = Buffer.byteLength(input) + Buffer.byteLength(response);
    statements.insert.run({
      id: entry.response.id,
      model: entry.response.model,
      createdAt: entry.response.created_at,
      input,
      response,
      previousId: linked?.id ?? null,
      bytes,
    });
    change.count++;
    change.bytes += bytes;
    const over = held.count + change.count - maxKept;
    if (over > 0) drop(statements.markOldest.all(entry.response.id, over));
    // One at a time, oldest first, until the rest fits (or only the one just stored is readable: a
    // conversation it continues keeps its earlier turns for it).
    while (held.bytes + change.bytes > maxBytes) {
      if (drop(statements.markOldest.all(entry.response.id, 1)) === 0) break;
    }
    return change;
  });

  /** Bytes deleted, or undefined where no such response is readable. */
  const remove = db.transaction((id: string): number | undefined => {
    if (statements.markGone.run(id).changes === 0) return undefined;
    return sweep(id);
  });

  return {
    // Counted once the transaction is in: one that failed changed nothing.
    insert(entry, olderThan) {
      const change = insert(entry, olderThan);
      held.count += change.count;
      held.bytes += change.bytes;
    },
    get(id, notBefore) {
      const row = statements.get.get(id, notBefore);
      return row && { input: inputOf(id), response: JSON.parse(row.response) as ResponseObject };
    },
    remove(id) {
      const freed = remove(id);
      if (freed === undefined) return false;
      held.count--;
      held.bytes -= freed;
      return true;
    },
  };
}
