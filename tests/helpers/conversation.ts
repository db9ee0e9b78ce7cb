/** What one turn's request got. */
export interface Turn {
  status: number;
  /** `x-llmlb-truncated-messages`: how many of the oldest messages were left out (0 when none). */
  truncated: number;
  code?: string;
  message?: string;
}

/**
 * 20 turns of a chat a person has, each answer fed back, against `${baseUrl}/v1`; stops at the first
 * failure. `request`: the rest of each chat request (model, max_tokens, ...).
 */
export async function twentyTurns(baseUrl: string, request: Record<string, unknown>): Promise<Turn[]> {
  const messages: { role: "system" | "user" | "assistant"; content: string }[] = [
    { role: "system", content: "You are terse." },
  ];
  const turns: Turn[] = [];
  for (let turn = 1; turn <= 20; turn++) {
    messages.push({ role: "user", content: `Turn ${turn}: tell me something about the number ${turn}.` });
    const response = await fetch(`${baseUrl}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ...request, messages, temperature: 0 }),
    });
    const body = (await response.json()) as {
      error?: { code?: string; message?: string };
      choices?: { message: { content: string } }[];
    };
    turns.push({
      status: response.status,
      truncated: Number(response.headers.get("x-llmlb-truncated-messages") ?? 0),
      ...(body.error?.code ? { code: body.error.code } : {}),
      ...(body.error?.message ? { message: body.error.message } : {}),
    });
    if (response.status !== 200) break;
    messages.push({ role: "assistant", content: body.choices![0]!.message.content });
  }
  return turns;
}
