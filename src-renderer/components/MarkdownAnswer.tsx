import { Children, isValidElement, memo, type ReactNode } from "react";
import Markdown, { type Components } from "react-markdown";
import remarkGfm from "remark-gfm";
import { CopyButton } from "./CopyButton";

/** The text of a code block's children, as it is copied. */
function textOf(node: ReactNode): string {
  if (typeof node === "string" || typeof node === "number") return String(node);
  if (Array.isArray(node)) return node.map(textOf).join("");
  if (isValidElement<{ children?: ReactNode }>(node)) return textOf(node.props.children);
  return "";
}

/**
 * How a model's Markdown is shown: code blocks with a Copy button, links that open apart from the
 * dashboard, and images as links (an answer never makes the page fetch from elsewhere by itself).
 * Raw HTML in an answer stays text: react-markdown renders none.
 */
const components: Components = {
  pre({ children }) {
    const code = textOf(Children.toArray(children)).replace(/\n$/, "");
    return (
      <div className="chat-code">
        <CopyButton text={code} label="Copy code" showText={false} />
        <pre>{children}</pre>
      </div>
    );
  },
  a({ href, children }) {
    return (
      <a href={href} target="_blank" rel="noopener noreferrer">
        {children}
      </a>
    );
  },
  img({ src, alt }) {
    return typeof src === "string" && src !== "" ? (
      <a href={src} target="_blank" rel="noopener noreferrer">
        {alt || src}
      </a>
    ) : (
      <>{alt}</>
    );
  },
};

/** GitHub's Markdown, as models write it: tables, task lists, strikethrough, bare links. */
const remarkPlugins = [remarkGfm];

/**
 * A model's answer as Markdown renders it: headings, lists, tables, emphasis and code. Parsed again only when
 * its own text changes: earlier answers stay as they are while a new one streams.
 */
export default memo(function MarkdownAnswer({ text }: { text: string }) {
  return (
    <div className="chat-text chat-markdown">
      <Markdown components={components} remarkPlugins={remarkPlugins}>
        {text}
      </Markdown>
    </div>
  );
});
