import { useEffect, useId, useRef, useState, type FormEvent } from "react";
import { describedBy, FormError } from "../components/FormError";
import { IconPlus, IconSpinner } from "../components/icons";
import { softDisabled } from "../components/softDisabled";
import { useActions, useAppStore } from "../useAppStore";

/** Paste anything that names a Hugging Face model; the server works out what it is. */
export function RegisterForm() {
  const registering = useAppStore((s) => s.registering);
  const error = useAppStore((s) => s.registerError);
  const { register, clearRegisterError, showingRegisterForm } = useActions();
  const [input, setInput] = useState("");
  const id = useId();
  const field = useRef<HTMLTextAreaElement>(null);
  useEffect(() => {
    showingRegisterForm(true);
    return () => showingRegisterForm(false);
  }, [showingRegisterForm]);

  const submit = async (event?: FormEvent) => {
    event?.preventDefault();
    if (!input.trim() || registering) return;
    if (await register(input)) {
      setInput("");
      // From the button too: the keyboard goes on in the box, ready for the next one.
      field.current?.focus();
    }
  };

  return (
    <form className="register card" onSubmit={(event) => void submit(event)} aria-busy={registering}>
      <label htmlFor={id} className="register-label">
        Add a model from Hugging Face
      </label>
      <div className="register-row">
        <textarea
          ref={field}
          id={id}
          className="input register-input"
          rows={1}
          wrap="off"
          value={input}
          readOnly={registering}
          spellCheck={false}
          autoComplete="off"
          autoCapitalize="off"
          placeholder="https://huggingface.co/org/repo, org/repo or org/repo:Q4_K_M"
          aria-describedby={describedBy(error !== null && `${id}-error`, `${id}-hint`)}
          aria-invalid={error !== null}
          onChange={(event) => {
            setInput(event.target.value);
            clearRegisterError();
          }}
          onKeyDown={(event) => {
            // Enter registers; Shift+Enter is left alone (a pasted URL never needs a newline).
            if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing) {
              event.preventDefault();
              void submit();
            }
          }}
        />
        <button
          type="submit"
          className="button button-primary"
          {...softDisabled(registering || !input.trim())}
        >
          {registering ? <IconSpinner /> : <IconPlus />}
          <span>{registering ? "Registering…" : "Register"}</span>
        </button>
      </div>
      <FormError id={`${id}-error`} message={error} />
      <p id={`${id}-hint`} className="hint">
        A repo, a single <code>.gguf</code> file (blob or resolve link), <code>hf.co/…</code>, or a
        quantization tag like <code>:Q4_K_M</code>. Only metadata is fetched now; nodes download the file
        next.
      </p>
    </form>
  );
}
