/** Headers of llmlb's own on the wire; imports nothing, so the dashboard may bundle it. */

/** On a chat answer: how many of the oldest messages were left out to fit the context (context_overflow). */
export const truncatedMessagesHeader = "x-llmlb-truncated-messages";

/**
 * On a whole answer: how long it waited for its model (a load, or room for one), in milliseconds. The
 * control plane takes it out of the answer's time when it measures the node's speed.
 */
export const modelWaitHeader = "x-llmlb-model-wait-ms";

/**
 * On a request the control plane sends a worker as another API's (a Responses request, run as a chat
 * completion): the route the client called, so the worker's errors name that API's fields.
 */
export const clientPathHeader = "x-llmlb-client-path";
