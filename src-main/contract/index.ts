export * from "./errors";
export * from "./health";
export * from "./models";
export * from "./nodes";
export * from "./openai";
