/**
 * One GET of a file, following the hub's redirect to its CDN by hand: the token goes only to the
 * hub's own origin (the CDN URL is signed and must not see it), and every hop's answer is visible.
 */
import { request, type Dispatcher } from "undici";

const MAX_REDIRECTS = 10;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
export const USER_AGENT = "llmlb-downloader/1";

export interface OpenedResponse {
  statusCode: number;
  headers: Dispatcher.ResponseData["headers"];
  body: Dispatcher.ResponseData["body"];
  /** Where the answer came from, after redirects. */
  url: string;
}

export interface OpenOptions {
  dispatcher: Dispatcher;
  token?: string;
  headers: Record<string, string>;
  signal: AbortSignal;
}

export async function openDownload(url: string, options: OpenOptions): Promise<OpenedResponse> {
  const hubOrigin = new URL(url).origin;
  let current = url;
  for (let hop = 0; ; hop++) {
    const sameOrigin = new URL(current).origin === hubOrigin;
    const response = await request(current, {
      method: "GET",
      dispatcher: options.dispatcher,
      signal: options.signal,
      headers: {
        "user-agent": USER_AGENT,
        ...options.headers,
        ...(options.token && sameOrigin ? { authorization: `Bearer ${options.token}` } : {}),
      },
    });
    const location = header(response.headers, "location");
    if (!REDIRECT_STATUSES.has(response.statusCode) || location === undefined) {
      return {
        statusCode: response.statusCode,
        headers: response.headers,
        body: response.body,
        url: current,
      };
    }
    await response.body.dump();
    if (hop >= MAX_REDIRECTS) throw new Error(`more than ${MAX_REDIRECTS} redirects from ${url}`);
    current = new URL(location, current).href;
  }
}

export function header(headers: Dispatcher.ResponseData["headers"], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}
