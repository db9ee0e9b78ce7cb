import { useEffect, useId, useState } from "react";
import type { BuildGpu, NodeInfo } from "../../src-main/contract";
import { backendLabel, formatAgo } from "../format";
import { useActions, useAppStore } from "../useAppStore";
import { useNow } from "../useNow";

const gpus: BuildGpu[] = ["cuda", "vulkan", "metal"];
const isBuildGpu = (backend: string): backend is BuildGpu => (gpus as string[]).includes(backend);

/** The backend to build for: one a node left out, else one a worker runs on, else CUDA. */
function suggestedGpu(nodes: NodeInfo[]): BuildGpu | undefined {
  const workers = nodes.filter((node) => node.kind === "worker" && node.status === "online");
  const leftOut = workers.flatMap((node) => node.backends_left_out.map((entry) => entry.backend));
  return leftOut.find(isBuildGpu) ?? workers.map((node) => node.backend).find(isBuildGpu);
}

/**
 * Settings' "GPU kernels": builds llama.cpp for this machine's GPU (`llmlb gpu build`), where there is
 * a GPU: a worker runs on one, or a backend was left out. Its output follows as it builds.
 */
export function GpuBuildCard() {
  const build = useAppStore((s) => s.gpuBuild);
  const refusal = useAppStore((s) => s.gpuBuildError);
  const nodes = useAppStore((s) => s.nodes);
  const { loadGpuBuild, startGpuBuild, cancelGpuBuild } = useActions();
  const suggested = suggestedGpu(nodes);
  const [gpu, setGpu] = useState<BuildGpu | undefined>(undefined);
  const now = useNow();
  const id = useId();

  useEffect(() => {
    void loadGpuBuild();
  }, [loadGpuBuild]);

  if (!build || (!suggested && build.state === "idle")) return null;
  const chosen = gpu ?? build.gpu ?? suggested ?? "cuda";
  const running = build.state === "running";
  return (
    <section className="card settings-card" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`} className="card-title">
        GPU kernels
      </h2>
      <p className="muted">
        Builds llama.cpp for the GPU in this machine from source, for when the prebuilt kernels do not run on
        it (the Nodes page says why a GPU was left out). It needs the GPU&apos;s toolkit (CUDA: nvcc; Vulkan:
        glslc), git and a C++ compiler, and takes minutes to an hour. Workers use it from llmlb&apos;s next
        start.
      </p>
      {!build.available ? (
        <p className="card note">{build.reason}</p>
      ) : (
        <div className="settings-row">
          <div className="field">
            <label htmlFor={`${id}-gpu`}>Build for</label>
            <select
              id={`${id}-gpu`}
              className="input"
              value={chosen}
              disabled={running}
              onChange={(event) => setGpu(event.target.value as BuildGpu)}
            >
              {gpus.map((option) => (
                <option key={option} value={option}>
                  {backendLabel(option)}
                </option>
              ))}
            </select>
          </div>
          {running ? (
            <button
              type="button"
              className="button button-danger-ghost"
              onClick={() => void cancelGpuBuild()}
            >
              Cancel build
            </button>
          ) : (
            <button
              type="button"
              className="button button-primary"
              onClick={() => void startGpuBuild(chosen)}
            >
              Build for this GPU
            </button>
          )}
        </div>
      )}
      {refusal && (
        <p className="note danger gpu-build-refusal" role="alert">
          {refusal}
        </p>
      )}
      {build.state !== "idle" && (
        <div className={`gpu-build gpu-build-${build.state}`}>
          {/* Only what the build is doing is live: the clock ticks each second, the output by the line. */}
          <p>
            <span role="status">
              {running ? `Building for ${backendLabel(build.gpu ?? chosen)}` : build.message}
            </span>
            {running && ` · started ${formatAgo(build.started_at ?? new Date(now).toISOString(), now)}`}
          </p>
          {build.output.length > 0 && (
            <pre className="gpu-build-output" aria-label="Build output">
              {build.output.slice(-12).join("\n")}
            </pre>
          )}
        </div>
      )}
    </section>
  );
}
