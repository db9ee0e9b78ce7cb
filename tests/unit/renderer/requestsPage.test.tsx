// @vitest-environment jsdom
import { act, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import type { RequestRecord } from "../../../src-main/contract";
import { ApiError } from "../../../src-renderer/api";
import { fakeApi, renderApp } from "./fakes";

const answered: RequestRecord = {
  id: "req-1",
  at: new Date(Date.UTC(2026, 11, 7, 6, 0, 0)).toISOString(),
  client: "127.0.0.1",
  model: "org/repo",
  path: "/v1/chat/completions",
  status: 200,
  ms: 1530,
  node: "gpu-0",
  first_byte_ms: 120,
  completion_tokens: 42,
};

/** The table's rows of requests (a request's note, in a row of its own, left out). */
function rows(): string[][] {
  const table = screen.getByRole("table");
  return within(table)
    .getAllByRole("row")
    .slice(1)
    .filter((row) => !row.classList.contains("request-note"))
    .map((row) =>
      within(row)
        .getAllByRole("cell")
        .map((cell) => cell.textContent ?? ""),
    );
}

describe("the requests page", () => {
  it("lists the latest requests, then each one answered as it comes, newest first", async () => {
    const failedOver: RequestRecord = {
      ...answered,
      id: "req-0",
      status: 502,
      node: "gpu-1",
      tries: 2,
      completion_tokens: undefined,
    };
    const { events } = renderApp(fakeApi({ requests: [answered, failedOver] }), { route: "requests" });
    await screen.findByRole("table");
    expect(rows().map((row) => row.slice(1))).toEqual([
      ["org/repo", "/v1/chat/completions", "gpu-0", "200", "1.53 s", "120 ms", "42", "127.0.0.1"],
      ["org/repo", "/v1/chat/completions", "gpu-1 (2 tried)", "502", "1.53 s", "120 ms", "–", "127.0.0.1"],
    ]);

    events.latest.open();
    const streamed: RequestRecord = {
      ...answered,
      id: "req-2",
      ms: 80,
      stream_events: 7,
      completion_tokens: undefined,
    };
    const left: RequestRecord = {
      ...answered,
      id: "req-3",
      status: 499,
      node: undefined,
      first_byte_ms: undefined,
    };
    events.latest.send({ type: "requests.done", requests: [streamed, left] });
    expect(rows().map((row) => [row[3], row[4], row[5], row[7]])).toEqual([
      ["–", "499", "1.53 s", "42"],
      ["gpu-0", "200", "80 ms", "~7"],
      ["gpu-0", "200", "1.53 s", "42"],
      ["gpu-1 (2 tried)", "502", "1.53 s", "–"],
    ]);
  });

  it("lists a request once when both the list and an event bring it (it was answered as the page read the list)", async () => {
    const { events } = renderApp(fakeApi({ requests: [answered] }), { route: "requests" });
    await screen.findByRole("table");
    events.latest.open();
    const next: RequestRecord = { ...answered, id: "req-2" };
    events.latest.send({ type: "requests.done", requests: [answered, next] });
    events.latest.send({ type: "requests.done", requests: [next] });
    expect(rows()).toHaveLength(2);
  });

  it("after reconnecting to llmlb started again, lists only what the new one answered", async () => {
    const api = fakeApi({ requests: [answered] });
    const { events } = renderApp(api, { route: "requests" });
    await screen.findByRole("table");
    events.latest.open();
    events.latest.drop();
    const since: RequestRecord = { ...answered, id: "req-new", node: "gpu-1" };
    api.listRequests.mockResolvedValue({ data: [since] });
    events.latest.open();
    await screen.findByText("gpu-1");
    expect(rows().map((row) => row[3])).toEqual(["gpu-1"]);
  });

  it("says why a request failed, with its id for the log, the model name a client got wrong, and which were streams", async () => {
    const typo: RequestRecord = {
      ...answered,
      id: "req_typo",
      at: new Date(Date.now() - 3 * 86_400_000).toISOString(),
      model: "unknown",
      requested_model: "gpt-4o-typo",
      status: 404,
      node: undefined,
      first_byte_ms: undefined,
      completion_tokens: undefined,
      error: {
        code: "model_not_found",
        message: "The model gpt-4o-typo is not registered (`llmlb model list` names those that are).",
      },
    };
    const left: RequestRecord = {
      ...answered,
      id: "req_left",
      at: new Date().toISOString(),
      status: 499,
      stream: true,
      stream_events: 3,
      queued_ms: 95,
    };
    const retried: RequestRecord = {
      ...answered,
      id: "req_retried",
      tries: 2,
      failed_tries: ["gpu-1: failed to connect (ECONNREFUSED)"],
    };
    renderApp(fakeApi({ requests: [typo, left, retried] }), { route: "requests" });
    await screen.findByRole("table");
    const [typoRow, leftRow, retriedRow] = rows();
    // When each was answered: the day too, for one from another day.
    expect(typoRow![0]).toMatch(/[A-Za-z].* \d{1,2}:\d\d:\d\d$/);
    expect(leftRow![0]).toMatch(/^\d{1,2}:\d\d:\d\d$/);
    expect(retriedRow![3]).toBe("gpu-0 (2 tried)");
    expect(typoRow![1]).toBe("gpt-4o-typo (not served here)");
    expect(leftRow![2]).toBe("/v1/chat/completions · stream");
    expect(leftRow![6]).toBe("120 ms (95 ms queued)");
    const notes = screen.getAllByRole("row").filter((row) => row.classList.contains("request-note"));
    expect(notes.map((row) => row.textContent)).toEqual([
      "model_not_found: The model gpt-4o-typo is not registered (llmlb model list names those that are). · Request req_typo",
      "The client left before its answer ended. · Request req_left",
      "Tried first: gpu-1: failed to connect (ECONNREFUSED). · Request req_retried",
    ]);
    // What the server put between backticks reads as code.
    expect(within(notes[0]!).getByText("llmlb model list").tagName).toBe("CODE");
    expect(screen.getByText(/~: a stream that carried no usage/)).toBeTruthy();
  });

  it("shows only failures, or one model's requests, and holds the list still while paused", async () => {
    const other: RequestRecord = { ...answered, id: "req-other", model: "acme/other" };
    const refused: RequestRecord = {
      ...answered,
      id: "req-400",
      status: 400,
      error: { code: null, message: "no" },
    };
    const { events } = renderApp(fakeApi({ requests: [refused, other, answered] }), { route: "requests" });
    await screen.findByRole("table");
    events.latest.open();
    const ids = () => rows().map((row) => `${row[1]} ${row[4]}`);

    fireEvent.click(screen.getByRole("checkbox", { name: "Failures only" }));
    expect(ids()).toEqual(["org/repo 400"]);
    fireEvent.click(screen.getByRole("checkbox", { name: "Failures only" }));
    fireEvent.change(screen.getByRole("searchbox", { name: "Filter by model" }), {
      target: { value: "other" },
    });
    expect(ids()).toEqual(["acme/other 200"]);
    fireEvent.change(screen.getByRole("searchbox", { name: "Filter by model" }), {
      target: { value: "nothing" },
    });
    expect(await screen.findByText(/^No request llmlb keeps matches/)).toBeTruthy();
    fireEvent.change(screen.getByRole("searchbox", { name: "Filter by model" }), { target: { value: "" } });
    await waitFor(() => expect(rows()).toHaveLength(3));

    const pause = screen.getByRole("button", { name: "Pause the list" });
    fireEvent.click(pause);
    expect(pause.getAttribute("aria-pressed")).toBe("true");
    events.latest.send({ type: "requests.done", requests: [{ ...answered, id: "req-new", node: "gpu-9" }] });
    expect(rows()).toHaveLength(3);
    expect(screen.getByText(/1 more answered since/)).toBeTruthy();
    fireEvent.click(pause);
    expect(rows()).toHaveLength(4);
    expect(rows()[0]![3]).toBe("gpu-9");
  });

  it("keeps a paused list through a reconnect to llmlb started again, counting only what is new", async () => {
    const api = fakeApi({ requests: [answered] });
    const { events } = renderApp(api, { route: "requests" });
    await screen.findByRole("table");
    events.latest.open();
    fireEvent.click(screen.getByRole("button", { name: "Pause the list" }));
    // The same llmlb, read again: nothing new.
    events.latest.drop();
    api.listRequests.mockResolvedValue({ data: [{ ...answered }] });
    events.latest.open();
    await waitFor(() => expect(api.listRequests).toHaveBeenCalledTimes(2));
    await act(async () => {});
    events.latest.send({ type: "requests.done", requests: [{ ...answered, id: "req-between" }] });
    expect(screen.getByText("1 more answered since the list was paused.")).toBeTruthy();
    // Started again: the paused list stays.
    events.latest.drop();
    api.listRequests.mockResolvedValue({ data: [] });
    events.latest.open();
    await waitFor(() => expect(api.listRequests).toHaveBeenCalledTimes(3));
    await act(async () => {});
    expect(screen.getByText("0 more answered since the list was paused.")).toBeTruthy();
    expect(rows()).toHaveLength(1);
    events.latest.send({
      type: "requests.done",
      requests: [{ ...answered, id: "req-after", node: "gpu-7" }],
    });
    expect(screen.getByText("1 more answered since the list was paused.")).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Pause the list" }));
    expect(rows().map((row) => row[3])).toEqual(["gpu-7"]);
  });

  it("shows older requests on asking, and asks the server for failures, finding one a burst pushed off the first page", async () => {
    const failure: RequestRecord = {
      ...answered,
      id: "req-failed",
      status: 500,
      node: "gpu-3",
      error: { code: "internal_error", message: "The node crashed." },
    };
    const burst = Array.from({ length: 250 }, (_, i): RequestRecord => ({ ...answered, id: `req-${i + 2}` }));
    const api = fakeApi({ requests: [...burst.toReversed(), failure] });
    const { events } = renderApp(api, { route: "requests" });
    await screen.findByRole("table");
    events.latest.open();
    expect(rows()).toHaveLength(200);
    expect(screen.queryByText("gpu-3")).toBeNull();

    fireEvent.click(screen.getByRole("button", { name: "Show older requests" }));
    await screen.findByText("gpu-3");
    expect(rows()).toHaveLength(251);
    expect(screen.queryByRole("button", { name: "Show older requests" })).toBeNull();

    fireEvent.click(screen.getByRole("checkbox", { name: "Failures only" }));
    await waitFor(() => expect(api.listRequests).toHaveBeenLastCalledWith({ failuresOnly: true }));
    expect(rows().map((row) => row[3])).toEqual(["gpu-3"]);
    // Live, only failures come in.
    events.latest.send({
      type: "requests.done",
      requests: [
        { ...answered, id: "req-ok", node: "gpu-4" },
        { ...failure, id: "req-failed-2", node: "gpu-5" },
      ],
    });
    expect(rows().map((row) => row[3])).toEqual(["gpu-5", "gpu-3"]);
  });

  it("a new request pushes the oldest row out and offers it again on asking; older pages join a paused list", async () => {
    const listed = Array.from({ length: 200 }, (_, i): RequestRecord => ({
      ...answered,
      id: `req-${200 - i}`,
    }));
    const api = fakeApi({ requests: listed });
    const { events } = renderApp(api, { route: "requests" });
    await screen.findByRole("table");
    events.latest.open();
    expect(screen.queryByRole("button", { name: "Show older requests" })).toBeNull();
    events.latest.send({
      type: "requests.done",
      requests: [{ ...answered, id: "req-201", node: "gpu-new" }],
    });
    expect(rows()).toHaveLength(200);
    expect(rows()[0]![3]).toBe("gpu-new");

    fireEvent.click(screen.getByRole("button", { name: "Pause the list" }));
    api.listRequests.mockClear();
    fireEvent.click(screen.getByRole("button", { name: "Show older requests" }));
    await waitFor(() => expect(rows()).toHaveLength(201));
    expect(api.listRequests).toHaveBeenCalledWith({ before: "req-2" });
    expect(screen.getByText("0 more answered since the list was paused.")).toBeTruthy();
  });

  it("a filter changed while paused ends the pause and reads the list anew; a name typed is asked for once", async () => {
    const other: RequestRecord = { ...answered, id: "req-other", model: "acme/other", node: "gpu-5" };
    const api = fakeApi({ requests: [other, answered] });
    renderApp(api, { route: "requests" });
    await screen.findByRole("table");
    const pause = screen.getByRole("button", { name: "Pause the list" });
    fireEvent.click(pause);
    api.listRequests.mockClear();
    const search = screen.getByRole("searchbox", { name: "Filter by model" });
    for (const typed of ["o", "ot", "oth"]) fireEvent.change(search, { target: { value: typed } });
    expect(pause.getAttribute("aria-pressed")).toBe("false");
    await waitFor(() => expect(api.listRequests).toHaveBeenCalledTimes(1));
    expect(api.listRequests).toHaveBeenCalledWith({ model: "oth" });
    expect(rows().map((row) => row[3])).toEqual(["gpu-5"]);
    expect(screen.queryByText(/more answered since/)).toBeNull();
  });

  it("says so when the requests before the list's oldest are no longer kept, instead of failing", async () => {
    const listed = Array.from({ length: 201 }, (_, i): RequestRecord => ({
      ...answered,
      id: `req-${201 - i}`,
    }));
    const api = fakeApi({ requests: listed });
    renderApp(api, { route: "requests" });
    await screen.findByRole("table");
    // A busy server pushed the list's oldest out of the 5,000 it keeps.
    api.listRequests.mockRejectedValueOnce(
      new ApiError("before: no request 'req-2' is kept here.", 400, "request.invalid", "before"),
    );
    fireEvent.click(screen.getByRole("button", { name: "Show older requests" }));
    await screen.findByText(/No older request is kept here: llmlb keeps the latest 5,000/);
    expect(screen.queryByRole("button", { name: "Show older requests" })).toBeNull();
    expect(screen.queryByRole("alert")).toBeNull();
  });

  it("says of an answer that broke off after it began that it did", async () => {
    const broken: RequestRecord = { ...answered, status: 502, broke_off: true, stream_events: 12 };
    renderApp(fakeApi({ requests: [broken] }), { route: "requests" });
    const status = await screen.findByText("502 · broke off");
    expect(status.getAttribute("title")).toMatch(/broke off midway: the client got its beginning/);
  });

  it("says so when none was answered yet", async () => {
    renderApp(fakeApi(), { route: "requests" });
    await screen.findByText(/No request answered since llmlb started/);
  });
});
