import type { UtilityFork } from "../../../src-main/electron/utilityLauncher";

export interface UtilityProcessStandInSettings {
  /** How long each chunk of output is in flight. Default: 50 ms. */
  outputDelayMs?: number;
  /** May return a promise the process waits for before it starts. */
  hold?: (modulePath: string, args: string[]) => Promise<unknown> | undefined;
}

export function createUtilityProcessStandIn(settings?: UtilityProcessStandInSettings): { fork: UtilityFork };
