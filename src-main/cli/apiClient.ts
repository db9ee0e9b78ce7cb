import { errorBodySchema } from "../contract";
import { readAdminToken, readServerInfo } from "../core/dataDir";

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export interface ApiClientOptions {
  /** Server base URL. Default: the one the running server wrote into the data directory. */
  url?: string;
  /** Admin token. Default: the data directory's admin-token file. */
  token?: string;
  dataDir: string;
}

export interface ApiClient {
  readonly url: string;
  request<T>(method: string, path: string, body?: unknown): Promise<T>;
}

/** `localhost:8080` parses as a URL too (of the scheme "localhost:"): only http and https reach a server. */
function isHttpUrl(text: string): boolean {
  const parsed = URL.parse(text);
  return parsed !== null && (parsed.protocol === "http:" || parsed.protocol === "https:");
}

export function createApiClient(options: ApiClientOptions): ApiClient {
  if (options.url !== undefined && !isHttpUrl(options.url)) {
    throw new CliError(
      `--url ${JSON.stringify(options.url)} is not an http(s) address: give the server's, like http://127.0.0.1:8080.`,
    );
  }
  const url = (options.url ?? readServerInfo(options.dataDir)?.url)?.replace(/\/+$/, "");
  if (!url) {
    throw new CliError(
      `No running llmlb server found for data directory ${options.dataDir}: start one with \`llmlb serve\`, or pass --url.`,
    );
  }
  const token = options.token ?? readAdminToken(options.dataDir);
  return {
    url,
    async request<T>(method: string, requestPath: string, body?: unknown): Promise<T> {
      let response: Response;
      try {
        response = await fetch(url + requestPath, {
          method,
          headers: {
            ...(token ? { authorization: `Bearer ${token}` } : {}),
            ...(body !== undefined ? { "content-type": "application/json" } : {}),
          },
          body: body !== undefined ? JSON.stringify(body) : undefined,
        });
      } catch {
        throw new CliError(`Cannot reach the llmlb server at ${url}: is \`llmlb serve\` running?`);
      }
      if (response.status === 204) return undefined as T;
      const text = await response.text();
      let json: unknown;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        throw new CliError(
          `The server at ${url} answered ${response.status} with something that is not JSON.`,
        );
      }
      if (!response.ok) {
        const parsed = errorBodySchema.safeParse(json);
        throw new CliError(
          parsed.success ? parsed.data.error.message : `The server answered ${response.status}.`,
        );
      }
      return json as T;
    },
  };
}

export function encodeModelId(id: string): string {
  return encodeURIComponent(id);
}
