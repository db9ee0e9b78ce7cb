import {
  lazy,
  Suspense,
  useEffect,
  useId,
  useLayoutEffect,
  useRef,
  type FormEvent,
  type KeyboardEvent,
} from "react";
import { IconAlert } from "../components/icons";
import { LoadingFor } from "../components/LoadingFor";
import { ReadyModelSelect } from "../components/ReadyModelSelect";
import { ServerWords } from "../components/ServerWords";
import { softDisabled } from "../components/softDisabled";
import { useActions, useAppStore } from "../useAppStore";
import { PageHead } from "../components/PageHead";
import { TokenProbabilities } from "../components/TokenProbabilities";

/** Markdown's parser comes with the first answer, not with every page of the dashboard. */
const MarkdownAnswer = lazy(() => import("../components/MarkdownAnswer"));

/** `850 tokens/s`, `120 ms`, `1.2 s`. */
function millis(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** Scrolled to the end, or within a line of it (a wheel's last step may stop short). */
function atEnd(element: HTMLElement): boolean {
  return element.scrollHeight - element.scrollTop - element.clientHeight < 24;
}

/**
 * Chat with a ready model through /v1, streamed, with its time to first token and speed: what LM
 * Studio users try first. The same request any OpenAI client sends.
 */
export function PlaygroundPage() {
  const models = useAppStore((s) => s.models);
  const picked = useAppStore((s) => s.playgroundModel);
  const conversation = useAppStore((s) => s.conversation);
  const chatting = useAppStore((s) => s.chatting);
  const sentAt = useAppStore((s) => s.chatSentAt);
  const nodes = useAppStore((s) => s.nodes);
  const stats = useAppStore((s) => s.chatStats);
  const error = useAppStore((s) => s.chatError);
  const text = useAppStore((s) => s.chatDraft);
  const showProbabilities = useAppStore((s) => s.showProbabilities);
  const { setPlaygroundModel, setChatDraft, setShowProbabilities, sendChat, stopChat, clearChat } =
    useActions();
  const id = useId();
  const log = useRef<HTMLOListElement>(null);
  // Send, Stop and New chat swap or disable themselves: the keyboard stays in the box, ready to type.
  const box = useRef<HTMLTextAreaElement>(null);
  const card = useRef<HTMLElement>(null);

  const ready = models.filter((m) => m.ready);
  // A conversation goes on with the model it was had with (the store keeps it as the pick once sent):
  // another model becoming ready, or this one going, never moves it elsewhere; only the user's pick does.
  // Before the first message, the pick if it is ready, else the newest ready model.
  const pinned = conversation.length > 0 ? picked : undefined;
  const model = pinned ?? ready.find((m) => m.name === picked)?.name ?? ready[0]?.name;
  const gone = pinned !== undefined && !ready.some((m) => m.name === pinned);
  const deleted = gone && !models.some((m) => m.name === pinned);
  // Ready means downloaded; a node loads the model at its first request, which the wait then includes.
  // An endpoint's models are its own business: loaded as far as llmlb can tell.
  const loaded =
    ready.find((m) => m.name === model)?.source === "endpoint" ||
    nodes.some((node) => node.loaded.some((entry) => entry.model === model && !entry.loading_since));

  // The newest words stay in view as they stream in, while the user reads at the bottom: scrolled up to
  // read back, the log stays where they are until they scroll down to its end again. The log's own
  // end, not its last message's: an answer taller than the log would be lined up by its top.
  const following = useRef(true);
  useLayoutEffect(() => {
    const element = log.current;
    if (!element || !following.current) return;
    element.scrollTop = element.scrollHeight;
    // In a window too short for the whole card, the log grows past its end as the answer comes: the
    // page follows, so the newest words and Stop stay in view.
    if (chatting) showEnd(card.current);
  }, [conversation, chatting]);
  // Why an answer failed is read where the user looks, at the card's end, whatever the window's size.
  useEffect(() => {
    if (error) showEnd(card.current);
  }, [error]);
  const onLogScroll = () => {
    const element = log.current;
    if (element) following.current = atEnd(element);
  };

  const send = (event?: FormEvent) => {
    event?.preventDefault();
    if (!model || gone || !text.trim() || chatting) return;
    // A message sent is read where it goes: at the end, the log's and, in a window too short for the
    // whole card, the page's too (the log's end, and Stop, in view while the answer comes).
    following.current = true;
    void sendChat(model);
    box.current?.focus();
    requestAnimationFrame(() => showEnd(card.current));
  };
  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    // Enter sends; Shift+Enter is a new line; Escape stops an answer coming.
    if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing) send(event);
    if (event.key === "Escape" && chatting && !event.nativeEvent.isComposing) {
      event.preventDefault();
      stopChat();
    }
  };

  return (
    <div className="page playground">
      <PageHead title="Playground">
        Chat with a ready model through /v1, streamed, as any OpenAI client would.
      </PageHead>
      {ready.length === 0 ? (
        <p className="card note">
          No model is ready yet. Register one on <a href="#/models">Models</a>; once a node has downloaded it,
          you can chat with it here.
        </p>
      ) : (
        <section ref={card} className="card playground-card" aria-label="Conversation">
          <div className="playground-bar">
            <ReadyModelSelect
              id={`${id}-model`}
              models={ready}
              value={model}
              unavailable={gone ? model : undefined}
              disabled={chatting}
              onChange={setPlaygroundModel}
            />
            <div className="playground-actions">
              <label className="checkbox">
                <input
                  type="checkbox"
                  checked={showProbabilities}
                  disabled={chatting}
                  onChange={(event) => setShowProbabilities(event.target.checked)}
                />
                <span>Token probabilities</span>
              </label>
              <button
                type="button"
                className="button"
                onClick={() => {
                  clearChat();
                  box.current?.focus();
                }}
                disabled={conversation.length === 0 && !error}
              >
                New chat
              </button>
            </div>
          </div>
          {conversation.length === 0 ? (
            <p className="muted playground-empty">Say something to {model}.</p>
          ) : (
            // Not a live region: words stream in many times a second and the wait counts seconds. The
            // store announces once that the model is answering, and once that its answer is complete.
            <ol ref={log} className="chat-log" aria-label="Messages" onScroll={onLogScroll}>
              {conversation.map((message, index) => (
                <li key={index} className={`chat-message chat-${message.role}`}>
                  <span className="chat-role">{message.role === "user" ? "You" : "Model"}</span>
                  {message.reasoning && (
                    // Open while the model thinks, before its answer begins; a click folds it.
                    <details className="chat-reasoning" open={!message.content}>
                      <summary>Reasoning</summary>
                      <p className="chat-text">{message.reasoning}</p>
                    </details>
                  )}
                  {message.tokens && message.content ? (
                    <TokenProbabilities text={message.content} tokens={message.tokens} />
                  ) : message.role === "assistant" && message.content ? (
                    // A model answers in Markdown (code, lists, emphasis); what a user typed shows as typed.
                    <Suspense fallback={<p className="chat-text">{message.content}</p>}>
                      <MarkdownAnswer text={message.content} />
                    </Suspense>
                  ) : (
                    <p className="chat-text">
                      {message.content ||
                        (chatting && index === conversation.length - 1 && sentAt
                          ? // Thinking shows above: nothing to wait for here meanwhile.
                            !message.reasoning && (
                              <LoadingFor
                                className="muted"
                                since={sentAt}
                                label={loaded ? "Waiting for the first word" : `Loading ${model} on a node`}
                              />
                            )
                          : "(no answer)")}
                    </p>
                  )}
                </li>
              ))}
            </ol>
          )}
          {stats && (
            <p className="chat-stats" aria-label="Speed of the last answer">
              Time to first token {millis(stats.timeToFirstTokenMs)} ·{" "}
              {stats.tokensPerSecond !== undefined
                ? `${stats.tokensPerSecond.toFixed(stats.tokensPerSecond < 10 ? 1 : 0)} tokens/s`
                : "too short to time"}{" "}
              · {stats.tokens} tokens
              {stats.finishReason === "length" && " · stopped at the length limit"}
              {stats.finishReason === null && (stats.cutOff ? " · cut off" : " · stopped")}
            </p>
          )}
          {stats && stats.truncatedMessages > 0 && (
            <p className="chat-stats" role="status">
              The conversation outgrew the model's context: its {stats.truncatedMessages} oldest message
              {stats.truncatedMessages === 1 ? " was" : "s were"} left out of this answer's prompt.
            </p>
          )}
          {gone && (
            <p className="chat-error" role="alert">
              <IconAlert size={16} />
              <span>
                This conversation was with {model}, which {deleted ? "was deleted" : "is not ready now"}. Pick
                another model to go on with it, or start a New chat.
              </span>
            </p>
          )}
          {error && (
            <p className="chat-error" role="alert">
              <IconAlert size={16} />
              <span>
                <ServerWords text={error} />
              </span>
            </p>
          )}
          <form className="chat-form" onSubmit={send}>
            <label htmlFor={`${id}-text`} className="visually-hidden">
              Message
            </label>
            <textarea
              ref={box}
              id={`${id}-text`}
              className="input chat-input"
              rows={2}
              placeholder="Message (Enter sends, Shift+Enter for a new line)"
              value={text}
              onChange={(event) => setChatDraft(event.target.value)}
              onKeyDown={onKeyDown}
            />
            {chatting ? (
              <button
                type="button"
                className="button"
                title="Stop the answer (Esc)"
                onClick={() => {
                  stopChat();
                  box.current?.focus();
                }}
              >
                Stop
              </button>
            ) : (
              <button
                type="submit"
                className="button button-primary"
                disabled={!text.trim()}
                {...softDisabled(gone)}
              >
                Send
              </button>
            )}
          </form>
        </section>
      )}
    </div>
  );
}

/** Scrolls the page so that `element`'s end is in the window, where it is below it; else leaves it. */
function showEnd(element: HTMLElement | null): void {
  if (element && element.getBoundingClientRect().bottom > window.innerHeight)
    element.scrollIntoView?.({ block: "end" });
}
