/**
 * Teardowns registered as things are acquired, run in reverse order: what a composition root undoes
 * when it is disposed, or when building it fails part way. One that fails does not stop the others;
 * the first failure is thrown once all have run.
 */
export interface DisposeStack {
  defer(teardown: () => void | Promise<void>): void;
  /** Runs every teardown registered, last first; again, nothing. */
  dispose(): Promise<void>;
}

export function createDisposeStack(): DisposeStack {
  const teardowns: (() => void | Promise<void>)[] = [];
  return {
    defer: (teardown) => void teardowns.push(teardown),
    async dispose() {
      let failure: { error: unknown } | undefined;
      for (let teardown = teardowns.pop(); teardown; teardown = teardowns.pop()) {
        try {
          await teardown();
        } catch (error) {
          failure ??= { error };
        }
      }
      if (failure) throw failure.error;
    },
  };
}
