import { useId, useState, type FormEvent } from "react";
import { useActions, useAppStore } from "../useAppStore";
import { useFocusHandoff } from "../useFocusHandoff";
import { FormError } from "./FormError";
import { softDisabled } from "./softDisabled";

/**
 * The admin token pasted by hand, for a page opened without its link: kept for this origin, as the
 * link's token is. Once it is taken the keyboard goes on from the page's heading.
 */
export function SignInForm() {
  const { signIn } = useActions();
  const loadError = useAppStore((s) => s.loadError);
  const [token, setToken] = useState("");
  const [busy, setBusy] = useState(false);
  const [refused, setRefused] = useState(false);
  const id = useId();
  const form = useFocusHandoff<HTMLFormElement>(() => () => document.querySelector<HTMLElement>("main h1"));

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (busy || !token.trim()) return;
    setBusy(true);
    const taken = await signIn(token.trim());
    // Taken, the page that replaces this form is shown; refused, the form says so and stays.
    if (!taken) {
      setBusy(false);
      setRefused(true);
    }
  };

  return (
    <form ref={form} className="settings-row" onSubmit={(event) => void submit(event)}>
      <div className="field field-wide">
        <label htmlFor={`${id}-token`}>Admin token</label>
        <input
          id={`${id}-token`}
          className="input"
          type="password"
          autoComplete="off"
          spellCheck={false}
          placeholder="llmlb_…"
          aria-describedby={refused ? `${id}-error` : undefined}
          value={token}
          onChange={(event) => {
            setToken(event.target.value);
            setRefused(false);
          }}
        />
        <FormError id={`${id}-error`} message={refused ? loadError : undefined} />
      </div>
      <button type="submit" className="button button-primary" {...softDisabled(busy || !token.trim())}>
        Open dashboard
      </button>
    </form>
  );
}
