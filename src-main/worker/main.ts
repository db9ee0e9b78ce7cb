/**
 * The node process entry (one per GPU). It is started by the control plane's supervisor, or by
 * `llmlb node --join` on another machine. Syncing, downloading and inference arrive with the
 * nodes work; until then the entry only says what it is and exits non-zero, so nothing mistakes
 * it for a working node.
 */
process.stderr.write("llmlb worker: this build has no node implementation yet.\n");
process.exitCode = 1;
