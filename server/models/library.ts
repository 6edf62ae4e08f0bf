/**
 * The model library: every GGUF in the models folder (`<data-dir>/models`) and in the extra
 * folders the user added, with what each file's header says. Split models (`-0000k-of-0000n`)
 * are one entry; files that are not usable GGUFs are listed with the reason, never thrown.
 * Only the models folder is Hearth's to write: imports and downloads land there, and only
 * files there can be deleted through the API.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { GgufFileError, readGgufFacts } from "../engine/gguf-info.js";
import type { EngineRuntime } from "../engine/runtime.js";
import { BadRequestError, HearthError, NotFoundError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { GgufFacts } from "../wire/models.js";
import { assertEntryInside, assertFolderInside, entryInside } from "./containment.js";
import { modelIdFromFileName, safeGgufFileName, splitPartNames, splitPartOf } from "./names.js";

/** Where a model was found. `managed` is the models folder; `folder` an extra folder; `external` a file named at start-up (`--model`). */
export type ModelLocation = "managed" | "folder" | "external";

export interface LibraryModel {
  /** The id clients send as `model`: the file name without `.gguf` (`~2`, `~3`... when two folders hold the same name). */
  id: string;
  /** The first (or only) file. */
  file: string;
  /** Every part, in order. */
  files: string[];
  location: ModelLocation;
  /** The folder the model was found in. */
  folder: string;
  sizeBytes: number;
  /** Last modification, in ms since the epoch. */
  modifiedAt: number;
  /**
   * "ok" when the header reads and the data is all there; "invalid" otherwise, with `error`;
   * "broken" when the file reads but crashed the engine in the load probe (engine/load-probe.ts), with `error`.
   */
  status: "ok" | "invalid" | "broken";
  error?: string;
  facts?: GgufFacts;
}

export interface ModelLibraryOptions {
  /** The models folder Hearth owns (downloads, imports, deletes). */
  modelsDir: string;
  /** Further folders to list models from (read-only to Hearth). Defaults to none. */
  extraDirs?: readonly string[];
  logger: Logger;
  /** The engine runtime that reads headers (see GgufReadOptions). Defaults to none. */
  runtime?: () => Promise<EngineRuntime>;
  /** Why a readable file is known to crash the engine (a load probe's verdict), if it is. Defaults to none. */
  knownBroken?: (files: readonly string[]) => Promise<string | undefined>;
}

/** Folders named like this hold work in progress (downloads, imports) and are never scanned. */
export const STAGING_DIR = ".downloads";
const MAX_DEPTH = 4;

interface Found {
  files: string[];
  folder: string;
  location: ModelLocation;
  error?: string;
}

export class ModelLibrary {
  private models = new Map<string, LibraryModel>();
  private readonly externals = new Set<string>();
  private scanning: Promise<LibraryModel[]> | null = null;
  private queuedScan: Promise<LibraryModel[]> | null = null;
  private scanned = false;
  private readonly listeners = new Set<(models: LibraryModel[]) => void>();

  constructor(private readonly options: ModelLibraryOptions) {}

  get modelsDir(): string {
    return this.options.modelsDir;
  }

  get folders(): { path: string; location: "managed" | "folder" }[] {
    return [
      { path: path.resolve(this.options.modelsDir), location: "managed" },
      ...(this.options.extraDirs ?? []).map((d) => ({ path: path.resolve(d), location: "folder" as const })),
    ];
  }

  /** Reads a model's header facts with the server's runtime; rejects with GgufFileError when unusable. */
  async readFacts(files: readonly string[]): Promise<GgufFacts> {
    const runtime = this.options.runtime ? await this.options.runtime() : null;
    return readGgufFacts(files, { runtime });
  }

  /** Calls `listener` after every scan with the new list. */
  onChange(listener: (models: LibraryModel[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The models as of the last scan. */
  list(): LibraryModel[] {
    return [...this.models.values()];
  }

  get(id: string): LibraryModel | undefined {
    return this.models.get(id);
  }

  /** The model whose first file is `file`, if the library lists it. */
  byFile(file: string): LibraryModel | undefined {
    const resolved = path.resolve(file);
    return this.list().find((m) => m.files.includes(resolved));
  }

  /** Lists the model whose first file is `file` as broken (it crashed the engine), until the file changes. */
  markBroken(file: string, reason: string): void {
    const model = this.byFile(file);
    if (model) this.models.set(model.id, { ...model, status: "broken", error: reason });
  }

  /** Resolves once the first scan finished (scanning it if none ran yet). */
  async ready(): Promise<void> {
    if (!this.scanned) await this.scan();
  }

  /** Lists a model file that lives outside the folders (the one given with `--model`); returns its entry. */
  async addExternal(file: string): Promise<LibraryModel> {
    const resolved = path.resolve(file);
    await this.ready();
    const known = this.byFile(resolved);
    if (known) return known;
    this.externals.add(resolved);
    await this.scan();
    const entry = this.byFile(resolved);
    if (!entry) throw new NotFoundError(`The model file ${resolved} could not be listed.`, { code: "model_not_found" });
    return entry;
  }

  /**
   * Walks the folders again and reads the headers of new or changed files. Scans never overlap:
   * a call during a scan waits for it and then runs one more, so it always sees the disk as it
   * was after the call.
   */
  scan(): Promise<LibraryModel[]> {
    if (!this.scanning) return this.startScan();
    this.queuedScan ??= this.scanning
      .catch(() => undefined)
      .then(() => {
        this.queuedScan = null;
        return this.startScan();
      });
    return this.queuedScan;
  }

  private startScan(): Promise<LibraryModel[]> {
    const run = this.doScan().finally(() => {
      if (this.scanning === run) this.scanning = null;
    });
    this.scanning = run;
    return run;
  }

  private async doScan(): Promise<LibraryModel[]> {
    const found: Found[] = [];
    for (const file of this.externals) found.push(...(await this.groupFiles([file], path.dirname(file), "external")));
    for (const folder of this.folders) {
      if (folder.location === "managed") await fsp.mkdir(folder.path, { recursive: true }).catch(() => undefined);
      const files = await walk(folder.path, 0).catch((err: unknown) => {
        this.options.logger.warn({ folder: folder.path, err: (err as Error).message }, "cannot read a models folder");
        return [] as string[];
      });
      if (folder.location !== "managed") {
        found.push(...(await this.groupFiles(files, folder.path, folder.location)));
        continue;
      }
      // A file reached through a linked folder lives elsewhere: listed like an extra folder's, and
      // never deleted through the API.
      const own: string[] = [];
      const elsewhere = new Map<string, string[]>();
      for (const file of files) {
        if (await entryInside(folder.path, file)) own.push(file);
        else {
          const where = await fsp.realpath(path.dirname(file)).catch(() => path.dirname(file));
          elsewhere.set(where, [...(elsewhere.get(where) ?? []), file]);
        }
      }
      found.push(...(await this.groupFiles(own, folder.path, "managed")));
      for (const [where, list] of elsewhere) found.push(...(await this.groupFiles(list, where, "folder")));
    }
    const seen = new Set<string>();
    const previous = this.models;
    const next = new Map<string, LibraryModel>();
    const taken = new Set<string>();
    // Ids stay with the file that had them, so a rescan never renames a model someone is using.
    const previousIdOf = new Map([...previous.values()].map((m) => [m.file, m.id]));
    const pending: { found: Found; id?: string }[] = [];
    for (const f of found) {
      const first = f.files[0]!;
      if (seen.has(first)) continue;
      seen.add(first);
      const old = previousIdOf.get(first);
      if (old !== undefined && !taken.has(old)) {
        taken.add(old);
        pending.push({ found: f, id: old });
      } else pending.push({ found: f });
    }
    for (const p of pending) {
      if (p.id !== undefined) continue;
      const base = modelIdFromFileName(path.basename(p.found.files[0]!));
      let id = base;
      for (let n = 2; taken.has(id); n++) id = `${base}~${n}`;
      taken.add(id);
      p.id = id;
    }
    await mapLimit(pending, 2, async ({ found: f, id }) => {
      next.set(id!, await this.describe(id!, f, previous.get(id!)));
    });
    // Keep the walk order (externals, models folder, extra folders), not completion order.
    this.models = new Map(pending.map((p) => [p.id!, next.get(p.id!)!]));
    this.scanned = true;
    const list = this.list();
    for (const listener of this.listeners) listener(list);
    return list;
  }

  private async groupFiles(files: string[], folder: string, location: ModelLocation): Promise<Found[]> {
    const out: Found[] = [];
    const splits = new Map<string, Set<number>>();
    for (const file of files) {
      const split = splitPartOf(path.basename(file));
      if (!split) {
        out.push({ files: [file], folder, location });
        continue;
      }
      const key = path.join(path.dirname(file), splitPartNames(path.basename(file))[0]!);
      const parts = splits.get(key) ?? new Set<number>();
      parts.add(split.part);
      splits.set(key, parts);
    }
    for (const [firstFile, present] of splits) {
      const names = splitPartNames(path.basename(firstFile));
      const all = names.map((n) => path.join(path.dirname(firstFile), n));
      const missing = names.map((_, i) => i + 1).filter((n) => !present.has(n));
      out.push({
        files: all,
        folder,
        location,
        ...(missing.length > 0 ? { error: `Part ${missing.join(", ")} of ${names.length} is missing.` } : {}),
      });
    }
    return out;
  }

  private async describe(id: string, found: Found, previous: LibraryModel | undefined): Promise<LibraryModel> {
    const stats = await Promise.all(found.files.map((f) => fsp.stat(f).catch(() => null)));
    const sizeBytes = stats.reduce((sum, s) => sum + (s?.size ?? 0), 0);
    const modifiedAt = Math.max(0, ...stats.map((s) => s?.mtimeMs ?? 0));
    const base = {
      id,
      file: found.files[0]!,
      files: found.files,
      location: found.location,
      folder: found.folder,
      sizeBytes,
      modifiedAt,
    };
    if (found.error) return { ...base, status: "invalid", error: found.error };
    if (
      previous &&
      previous.sizeBytes === sizeBytes &&
      previous.modifiedAt === modifiedAt &&
      previous.file === base.file
    ) {
      return { ...previous, ...base };
    }
    try {
      const facts = await this.readFacts(found.files);
      if (facts.kind === "projector")
        return {
          ...base,
          status: "invalid",
          error: "A vision/audio projector (mmproj), not a model that runs on its own.",
          facts,
        };
      const broken = await this.options.knownBroken?.(found.files);
      if (broken !== undefined) return { ...base, status: "broken", error: broken, facts };
      return { ...base, status: "ok", facts };
    } catch (err) {
      const reason = err instanceof GgufFileError ? err.reason : `Unreadable: ${(err as Error).message}`;
      this.options.logger.debug({ file: base.file, reason }, "model file is not usable");
      return { ...base, status: "invalid", error: reason };
    }
  }

  /**
   * Brings a GGUF (every part of a split one) into the models folder, by copy (staged, then
   * renamed, so it never shows half-written) or by symbolic link. The source must read as a GGUF.
   */
  async importFile(source: string, options: { mode: "copy" | "link"; name?: string }): Promise<LibraryModel> {
    if (!path.isAbsolute(source))
      throw new BadRequestError("'path' must be an absolute path to a .gguf file.", { param: "path" });
    const real = await fsp.realpath(source).catch(() => null);
    if (!real || !(await fsp.stat(real)).isFile())
      throw new BadRequestError(`No file at ${source}.`, { param: "path", code: "file_not_found" });
    if (!/\.gguf$/i.test(real)) throw new BadRequestError("Only .gguf files can be imported.", { param: "path" });
    const sourceNames = splitPartNames(path.basename(real));
    const sources = sourceNames.map((n) => path.join(path.dirname(real), n));
    const targetNames =
      options.name !== undefined
        ? splitPartNames(safeGgufFileName(options.name, "name"))
        : sourceNames.map((n) => safeGgufFileName(n, "path"));
    if (targetNames.length !== sources.length)
      throw new BadRequestError(
        "'name' must name a split model the same way as the source (name-00001-of-0000N.gguf).",
        { param: "name" },
      );
    for (const s of sources)
      if (!fs.existsSync(s))
        throw new BadRequestError(`Part ${path.basename(s)} of the split model is missing.`, {
          param: "path",
          code: "file_not_found",
        });
    try {
      await this.readFacts(sources);
    } catch (err) {
      if (err instanceof GgufFileError)
        throw new BadRequestError(`${path.basename(real)} cannot be imported: ${err.reason}`, {
          param: "path",
          code: "invalid_model_file",
        });
      throw err;
    }
    const dir = path.resolve(this.options.modelsDir);
    await fsp.mkdir(path.join(dir, STAGING_DIR), { recursive: true });
    await assertFolderInside(dir, path.join(dir, STAGING_DIR), "import through");
    const targets = targetNames.map((n) => path.join(dir, n));
    for (const t of targets) {
      if (fs.existsSync(t))
        throw new HearthError(409, "invalid_request_error", `${path.basename(t)} is already in the models folder.`, {
          param: "name",
          code: "already_exists",
        });
    }
    if (options.mode === "link") {
      for (const [i, t] of targets.entries()) await linkFile(sources[i]!, t);
    } else {
      const staging = path.join(dir, STAGING_DIR, `import-${crypto.randomBytes(6).toString("hex")}`);
      await fsp.mkdir(staging, { recursive: true });
      try {
        for (const [i, s] of sources.entries()) await fsp.copyFile(s, path.join(staging, targetNames[i]!));
        for (const [i, t] of targets.entries()) await fsp.rename(path.join(staging, targetNames[i]!), t);
      } finally {
        await fsp.rm(staging, { recursive: true, force: true });
      }
    }
    await this.scan();
    const entry = this.byFile(targets[0]!);
    if (!entry) throw new HearthError(500, "server_error", "The imported model did not appear in the library.");
    return entry;
  }

  /** Throws unless the model's files are in the models folder (Hearth deletes nothing elsewhere). */
  assertDeletable(model: LibraryModel): void {
    if (model.location !== "managed") {
      throw new BadRequestError(
        `'${model.id}' lives outside the models folder (${model.folder}); remove it there, or remove the folder from the library.`,
        {
          code: "not_in_models_folder",
        },
      );
    }
  }

  /** Removes a model's files from the models folder (a linked model loses only its link). */
  async deleteFiles(id: string): Promise<void> {
    const model = this.models.get(id);
    if (!model)
      throw new NotFoundError(`The model '${id}' does not exist.`, { param: "model", code: "model_not_found" });
    this.assertDeletable(model);
    // Checked again now, by real paths: a folder may have become a link since the last scan.
    for (const f of model.files) await assertEntryInside(this.options.modelsDir, f, "delete");
    for (const f of model.files) await fsp.rm(f, { force: true });
    await this.scan();
  }
}

async function walk(dir: string, depth: number): Promise<string[]> {
  let entries: fs.Dirent[];
  try {
    entries = await fsp.readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (depth > 0 || (err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  const out: string[] = [];
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (e.name.startsWith(".")) continue;
    const p = path.join(dir, e.name);
    let isDir = e.isDirectory();
    let isFile = e.isFile();
    if (e.isSymbolicLink()) {
      const s = await fsp.stat(p).catch(() => null);
      isDir = s?.isDirectory() ?? false;
      // A dangling link to a model is still a model entry: it is listed as invalid, with the reason.
      isFile = s ? s.isFile() : /\.gguf$/i.test(e.name);
    }
    if (isDir && depth < MAX_DEPTH) out.push(...(await walk(p, depth + 1)));
    else if (isFile && /\.gguf$/i.test(e.name)) out.push(p);
  }
  return out;
}

async function linkFile(source: string, target: string): Promise<void> {
  try {
    await fsp.symlink(source, target, "file");
  } catch (err) {
    // Windows needs a privilege for symbolic links; a hard link works on the same volume.
    if ((err as NodeJS.ErrnoException).code !== "EPERM") throw err;
    await fsp.link(source, target);
  }
}

async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
