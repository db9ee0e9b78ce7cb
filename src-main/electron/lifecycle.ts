/**
 * The desktop app's life, as plain decisions main.ts applies to Electron.
 *
 *   running ──(before-quit)──► draining ──(core disposed, or the deadline)──► drained ──► exit
 *
 * Closing the last window is not quitting: the service keeps serving in the tray on every platform.
 * Quitting (the tray, Cmd+Q, the OS, SIGTERM) first drains: running requests finish (up to the core's
 * drain timeout), the workers stop, then the app really quits; but not while the system shuts down.
 */

export interface WindowAllClosedDecision {
  action: "keep-running";
  /** macOS: with no window the app lives in the menu bar only, so the Dock icon goes away. */
  hideDock: boolean;
}

export function onWindowAllClosed(platform: NodeJS.Platform): WindowAllClosedDecision {
  return { action: "keep-running", hideDock: platform === "darwin" };
}

export type QuitPhase = "running" | "draining" | "drained";

export interface QuitControllerOptions {
  /** Drains and stops the service (waits for a start in progress first). */
  drain(): Promise<void>;
  /** Quits for real once drained (Electron's app.quit: before-quit comes again and is allowed). */
  quit(): void;
  /** Ends the process at once: the drain took longer than `forceAfterMs`. */
  exit(code: number): void;
  /** Starts the app again once this one has gone (Electron's app.relaunch). */
  relaunch(): void;
  /** How long a drain may take before the process ends anyway. */
  forceAfterMs: number;
  /** Told when the drain failed or timed out. Default: nothing. */
  onProblem?: (message: string, error?: unknown) => void;
  setTimeout?: (run: () => void, ms: number) => unknown;
}

export interface QuitController {
  readonly phase: QuitPhase;
  /** Electron's before-quit: "prevent" means call event.preventDefault(). */
  beforeQuit(): "allow" | "prevent";
  /**
   * The app was launched again while it drains (Quit, then open it again at once: a restart to apply
   * Settings): this copy holds the single-instance lock until it exits, so the new one quit; it starts
   * again once this one is gone.
   */
  launchedAgain(): void;
  /**
   * The system is shutting down or restarting (powerMonitor's `shutdown`): every quit is allowed from
   * now on. On macOS a before-quit held to drain would cancel the shutdown ("llmlb failed to quit");
   * the database and the partial downloads are safe without a drain.
   */
  systemShuttingDown(): void;
}

export function createQuitController(options: QuitControllerOptions): QuitController {
  const schedule = options.setTimeout ?? ((run, ms) => setTimeout(run, ms).unref());
  let phase: QuitPhase = "running";
  let relaunch = false;
  let shuttingDown = false;
  function end(leave: () => void): void {
    if (phase === "drained") return;
    phase = "drained";
    if (relaunch) options.relaunch();
    leave();
  }
  const finish = () => end(options.quit);
  return {
    get phase() {
      return phase;
    },
    beforeQuit() {
      if (phase === "drained" || shuttingDown) return "allow";
      if (phase === "draining") return "prevent";
      phase = "draining";
      schedule(() => {
        if (phase === "drained") return;
        options.onProblem?.(`Still draining after ${options.forceAfterMs} ms; quitting anyway.`);
        end(() => options.exit(0));
      }, options.forceAfterMs);
      void options.drain().then(finish, (error: unknown) => {
        options.onProblem?.("Stopping the service failed; quitting anyway.", error);
        finish();
      });
      return "prevent";
    },
    launchedAgain() {
      if (phase === "draining") relaunch = true;
      // Drained, not yet gone: this copy still holds the single-instance lock until it exits.
      else if (phase === "drained" && !relaunch) {
        relaunch = true;
        options.relaunch();
      }
    },
    systemShuttingDown() {
      shuttingDown = true;
    },
  };
}
