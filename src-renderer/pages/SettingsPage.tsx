import { useEffect, useId, useRef, useState, type FormEvent } from "react";
import type { Settings } from "../../src-main/contract";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { describedBy, FormError } from "../components/FormError";
import { IconShield, IconWarning } from "../components/icons";
import { softDisabled } from "../components/softDisabled";
import { useActions, useAppStore } from "../useAppStore";
import { GpuBuildCard } from "./GpuBuildCard";
import { PageHead } from "../components/PageHead";

/** Where the Hugging Face token lives, in words a user can check. */
export function tokenStorageText(settings: Settings): string {
  switch (settings.hf_token.storage) {
    case "keychain":
      return "encrypted by the operating system";
    case "file":
      return `in a file only your user can read (0600) in ${settings.data_dir}`;
    case "env":
      return "from HF_TOKEN in the environment (read-only here)";
  }
}

export function SettingsPage() {
  const settings = useAppStore((s) => s.settings);
  const state = useAppStore((s) => s.settingsState);
  const error = useAppStore((s) => s.settingsError);
  const { loadSettings } = useActions();

  useEffect(() => {
    void loadSettings();
  }, [loadSettings]);

  return (
    <div className="page">
      <PageHead title="Settings" />
      {state === "unavailable" ? (
        <p className="card note">
          This server does not offer settings here. Use its configuration file or flags.
        </p>
      ) : state === "failed" ? (
        <div className="card note note-row danger" role="alert">
          <p>Could not read settings: {error}</p>
          <button type="button" className="button" onClick={() => void loadSettings()}>
            Try again
          </button>
        </div>
      ) : !settings ? (
        <p className="muted">Loading settings…</p>
      ) : (
        <>
          {settings.restart_required && (
            <p className="card note warn" role="status">
              <IconWarning size={16} /> Restart llmlb to apply your changes to the port or the cache folder.
            </p>
          )}
          <TokenCard settings={settings} />
          <ServerCard settings={settings} />
          <GpuBuildCard />
          {settings.start_at_login !== null && <StartupCard startAtLogin={settings.start_at_login} />}
          <QuitCard />
        </>
      )}
    </div>
  );
}

function TokenCard({ settings }: { settings: Settings }) {
  const saving = useAppStore((s) => s.savingSettings);
  const { saveSettings } = useActions();
  const [token, setToken] = useState("");
  const id = useId();
  const field = useRef<HTMLInputElement>(null);
  const { set, storage } = settings.hf_token;
  const where = tokenStorageText(settings);

  const save = async (event: FormEvent) => {
    event.preventDefault();
    if (saving || !token.trim()) return;
    if (await saveSettings({ hf_token: token.trim() }, "Hugging Face token saved")) {
      setToken("");
      field.current?.focus();
    }
  };
  const forget = async () => {
    if (saving) return;
    // Forget token goes with the token: the keyboard goes on from the field that takes a new one.
    if (await saveSettings({ hf_token: null }, "Hugging Face token forgotten")) field.current?.focus();
  };

  return (
    <section className="card settings-card" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`} className="card-title">
        Hugging Face token
      </h2>
      {/* Settings does not say which hub this llmlb uses: named by the rule that picks it. */}
      <p className="muted">
        Needed for gated and private repositories. It is sent only to the hub llmlb downloads from:
        huggingface.co, or the mirror HF_ENDPOINT names where llmlb starts.
      </p>
      <p className="token-status">
        <IconShield size={16} />
        <span>
          {set ? (
            <>
              <strong>Token set</strong>, stored {where}.
              {settings.hf_token.saved_ignored && " The token saved here is not used while HF_TOKEN is set."}
            </>
          ) : storage === "env" ? (
            <>
              <strong>No token.</strong> Set HF_TOKEN in the environment; it is read from there (read-only
              here).
            </>
          ) : (
            <>
              <strong>No token set.</strong> A token you save is stored {where}.
            </>
          )}
        </span>
      </p>
      {storage !== "env" && (
        <form className="settings-row" onSubmit={(event) => void save(event)}>
          <div className="field field-wide">
            <label htmlFor={`${id}-token`}>{set ? "Replace token" : "Token"}</label>
            <input
              ref={field}
              id={`${id}-token`}
              className="input"
              type="password"
              autoComplete="off"
              spellCheck={false}
              placeholder="hf_…"
              value={token}
              onChange={(event) => setToken(event.target.value)}
            />
          </div>
          <button type="submit" className="button button-primary" {...softDisabled(saving || !token.trim())}>
            Save token
          </button>
          {set && (
            <button
              type="button"
              className="button button-danger-ghost"
              {...softDisabled(saving)}
              onClick={() => void forget()}
            >
              Forget token
            </button>
          )}
        </form>
      )}
    </section>
  );
}

function ServerCard({ settings }: { settings: Settings }) {
  const saving = useAppStore((s) => s.savingSettings);
  const refusal = useAppStore((s) => s.settingsRefusal);
  const { saveSettings, clearSettingsRefusal } = useActions();
  const [cacheDir, setCacheDir] = useState(settings.hub_cache_dir);
  const [port, setPort] = useState(String(settings.port));
  const id = useId();

  // A save (or another window) changes the settings: show what the server now holds.
  useEffect(() => setCacheDir(settings.hub_cache_dir), [settings.hub_cache_dir]);
  useEffect(() => setPort(String(settings.port)), [settings.port]);

  const portNumber = portOf(port);
  const cacheProblem = cacheDirProblem(cacheDir);
  const portProblem = portNumber === undefined ? PORT_PROBLEM : undefined;
  // Told at the field, as typed; the server's refusal of what was sent, until the field is edited.
  const cacheMessage = cacheProblem ?? (refusal?.field === "hub_cache_dir" ? refusal.message : undefined);
  const portMessage = portProblem ?? (refusal?.field === "port" ? refusal.message : undefined);
  const changed = cacheDir.trim() !== settings.hub_cache_dir || portNumber !== settings.port;

  const save = async (event: FormEvent) => {
    event.preventDefault();
    if (saving || !changed || cacheProblem || portNumber === undefined) return;
    const update: { hub_cache_dir?: string; port?: number } = {};
    if (cacheDir.trim() !== settings.hub_cache_dir) update.hub_cache_dir = cacheDir.trim();
    if (portNumber !== settings.port) update.port = portNumber;
    await saveSettings(update, "Settings saved", ["hub_cache_dir", "port"]);
  };

  return (
    <section className="card settings-card" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`} className="card-title">
        Storage and network
      </h2>
      <form className="settings-form" onSubmit={(event) => void save(event)} noValidate>
        <div className="field">
          <label htmlFor={`${id}-cache`}>Model cache folder</label>
          <input
            id={`${id}-cache`}
            className="input mono"
            value={cacheDir}
            spellCheck={false}
            readOnly={settings.overridden.includes("hub_cache_dir")}
            onChange={(event) => {
              setCacheDir(event.target.value);
              clearSettingsRefusal();
            }}
            aria-invalid={cacheMessage ? true : undefined}
            aria-describedby={describedBy(cacheMessage && `${id}-cache-problem`, `${id}-cache-hint`)}
          />
          <FormError id={`${id}-cache-problem`} message={cacheMessage} />
          <p id={`${id}-cache-hint`} className="hint">
            {settings.overridden.includes("hub_cache_dir")
              ? "Set by HF_HUB_CACHE or HF_HOME when llmlb started (read-only here): change it there."
              : "The standard Hugging Face cache: files already there are not downloaded again. Applies after a restart."}
          </p>
        </div>
        <div className="field">
          <label htmlFor={`${id}-port`}>Port</label>
          <input
            id={`${id}-port`}
            className="input port-input"
            inputMode="numeric"
            value={port}
            aria-invalid={portMessage ? true : undefined}
            aria-describedby={describedBy(portMessage && `${id}-port-problem`, `${id}-port-hint`)}
            readOnly={settings.overridden.includes("port")}
            onChange={(event) => {
              setPort(event.target.value);
              clearSettingsRefusal();
            }}
          />
          <FormError id={`${id}-port-problem`} message={portMessage} />
          <p id={`${id}-port-hint`} className="hint">
            {settings.overridden.includes("port")
              ? `Set by --port or LLMLB_PORT when llmlb started (read-only here): change it there.${anyPortNow(settings.port)}`
              : `0 picks any free port. Applies after a restart.${portTakenNow(settings)}`}
          </p>
        </div>
        <div className="field">
          <span className="field-label">Data folder</span>
          <code className="readonly-value">{settings.data_dir}</code>
        </div>
        <div className="form-actions">
          <button
            type="submit"
            className="button button-primary"
            {...softDisabled(saving || !changed || !!cacheProblem || !!portProblem)}
          >
            Save
          </button>
        </div>
      </form>
    </section>
  );
}

const PORT_PROBLEM = "Port must be a whole number from 0 to 65535, in digits.";

/** A port as typed, in decimal digits only: `Number` would also take "0x50", "1e3" or "8080.0". */
function portOf(text: string): number | undefined {
  const digits = text.trim();
  if (!/^\d{1,5}$/.test(digits)) return undefined;
  const port = Number(digits);
  return port <= 65535 ? port : undefined;
}

/** What is wrong with a cache folder as typed, in the form's words; undefined when it will do. */
function cacheDirProblem(text: string): string | undefined {
  const folder = text.trim();
  if (folder === "") return "Model cache folder must not be empty: give the full path of a folder.";
  // Absolute wherever the server runs: /… there, or a drive or a share on Windows.
  if (!/^(\/|[A-Za-z]:[\\/]|\\\\)/.test(folder)) {
    return "Model cache folder must be a full path, starting with / (or a drive, such as C:\\, on Windows).";
  }
  return undefined;
}

function StartupCard({ startAtLogin }: { startAtLogin: boolean }) {
  const saving = useAppStore((s) => s.savingSettings);
  const { saveSettings } = useActions();
  const id = useId();
  return (
    <section className="card settings-card" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`} className="card-title">
        Startup
      </h2>
      <label className="checkbox">
        <input
          type="checkbox"
          checked={startAtLogin}
          disabled={saving}
          onChange={(event) =>
            void saveSettings(
              { start_at_login: event.target.checked },
              event.target.checked ? "llmlb will start at login" : "llmlb will not start at login",
            )
          }
        />
        <span>Start llmlb when I log in</span>
      </label>
    </section>
  );
}

/** Quitting from the dashboard: where there is no tray (or no terminal) to quit from. */
function QuitCard() {
  const canQuit = useAppStore((s) => s.status?.can_quit ?? false);
  const quitState = useAppStore((s) => s.quitState);
  const { quit } = useActions();
  const [confirming, setConfirming] = useState(false);
  const id = useId();
  if (!canQuit) return null;
  return (
    <section className="card settings-card" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`} className="card-title">
        Quit
      </h2>
      {quitState === "quit" ? (
        <p>llmlb has quit.</p>
      ) : quitState === "quitting" ? (
        <p role="status">
          llmlb is quitting: running requests finish, then the workers stop. This page stops updating once it
          has.
        </p>
      ) : (
        <div className="settings-row settings-row-sentence">
          <p className="muted">Stops serving /v1 to every client on this machine and beyond.</p>
          <button type="button" className="button button-danger-ghost" onClick={() => setConfirming(true)}>
            Quit llmlb
          </button>
        </div>
      )}
      {confirming && quitState !== "quitting" && quitState !== "quit" && (
        <ConfirmDialog
          title="Quit llmlb?"
          confirmLabel="Quit"
          busyLabel="Quitting…"
          busy={quitState === "asking"}
          onConfirm={() => void quit().then(() => setConfirming(false))}
          onCancel={() => setConfirming(false)}
        >
          <p>
            <code>/v1</code> stops taking requests at once; running requests finish first, then the workers
            stop and llmlb exits.
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}

/** The desktop app found its port in use at this start and serves on another. */
function portTakenNow(settings: Settings): string {
  const { port, listening_port: now } = settings;
  return now !== undefined && port !== 0 && !settings.restart_required && now !== port
    ? ` Port ${port} was in use when llmlb started: it serves on ${now} until a start finds ${port} free.`
    : "";
}

/** With port 0 a free one was picked at the start: which, as this page was reached on it. */
function anyPortNow(port: number): string {
  const now = window.location.port;
  return port === 0 && now !== "" ? ` 0 picks any free port: this start has ${now}.` : "";
}
