/**
 * A counter that grows with every write that changes what model lists show (registrations,
 * deletions, a model becoming ready or not on some node), so views of them can be cached and nodes
 * can tell from a heartbeat answer that they should sync.
 */
export interface RegistryVersion {
  current(): number;
  bump(): void;
}

export function createRegistryVersion(): RegistryVersion {
  let version = 0;
  return {
    current: () => version,
    bump: () => void version++,
  };
}
