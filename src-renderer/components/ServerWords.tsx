import { Fragment } from "react";

/**
 * A message from the server as it reads in the dashboard: what it puts between backticks (a command,
 * a path, a route) set as code, not shown with the backticks.
 */
/** A flag, a name or a short path: kept on one line; a command with spaces may wrap between its words. */
function isWord(code: string): boolean {
  return code.length <= 24 && !/\s/.test(code);
}

export function ServerWords({ text }: { text: string }) {
  const parts = text.split("`");
  // An odd count of backticks is not a code span: the text as it is.
  if (parts.length % 2 === 0) return <>{text}</>;
  return (
    <>
      {parts.map((part, index) =>
        index % 2 === 1 ? (
          <code key={index} className={isWord(part) ? "code-word" : undefined}>
            {part}
          </code>
        ) : (
          <Fragment key={index}>{part}</Fragment>
        ),
      )}
    </>
  );
}
