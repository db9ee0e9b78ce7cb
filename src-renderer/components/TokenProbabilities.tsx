import { memo } from "react";
import type { ShownToken } from "../store/playgroundSlice";

/** `42%`, `3.5%`, `<0.1%`; near certainty as it is: `99.6%`, `>99.9%`, never a rounded `100%`. */
export function percent(probability: number): string {
  if (probability >= 1) return "100%";
  if (probability > 0.999) return ">99.9%";
  if (probability >= 0.995) return `${(probability * 100).toFixed(1)}%`;
  if (probability >= 0.1) return `${Math.round(probability * 100)}%`;
  if (probability >= 0.001) return `${(probability * 100).toFixed(1)}%`;
  return "<0.1%";
}

/** How sure the model was of a token, as its tint says. */
function band(probability: number): "sure" | "likely" | "unsure" | "unlikely" {
  if (probability >= 0.9) return "sure";
  if (probability >= 0.5) return "likely";
  if (probability >= 0.2) return "unsure";
  return "unlikely";
}

/** A token's text with its spaces and line ends shown, quoted: `" the"`, `"\n"`. */
function quoted(text: string): string {
  return JSON.stringify(text);
}

function likeliest(token: ShownToken): string {
  return token.alternatives.map((other) => `${quoted(other.text)} ${percent(other.probability)}`).join(", ");
}

/**
 * What each token shows of `text`, in order: its piece (a split character whole with its last token),
 * else its text as the server named it, else nothing (a control token, which the answer's text leaves
 * out). Undefined when the tokens do not spell the text so.
 */
function spell(tokens: readonly ShownToken[], text: string): string[] | undefined {
  let at = 0;
  const shown = tokens.map((token) => {
    const fits = [token.piece, token.text].find((part) => part !== "" && text.startsWith(part, at)) ?? "";
    at += fits.length;
    return fits;
  });
  return at === text.length ? shown : undefined;
}

/**
 * An answer's text tinted token by token by how likely the model found each (the surer, the plainer),
 * each token's probability and the likeliest others on hover; and the same as a table, folded, for
 * the keyboard and screen readers. Where the tokens do not spell the text, the text shows plain, and
 * the table still tells each token.
 */
export const TokenProbabilities = memo(function TokenProbabilities({
  text,
  tokens,
}: {
  text: string;
  tokens: ShownToken[];
}) {
  const spelled = spell(tokens, text);
  return (
    <>
      <p className="chat-text">
        {spelled
          ? tokens.map((token, index) => (
              <span
                key={index}
                className={`token token-${band(token.probability)}`}
                title={`${percent(token.probability)} · likeliest: ${likeliest(token)}`}
              >
                {spelled[index]}
              </span>
            ))
          : text}
      </p>
      <details className="chat-probabilities">
        <summary>Token probabilities</summary>
        <p className="muted">
          Each token is marked by the probability the model gave it: nothing above 90%, a dotted underline
          from 50%, yellow from 20%, red below 20%.
        </p>
        {/* A region of its own that scrolls: the keyboard can reach it to scroll it. */}
        <div className="probabilities-scroll" tabIndex={0} role="region" aria-label="Token probabilities">
          <table className="probabilities-table">
            <thead>
              <tr>
                <th scope="col">Token</th>
                <th scope="col">Probability</th>
                <th scope="col">Likeliest at its place</th>
              </tr>
            </thead>
            <tbody>
              {tokens.map((token, index) => (
                <tr key={index}>
                  <td>
                    <code>{quoted(token.text)}</code>
                  </td>
                  <td>{percent(token.probability)}</td>
                  <td>{likeliest(token)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </>
  );
});
