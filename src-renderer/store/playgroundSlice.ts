import type { ChatLogprobs, ChatMessage } from "../../src-main/contract";
import { ApiError, STREAM_CUT_OFF } from "../api";
import { messageOf, type Slice, type SliceDeps } from "./types";

/** How the last answer went: time to its first text, and its speed once it ran. */
export interface PlaygroundStats {
  timeToFirstTokenMs: number;
  tokens: number;
  tokensPerSecond: number | undefined;
  finishReason: string | null;
  /** The oldest messages the server left out to fit the model's context. */
  truncatedMessages: number;
  /** The stream broke before the answer was complete (llmlb or the connection stopped). */
  cutOff?: boolean;
}

/** An answer's token as the playground shows it: its text, its probability and the likeliest others. */
export interface ShownToken {
  /** As the server names it: half a character is U+FFFD. */
  text: string;
  /** What it adds to the answer's text: a character split across tokens comes with its last one. */
  piece: string;
  /** From 0 to 1. */
  probability: number;
  alternatives: { text: string; probability: number }[];
}

/** How many likeliest tokens the playground asks for at each place of an answer. */
export const shownAlternatives = 5;

function shownTokens(logprobs: NonNullable<ChatLogprobs["content"]>): ShownToken[] {
  const decoder = new TextDecoder();
  const shown = logprobs.map((token) => ({
    text: token.token,
    piece: token.bytes ? decoder.decode(Uint8Array.from(token.bytes), { stream: true }) : token.token,
    probability: Math.exp(token.logprob),
    alternatives: token.top_logprobs.map((top) => ({ text: top.token, probability: Math.exp(top.logprob) })),
  }));
  // Half a character at the end, shown as the answer shows it.
  const rest = decoder.decode();
  if (rest && shown.length > 0) shown[shown.length - 1]!.piece += rest;
  return shown;
}

export interface PlaygroundSlice {
  /**
   * The model picked, or once a message is sent, the one the conversation is with (the page keeps it
   * while there is a conversation, ready or not); undefined: the newest ready one.
   */
  playgroundModel: string | undefined;
  /**
   * The conversation, the answer being streamed included (last, from the assistant), with the
   * reasoning its server streamed apart, if any (shown, never sent back).
   */
  conversation: { role: "user" | "assistant"; content: string; reasoning?: string; tokens?: ShownToken[] }[];
  /** Answers come with each token's probability (the request's `logprobs`), shown over their text. */
  showProbabilities: boolean;
  /** An answer is streaming. */
  chatting: boolean;
  /** When the message being answered was sent (ISO time): the wait for its first word counts from it. */
  chatSentAt: string | undefined;
  chatStats: PlaygroundStats | undefined;
  chatError: string | undefined;
  /** What is typed in the message box, kept with the conversation. */
  chatDraft: string;
  setPlaygroundModel(model: string): void;
  setChatDraft(text: string): void;
  setShowProbabilities(on: boolean): void;
  /**
   * Sends what is in the message box and streams the answer in. A message that failed before any of
   * its answer came goes back to the box, out of the conversation: sent again, it is not there twice.
   */
  sendChat(model: string): Promise<void>;
  stopChat(): void;
  clearChat(): void;
}

/**
 * The dashboard's chat playground: a conversation with a ready model through /v1, as any client has
 * it, kept while the user moves between pages. Timing is measured here, in the browser, as a user sees it.
 */
export const createPlaygroundSlice = ({ api }: SliceDeps): Slice<PlaygroundSlice> => {
  let controller: AbortController | undefined;
  /** Grows with each new chat: an answer from a chat already cleared changes nothing. */
  let chatNumber = 0;
  const now = () => performance.now();
  return (set, get) => ({
    playgroundModel: undefined,
    conversation: [],
    chatting: false,
    chatSentAt: undefined,
    chatStats: undefined,
    chatError: undefined,
    chatDraft: "",
    showProbabilities: false,
    setPlaygroundModel: (model) => set({ playgroundModel: model }),
    setChatDraft: (text) => set({ chatDraft: text }),
    setShowProbabilities: (on) => set({ showProbabilities: on }),
    async sendChat(model) {
      const text = get().chatDraft.trim();
      if (get().chatting || !text) return;
      const before = get().conversation;
      const history = [...before, { role: "user" as const, content: text }];
      set({
        playgroundModel: model,
        chatDraft: "",
        conversation: [...history, { role: "assistant", content: "" }],
        chatting: true,
        chatSentAt: new Date().toISOString(),
        chatError: undefined,
        chatStats: undefined,
      });
      // Said once each, not per word: the conversation itself is not a live region.
      get().announce(`${model} is answering…`);
      controller = new AbortController();
      const mine = chatNumber;
      const started = now();
      let firstText: number | undefined;
      let pieces = 0;
      const appendTo = (part: "content" | "reasoning") => (piece: string) => {
        if (mine !== chatNumber) return;
        firstText ??= now();
        pieces++;
        const conversation = [...get().conversation];
        const last = conversation.at(-1)!;
        conversation[conversation.length - 1] = { ...last, [part]: (last[part] ?? "") + piece };
        set({ conversation });
      };
      const statsOf = (
        ended: number,
        tokens: number,
        finishReason: string | null,
        truncatedMessages: number,
      ): PlaygroundStats => ({
        timeToFirstTokenMs: (firstText ?? ended) - started,
        tokens,
        tokensPerSecond:
          firstText !== undefined && ended > firstText && tokens > 1
            ? (tokens - 1) / ((ended - firstText) / 1000)
            : undefined,
        finishReason,
        truncatedMessages,
      });
      try {
        const messages: ChatMessage[] = history.map((m) => ({ role: m.role, content: m.content }));
        const probabilities = get().showProbabilities
          ? { logprobs: true, top_logprobs: shownAlternatives }
          : {};
        // A long conversation goes on with its oldest messages left out, and the answer says so: asked
        // of llmlb's models, not of an endpoint's (a strict server refuses a field it does not know).
        const served = get().models.find((entry) => entry.name === model || entry.aliases.includes(model));
        const overflow =
          served?.source === "endpoint" ? {} : { context_overflow: "truncate_oldest" as const };
        const outcome = await api.chat(
          { model, messages, ...probabilities, ...overflow },
          appendTo("content"),
          controller.signal,
          appendTo("reasoning"),
        );
        if (mine !== chatNumber) return;
        const ended = now();
        if (outcome.logprobs) {
          const conversation = [...get().conversation];
          conversation[conversation.length - 1] = {
            ...conversation.at(-1)!,
            tokens: shownTokens(outcome.logprobs),
          };
          set({ conversation });
        }
        const tokens = outcome.completionTokens ?? pieces;
        set({ chatStats: statsOf(ended, tokens, outcome.finishReason, outcome.truncatedMessages ?? 0) });
        const ending =
          outcome.finishReason === null
            ? "Answer stopped"
            : outcome.finishReason === "length"
              ? "Answer complete, stopped at the length limit"
              : "Answer complete";
        get().announce(`${ending}: ${tokens} token${tokens === 1 ? "" : "s"}.`);
      } catch (error) {
        if (mine !== chatNumber) return;
        set({ chatError: messageOf(error) });
        // Cut off midway: how the part that came went, as after Stop.
        if (error instanceof ApiError && error.code === STREAM_CUT_OFF && firstText !== undefined)
          set({ chatStats: { ...statsOf(now(), pieces, null, 0), cutOff: true } });
        // Nothing came: the question goes back to the box (before whatever was typed meanwhile), to
        // be sent again as it is or mended. Part of an answer stays, as after Stop.
        const last = get().conversation.at(-1);
        if (last?.content === "" && !last.reasoning) {
          const typed = get().chatDraft;
          set({ conversation: before, chatDraft: typed.trim() ? `${text}\n${typed}` : text });
        }
      } finally {
        if (mine === chatNumber) {
          controller = undefined;
          set({ chatting: false });
        }
      }
    },
    stopChat() {
      controller?.abort();
    },
    clearChat() {
      chatNumber++;
      controller?.abort();
      set({ conversation: [], chatStats: undefined, chatError: undefined, chatting: false });
    },
  });
};
