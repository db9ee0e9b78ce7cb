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
 * proportion to n, not n². Before a response goes (deleted or past its age), the ones that continue it
 * are given its items, so a conversation reads the same whatever of its past is gone.
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

export function createResponseRepository(db: Db): ResponseRepository {
  const statements = {
    insert: db.prepare(
      `INSERT INTO responses (id, model, created_at, input, response, previous_id)
       VALUES (@id, @model, @createdAt, @input, @response, @previousId)`,
    ),
    exists: db.prepare<[string], { id: string }>(`SELECT id FROM responses WHERE id = ?`),
    expired: db.prepare<[number], { id: string }>(`SELECT id FROM responses WHERE created_at < ?`),
    continuations: db.prepare<[string], { id: string }>(`SELECT id FROM responses WHERE previous_id = ?`),
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
    detach: db.prepare<[string, string]>(`UPDATE responses SET input = ?, previous_id = NULL WHERE id = ?`),
    get: db.prepare<[string, number], ResponseRow>(
      `SELECT input, response FROM responses WHERE id = ? AND created_at >= ?`,
    ),
    remove: db.prepare<[string]>(`DELETE FROM responses WHERE id = ?`),
    removeExpired: db.prepare<[number]>(`DELETE FROM responses WHERE created_at < ?`),
  };

  /** Every input item a stored response saw, oldest first. */
  function inputOf(id: string): StoredInputItem[] {
    const parts = statements.chain.all(id).map((row) => JSON.parse(row.input) as StoredInputItem[]);
    return parts.reverse().flat();
  }

  /** Gives each response that continues `id` all its items, so it no longer needs `id`. */
  function detachContinuations(id: string, going: ReadonlySet<string>): void {
    for (const { id: next } of statements.continuations.all(id)) {
      if (going.has(next)) continue;
      statements.detach.run(JSON.stringify(inputOf(next)), next);
    }
  }

  const prune = (olderThan: number) => {
    const going = new Set(statements.expired.all(olderThan).map((row) => row.id));
    if (going.size === 0) return;
    for (const id of going) detachContinuations(id, going);
    // One statement, so a response and the ones continuing it go together.
    statements.removeExpired.run(olderThan);
  };

  const insert = db.transaction((entry: NewResponse, olderThan: number) => {
    prune(olderThan);
    // The one it continues may have gone while it was answered: then it keeps every item itself.
    const linked = entry.continues && statements.exists.get(entry.continues.id) ? entry.continues : undefined;
    statements.insert.run({
      id: entry.response.id,
      model: entry.response.model,
      createdAt: entry.response.created_at,
      input: JSON.stringify(linked ? entry.input.slice(linked.items) : entry.input),
      response: JSON.stringify(entry.response),
      previousId: linked?.id ?? null,
    });
  });

  const remove = db.transaction((id: string) => {
    detachContinuations(id, new Set([id]));
    return statements.remove.run(id).changes > 0;
  });

  return {
    insert: (entry, olderThan) => insert(entry, olderThan),
    get(id, notBefore) {
      const row = statements.get.get(id, notBefore);
      return row && { input: inputOf(id), response: JSON.parse(row.response) as ResponseObject };
    },
    remove: (id) => remove(id),
  };
}
