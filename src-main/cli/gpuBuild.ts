import { spawn } from "node:child_process";
import type { BuildGpu } from "../contract";
import { buildCommand, missingForBuild } from "../core/gpuBuild/buildCommand";
import { CliError } from "./apiClient";
import type { Output } from "./modelCommands";

/**
 * `llmlb gpu build`: builds llama.cpp for this machine's GPU from the sources node-llama-cpp carries,
 * with its own source build (`source download`: no download from GitHub), so the kernels fit this
 * GPU and driver. Workers use a local build over the prebuilt binaries from their next start. Says
 * first what is missing, and builds nothing then.
 */
export async function buildGpuKernels(gpu: BuildGpu, io: Output, env = process.env): Promise<void> {
  const missing = missingForBuild(gpu, env);
  if (missing.length > 0) {
    throw new CliError(
      [`Cannot build llama.cpp for ${gpu} here; missing:`, ...missing.map((line) => `  - ${line}`)].join(
        "\n",
      ),
    );
  }
  io.out(
    `Building llama.cpp for ${gpu} from node-llama-cpp's bundled sources (CMake is fetched if missing).`,
  );
  io.out("This takes from a few minutes to an hour; its progress follows.");
  const command = buildCommand(gpu, env);
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(command.file, command.args, {
      stdio: ["ignore", "inherit", "inherit"],
      env: command.env,
    });
    child.once("error", reject);
    child.once("exit", (exitCode) => resolve(exitCode));
  });
  if (code !== 0) throw new CliError(`The build failed (exit code ${code}); its output above says why.`);
  io.out(
    "Built. Restart llmlb: its workers use this build from their next start; `llmlb node list` shows which build each runs.",
  );
}
