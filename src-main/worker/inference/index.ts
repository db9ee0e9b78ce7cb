export {
  createInferenceEngine,
  type InferenceEngine,
  type InferenceEngineOptions,
  type LoadedModelInfo,
} from "./engine";
export { registerInferenceRoutes, type InferenceRoutesOptions } from "./routes";
