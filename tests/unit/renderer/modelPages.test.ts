import { afterEach, describe, expect, it, vi } from "vitest";
import { adminTokenIn } from "../../../src-renderer/adminToken";
import { createHttpApi } from "../../../src-renderer/api";

/** A server's GET /v0/models over `total` models, a page of at most 1000 at a time. */
function serving(total: number) {
  const names = Array.from({ length: total }, (_, index) => `org/model-${String(index).padStart(5, "0")}`);
  const asked: string[] = [];
  const fetched = vi.fn(async (url: string) => {
    const query = new URL(url, "http://dashboard").searchParams;
    asked.push(`${query.get("offset") ?? 0}+${query.get("limit")}`);
    const offset = Number(query.get("offset") ?? 0);
    const limit = Math.min(1000, Number(query.get("limit")));
    const data = names.slice(offset, offset + limit).map((name) => ({ name }));
    return Response.json({ total: names.length, limit, offset, data });
  });
  return { fetched, asked, names };
}

describe("the dashboard's model list", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("reads every page of a registry past the server's page limit", async () => {
    const { fetched, asked, names } = serving(2004);
    vi.stubGlobal("fetch", fetched);
    const list = await createHttpApi(adminTokenIn(undefined)).listModels();
    expect(list.data.map((model) => model.name)).toEqual(names);
    expect(asked).toEqual(["0+1000", "1000+1000", "2000+1000"]);
  });

  it("asks once for a registry within one page", async () => {
    const { fetched, asked } = serving(3);
    vi.stubGlobal("fetch", fetched);
    expect((await createHttpApi(adminTokenIn(undefined)).listModels()).data).toHaveLength(3);
    expect(asked).toEqual(["0+1000"]);
  });

  it("reads again when a model is removed between two pages, so none is skipped", async () => {
    const { fetched, asked, names } = serving(2004);
    // The first time its second page is asked for, a model of the first page has been removed.
    let removed = false;
    vi.stubGlobal(
      "fetch",
      vi.fn(async (url: string) => {
        if (!removed && url.includes("offset=1000")) {
          removed = true;
          names.splice(0, 1);
        }
        return fetched(url);
      }),
    );
    const list = await createHttpApi(adminTokenIn(undefined)).listModels();
    expect(list.data.map((model) => model.name)).toEqual(names);
    expect(asked.length).toBeGreaterThan(3);
  });
});
