import { register } from "node:module";
const fake = new URL("./electron.mjs", import.meta.url).href;
register(
  "data:text/javascript," +
    encodeURIComponent(
      "export async function resolve(specifier, context, next) {" +
        "  if (specifier === 'electron') return { url: " +
        JSON.stringify(fake) +
        ", shortCircuit: true };" +
        "  return next(specifier, context);" +
        "}",
    ),
);
