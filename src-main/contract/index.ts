export * from "./endpoints";
export * from "./errors";
export * from "./events";
export * from "./health";
export * from "./models";
export * from "./nodes";
export * from "./openai";
export * from "./settings";
