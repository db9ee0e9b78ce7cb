import fs from "node:fs";
import readline from "node:readline";
import { once } from "node:events";
import type { ChatMessage, Model, RegisterResponse } from "../contract";
import { truncatedMessagesHeader } from "../contract/headers";
import { readChatStream, StreamedError } from "../shared/chatStream";
import { CliError, encodeModelId, type ApiClient } from "./apiClient";
import { formatBytes, printable } from "./format";
import type { Output } from "./modelCommands";
import { waitTelling } from "./waitForModel";

export interface ChatOptions {
  system?: string;
  maxTokens?: number;
  temperature?: number;
}

/** The terminal (or pipes) `llmlb chat` talks through. */
export interface ChatStreams {
  input: NodeJS.ReadableStream & { isTTY?: boolean; fd?: number };
  output: NodeJS.WritableStream & { isTTY?: boolean };
}

const help = [
  "/clear     forget the conversation (the system message stays)",
  "/bye       leave (also /exit, or Ctrl+D)",
  '"""        begin and end a message of several lines',
  "Ctrl+C     stop the reply being written",
].join("\n");

/**
 * `llmlb chat <model> [prompt]`: one answer to the prompt (and whatever is piped in), or, at a
 * terminal without a prompt, a conversation. A model not registered yet that names a Hugging Face repo
 * is registered first, as `ollama run` pulls; one not ready yet is waited for, its progress shown.
 */
export async function chat(
  client: ApiClient,
  input: string,
  words: string[],
  options: ChatOptions,
  io: Output,
  streams: ChatStreams,
): Promise<void> {
  const piped = await pipedText(streams.input, words.length > 0);
  const prompt = [words.join(" "), piped].filter((part) => part.trim() !== "").join("\n\n");
  const interactive = prompt === "" && streams.input.isTTY === true;
  if (prompt === "" && !interactive)
    throw new CliError("Nothing to send: give a prompt after the model, or pipe one in.");

  const model = await readyModel(client, input, io);
  const conversation = new Conversation(client, model.name, options);
  if (!interactive) {
    // What the model says is the output; how it ended is a note beside it.
    const terminal = streams.output.isTTY === true;
    const outcome = await conversation.send(prompt, (text) =>
      streams.output.write(terminal ? printable(text) : text),
    );
    streams.output.write("\n");
    for (const note of outcome.notes) io.err(note);
    return;
  }
  await converse(conversation, io, streams);
}

/**
 * What is piped in, when anything is: read to its end where nothing else was given (`cat notes.txt |
 * llmlb chat m`), and beside a prompt only from a pipe or a file, which end; never from a terminal, nor
 * from a stream inherited from a parent (a service's), which may never end.
 */
async function pipedText(input: ChatStreams["input"], prompted: boolean): Promise<string> {
  if (input.isTTY) return "";
  if (prompted) {
    const stat = input.fd !== undefined ? fs.fstatSync(input.fd) : undefined;
    if (!stat || !(stat.isFIFO() || stat.isFile())) return "";
  }
  const chunks: Buffer[] = [];
  for await (const chunk of input) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString("utf8");
}

/** The model, registered first where it names a Hugging Face repo not registered yet, and ready. */
async function readyModel(client: ApiClient, input: string, io: Output): Promise<Model> {
  let model: Model;
  try {
    model = await client.request<Model>("GET", `/v0/models/${encodeModelId(input)}`);
  } catch (error) {
    if (!(error instanceof CliError) || error.code !== "registry.not_found") throw error;
    try {
      model = await client.request<RegisterResponse>("POST", "/v0/models/register", { url: input });
    } catch (registering) {
      // Not a repo's name or link: the model is just not registered.
      if (registering instanceof CliError && registering.code === "input.invalid")
        throw new CliError(`${error.message} \`llmlb model list\` lists the models.`);
      throw registering;
    }
    io.err(`Registered ${model.name} (${formatBytes(model.size_bytes)}).`);
  }
  return model.ready ? model : await waitTelling(client, model.name, io);
}

interface Outcome {
  /** Said beside the reply: how it ended, when not plainly. */
  notes: string[];
}

/** A conversation with one model: its messages so far, each reply streamed as it comes. */
class Conversation {
  private messages: ChatMessage[];

  constructor(
    private readonly client: ApiClient,
    readonly model: string,
    private readonly options: ChatOptions,
  ) {
    this.messages = this.start();
  }

  clear(): void {
    this.messages = this.start();
  }

  /**
   * Sends `text` and streams the reply to `onText`; `signal` stops it (what was written so far is kept
   * as the reply). A refusal leaves the conversation as it was.
   */
  async send(text: string, onText: (text: string) => void, signal?: AbortSignal): Promise<Outcome> {
    const asked: ChatMessage[] = [...this.messages, { role: "user", content: text }];
    let reply = "";
    const notes: string[] = [];
    const stopping = signal ?? new AbortController().signal;
    try {
      const response = await this.client.open(
        "POST",
        "/v1/chat/completions",
        {
          model: this.model,
          messages: asked,
          stream: true,
          stream_options: { include_usage: true },
          // A long conversation goes on with its oldest messages left out, and the note says so.
          context_overflow: "truncate_oldest",
          ...(this.options.maxTokens !== undefined ? { max_tokens: this.options.maxTokens } : {}),
          ...(this.options.temperature !== undefined ? { temperature: this.options.temperature } : {}),
        },
        stopping,
      );
      const truncated = Number(response.headers.get(truncatedMessagesHeader) ?? 0);
      if (truncated > 0)
        notes.push(`(the ${truncated} oldest messages were left out to fit the model's context)`);
      const outcome = await readChatStream(response.body!, (piece) => {
        reply += piece;
        onText(piece);
      });
      if (outcome.finishReason === "length")
        notes.push(
          this.options.maxTokens !== undefined
            ? `(cut short at --max-tokens ${this.options.maxTokens})`
            : "(cut short: the model's context is full; /clear starts again)",
        );
    } catch (error) {
      if (!stopping.aborted) {
        if (error instanceof StreamedError) throw new CliError(error.message, 1, error.code);
        throw error;
      }
      notes.push("(stopped)");
    }
    this.messages = [...asked, { role: "assistant", content: reply }];
    return { notes };
  }

  private start(): ChatMessage[] {
    return this.options.system !== undefined ? [{ role: "system", content: this.options.system }] : [];
  }
}

/** The conversation at a terminal: a prompt, each reply as it comes, until /bye or Ctrl+D. */
async function converse(conversation: Conversation, io: Output, streams: ChatStreams): Promise<void> {
  const { output } = streams;
  const lines = readline.createInterface({
    input: streams.input,
    output,
    terminal: true,
    prompt: ">>> ",
  });
  io.err(`Chatting with ${conversation.model}. /help lists the commands; /bye or Ctrl+D leaves.`);
  let replying: AbortController | undefined;
  /** The lines of a message of several lines, between `"""` and `"""`. */
  let gathering: string[] | undefined;
  const prompt = () => {
    lines.setPrompt(gathering ? "... " : ">>> ");
    lines.prompt();
  };

  lines.on("SIGINT", () => {
    if (replying) {
      replying.abort();
      return;
    }
    // Like a shell: Ctrl+C drops what is typed; on an empty line, it says how to leave.
    const typed = lines.line.length > 0 || gathering !== undefined;
    gathering = undefined;
    output.write(typed ? "\n" : "\n(/bye or Ctrl+D leaves)\n");
    lines.write(null, { ctrl: true, name: "u" });
    prompt();
  });

  lines.on("line", (line) => {
    // Typed while a reply is written: not a message.
    if (replying) return;
    const text = gathered(line);
    if (text === undefined) return prompt();
    const command = text.trim();
    if (command === "") return prompt();
    if (command === "/bye" || command === "/exit") return lines.close();
    if (command === "/help" || command === "/?") {
      output.write(help + "\n");
      return prompt();
    }
    if (command === "/clear") {
      conversation.clear();
      output.write("Cleared the conversation.\n");
      return prompt();
    }
    if (/^\/\S+$/.test(command)) {
      output.write(`Unknown command ${command}: /help lists them.\n`);
      return prompt();
    }
    const stopping = new AbortController();
    replying = stopping;
    conversation
      .send(text, (piece) => output.write(printable(piece)), stopping.signal)
      .then(
        ({ notes }) => output.write(["", ...notes].join("\n") + "\n"),
        (error: Error) => output.write(`\nerror: ${printable(error.message)}\n`),
      )
      .finally(() => {
        replying = undefined;
        if (!closed) prompt();
      });
  });

  /** The message once whole: a line, or the lines between `"""` and `"""`; undefined while gathering. */
  const gathered = (line: string): string | undefined => {
    if (gathering === undefined) {
      if (!line.startsWith('"""')) return line;
      const rest = line.slice(3);
      if (rest.endsWith('"""')) return rest.slice(0, -3);
      gathering = [rest];
      return undefined;
    }
    if (!line.endsWith('"""')) {
      gathering.push(line);
      return undefined;
    }
    const whole = [...gathering, line.slice(0, -3)].join("\n");
    gathering = undefined;
    return whole;
  };

  let closed = false;
  prompt();
  await once(lines, "close");
  closed = true;
  replying?.abort();
  output.write("\n");
}
