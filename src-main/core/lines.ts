/**
 * Splits a process's output into lines as chunks arrive: a chunk may end mid-line, and a log line
 * must reach the log whole. `end()` passes on an unfinished last line.
 */
export function createLineSplitter(onLine: (line: string) => void): {
  push(chunk: string): void;
  end(): void;
} {
  let buffered = "";
  return {
    push(chunk) {
      buffered += chunk;
      const lines = buffered.split("\n");
      buffered = lines.pop()!;
      for (const line of lines) if (line.trim()) onLine(line.replace(/\r$/, ""));
    },
    end() {
      if (buffered.trim()) onLine(buffered);
      buffered = "";
    },
  };
}
