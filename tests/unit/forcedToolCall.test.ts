import type { ChatModelFunctions } from "node-llama-cpp";
import { describe, expect, it } from "vitest";
import { forcedToolCall } from "../../src-main/worker/inference/forcedToolCall";

const weather: ChatModelFunctions = {
  get_weather: {
    description: "The weather",
    params: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
};
const both: ChatModelFunctions = { ...weather, get_time: { params: { type: "object", properties: {} } } };

describe("a required tool call cut short by max_tokens", () => {
  it("of the one tool, is that tool's call with the arguments written so far", () => {
    expect(forcedToolCall(weather).cutCallOf(' {"city": "Par')).toEqual({
      name: "get_weather",
      arguments: '{"city": "Par',
      cut: true,
    });
  });

  it("of one of several, is a call once its name is whole, its arguments as far as they got", () => {
    const forced = forcedToolCall(both);
    expect(forced.cutCallOf('{"name": "get_wea')).toBeUndefined();
    expect(forced.cutCallOf('{"name": "get_weather"')).toEqual({
      name: "get_weather",
      arguments: "",
      cut: true,
    });
    expect(forced.cutCallOf('{"name": "get_weather", "argu')).toEqual({
      name: "get_weather",
      arguments: "",
      cut: true,
    });
    expect(forced.cutCallOf('{"name":"get_weather","arguments":{"city":"Par')).toEqual({
      name: "get_weather",
      arguments: '{"city":"Par',
      cut: true,
    });
    // A name of no tool offered is no call.
    expect(forced.cutCallOf('{"name": "get_news", "arguments": {')).toBeUndefined();
  });
});
