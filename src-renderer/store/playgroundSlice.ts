import type { ChatMessage } from "../../src-main/contract";
import { messageOf, type Slice, type SliceDeps } from "./types";

/** How the last answer went: time to its first text, and its speed once it ran. */
export interface PlaygroundStats {
  timeToFirstTokenMs: number;
  tokens: number;
  tokensPerSecond: number | undefined;
  finishReason: string | null;
  /** The oldest messages the server left out to fit the model's context. */
  truncatedMessages: number;
}

export interface PlaygroundSlice {
  /** The model chatted with; undefined: the first ready one. */
  playgroundModel: string | undefined;
  /** The conversation, the answer being streamed included (last, from the assistant). */
  conversation: { role: "user" | "assistant"; content: string }[];
  /** An answer is streaming. */
  chatting: boolean;
  /** When the message being answered was sent (ISO time): the wait for its first word counts from it. */
  chatSentAt: string | undefined;
  chatStats: PlaygroundStats | undefined;
  chatError: string | undefined;
  setPlaygroundModel(model: string): void;
  /** Sends the user's message and streams the answer in. */
  sendChat(model: string, text: string): Promise<void>;
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
    setPlaygroundModel: (model) => set({ playgroundModel: model }),
    async sendChat(model, text) {
      if (get().chatting || !text.trim()) return;
      const history = [...get().conversation, { role: "user" as const, content: text }];
      set({
        conversation: [...history, { role: "assistant", content: "" }],
        chatting: true,
        chatSentAt: new Date().toISOString(),
        chatError: undefined,
        chatStats: undefined,
      });
      controller = new AbortController();
      const mine = chatNumber;
      const started = now();
      let firstText: number | undefined;
      let pieces = 0;
      const append = (piece: string) => {
        if (mine !== chatNumber) return;
        firstText ??= now();
        pieces++;
        const conversation = [...get().conversation];
        const last = conversation.at(-1)!;
        conversation[conversation.length - 1] = { ...last, content: last.content + piece };
        set({ conversation });
      };
      try {
        const messages: ChatMessage[] = history.map((m) => ({ role: m.role, content: m.content }));
        const outcome = await api.chat({ model, messages }, append, controller.signal);
        if (mine !== chatNumber) return;
        const ended = now();
        const tokens = outcome.completionTokens ?? pieces;
        set({
          chatStats: {
            timeToFirstTokenMs: (firstText ?? ended) - started,
            tokens,
            tokensPerSecond:
              firstText !== undefined && ended > firstText && tokens > 1
                ? (tokens - 1) / ((ended - firstText) / 1000)
                : undefined,
            finishReason: outcome.finishReason,
            truncatedMessages: outcome.truncatedMessages ?? 0,
          },
        });
      } catch (error) {
        if (mine !== chatNumber) return;
        set({ chatError: messageOf(error) });
        // Nothing came: the empty answer goes, the question stays to send again.
        const conversation = get().conversation;
        if (conversation.at(-1)?.content === "") set({ conversation: conversation.slice(0, -1) });
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
