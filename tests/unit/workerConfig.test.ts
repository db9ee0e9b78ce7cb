import { describe, expect, it } from "vitest";
import { workerConfigFromEnv } from "../../src-main/worker/workerConfig";

const base = {
  LLMLB_CONTROL_URL: "http://127.0.0.1:8080/",
  LLMLB_NODE_TOKEN: "llmlb_node_token_0123456789",
  LLMLB_WORKER_STATE_DIR: "/tmp/llmlb-worker",
  HF_HUB_CACHE: "/tmp/hub",
};

describe("a worker's configuration", () => {
  it("keeps three models loaded unless LLMLB_MAX_LOADED_MODELS says otherwise", () => {
    expect(workerConfigFromEnv(base)).toMatchObject({
      maxLoadedModels: 3,
      controlUrl: "http://127.0.0.1:8080",
    });
    expect(workerConfigFromEnv({ ...base, LLMLB_MAX_LOADED_MODELS: "5" }).maxLoadedModels).toBe(5);
    expect(() => workerConfigFromEnv({ ...base, LLMLB_MAX_LOADED_MODELS: "0" })).toThrow(/maxLoadedModels/);
  });
});
