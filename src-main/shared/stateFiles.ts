import path from "node:path";

/**
 * Where a worker writes the models it is loading or running requests for (`InUse`), for its
 * supervisor to read should the process die.
 */
export const inUseFileOf = (stateDir: string, nodeName: string) =>
  path.join(stateDir, nodeName, "in-use.json");
