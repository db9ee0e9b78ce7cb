import fs from "node:fs";
import readline from "node:readline";
import {
  type ChatMessage,
  type Model,
  type OpenAiModel,
  modelSchema,
  openAiModelSchema,
  registerResponseSchema,
} from "../contract";
import { truncatedMessagesHeader } from "../contract/headers";
import { readChatStream, StreamedError } from "../shared/chatStream";
import { CliError, encodeModelId, type ApiClient } from "./apiClient";
import { printable } from "./format";
import { idOfLink, type Output } from "./modelCommands";
import { waitTelling } from "./waitForModel";

/** What each request of the conversation says besides its messages. */
export interface ChatOptions {
  /** A system message before the conversation. Default: none. */
  system?: string;
  /** At most this many tokens per reply. Default: the server's (up to the end of the context). */
  maxTokens?: number;
  /** Sampling temperature, 0 to 2. Default: the server's. */
  temperature?: number;
}

/** The terminal (or pipes) `llmlb chat` talks through. */
export interface ChatStreams {
  input: NodeJS.ReadableStream & { isTTY?: boolean; fd?: number; setRawMode?: (raw: boolean) => unknown };
  output: NodeJS.WritableStream & { isTTY?: boolean };
}

/**
 * How long a reply may take to begin: its model may have to load first (minutes for a first load on a
 * GPU), or wait for a free sequence. Ctrl+C stops it sooner.
 */
const replyBeginsWithinMs = 15 * 60_000;

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
  const conversation = new Conversation(client, model, options);
  if (interactive) return converse(conversation, io, streams);
  // What the model says is the output; how it ended is a note beside it. A reader that goes away
  // (`| head -5`) stops the reply at the server too.
  const readerGone = new AbortController();
  streams.output.on("error", () => readerGone.abort());
  // At a terminal as in a conversation; into a pipe or a file, the answer's text as it is.
  const writer =
    streams.output.isTTY === true
      ? replyWriter(streams.output, io)
      : { text: (text: string) => void streams.output.write(text), reasoning: undefined, end: () => {} };
  let wrote = false;
  const text = (piece: string) => ((wrote = true), writer.text(piece));
  const reasoning = writer.reasoning && ((piece: string) => ((wrote = true), writer.reasoning!(piece)));
  let outcome: Outcome;
  try {
    outcome = await conversation.send(prompt, text, readerGone.signal, reasoning);
  } finally {
    writer.end();
    // What came ends its line, whatever followed; where nothing came, the output stays empty.
    if (wrote) streams.output.write("\n");
  }
  // A reader that went away is told nothing more: it stopped reading on purpose.
  if (!readerGone.signal.aborted) for (const note of outcome.notes) io.err(note);
}

/**
 * What is piped in, when anything is: read to its end where nothing else was given (`cat notes.txt |
 * llmlb chat m`); beside a prompt, only from a pipe or a file (`git diff | llmlb chat m "Review:"`),
 * never from a terminal nor a socket. A pipe a parent holds open without writing (a service's) holds
 * the command up until it closes, as with `ollama run`.
 */
async function pipedText(input: ChatStreams["input"], prompted: boolean): Promise<string> {
  if (input.isTTY) return "";
  if (prompted) {
    let stat: fs.Stats | undefined;
    try {
      stat = input.fd !== undefined ? fs.fstatSync(input.fd) : undefined;
    } catch {
      // Closed (`<&-`): nothing is piped in.
    }
    if (!stat || !(stat.isFIFO() || stat.isFile())) return "";
  }
  const chunks: Buffer[] = [];
  for await (const chunk of input) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * The model's id, registered first where it names a Hugging Face repo not registered yet, once ready.
 * A link (`https://huggingface.co/org/repo`) is looked up by the id it registers as. With an API key
 * rather than the admin token (a server shared beyond loopback), only a model ready now is taken.
 */
async function readyModel(client: ApiClient, input: string, io: Output): Promise<string> {
  const id = idOfLink(input);
  const lookUp = () => client.request(modelSchema, "GET", `/v0/models/${encodeModelId(id)}`);
  let model: Model;
  let registeredHere = false;
  try {
    model = await lookUp();
  } catch (error) {
    if (error instanceof CliError && error.code?.startsWith("auth.")) return readyForKey(client, id, error);
    if (!(error instanceof CliError) || error.code !== "registry.not_found") throw error;
    try {
      const registered = await client.request(registerResponseSchema, "POST", "/v0/models/register", {
        url: input,
      });
      io.err(`Registered ${registered.name}.`);
      for (const warning of registered.warnings) io.err(`warning: ${warning}`);
      model = registered;
      registeredHere = true;
    } catch (registering) {
      if (!(registering instanceof CliError)) throw registering;
      // Not a repo's name or link: the model is just not registered.
      if (registering.code === "input.invalid")
        throw new CliError(`${error.message} \`llmlb model list\` lists the models.`);
      // Registered meanwhile (another `llmlb chat` at once), or by a link to a mirror.
      if (registering.code !== "registry.duplicate") throw registering;
      model = await lookUp().catch(() => Promise.reject(registering));
    }
  }
  if (model.ready) return model.name;
  // Ctrl+C ends the command, and the wait with it; what it registered stays, and is said so. A second
  // one (a terminal's reaches both `node bin/llmlb.js` on an older Node and the llmlb it started, which
  // passes it on) changes nothing.
  let stopping = false;
  const stays = () => {
    if (stopping) return;
    stopping = true;
    io.live?.("");
    io.err(
      `\n${model.name} stays registered, and its download goes on: \`llmlb model rm ${model.name}\` removes it.`,
    );
    process.exit(130);
  };
  if (registeredHere) process.on("SIGINT", stays);
  try {
    return (await waitTelling(client, model.name, io, new AbortController().signal)).name;
  } finally {
    process.off("SIGINT", stays);
  }
}

/** The model as an API key sees it (`/v1/models`): only one ready now can be chatted with. */
async function readyForKey(client: ApiClient, id: string, refusal: CliError): Promise<string> {
  let listed: OpenAiModel;
  try {
    listed = await client.request(openAiModelSchema, "GET", `/v1/models/${encodeModelId(id)}`);
  } catch {
    // Not even /v1 takes it: the first refusal says what was sent.
    throw refusal;
  }
  if (!listed.ready)
    throw new CliError(
      `${listed.id} is not ready yet; with an API key rather than the admin token, \`llmlb chat\` cannot wait for it.`,
    );
  return listed.id;
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
   * as the reply). A refusal, or a reply stopped before its first word, leaves the conversation as it
   * was.
   */
  async send(
    text: string,
    onText: (text: string) => void,
    signal: AbortSignal,
    onReasoning?: (text: string) => void,
  ): Promise<Outcome> {
    const asked: ChatMessage[] = [...this.messages, { role: "user", content: text }];
    let reply = "";
    const notes: string[] = [];
    let begun = false;
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
        signal,
        { timeoutMs: replyBeginsWithinMs },
      );
      begun = true;
      const truncated = Number(response.headers.get(truncatedMessagesHeader) ?? 0);
      if (truncated > 0)
        notes.push(`(the ${truncated} oldest messages were left out to fit the model's context)`);
      const outcome = await readChatStream(
        response.body!,
        (piece) => {
          reply += piece;
          onText(piece);
        },
        onReasoning,
      );
      if (!outcome.complete)
        throw new CliError(
          `The llmlb server at ${this.client.url} ended the reply before it was finished: what came is above.`,
        );
      if (outcome.finishReason === "length")
        notes.push(
          this.options.maxTokens !== undefined
            ? `(cut short at --max-tokens ${this.options.maxTokens})`
            : "(cut short: the model's context is full)",
        );
    } catch (error) {
      if (!signal.aborted) throw this.withWayOut(asCliError(error, begun, this.client.url));
      if (reply === "") return { notes: ["(stopped)"] };
      notes.push("(stopped)");
    }
    this.messages = [...asked, { role: "assistant", content: reply }];
    return { notes };
  }

  /** A message too long for the context, with what to do about it. */
  private withWayOut(error: unknown): unknown {
    if (!(error instanceof CliError) || error.code !== "context_length_exceeded") return error;
    const fewer = this.options.maxTokens !== undefined ? ", or ask for fewer with a lower --max-tokens" : "";
    return new CliError(
      `${error.message} Send less at once${fewer}; or give the model a larger context, where it and memory allow: \`llmlb model set ${this.model} --context <tokens>\`.`,
      error.exitCode,
      error.code,
    );
  }

  private start(): ChatMessage[] {
    return this.options.system !== undefined ? [{ role: "system", content: this.options.system }] : [];
  }
}

/** An error while a reply came, in words: who failed, and what came is kept on screen. */
function asCliError(error: unknown, begun: boolean, url: string): unknown {
  if (error instanceof CliError) return error;
  if (error instanceof StreamedError) return new CliError(error.message, 1, error.code);
  if (!begun) return error;
  return new CliError(
    `The llmlb server at ${url} stopped sending the reply midway (${(error as Error).message}).`,
  );
}

/** A line asked for at the terminal (or the lines pasted at once); undefined once the terminal is done (Ctrl+D). */
type Asked = { line: string } | { interrupted: true; typed: boolean } | undefined;

/**
 * One line at the prompt, with readline's editing and the conversation's history of lines; Ctrl+C
 * drops what is typed. Lines pasted at once (the terminal marks a paste, once asked to: see
 * `converse`) are one message, sent with the next Enter; so are lines that come in one burst.
 */
function ask(streams: ChatStreams, prompt: string, history: string[]): Promise<Asked> {
  return new Promise((resolve) => {
    const lines = readline.createInterface({
      input: streams.input,
      output: streams.output,
      terminal: true,
      prompt,
      history,
      historySize: 1000,
    });
    let answered: Asked;
    /** The message a line ended, and the lines that came with it. */
    let message: { line: string } | undefined;
    let pasting = false;
    const pasted: string[] = [];
    const onKey = (_text: string, key: { name?: string } | undefined) => {
      if (key?.name === "paste-start") pasting = true;
      if (key?.name === "paste-end") pasting = false;
    };
    streams.input.on("keypress", onKey);
    lines.on("line", (line) => {
      // A line in the same burst as the one that ended the message (a paste the terminal does not mark
      // as one: nobody types two Enters at once) belongs to it.
      if (message) {
        message.line += `\n${line}`;
        return;
      }
      if (pasting) {
        pasted.push(line);
        lines.setPrompt("... ");
        lines.prompt();
        return;
      }
      // A paste that ended with its own newline leaves nothing more on the line.
      message = {
        line: pasted.length > 0 && line === "" ? pasted.join("\n") : [...pasted, line].join("\n"),
      };
      answered = message;
      // Once the rest of the burst is read: closed at once, the interface would drop it.
      setImmediate(() => {
        if (lines.line !== "") message!.line += `\n${lines.line}`;
        lines.close();
      });
    });
    lines.once("SIGINT", () => {
      answered = { interrupted: true, typed: lines.line.length > 0 || pasted.length > 0 };
      streams.output.write("\n");
      lines.close();
    });
    lines.once("close", () => {
      streams.input.off("keypress", onKey);
      // readline's history is its own copy, the latest first.
      history.splice(0, history.length, ...(lines as unknown as { history: string[] }).history);
      resolve(answered);
    });
    lines.prompt();
  });
}

/**
 * While a reply is written: keys are not echoed into it (a line typed then is not a message); Ctrl+C
 * stops the reply, Ctrl+D stops it and leaves. Answers the function that puts the terminal back.
 */
function listenWhileReplying(streams: ChatStreams, stop: (leave: boolean) => void): () => void {
  const { input } = streams;
  readline.emitKeypressEvents(input);
  input.setRawMode?.(true);
  input.resume();
  const onKey = (_text: string, key: { ctrl?: boolean; name?: string } | undefined) => {
    if (key?.ctrl && (key.name === "c" || key.name === "d")) stop(key.name === "d");
  };
  input.on("keypress", onKey);
  return () => {
    input.off("keypress", onKey);
    input.setRawMode?.(false);
    input.pause();
  };
}

/** The conversation at a terminal: a prompt, each reply as it comes, until /bye or Ctrl+D. */
async function converse(conversation: Conversation, io: Output, streams: ChatStreams): Promise<void> {
  const { output } = streams;
  const history: string[] = [];
  io.err(`Chatting with ${conversation.model}. /help lists the commands; /bye or Ctrl+D leaves.`);
  // The terminal marks what is pasted, so lines pasted at once are one message (bracketed paste).
  output.write(bracketedPaste.on);
  try {
    await talk(conversation, io, streams, history);
  } finally {
    output.write(bracketedPaste.off);
  }
  output.write("\n");
}

const bracketedPaste = { on: "\u001b[?2004h", off: "\u001b[?2004l" };

async function talk(
  conversation: Conversation,
  io: Output,
  streams: ChatStreams,
  history: string[],
): Promise<void> {
  const { output } = streams;
  for (;;) {
    const text = await nextMessage(streams, history);
    if (text === undefined) break;
    const command = text.trim();
    if (command === "") continue;
    if (command === "/bye" || command === "/exit") break;
    if (command === "/help" || command === "/?") {
      output.write(help + "\n");
      continue;
    }
    if (command === "/clear") {
      conversation.clear();
      output.write("Cleared the conversation.\n");
      continue;
    }
    if (/^\/\S+$/.test(command)) {
      output.write(`Unknown command ${command}: /help lists them.\n`);
      continue;
    }
    const stopping = new AbortController();
    let leave = false;
    const restore = listenWhileReplying(streams, (andLeave) => {
      leave = andLeave;
      stopping.abort();
    });
    const writer = replyWriter(output, io);
    try {
      const { notes } = await conversation.send(text, writer.text, stopping.signal, writer.reasoning);
      writer.end();
      output.write(["", ...notes].join("\n") + "\n");
    } catch (error) {
      writer.end();
      output.write(`\nerror: ${printable((error as Error).message)}\n`);
    } finally {
      restore();
    }
    if (leave) break;
  }
}

/** How long a reply may keep the terminal blank before it says why. */
const quietForMs = 1000;

/**
 * Writes a reply at the terminal: its reasoning, where the server streams it apart, dimmed, then its
 * text; until the first of them, after a moment, a line saying what it waits for (`io.live`).
 */
function replyWriter(output: ChatStreams["output"], io: Output) {
  let begun = false;
  let thinking = false;
  const waiting = setTimeout(
    () => io.live?.("(waiting for the reply: the model may be loading)"),
    quietForMs,
  );
  const begin = () => {
    if (begun) return;
    begun = true;
    clearTimeout(waiting);
    io.live?.("");
  };
  return {
    reasoning(piece: string) {
      begin();
      thinking = true;
      output.write(`\u001b[2m${printable(piece)}\u001b[22m`);
    },
    text(piece: string) {
      begin();
      if (thinking) output.write("\n\n");
      thinking = false;
      output.write(printable(piece));
    },
    end: begin,
  };
}

/**
 * The next message typed: a line, or the lines between `"""` and `"""`; undefined when the terminal
 * is done (Ctrl+D). Ctrl+C drops a message being typed, and on an empty line says how to leave.
 */
async function nextMessage(streams: ChatStreams, history: string[]): Promise<string | undefined> {
  let gathering: string[] | undefined;
  for (;;) {
    const asked = await ask(streams, gathering ? "... " : ">>> ", history);
    if (asked === undefined) return undefined;
    if ("interrupted" in asked) {
      if (gathering === undefined && !asked.typed) streams.output.write("(/bye or Ctrl+D leaves)\n");
      gathering = undefined;
      continue;
    }
    const { line } = asked;
    if (gathering === undefined) {
      if (!line.startsWith('"""')) return line;
      const rest = line.slice(3);
      if (rest.endsWith('"""')) return rest.slice(0, -3);
      gathering = [rest];
      continue;
    }
    if (!line.endsWith('"""')) {
      gathering.push(line);
      continue;
    }
    return [...gathering, line.slice(0, -3)].join("\n");
  }
}
