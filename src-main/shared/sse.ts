/** One server-sent event carrying `payload` as JSON, as OpenAI streams. */
export function sseEvent(payload: unknown): string {
  return `data: ${JSON.stringify(payload)}\n\n`;
}

/** One named server-sent event, as Anthropic and OpenAI's Responses API stream: its name is the payload's `type`. */
export function namedSseEvent(payload: { type: string }): string {
  return `event: ${payload.type}\ndata: ${JSON.stringify(payload)}\n\n`;
}
