import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import type { BuildGpu } from "../../contract";

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

/** A process to run: the file, its arguments, its environment. */
export interface BuildCommand {
  file: string;
  args: string[];
  env: NodeJS.ProcessEnv;
}

/**
 * node-llama-cpp's own source build (`source download`), run by this Node (as plain Node under
 * Electron): it builds llama.cpp from the sources node-llama-cpp carries (no download from GitHub)
 * into its local builds folder, which `getLlama` prefers to the prebuilt binaries.
 */
export function buildCommand(gpu: BuildGpu, env: NodeJS.ProcessEnv): BuildCommand {
  const require = createRequire(import.meta.url);
  // Its package.json is not among what it exports: its entry (dist/index.js) is, beside dist/cli.
  const entry = require.resolve("node-llama-cpp");
  const cli = path.join(path.dirname(entry), "cli", "cli.js");
  return {
    file: process.execPath,
    args: [cli, "source", "download", "--gpu", gpu, "--noUsageExample"],
    env: { ...env, ELECTRON_RUN_AS_NODE: "1" },
  };
}
