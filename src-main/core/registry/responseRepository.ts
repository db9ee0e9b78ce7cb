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

/** Responses the Responses API stored (`store`, the default). */
export interface ResponseRepository {
  /** Keeps a response, and forgets those created before `olderThan` (unix seconds). */
  insert(stored: StoredResponse, olderThan: number): void;
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
      `INSERT INTO responses (id, model, created_at, input, response) VALUES (@id, @model, @createdAt, @input, @response)`,
    ),
    prune: db.prepare<[number]>(`DELETE FROM responses WHERE created_at < ?`),
    get: db.prepare<[string, number], ResponseRow>(
      `SELECT input, response FROM responses WHERE id = ? AND created_at >= ?`,
    ),
    remove: db.prepare<[string]>(`DELETE FROM responses WHERE id = ?`),
  };
  const insert = db.transaction((stored: StoredResponse, olderThan: number) => {
    statements.prune.run(olderThan);
    statements.insert.run({
      id: stored.response.id,
      model: stored.response.model,
      createdAt: stored.response.created_at,
      input: JSON.stringify(stored.input),
      response: JSON.stringify(stored.response),
    });
  });
  return {
    insert: (stored, olderThan) => insert(stored, olderThan),
    get(id, notBefore) {
      const row = statements.get.get(id, notBefore);
      return (
        row && {
          input: JSON.parse(row.input) as StoredInputItem[],
          response: JSON.parse(row.response) as ResponseObject,
        }
      );
    },
    remove: (id) => statements.remove.run(id).changes > 0,
  };
}
