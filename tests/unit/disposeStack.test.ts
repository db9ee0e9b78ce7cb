import { expect, it } from "vitest";
import { createDisposeStack } from "../../src-main/shared/disposeStack";

it("undoes last made first, goes on past a teardown that fails, throws its error at the end, and does nothing twice", async () => {
  const stack = createDisposeStack();
  const undone: string[] = [];
  stack.defer(() => void undone.push("lock"));
  stack.defer(async () => {
    undone.push("database");
    throw new Error("disk gone");
  });
  stack.defer(async () => void undone.push("timers"));
  await expect(stack.dispose()).rejects.toThrow("disk gone");
  expect(undone).toEqual(["timers", "database", "lock"]);
  await stack.dispose();
  expect(undone).toHaveLength(3);
});
