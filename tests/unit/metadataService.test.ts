import { describe, expect, it } from "vitest";
import { AppError } from "../../src-main/shared/errors";
import type { HubClient, RepoMetadata } from "../../src-main/core/hub/hubClient";
import { createMetadataService } from "../../src-main/core/hub/metadataService";
import { createLogger } from "../../src-main/shared/logger";
import { createHubCacheRepository } from "../../src-main/core/registry/hubCacheRepository";
import { openDatabase } from "../../src-main/core/registry/openDatabase";

const log = createLogger({ level: "silent" });

function metadata(commit: string): RepoMetadata {
  return {
    repo: "org/repo",
    revision: "main",
    commit,
    gated: false,
    files: [],
    rejected: [],
  };
}

/** A hub whose next answers the test scripts, counting calls. */
function scriptedHub() {
  const answers: (RepoMetadata | AppError)[] = [];
  let calls = 0;
  const hub: HubClient = {
    async checkDownloadAccess() {},
    async fetchRepoMetadata() {
      calls++;
      const next = answers.shift();
      if (!next) throw new Error("no scripted answer");
      if (next instanceof AppError) throw next;
      return next;
    },
  };
  return { hub, answers, calls: () => calls };
}

function setup() {
  const clock = {
    time: 1_000_000,
    now() {
      return this.time;
    },
  };
  const scripted = scriptedHub();
  const db = openDatabase({ file: ":memory:", log });
  const service = createMetadataService({
    hub: scripted.hub,
    cache: createHubCacheRepository(db),
    clock,
    log,
  });
  return { clock, scripted, service };
}

describe("metadata service", () => {
  it("answers fresh metadata while the hub answers", async () => {
    const { scripted, service } = setup();
    scripted.answers.push(metadata("a".repeat(40)));
    expect(await service.get("org/repo", "main")).toEqual({ metadata: metadata("a".repeat(40)) });
  });

  it("falls back to the last good copy, with its age, when the hub is down", async () => {
    const { clock, scripted, service } = setup();
    scripted.answers.push(metadata("a".repeat(40)), new AppError("hub.unreachable", "down"));
    await service.get("org/repo", "main");
    clock.time += 90_000;
    const result = await service.get("org/repo", "main");
    expect(result.stale).toEqual({ ageSeconds: 90, why: "down" });
    expect(result.metadata.commit).toBe("a".repeat(40));
  });

  it("does not fall back for answers about the repo itself (404, 401)", async () => {
    const { scripted, service } = setup();
    scripted.answers.push(metadata("a".repeat(40)), new AppError("hub.not_found", "gone"));
    await service.get("org/repo", "main");
    await expect(service.get("org/repo", "main")).rejects.toMatchObject({ code: "hub.not_found" });
  });

  it("stays away from the hub while a Retry-After window is open, then asks again", async () => {
    const { clock, scripted, service } = setup();
    scripted.answers.push(
      metadata("a".repeat(40)),
      new AppError("hub.rate_limited", "slow down", { retryAfter: 30 }),
    );
    await service.get("org/repo", "main");
    expect((await service.get("org/repo", "main")).stale).toBeDefined();
    expect(scripted.calls()).toBe(2);
    clock.time += 10_000;
    expect((await service.get("org/repo", "main")).stale).toBeDefined();
    await expect(service.get("other/repo", "main")).rejects.toMatchObject({ code: "hub.rate_limited" });
    expect(scripted.calls()).toBe(2);
    clock.time += 25_000;
    scripted.answers.push(metadata("b".repeat(40)));
    expect(await service.get("org/repo", "main")).toEqual({ metadata: metadata("b".repeat(40)) });
    expect(scripted.calls()).toBe(3);
  });

  it("caps a Retry-After too long to be honest at five minutes", async () => {
    const { clock, scripted, service } = setup();
    scripted.answers.push(new AppError("hub.unreachable", "503", { retryAfter: 315_360_000 }));
    await expect(service.get("org/repo", "main")).rejects.toMatchObject({
      code: "hub.unreachable",
      retryAfter: 300,
    });
    clock.time += 301_000;
    scripted.answers.push(metadata("a".repeat(40)));
    expect((await service.get("org/repo", "main")).metadata.commit).toBe("a".repeat(40));
  });

  it("shares one hub call between concurrent requests for the same repo", async () => {
    const { scripted, service } = setup();
    scripted.answers.push(metadata("a".repeat(40)));
    const results = await Promise.all([service.get("org/repo", "main"), service.get("org/repo", "main")]);
    expect(results[1]!.metadata.commit).toBe("a".repeat(40));
    expect(scripted.calls()).toBe(1);
  });
});
