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

export interface ResponseRepositoryOptions {
  /**
   * The most responses kept: past it, the oldest go as if past their age. A local server answers
   * clients that store every turn by default (the Agents SDK, Codex-style tools), at thousands of
   * turns an hour; kept for 30 days alone, they would fill a disk. Default: 100,000.
   */
  maxKept?: number;
}

export function createResponseRepository(
  db: Db,
  options: ResponseRepositoryOptions = {},
): ResponseRepository {
  const maxKept = options.maxKept ?? 100_000;
  const statements = {
    insert: db.prepare(
      `INSERT INTO responses (id, model, created_at, input, response, previous_id)
       VALUES (@id, @model, @createdAt, @input, @response, @previousId)`,
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
    remove: db.prepare<[string]>(`DELETE FROM responses WHERE id = ?`),
    kept: db.prepare<[], number>(`SELECT count(*) FROM responses WHERE gone = 0`).pluck(),
    /** The oldest kept, but never the one just stored (stamped when asked, it may be older than others). */
    markOldest: db
      .prepare<[string, number], string>(
        `UPDATE responses SET gone = 1 WHERE id IN
           (SELECT id FROM responses WHERE gone = 0 AND id != ? ORDER BY created_at, rowid LIMIT ?) RETURNING id`,
      )
      .pluck(),
  };
  /** Responses readable now (not gone), counted once and then kept up to date. */
  let kept = statements.kept.get() ?? 0;

  /** Every input item a stored response saw, oldest first. */
  function inputOf(id: string): StoredInputItem[] {
    const parts = statements.chain.all(id).map((row) => JSON.parse(row.input) as StoredInputItem[]);
    return parts.reverse().flat();
  }

  /** Deletes a gone response once no turn needs it, then the gone ones before it that no turn needs. */
  function sweep(id: string): void {
    for (let next: string | null = id; next !== null;) {
      const row = statements.unneeded.get(next);
      if (!row) return;
      statements.remove.run(next);
      next = row.previous_id;
    }
  }

  /** Keeps a response; says how many more responses are readable now (expired and dropped ones gone). */
  const insert = db.transaction((entry: NewResponse, olderThan: number): number => {
    let change = 0;
    for (const id of statements.markExpired.all(olderThan)) {
      change--;
      sweep(id);
    }
    // The one it continues may have gone for good while it was answered: then it keeps every item.
    const linked = entry.continues && statements.exists.get(entry.continues.id) ? entry.continues : undefined;
    statements.insert.run({
      id: entry.response.id,
      model: entry.response.model,
      createdAt: entry.response.created_at,
      input: JSON.stringify(linked ? entry.input.slice(linked.items) : entry.input),
      response: JSON.stringify(entry.response),
      previousId: linked?.id ?? null,
    });
    change++;
    const over = kept + change - maxKept;
    if (over > 0) {
      for (const id of statements.markOldest.all(entry.response.id, over)) {
        change--;
        sweep(id);
      }
    }
    return change;
  });

  const remove = db.transaction((id: string) => {
    if (statements.markGone.run(id).changes === 0) return false;
    sweep(id);
    return true;
  });

  return {
    // Counted once the transaction is in: one that failed changed nothing.
    insert: (entry, olderThan) => void (kept += insert(entry, olderThan)),
    get(id, notBefore) {
      const row = statements.get.get(id, notBefore);
      return row && { input: inputOf(id), response: JSON.parse(row.response) as ResponseObject };
    },
    remove(id) {
      if (!remove(id)) return false;
      kept--;
      return true;
    },
  };
}
