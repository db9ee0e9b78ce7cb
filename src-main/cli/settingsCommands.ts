import { type Settings, type SettingsUpdate, settingsSchema } from "../contract";
import { CliError, type ApiClient, serverJson } from "./apiClient";
import type { Output } from "./modelCommands";

/** Where the server keeps the Hugging Face token, in the words the dashboard's Settings uses. */
function tokenStorage(settings: Settings): string {
  switch (settings.hf_token.storage) {
    case "keychain":
      return "encrypted by the operating system";
    case "file":
      return `in a file only your user can read (0600) in ${settings.data_dir}`;
    case "env":
      return "from HF_TOKEN in llmlb's environment (change it there)";
  }
}

function tokenText(settings: Settings): string {
  const { set, saved_ignored } = settings.hf_token;
  if (!set) return "not set: gated and private repos need one (`llmlb settings set --hf-token <token>`)";
  return `set, ${tokenStorage(settings)}${saved_ignored ? "; the one saved here is not used while HF_TOKEN is set" : ""}`;
}

const portText = (port: number) => (port === 0 ? "0 (any free port)" : String(port));

/** `llmlb settings`: the token (whether set, never its value), the model cache and the port, and what waits for a restart. */
export async function showSettings(
  client: ApiClient,
  options: { json?: boolean },
  io: Output,
): Promise<void> {
  const settings = await client.request(settingsSchema, "GET", "/v0/settings");
  if (options.json) {
    io.out(JSON.stringify(serverJson(settings), null, 2));
    return;
  }
  const portOverridden = settings.overridden.includes("port");
  io.out(`llmlb at ${client.url} (data directory ${settings.data_dir})`);
  io.out(`  Hugging Face token: ${tokenText(settings)}`);
  io.out(`  Model cache:        ${settings.hub_cache_dir}`);
  io.out(
    `  Port:               ${portText(settings.port)}${portOverridden ? ", set by --port or LLMLB_PORT at this start: a port saved here applies only at a start without them" : ""}`,
  );
  if (settings.start_at_login !== null)
    io.out(`  Start at login:     ${settings.start_at_login ? "yes" : "no"}`);
  io.out("The port and the model cache apply when llmlb starts; the token, at once.");
  if (settings.restart_required) {
    io.out(
      "Saved changes to the port or the model cache wait for a restart: `llmlb quit`, then start llmlb again.",
    );
  }
}

/** A token piped in (`echo $TOKEN | llmlb settings set --hf-token -`): its first line. */
async function tokenFrom(input: AsyncIterable<string | Buffer>): Promise<string> {
  let text = "";
  for await (const chunk of input) text += chunk.toString();
  const token = text.split(/\r?\n/)[0]!.trim();
  if (!token)
    throw new CliError(
      "--hf-token -: standard input held no token (pipe it in, or give it after the flag).",
      2,
    );
  return token;
}

export interface SettingsChange {
  /** A token to save, or false (`--no-hf-token`) to forget the saved one. */
  hfToken?: string | false;
  cacheDir?: string;
  port?: number;
}

/** `llmlb settings set`: saves what is given, says what changed and whether llmlb must restart for it. */
export async function setSettings(
  client: ApiClient,
  change: SettingsChange,
  io: Output,
  /** Where `--hf-token -` reads the token: kept out of the shell's history and the process list. */
  input: AsyncIterable<string | Buffer> = process.stdin,
): Promise<void> {
  const hfToken = change.hfToken === "-" ? await tokenFrom(input) : change.hfToken;
  const update: SettingsUpdate = {
    ...(hfToken !== undefined ? { hf_token: hfToken === false ? null : hfToken } : {}),
    ...(change.cacheDir !== undefined ? { hub_cache_dir: change.cacheDir } : {}),
    ...(change.port !== undefined ? { port: change.port } : {}),
  };
  if (Object.keys(update).length === 0) {
    throw new CliError(
      "Nothing to change: give --hf-token <token>, --no-hf-token, --cache-dir <dir> or --port <n> (`llmlb settings` shows them).",
      2,
    );
  }
  const before = await client.request(settingsSchema, "GET", "/v0/settings");
  const after = await client.request(settingsSchema, "PUT", "/v0/settings", update);
  const atNextStart = after.restart_required ? " (applies at the next start)" : "";
  if (change.hfToken !== undefined) {
    io.out(
      change.hfToken === false
        ? before.hf_token.set
          ? "Hugging Face token: forgotten; the hub is asked without one from now on"
          : "Hugging Face token: none was saved"
        : `Hugging Face token: ${before.hf_token.set ? "replaced" : "saved"}, ${tokenStorage(after)}; used from now on`,
    );
  }
  const cacheChanged = change.cacheDir !== undefined && after.hub_cache_dir !== before.hub_cache_dir;
  const portChanged = change.port !== undefined && after.port !== before.port;
  if (change.cacheDir !== undefined) {
    io.out(
      !cacheChanged
        ? `Model cache: ${after.hub_cache_dir} (unchanged)`
        : `Model cache: ${before.hub_cache_dir} → ${after.hub_cache_dir}${atNextStart}`,
    );
  }
  if (change.port !== undefined) {
    io.out(
      !portChanged
        ? `Port: ${portText(after.port)} (unchanged)`
        : `Port: ${before.port} → ${after.port}${atNextStart}`,
    );
  }
  if (after.restart_required && (cacheChanged || portChanged)) {
    const what = cacheChanged && portChanged ? "them" : "it";
    io.out(`Restart llmlb to apply ${what}: \`llmlb quit\`, then start it again.`);
  }
}
