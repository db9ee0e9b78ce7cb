import type OpenAI from "openai";

/** A short greedy answer through the OpenAI SDK: the tiny model gives exactly `maxTokens` tokens. */
export function greedyChat(client: OpenAI, model: string, maxTokens: number, content = "Hi") {
  return client.chat.completions.create({
    model,
    messages: [{ role: "user", content }],
    max_tokens: maxTokens,
    temperature: 0,
  });
}

/**
 * A stream that runs until the tiny model's context is full: greedy, it never picks its
 * end-of-generation token (sampled, it could end early, before whatever the test does meanwhile).
 */
export function longStory(client: OpenAI, model: string) {
  return client.chat.completions.create({
    model,
    messages: [{ role: "user", content: "Tell me a long story" }],
    max_tokens: 3000,
    temperature: 0,
    stream: true,
  });
}
