/**
 * Where a download comes from: a Hugging Face reference (`hf:owner/repo/file.gguf`, a
 * huggingface.co URL, or `owner/repo` plus a quantization) or a plain URL, resolved into the
 * files to fetch, with their sizes and sha256 when the source publishes them (the LFS oid in
 * Hugging Face's file listing). The Hugging Face base URL is configurable, so a mirror or a test
 * stand-in can take its place.
 */
import path from "node:path";
import { z } from "zod";
import { BadRequestError, HearthError } from "../errors.js";
import type { DownloadRequest } from "../wire/models.js";
import { modelIdFromFileName, safeGgufFileName, splitPartNames, splitPartOf } from "./names.js";

export type ParsedSource =
  | { kind: "hf-file"; repo: string; revision: string; file: string }
  | { kind: "hf-repo"; repo: string; revision: string; quantization?: string }
  | { kind: "url"; url: string };

/** One file of a download. */
export interface PlannedFile {
  url: string;
  /** The name it gets in the models folder. */
  name: string;
  /** Bytes, when known before the transfer. */
  size?: number;
  /** Lowercase hex, when the source publishes it. */
  sha256?: string;
}

export interface DownloadPlan {
  files: PlannedFile[];
  /** The id the model will have once downloaded. */
  modelId: string;
}

/** A network or upstream failure, worded for a person; `offline` when the host could not be reached at all. */
export class DownloadError extends HearthError {
  constructor(
    message: string,
    readonly offline = false,
    readonly retryable = false,
    status = 502,
    /** For the log only: the network error's code when no HTTP answer came (downloads.ts describeNetworkError). */
    readonly networkCode?: string,
  ) {
    super(status, "server_error", message, {
      code: offline || networkCode !== undefined ? "host_unreachable" : "download_failed",
    });
  }
}

const NAME = /^[\w][\w.-]{0,95}$/;
const REVISION = /^[\w][\w.\-/]{0,99}$/;
const HF_HOSTS = new Set(["huggingface.co", "www.huggingface.co", "hf.co"]);

function repoOf(owner: string, name: string): string {
  for (const part of [owner, name]) {
    if (!NAME.test(part) || part.includes(".."))
      throw new BadRequestError(`'${owner}/${name}' is not a Hugging Face repository name.`, { param: "source" });
  }
  return `${owner}/${name}`;
}

function revisionOf(rev: string | undefined): string {
  if (rev === undefined || rev === "") return "main";
  const decoded = decodeURIComponent(rev);
  if (!REVISION.test(decoded) || decoded.split("/").includes(".."))
    throw new BadRequestError(`'${rev}' is not a valid revision.`, { param: "source" });
  return decoded;
}

function filePathOf(segments: string[]): string {
  const decoded = segments.map((s) => decodeURIComponent(s));
  if (
    decoded.length === 0 ||
    decoded.some((s) => s === "" || s === "." || s === ".." || s.includes("\\") || s.includes("\0"))
  ) {
    throw new BadRequestError("The file path in the source is not valid.", { param: "source" });
  }
  return decoded.join("/");
}

/** Reads the source string; throws 400 for anything it cannot use. */
export function parseSource(source: string, hfEndpoint: string, quantization?: string): ParsedSource {
  const s = source.trim();
  if (s.startsWith("hf:")) {
    const [body = "", revHash] = s.slice(3).split("#", 2);
    const [owner = "", second = "", ...rest] = body.split("/");
    const revision = revisionOf(revHash);
    if (rest.length > 0) return { kind: "hf-file", repo: repoOf(owner, second), revision, file: filePathOf(rest) };
    const [name = "", quantFromUri] = second.split(":", 2);
    const quant = quantFromUri || quantization;
    return { kind: "hf-repo", repo: repoOf(owner, name), revision, ...(quant ? { quantization: quant } : {}) };
  }
  if (/^https?:\/\//i.test(s)) {
    let url: URL;
    try {
      url = new URL(s);
    } catch {
      throw new BadRequestError(`'${s.slice(0, 100)}' is not a valid URL.`, { param: "source" });
    }
    const endpointHost = new URL(hfEndpoint).host;
    if (HF_HOSTS.has(url.hostname) || url.host === endpointHost) {
      const base = new URL(hfEndpoint).pathname.replace(/\/+$/, "");
      const p =
        url.host === endpointHost && base && url.pathname.startsWith(base)
          ? url.pathname.slice(base.length)
          : url.pathname;
      const segs = p.split("/").filter(Boolean);
      const [owner, name, action, rev, ...file] = segs;
      const isHfHost = HF_HOSTS.has(url.hostname);
      // On a mirror's host only the repository URL forms are Hugging Face; anything else there is a plain file.
      if (!isHfHost && !(action === "resolve" || action === "blob" || action === "tree"))
        return { kind: "url", url: url.toString() };
      if (owner && name && !action)
        return {
          kind: "hf-repo",
          repo: repoOf(owner, name),
          revision: "main",
          ...(quantization ? { quantization } : {}),
        };
      if (owner && name && action === "tree" && rev)
        return {
          kind: "hf-repo",
          repo: repoOf(owner, name),
          revision: revisionOf(rev),
          ...(quantization ? { quantization } : {}),
        };
      if (owner && name && (action === "resolve" || action === "blob") && rev && file.length > 0) {
        return { kind: "hf-file", repo: repoOf(owner, name), revision: revisionOf(rev), file: filePathOf(file) };
      }
      throw new BadRequestError(
        "This Hugging Face URL names neither a repository nor a file (…/resolve/<revision>/<file>.gguf).",
        { param: "source" },
      );
    }
    return { kind: "url", url: url.toString() };
  }
  const m = /^([\w][\w.-]*)\/([\w][\w.-]*)$/.exec(s);
  if (m)
    return { kind: "hf-repo", repo: repoOf(m[1]!, m[2]!), revision: "main", ...(quantization ? { quantization } : {}) };
  throw new BadRequestError(
    "'source' must be hf:owner/repo/file.gguf, owner/repo (with a quantization), a huggingface.co URL or an http(s) URL.",
    {
      param: "source",
    },
  );
}

/** `<endpoint>/<repo>/resolve/<revision>/<file>`, each part escaped. */
export function hfFileUrl(hfEndpoint: string, repo: string, revision: string, file: string): string {
  const base = hfEndpoint.replace(/\/+$/, "");
  return `${base}/${repo}/resolve/${encodeURIComponent(revision)}/${file.split("/").map(encodeURIComponent).join("/")}`;
}

interface HfSibling {
  rfilename: string;
  size?: number;
  lfs?: { sha256?: string; oid?: string; size?: number };
}

const HfModelSchema = z.looseObject({
  siblings: z
    .array(
      z.looseObject({
        rfilename: z.string(),
        size: z.number().optional(),
        lfs: z
          .looseObject({ sha256: z.string().optional(), oid: z.string().optional(), size: z.number().optional() })
          .optional(),
      }),
    )
    .default([]),
});

export type Fetcher = (url: string, init: RequestInit) => Promise<Response>;

/** Lists a repository's files (names, sizes, sha256) through the Hugging Face API. */
async function listRepo(
  hfEndpoint: string,
  repo: string,
  revision: string,
  fetcher: Fetcher,
  signal: AbortSignal,
): Promise<HfSibling[]> {
  const base = hfEndpoint.replace(/\/+$/, "");
  const url = `${base}/api/models/${repo}${revision === "main" ? "" : `/revision/${encodeURIComponent(revision)}`}?blobs=true`;
  const res = await fetcher(url, { signal, headers: { Accept: "application/json" } });
  if (res.status === 401 || res.status === 403) {
    throw new DownloadError(
      `The repository ${repo} is private or gated, and ${new URL(base).host} refused this request. Accept the model's terms on its page, ` +
        "then give Hearth an access token: set HF_TOKEN (or HEARTH_HF_TOKEN) and restart it. If a token is set, it lacks access to this repository.",
      false,
      false,
      403,
    );
  }
  if (res.status === 404)
    throw new DownloadError(
      `No repository ${repo} (revision ${revision}) on ${new URL(base).host}.`,
      false,
      false,
      404,
    );
  if (!res.ok)
    throw new DownloadError(
      `Listing ${repo} failed: ${new URL(base).host} answered HTTP ${res.status}.`,
      false,
      res.status >= 500,
    );
  const parsed = HfModelSchema.safeParse(await res.json().catch(() => null));
  if (!parsed.success) throw new DownloadError(`Listing ${repo} failed: the answer was not a model listing.`);
  return parsed.data.siblings;
}

function shaOf(s: HfSibling | undefined): string | undefined {
  const v = s?.lfs?.sha256 ?? s?.lfs?.oid;
  return v && /^[a-f0-9]{64}$/i.test(v) ? v.toLowerCase() : undefined;
}

function quantMatches(fileName: string, quant: string): boolean {
  const escaped = quant.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`(^|[-_.])${escaped}([-_.]|$)`, "i").test(fileName.replace(/\.gguf$/i, ""));
}

/** The quantization names present in a list of GGUF file names (for error messages). */
function quantsIn(names: string[]): string[] {
  const found = new Set<string>();
  for (const n of names) {
    const m = /(I?Q\d[\w]*|F16|BF16|F32)(?:-\d{5}-of-\d{5})?\.gguf$/i.exec(n);
    if (m) found.add(m[1]!.toUpperCase());
  }
  return [...found].sort();
}

/**
 * Turns a parsed source into the files to fetch. Repositories are listed through the API (names,
 * sizes, sha256); a single Hugging Face file is listed too when the API answers, so its checksum
 * is known, and its headers fill in what the listing lacks.
 */
export async function planDownload(
  parsed: ParsedSource,
  request: Pick<DownloadRequest, "fileName" | "sha256">,
  options: { hfEndpoint: string; fetcher: Fetcher; signal: AbortSignal },
): Promise<DownloadPlan> {
  if (parsed.kind === "url") {
    const last = decodeURIComponent(new URL(parsed.url).pathname.split("/").filter(Boolean).pop() ?? "");
    const name = safeGgufFileName(request.fileName ?? last, request.fileName ? "fileName" : "source");
    if (splitPartOf(name))
      throw new BadRequestError("Split models cannot be downloaded by plain URL; use the Hugging Face reference.", {
        param: "source",
      });
    return {
      files: [{ url: parsed.url, name, ...(request.sha256 ? { sha256: request.sha256.toLowerCase() } : {}) }],
      modelId: modelIdFromFileName(name),
    };
  }
  let siblings: HfSibling[] | null = null;
  try {
    siblings = await listRepo(options.hfEndpoint, parsed.repo, parsed.revision, options.fetcher, options.signal);
  } catch (err) {
    // A single file can do without the listing (mirrors often lack the API); a repository cannot.
    if (parsed.kind === "hf-repo" || !(err instanceof DownloadError) || err.offline || err.status === 403) throw err;
  }
  let chosen: string[];
  if (parsed.kind === "hf-file") {
    if (!/\.gguf$/i.test(parsed.file))
      throw new BadRequestError("Only .gguf files can be downloaded.", { param: "source" });
    const dir = path.posix.dirname(parsed.file);
    chosen = splitPartNames(path.posix.basename(parsed.file)).map((n) => (dir === "." ? n : `${dir}/${n}`));
  } else {
    const ggufs = (siblings ?? []).map((s) => s.rfilename).filter((n) => /\.gguf$/i.test(n) && !/mmproj/i.test(n));
    if (ggufs.length === 0)
      throw new BadRequestError(`The repository ${parsed.repo} has no GGUF files.`, {
        param: "source",
        code: "no_gguf_files",
      });
    const firstParts = ggufs.filter((n) => (splitPartOf(path.posix.basename(n))?.part ?? 1) === 1);
    let candidates = firstParts;
    if (parsed.quantization)
      candidates = firstParts.filter((n) => quantMatches(path.posix.basename(n), parsed.quantization!));
    else if (firstParts.length > 1) {
      const preferred = firstParts.filter((n) => quantMatches(path.posix.basename(n), "Q4_K_M"));
      if (preferred.length > 0) candidates = preferred;
    }
    if (candidates.length === 0 || (candidates.length > 1 && !parsed.quantization)) {
      const available = quantsIn(firstParts);
      throw new BadRequestError(
        parsed.quantization
          ? `The repository ${parsed.repo} has no ${parsed.quantization} file. Available: ${available.join(", ") || firstParts.join(", ")}.`
          : `The repository ${parsed.repo} has several GGUF files; choose a quantization: ${available.join(", ") || firstParts.join(", ")}.`,
        { param: "quantization", code: "quantization_required" },
      );
    }
    // Several files of one quantization (say, in subfolders): the shortest path is the plain one.
    const first = candidates.sort((a, b) => a.length - b.length)[0]!;
    const dir = path.posix.dirname(first);
    chosen = splitPartNames(path.posix.basename(first)).map((n) => (dir === "." ? n : `${dir}/${n}`));
    const missing = chosen.filter((c) => !ggufs.includes(c));
    if (missing.length > 0) throw new DownloadError(`The repository ${parsed.repo} lacks ${missing.join(", ")}.`);
  }
  const byName = new Map((siblings ?? []).map((s) => [s.rfilename, s]));
  const files = chosen.map((file): PlannedFile => {
    const sibling = byName.get(file);
    const size = sibling?.lfs?.size ?? sibling?.size;
    const sha = shaOf(sibling) ?? (chosen.length === 1 && request.sha256 ? request.sha256.toLowerCase() : undefined);
    return {
      url: hfFileUrl(options.hfEndpoint, parsed.repo, parsed.revision, file),
      name: safeGgufFileName(path.posix.basename(file), "source"),
      ...(size !== undefined ? { size } : {}),
      ...(sha ? { sha256: sha } : {}),
    };
  });
  return { files, modelId: modelIdFromFileName(files[0]!.name) };
}
