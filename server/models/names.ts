/**
 * The rules that keep model names from reaching outside the models folders. Model ids are only
 * ever looked up in the library's table, never joined onto a path, but a name that looks like a
 * path is refused outright (400) so no later change can turn it into one.
 */
import path from "node:path";
import { BadRequestError } from "../errors.js";

const SPLIT_RE = /^(.*)-(\d{5})-of-(\d{5})\.gguf$/i;

/** True when `name` reads like a path escape: `..` segments, absolute paths, drive letters, NULs, backslashes or their %-encodings. */
export function looksLikePathTraversal(name: string): boolean {
  if (name.includes("\0") || name.includes("\\")) return true;
  if (/%(2e|2f|5c|00)/i.test(name)) return true;
  if (name.startsWith("/") || name.startsWith("~") || /^[a-zA-Z]:/.test(name)) return true;
  return name.split("/").some((segment) => segment === ".." || segment === ".");
}

/**
 * Refuses a model name that reads like a path (see looksLikePathTraversal) or has control
 * characters. Names of remote models (`provider/model`) pass: a slash alone is not an escape.
 */
export function assertSafeModelName(name: string, param = "model"): void {
  // eslint-disable-next-line no-control-regex
  if (looksLikePathTraversal(name) || /[\u0000-\u001f\u007f]/.test(name)) {
    throw new BadRequestError(
      `'${name.replace(/[^\x20-\x7e]/g, "?")}' is not a valid model name: model names cannot be paths.`,
      {
        param,
        code: "invalid_model_name",
      },
    );
  }
}

/**
 * A file name for the models folder: one path segment of ordinary characters ending in `.gguf`.
 * Returns it, or throws a 400 naming `param`.
 */
export function safeGgufFileName(name: string, param: string): string {
  const ok =
    name.length <= 200 &&
    name === path.basename(name) &&
    !looksLikePathTraversal(name) &&
    /^[\w][\w.+\-() ]*\.gguf$/i.test(name) &&
    !name.startsWith(".");
  if (!ok) {
    throw new BadRequestError(
      `'${name.slice(0, 80)}' is not a usable model file name: use letters, digits, '.', '-', '_' and end with .gguf.`,
      {
        param,
        code: "invalid_file_name",
      },
    );
  }
  return name;
}

/** Part number and count of a split GGUF (`name-00001-of-00003.gguf`), or null for a single file. */
export function splitPartOf(fileName: string): { base: string; part: number; parts: number } | null {
  const m = SPLIT_RE.exec(fileName);
  if (!m) return null;
  const part = Number(m[2]);
  const parts = Number(m[3]);
  if (part < 1 || parts < 2 || part > parts) return null;
  return { base: m[1]!, part, parts };
}

/** The file names of every part of a split GGUF, given any one of them. */
export function splitPartNames(fileName: string): string[] {
  const split = splitPartOf(fileName);
  if (!split) return [fileName];
  const pad = (n: number) => String(n).padStart(5, "0");
  return Array.from({ length: split.parts }, (_, i) => `${split.base}-${pad(i + 1)}-of-${pad(split.parts)}.gguf`);
}

/** The id a model file is known by: its file name without `.gguf` (and without the part suffix for split models). */
export function modelIdFromFileName(fileName: string): string {
  const base = path.basename(fileName);
  const split = splitPartOf(base);
  return split ? split.base : base.replace(/\.gguf$/i, "");
}
