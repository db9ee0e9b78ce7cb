import { useEffect, useState } from "react";
import { IconCheck, IconCopy } from "./icons";

interface CopyButtonProps {
  text: string;
  /** The button's accessible name, e.g. "Copy base URL". */
  label: string;
  /** Show the word "Copy" next to the icon. Default: true. */
  showText?: boolean;
}

/** How long "Copied" shows before the button reads "Copy" again. */
const COPIED_MS = 2000;

export function CopyButton({ text, label, showText = true }: CopyButtonProps) {
  const [state, setState] = useState<"idle" | "copied" | "failed">("idle");

  useEffect(() => {
    if (state === "idle") return;
    const timer = setTimeout(() => setState("idle"), COPIED_MS);
    return () => clearTimeout(timer);
  }, [state]);

  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setState("copied");
    } catch {
      setState("failed");
    }
  };

  const word = state === "copied" ? "Copied" : state === "failed" ? "Copy failed" : "Copy";
  return (
    <button
      type="button"
      className={`button button-ghost copy-button${state === "copied" ? " is-copied" : ""}`}
      aria-label={state === "idle" ? label : word}
      onClick={() => void copy()}
    >
      {state === "copied" ? <IconCheck /> : <IconCopy />}
      {showText && <span>{word}</span>}
    </button>
  );
}
