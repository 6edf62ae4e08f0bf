/**
 * Turns `--model` into a file path: an existing path, a name in the models folder, or a Hugging
 * Face URI downloaded once into the models folder (with progress). Names never escape the
 * models folder.
 */
import fs from "node:fs";
import path from "node:path";
import { resolveModelFile } from "node-llama-cpp";
import { BadRequestError } from "../errors.js";

export interface ResolveOptions {
  modelsDir: string;
  onProgress?: (downloaded: number, total: number) => void;
  signal?: AbortSignal;
  /** Hugging Face access token for gated `hf:` models. Defaults to none. */
  hfToken?: string;
}

const isUri = (s: string) => s.startsWith("hf:") || /^https?:\/\//.test(s);

export async function resolveModelPath(spec: string, options: ResolveOptions): Promise<string> {
  if (isUri(spec)) {
    fs.mkdirSync(options.modelsDir, { recursive: true });
    // hf: URIs fail fast offline; plain URLs can hang in ipull's retries (docs/ENGINE-NOTES.md §0.15), so bound them.
    const signal = options.signal ? AbortSignal.any([options.signal, AbortSignal.timeout(6 * 3600_000)]) : undefined;
    return resolveModelFile(spec, {
      directory: options.modelsDir,
      download: "auto",
      cli: false,
      ...(signal ? { signal } : {}),
      // The server scrubs HF_TOKEN from its environment, so node-llama-cpp gets it from here.
      ...(options.hfToken ? { tokens: { huggingFace: options.hfToken } } : {}),
      onProgress: ({ downloadedSize, totalSize }) => options.onProgress?.(downloadedSize, totalSize),
    });
  }
  // A link that exists but cannot be followed (a loop, a target that went away) is a path, not a name.
  if (fs.lstatSync(spec, { throwIfNoEntry: false })?.isSymbolicLink() && !fs.existsSync(spec)) {
    let why = "its target does not exist";
    try {
      fs.statSync(spec);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ELOOP") why = "it is a loop of symbolic links";
    }
    throw new BadRequestError(`'${spec}' cannot be opened: ${why}.`, { param: "model" });
  }
  if (fs.existsSync(spec)) {
    if (fs.statSync(spec).isFile()) return path.resolve(spec);
    // A directory, FIFO or device given as --model: say so, rather than looking it up as a model name.
    if (path.isAbsolute(spec) || spec.includes(path.sep))
      throw new BadRequestError(`'${spec}' is not a model file: it is not a regular file.`, { param: "model" });
  }
  const name = spec.endsWith(".gguf") ? spec : `${spec}.gguf`;
  const candidate = path.resolve(options.modelsDir, name);
  if (!candidate.startsWith(path.resolve(options.modelsDir) + path.sep)) {
    throw new BadRequestError(`Model name '${spec}' is not a plain file name.`, { param: "model" });
  }
  if (fs.existsSync(candidate)) return candidate;
  throw new BadRequestError(`No model file at '${spec}', and no '${name}' in ${options.modelsDir}.`, {
    param: "model",
    code: "model_not_found",
  });
}
