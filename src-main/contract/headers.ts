/** Headers of llmlb's own on the wire; imports nothing, so the dashboard may bundle it. */

/** On a chat answer: how many of the oldest messages were left out to fit the context (context_overflow). */
export const truncatedMessagesHeader = "x-llmlb-truncated-messages";
