import { checkGgufBounds } from "./ggufBounds";

/**
 * Reads a GGUF file's header as llama.cpp would before loading it: a file that passes its size
 * and checksum but is not a loadable GGUF is not reported ready.
 */
export async function checkGgufHeader(filePath: string): Promise<{ architecture: string }> {
  await checkGgufBounds(filePath);
  const { readGgufFileInfo } = await import("node-llama-cpp");
  const info = await readGgufFileInfo(filePath, {
    readTensorInfo: false,
    logWarnings: false,
    sourceType: "filesystem",
  });
  const architecture = info.metadata?.general?.architecture;
  if (typeof architecture !== "string" || architecture.length === 0) {
    throw new Error("the GGUF header names no model architecture");
  }
  return { architecture };
}
