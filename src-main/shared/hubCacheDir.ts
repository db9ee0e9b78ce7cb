import path from "node:path";

/** The Hugging Face cache root, in huggingface_hub's order of precedence. */
export function defaultHubCacheDir(env: Record<string, string | undefined>, home: string): string {
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  if (env.HF_HOME) return path.join(env.HF_HOME, "hub");
  const cacheHome = env.XDG_CACHE_HOME || path.join(home, ".cache");
  return path.join(cacheHome, "huggingface", "hub");
}
