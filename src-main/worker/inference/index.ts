export {
  createInferenceEngine,
  type InferenceEngine,
  type InferenceEngineOptions,
  type LoadedModelInfo,
} from "./engine";
