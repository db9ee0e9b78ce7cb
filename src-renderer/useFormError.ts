import { useEffect, useRef, useState } from "react";
import { SERVER_UNREACHABLE } from "./api";
import { useAppStore } from "./useAppStore";

/**
 * A form's error, as `useState` keeps it, but one that said llmlb could not be reached goes by itself
 * once llmlb is back (as the store's errors and banners do): it is no longer so.
 */
export function useFormError(): [string | null, (error: string | null) => void] {
  const [error, setError] = useState<string | null>(null);
  const connection = useAppStore((s) => s.connection);
  const was = useRef(connection);
  useEffect(() => {
    const back = connection === "live" && was.current !== "live";
    was.current = connection;
    if (back && error === SERVER_UNREACHABLE) setError(null);
  }, [connection, error]);
  return [error, setError];
}
