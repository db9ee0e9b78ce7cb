import { afterEach, describe, expect, it, vi } from "vitest";
import { createHubClient } from "../../src-main/core/hub/hubClient";

const hub = "http://127.0.0.1:1";
const elsewhere = "http://127.0.0.1:2";
const commit = "a".repeat(40);

describe("the hub client's token", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("goes to the hub only: a page link to another origin is followed without it", async () => {
    const sent: { url: string; authorization: string | null }[] = [];
    vi.stubGlobal(
      "fetch",
      vi.fn(async (input: string | URL | Request, init?: RequestInit) => {
        const url = new URL(input instanceof Request ? input.url : input.toString());
        sent.push({ url: url.origin, authorization: new Headers(init?.headers).get("authorization") });
        if (url.pathname.includes("/revision/"))
          return Response.json({ id: "org/repo", _id: "x", sha: commit });
        // The hub's first page of files points at its next page on another origin.
        if (url.origin === hub) {
          return Response.json([], {
            headers: { link: `<${elsewhere}/api/models/org/repo/tree/main?page=2>; rel="next"` },
          });
        }
        return Response.json([]);
      }),
    );
    const client = createHubClient({ endpoint: hub, token: "hf_secret_token" });
    await client.fetchRepoMetadata("org/repo", "main").catch(() => undefined);
    expect(
      sent.filter((request) => request.url === hub).every((request) => request.authorization !== null),
    ).toBe(true);
    expect(sent.filter((request) => request.url === elsewhere)).toEqual([
      { url: elsewhere, authorization: null },
    ]);
  });

  it("is sent as it is, whatever its form: a mirror's token, or a wrong one the hub then refuses", async () => {
    const sent: (string | null)[] = [];
    vi.stubGlobal(
      "fetch",
      vi.fn(async (input: string | URL | Request, init?: RequestInit) => {
        sent.push(new Headers(init?.headers).get("authorization"));
        const url = new URL(input instanceof Request ? input.url : input.toString());
        if (url.pathname.includes("/revision/"))
          return Response.json({ id: "org/repo", _id: "x", sha: commit });
        return Response.json([]);
      }),
    );
    const client = createHubClient({ endpoint: hub, token: "mirror-token-1234" });
    await expect(client.fetchRepoMetadata("org/repo", "main")).resolves.toMatchObject({ commit });
    expect(sent.length).toBeGreaterThan(0);
    expect(sent.every((authorization) => authorization === "Bearer mirror-token-1234")).toBe(true);
  });

  it("reads no hub answer past 64 MB, whatever the hub says its length is", async () => {
    let sentBytes = 0;
    vi.stubGlobal(
      "fetch",
      vi.fn(async () => {
        // A mirror that answers the model's metadata with JSON that never ends.
        const endless = new ReadableStream<Uint8Array>({
          pull(controller) {
            sentBytes += 1024 * 1024;
            controller.enqueue(new Uint8Array(1024 * 1024).fill(32));
          },
        });
        return new Response(endless, { headers: { "content-type": "application/json" } });
      }),
    );
    const client = createHubClient({ endpoint: hub });
    await expect(client.fetchRepoMetadata("org/repo", "main")).rejects.toThrow(
      "The hub's answer for org/repo is larger than 64.0 MB: not metadata llmlb reads.",
    );
    expect(sentBytes).toBeLessThan(70_000_000);
  });
});
