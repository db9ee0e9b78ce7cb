import { spawn } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { CliError } from "./apiClient";
import type { Output } from "./modelCommands";

export type BuildGpu = "cuda" | "vulkan" | "metal";

/** A tool the build needs: the commands that provide it (any one will do) and how to get it. */
interface Tool {
  what: string;
  commands: string[];
  /** Where it is installed without being on PATH. */
  usualPlaces?: string[];
  hint: string;
}

function toolsFor(gpu: BuildGpu, env: NodeJS.ProcessEnv): Tool[] {
  const tools: Tool[] = [
    {
      what: "git (node-llama-cpp unpacks its copy of the llama.cpp sources with it)",
      commands: ["git"],
      hint: "on Debian and Ubuntu: apt-get install git",
    },
  ];
  if (process.platform !== "win32") {
    tools.push({
      what: "a C++ compiler",
      commands: ["c++", "g++", "clang++"],
      hint:
        process.platform === "darwin"
          ? "xcode-select --install"
          : "on Debian and Ubuntu: apt-get install build-essential",
    });
  }
  if (gpu === "cuda") {
    const cudaHome = env.CUDA_PATH ?? env.CUDA_HOME;
    tools.push({
      what: "nvcc (the CUDA toolkit)",
      commands: ["nvcc"],
      usualPlaces: [...(cudaHome ? [path.join(cudaHome, "bin", "nvcc")] : []), "/usr/local/cuda/bin/nvcc"],
      hint: "install NVIDIA's CUDA toolkit for the CUDA version your driver supports (`nvidia-smi` says which), and put its bin folder on PATH",
    });
  }
  if (gpu === "vulkan") {
    tools.push({
      what: "glslc (the Vulkan SDK)",
      commands: ["glslc"],
      hint: "install the Vulkan SDK (on Debian and Ubuntu: libvulkan-dev and glslc)",
    });
  }
  return tools;
}

/** The first executable of these names on PATH (with Windows' extensions). */
function onPath(commands: string[], env: NodeJS.ProcessEnv): string | undefined {
  const extensions = process.platform === "win32" ? (env.PATHEXT ?? ".EXE;.CMD").split(";") : [""];
  for (const dir of (env.PATH ?? "").split(path.delimiter).filter(Boolean)) {
    for (const command of commands) {
      for (const extension of extensions) {
        const candidate = path.join(dir, command + extension);
        if (isExecutable(candidate)) return candidate;
      }
    }
  }
  return undefined;
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** What the build needs that this machine lacks, each with how to get it. */
export function missingForBuild(gpu: BuildGpu, env: NodeJS.ProcessEnv): string[] {
  return toolsFor(gpu, env)
    .filter(
      (tool) => !onPath(tool.commands, env) && !(tool.usualPlaces ?? []).some((place) => isExecutable(place)),
    )
    .map((tool) => `${tool.what}: ${tool.hint}`);
}

/** node-llama-cpp's own command line, run by this Node: it builds into its local builds folder. */
function nodeLlamaCppCli(): string {
  const require = createRequire(import.meta.url);
  const manifest = require.resolve("node-llama-cpp/package.json");
  return path.join(path.dirname(manifest), "dist", "cli", "cli.js");
}

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
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [nodeLlamaCppCli(), "source", "download", "--gpu", gpu, "--noUsageExample"],
      // ELECTRON_RUN_AS_NODE: run as plain Node should this be Electron's binary.
      { stdio: ["ignore", "inherit", "inherit"], env: { ...env, ELECTRON_RUN_AS_NODE: "1" } },
    );
    child.once("error", reject);
    child.once("exit", (exitCode) => resolve(exitCode));
  });
  if (code !== 0) throw new CliError(`The build failed (exit code ${code}); its output above says why.`);
  io.out(
    "Built. Restart llmlb: its workers use this build from their next start; `llmlb node list` shows which build each runs.",
  );
}
