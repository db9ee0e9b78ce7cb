import { AppError } from "../../shared/errors";
import { isValidRepoId, unsafePathReason, unsafeRevisionReason } from "../../shared/hfNames";

/** What a user asked to register, before the hub has been asked anything. */
export interface ModelReference {
  repo: string;
  /** A file inside the repo; undefined for a whole-repo registration. */
  filename?: string;
  /** Branch, tag or commit. Default: main. */
  revision: string;
  /** `org/repo:Q4_K_M`: a quantization that must name exactly one GGUF (or one split set). */
  quantization?: string;
}

/** What may be pasted, short enough to read in a narrow window: the link forms after the first abridged. */
const acceptedForms = [
  "https://huggingface.co/org/repo (also …/tree/<revision>, …/blob/<revision>/<file>, …/resolve/<revision>/<file>, or hf.co/…)",
  "org/repo",
  "org/repo/<file>",
  "org/repo:<quantization> (e.g. org/repo:Q4_K_M)",
];

const hubHosts = new Set(["huggingface.co", "www.huggingface.co", "hf.co"]);

/** A folder named as a quantization, as repos with one folder per quantization name them (Q4_K_M, UD-Q4_K_XL, BF16). */
const quantizationFolder = /^(UD-)?(I?Q[1-8](_[A-Z0-9]+)*|BF16|F16|F32)$/i;

export interface ParseOptions {
  /**
   * The hub llmlb talks to (HF_ENDPOINT), when it is a mirror: links to its pages are accepted as
   * huggingface.co's are. Default: huggingface.co only.
   */
  hubEndpoint?: string;
}

function invalid(reason: string, param = "url"): AppError {
  return new AppError("input.invalid", `${reason}. Accepted forms: ${acceptedForms.join(", ")}.`, { param });
}

function checkRepo(repo: string, param: string): string {
  if (!isValidRepoId(repo)) {
    throw invalid(`"${repo}" is not a valid Hugging Face model repo id (org/name)`, param);
  }
  return repo;
}

function checkFile(filename: string, param: string): string {
  const reason = unsafePathReason(filename);
  if (reason)
    throw new AppError("input.invalid", `File path "${filename}" is not allowed: ${reason}.`, { param });
  return filename;
}

function checkRevision(revision: string, param: string): string {
  const reason = unsafeRevisionReason(revision);
  if (reason)
    throw new AppError("input.invalid", `Revision "${revision}" is not allowed: ${reason}.`, { param });
  return revision;
}

function decodeSegment(segment: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(segment);
  } catch {
    throw invalid(`"${segment}" is not valid percent-encoding`);
  }
  if (decoded === ".." || decoded === ".") throw invalid(`The URL contains a '${decoded}' segment`);
  return decoded;
}

/**
 * The path of a hub URL: `org/repo[/(tree|blob|resolve)/<rev>[/<file>]]`. Hub URLs encode a
 * revision containing '/' (refs/pr/1) as one %2F-escaped segment.
 */
function parseHubPath(pathname: string): ModelReference {
  const segments = pathname.split("/").filter((segment) => segment !== "");
  if (segments[0] === "datasets" || segments[0] === "spaces") {
    throw invalid(`Only model repositories can be registered, not ${segments[0]}`);
  }
  if (segments[0] === "models") segments.shift();
  // The hub's API address of a repo (`/api/models/org/repo`), as mirrors and scripts print it.
  else if (segments[0] === "api" && segments[1] === "models") segments.splice(0, 2);
  if (segments.length < 2) throw invalid("The URL does not name a repository (org/repo)");
  const [, , pageKind] = segments;
  if (pageKind !== undefined && pageKind !== "tree" && pageKind !== "blob" && pageKind !== "resolve")
    throw invalid(`"${pageKind}" URLs are not model or file links`);
  // `hf.co/org/repo:Q4_K_M`, the form Ollama and the hub's "Use this model" give.
  if (segments.length === 2 && segments[1]!.includes(":"))
    return parseShortForm(segments.map(decodeSegment).join("/"));
  const repo = checkRepo(segments.slice(0, 2).map(decodeSegment).join("/"), "url");
  const [kind, rev, ...fileSegments] = segments.slice(2);
  if (kind === undefined) return { repo, revision: "main" };
  if (rev === undefined) throw invalid(`The URL ends after "${kind}" without a revision`);
  const revision = checkRevision(decodeSegment(rev), "url");
  if (kind === "tree") {
    if (fileSegments.length === 0) return { repo, revision };
    // A repo with a folder per quantization (…/tree/main/Q4_K_M): the folder's files are that one.
    const folder = decodeSegment(fileSegments[0]!);
    if (fileSegments.length === 1 && quantizationFolder.test(folder)) {
      return { repo, revision, quantization: folder.toUpperCase() };
    }
    throw invalid("A folder inside a repo cannot be registered; link the repo or a file");
  }
  if (kind !== "blob" && kind !== "resolve") throw invalid(`"${kind}" URLs are not model or file links`);
  if (fileSegments.length === 0) throw invalid("The URL names no file");
  const filename = checkFile(fileSegments.map(decodeSegment).join("/"), "url");
  return { repo, revision, filename };
}

function parseUrl(text: string, options: ParseOptions): ModelReference {
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `https://${text}`);
  } catch {
    throw invalid(`"${text}" is not a URL`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:")
    throw invalid(`"${url.protocol}" URLs are not supported`);
  const mirror = options.hubEndpoint ? URL.parse(options.hubEndpoint) : null;
  const onMirror = mirror !== null && url.host.toLowerCase() === mirror.host.toLowerCase();
  if (!hubHosts.has(url.hostname.toLowerCase()) && !onMirror) {
    throw invalid(
      `"${url.hostname}" is not huggingface.co${mirror && !hubHosts.has(mirror.hostname) ? ` or the hub llmlb uses (${mirror.host})` : ""}`,
    );
  }
  if (url.username || url.password) throw invalid("URLs with credentials are not accepted");
  // The URL parser would resolve '..' and '%2E%2E' segments away; read the path as it was typed.
  let rawPath = /^(?:[a-z][a-z0-9+.-]*:\/\/)?[^/?#]*([^?#]*)/i.exec(text)![1]!;
  // A mirror served under a path (https://host/hf): its pages are below it.
  const prefix = onMirror ? mirror.pathname.replace(/\/+$/, "") : "";
  if (prefix && rawPath.startsWith(`${prefix}/`)) rawPath = rawPath.slice(prefix.length);
  return parseHubPath(rawPath);
}

/** `org/repo`, `org/repo/<file>` or `org/repo:<quantization>`. */
function parseShortForm(text: string): ModelReference {
  const colon = text.indexOf(":");
  if (colon >= 0) {
    const repo = checkRepo(text.slice(0, colon), "url");
    const quantization = text.slice(colon + 1);
    if (!/^[A-Za-z0-9_]{1,32}$/.test(quantization))
      throw invalid(`"${quantization}" is not a quantization tag`);
    return { repo, revision: "main", quantization: quantization.toUpperCase() };
  }
  const segments = text.split("/");
  const repo = checkRepo(segments.slice(0, 2).join("/"), "url");
  if (segments.length === 2) return { repo, revision: "main" };
  return { repo, revision: "main", filename: checkFile(segments.slice(2).join("/"), "url") };
}

/** One pasted line: a hub URL in any of its forms, or a short reference. */
export function parseModelInput(input: string, options: ParseOptions = {}): ModelReference {
  const text = input.trim();
  if (text.length === 0) throw invalid("Nothing to register: the input is empty");
  if (/\s/.test(text)) throw invalid(`"${text}" contains white space`);
  const looksLikeUrl =
    /^[a-z][a-z0-9+.-]*:\/\//i.test(text) || /^(www\.)?(huggingface\.co|hf\.co)(\/|$)/i.test(text);
  return looksLikeUrl ? parseUrl(text, options) : parseShortForm(text);
}

/** The `{repo, filename?, revision?}` form of the register request. */
export function parseModelParts(
  parts: {
    repo: string;
    filename?: string;
    revision?: string;
  },
  options: ParseOptions = {},
): ModelReference {
  const repoInput = parts.repo.trim();
  // A pasted URL or `org/repo/<file>` in the repo field is read the same way as a one-line input.
  const fromRepo =
    repoInput.split("/").length === 2 && !repoInput.includes(":")
      ? undefined
      : parseModelInput(repoInput, options);
  const repo = fromRepo?.repo ?? checkRepo(repoInput, "repo");
  const filenameInput = parts.filename?.trim();
  if (fromRepo?.quantization && filenameInput) {
    throw new AppError("input.invalid", "Give a quantization tag or a filename, not both.", {
      param: "filename",
    });
  }
  if (fromRepo?.filename && filenameInput && fromRepo.filename !== filenameInput) {
    throw new AppError("input.invalid", "The repo names one file and filename another.", {
      param: "filename",
    });
  }
  const filename = filenameInput ? checkFile(filenameInput, "filename") : fromRepo?.filename;
  const revision = parts.revision?.trim()
    ? checkRevision(parts.revision.trim(), "revision")
    : (fromRepo?.revision ?? "main");
  return {
    repo,
    revision,
    ...(filename ? { filename } : {}),
    ...(fromRepo?.quantization ? { quantization: fromRepo.quantization } : {}),
  };
}
