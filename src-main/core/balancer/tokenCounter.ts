/**
 * What an answer generated, counted as its chunks pass to the client: the events of a stream, or
 * the `usage.completion_tokens` of a JSON answer. The balancer measures node speed with it.
 */
export interface TokenCounter {
  add(chunk: Buffer): void;
  count(): number;
  /** The tokens the answer itself said it generated (its usage), where it said. */
  reported(): number | undefined;
}

const eventStart = "\ndata: ";
const firstData = Buffer.from("data: ");
/** OpenAI's name for the tokens generated, and Anthropic's. */
const usageKeys = ['"completion_tokens"', '"output_tokens"'];
/** A JSON answer longer than this many chunks is not counted (its usage comes last). */
const maxJsonChunks = 64;

export function createTokenCounter(streaming: boolean, status: number): TokenCounter {
  return streaming ? new EventCounter() : new UsageReader(status);
}

// Classes rather than closures: one of these is made for every request.

/** A stream's last chunks kept (by reference), where its usage is: OpenAI's last event, Anthropic's last but one. */
const tailChunks = 8;

class EventCounter implements TokenCounter {
  private events = 0;
  private readonly tail: Buffer[] = [];

  // Each event's data line, the first one's where the chunk begins with it (OpenAI's); an event
  // named first (Anthropic's, `event: …\ndata: …`) has its data line after a newline.
  add(chunk: Buffer): void {
    if (chunk.subarray(0, firstData.length).equals(firstData)) this.events++;
    for (let at = chunk.indexOf(eventStart); at >= 0; at = chunk.indexOf(eventStart, at + 1)) this.events++;
    this.tail.push(chunk);
    if (this.tail.length > tailChunks) this.tail.shift();
  }

  count(): number {
    return this.events;
  }

  // Read once, at the end, across chunk bounds: the last usage said wins (Anthropic's
  // `message_start` says 1, its `message_delta` the whole).
  reported(): number | undefined {
    return completionTokens(Buffer.concat(this.tail)) || undefined;
  }
}

class UsageReader implements TokenCounter {
  private readonly chunks: Buffer[] = [];
  private counted: number | undefined;

  constructor(private readonly status: number) {}

  add(chunk: Buffer): void {
    if (this.status === 200 && this.chunks.length < maxJsonChunks) this.chunks.push(chunk);
  }

  // Read once, when the answer has ended: the balancer asks for both counts.
  count(): number {
    return (this.counted ??= completionTokens(
      this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks),
    ));
  }

  reported(): number | undefined {
    return this.count() || undefined;
  }
}

/**
 * Found rather than parsed: parsing every JSON answer showed in the balancer's profile. Quotes inside
 * strings are escaped, so the quoted name followed by a colon is the key itself (usage comes last).
 */
export function completionTokens(answer: Buffer): number {
  for (const usageKey of usageKeys) {
    for (
      let at = answer.lastIndexOf(usageKey);
      at >= 0;
      at = at > 0 ? answer.lastIndexOf(usageKey, at - 1) : -1
    ) {
      const after = at + usageKey.length;
      const value = /^\s*:\s*(\d+)/.exec(answer.toString("latin1", after, after + 32));
      if (value) return Number(value[1]);
    }
  }
  return 0;
}
