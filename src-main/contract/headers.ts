/** Headers of llmlb's own on the wire; imports nothing, so the dashboard may bundle it. */

/** On a chat answer: how many of the oldest messages were left out to fit the context (context_overflow). */
export const truncatedMessagesHeader = "x-llmlb-truncated-messages";

/**
 * On a request the control plane sends a worker as another API's (a Responses request, run as a chat
 * completion): the route the client called, so the worker's errors name that API's fields.
 */
export const clientPathHeader = "x-llmlb-client-path";
