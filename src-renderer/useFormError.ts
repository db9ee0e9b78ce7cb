import { useEffect, useRef, useState } from "react";
import { SERVER_UNREACHABLE } from "./api";
import { useAppStore } from "./useAppStore";

/**
 * A form's error, as `useState` keeps it, but one that said llmlb could not be reached (`unreachable`
 * tells; by default, the error is those words) goes by itself once the page's connection to llmlb is
 * back after being lost, as the store's errors and banners do: it is no longer so. A call that failed
 * while the connection held is not taken back.
 */
export function useFormError<T = string>(
  unreachable: (error: T) => boolean = saysUnreachable,
): [T | null, (error: T | null) => void] {
  const [error, setError] = useState<T | null>(null);
  const connection = useAppStore((s) => s.connection);
  const was = useRef(connection);
  useEffect(() => {
    const back = connection === "live" && was.current !== "live";
    was.current = connection;
    if (back && error !== null && unreachable(error)) setError(null);
  }, [connection, error, unreachable]);
  return [error, setError];
}

/** The default: the error is those words. One function, so the effect above runs only as things change. */
const saysUnreachable = (error: unknown) => error === SERVER_UNREACHABLE;
