import { benchDownload } from "./download";
import { benchInference } from "./inference";
import { benchLogprobs } from "./logprobs";
import { benchProxy } from "./proxy";
import { benchRegistry } from "./registry";

/** `npm run bench -- <name>…`; no name runs them all. */
const benches: Record<string, () => Promise<void>> = {
  registry: benchRegistry,
  download: benchDownload,
  proxy: benchProxy,
  inference: benchInference,
  logprobs: benchLogprobs,
};

const names = process.argv.slice(2);
const unknown = names.filter((name) => !(name in benches));
if (unknown.length > 0) {
  console.error(`unknown benchmark(s): ${unknown.join(", ")}; available: ${Object.keys(benches).join(", ")}`);
  process.exit(2);
}
for (const name of names.length > 0 ? names : Object.keys(benches)) await benches[name]!();
