/**
 * How many requests llmlb sends an endpoint at once: the range and the default, for the schema, the
 * CLI's flags and the dashboard alike. Imports nothing, so the dashboard bundle may take it.
 */

/** A whole number of requests from `min` to `max`. */
export const endpointParallelBounds = { min: 1, max: 1024 } as const;

/**
 * What an endpoint gets when nobody says: the balancer's default for any node, which every endpoint
 * had before this could be set; also what llama.cpp's server and Ollama run at once by default. A
 * server with fewer slots queues the rest itself; one with more (vLLM) is worth telling.
 */
export const defaultEndpointParallel = 4;
