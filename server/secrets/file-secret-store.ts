/**
 * The headless secret store: one JSON file in the data dir, created with mode 0600 and replaced
 * atomically on every change. With `key` (32 bytes) the file's content is sealed with
 * AES-256-GCM: that is how the Electron shell protects it with the OS keychain (electron/secrets.ts
 * keeps the key in safeStorage and hands it to the server process as HEARTH_SECRETS_KEY).
 *
 * A sealed file names its key by a fingerprint (`keyId`). Started with another key (a keychain
 * reset, or the app and a `hearth serve` with different keys), the store sets the file aside as
 * `secrets.json.<keyId>.sealed` and starts empty; started again with the first key, it puts that
 * file back. A file is never overwritten or lost because another key came by.
 *
 * File permissions do not apply on Windows; there the shell's key is the protection.
 */
import crypto from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import type { Logger } from "../logger.js";
import type { SecretStore } from "./secret-store.js";

const PlainFileSchema = z.object({ version: z.literal(1), secrets: z.record(z.string(), z.string()) });
const SealedFileSchema = z.object({
  version: z.literal(1),
  sealed: z.object({
    alg: z.literal("aes-256-gcm"),
    /** Which key sealed it (see `keyIdOf`); absent in files from before it was recorded. */
    keyId: z.string().optional(),
    iv: z.string(),
    tag: z.string(),
    data: z.string(),
  }),
});
type Sealed = z.infer<typeof SealedFileSchema>["sealed"];

/** A fingerprint of a key that says nothing about it: an HMAC with the key over a fixed label. */
export function keyIdOf(key: Buffer): string {
  return crypto.createHmac("sha256", key).update("hearth secrets key id").digest("hex").slice(0, 16);
}

export interface FileSecretStoreOptions {
  /** The secrets file, usually `<data-dir>/secrets.json`. */
  file: string;
  /** A 32-byte key that seals the file with AES-256-GCM. Defaults to none (a plain 0600 file). */
  key?: Buffer;
  /** Told when the file had looser permissions or could not be unsealed. Defaults to none. */
  logger?: Logger;
}

export class FileSecretStore implements SecretStore {
  private cache: Map<string, string> | null = null;
  /** Serializes reads and writes so concurrent API calls cannot lose each other's changes. */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: FileSecretStoreOptions) {
    if (options.key && options.key.length !== 32) throw new Error("The secrets key must be 32 bytes.");
  }

  get(key: string): Promise<string | undefined> {
    return this.locked(async () => (await this.load()).get(key));
  }

  has(key: string): Promise<boolean> {
    return this.locked(async () => (await this.load()).has(key));
  }

  set(key: string, value: string): Promise<void> {
    return this.locked(async () => {
      const next = new Map(await this.load());
      next.set(key, value);
      await this.save(next);
    });
  }

  delete(key: string): Promise<void> {
    return this.locked(async () => {
      const next = new Map(await this.load());
      if (next.delete(key)) await this.save(next);
    });
  }

  private locked<T>(work: () => Promise<T>): Promise<T> {
    const run = this.chain.then(work);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async load(): Promise<Map<string, string>> {
    if (this.cache) return this.cache;
    const { file, logger } = this.options;
    let text: string;
    try {
      text = await fs.readFile(file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      // Another key's run may have set this key's file aside without writing one of its own.
      this.cache = (this.options.key ? await this.restoreOwn() : null) ?? new Map();
      return this.cache;
    }
    if (process.platform !== "win32") {
      const { mode } = await fs.stat(file);
      if ((mode & 0o077) !== 0) {
        await fs.chmod(file, 0o600);
        logger?.warn({ file }, "the secrets file was readable by other users; its permissions are now 0600");
      }
    }
    const json: unknown = JSON.parse(text);
    const plain = PlainFileSchema.safeParse(json);
    if (plain.success) {
      this.cache = new Map(Object.entries(plain.data.secrets));
      return this.cache;
    }
    const sealed = SealedFileSchema.safeParse(json);
    if (!sealed.success) throw new Error(`The secrets file ${file} is not in a format Hearth knows.`);
    if (!this.options.key) {
      throw new Error(`The secrets file ${file} is sealed, and no key was given to open it (HEARTH_SECRETS_KEY).`);
    }
    const opened = this.open(sealed.data.sealed);
    if (opened) {
      this.cache = opened;
      return this.cache;
    }
    // Another key sealed it: set it aside under that key's name and look for this key's own file.
    const aside = await this.asideName(sealed.data.sealed.keyId);
    await fs.rename(file, aside);
    this.cache = (await this.restoreOwn()) ?? new Map();
    if (this.cache.size === 0)
      logger?.warn(
        { file, keptAs: path.basename(aside) },
        "the secrets file was sealed with another key; it was set aside (it opens again when Hearth starts with that key), and API keys must be entered again",
      );
    return this.cache;
  }

  /** The secrets in `sealed` if the current key sealed them, else null. */
  private open(sealed: Sealed): Map<string, string> | null {
    const key = this.options.key!;
    if (sealed.keyId !== undefined && sealed.keyId !== keyIdOf(key)) return null;
    try {
      return new Map(Object.entries(PlainFileSchema.shape.secrets.parse(JSON.parse(unseal(sealed, key)))));
    } catch {
      return null;
    }
  }

  /** A name for a file another key sealed that no file holds yet: `<file>.<keyId>.sealed`. */
  private async asideName(keyId: string | undefined): Promise<string> {
    const base = `${this.options.file}.${keyId ?? "unreadable"}`;
    for (let n = 1; ; n++) {
      const name = n === 1 ? `${base}.sealed` : `${base}.${n}.sealed`;
      if (!(await exists(name))) return name;
    }
  }

  /**
   * Puts back the newest file set aside that the current key opens (also `.unreadable` files from
   * before key ids were recorded); returns its secrets, or null when there is none.
   */
  private async restoreOwn(): Promise<Map<string, string> | null> {
    const { file } = this.options;
    const prefix = `${path.basename(file)}.`;
    const names = await fs.readdir(path.dirname(file)).catch(() => [] as string[]);
    const found: { name: string; mtime: number; secrets: Map<string, string> }[] = [];
    for (const name of names) {
      if (!name.startsWith(prefix) || !(name.endsWith(".sealed") || name.endsWith(".unreadable"))) continue;
      const full = path.join(path.dirname(file), name);
      const parsed = SealedFileSchema.safeParse(
        await fs
          .readFile(full, "utf8")
          .then(JSON.parse)
          .catch(() => null),
      );
      const secrets = parsed.success ? this.open(parsed.data.sealed) : null;
      if (secrets) found.push({ name: full, mtime: (await fs.stat(full)).mtimeMs, secrets });
    }
    const newest = found.sort((a, b) => b.mtime - a.mtime)[0];
    if (!newest) return null;
    await fs.rename(newest.name, file);
    this.options.logger?.info({ file }, "the secrets file sealed with this key was put back");
    return newest.secrets;
  }

  /** Writes `secrets` and only then makes them the cache, so a failed write changes nothing. */
  private async save(secrets: Map<string, string>): Promise<void> {
    const { file, key } = this.options;
    const plain = { version: 1 as const, secrets: Object.fromEntries(secrets) };
    // A file another key sealed was set aside when it was read (load), so this never overwrites one.
    const body = key ? { version: 1 as const, sealed: seal(JSON.stringify(plain.secrets), key) } : plain;
    await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString("hex")}.tmp`;
    try {
      await fs.writeFile(tmp, `${JSON.stringify(body, null, 2)}\n`, { mode: 0o600, flag: "wx" });
      await fs.rename(tmp, file);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw err;
    }
    this.cache = secrets;
  }
}

function seal(text: string, key: Buffer) {
  const iv = crypto.randomBytes(12);
  const cipher = crypto.createCipheriv("aes-256-gcm", key, iv);
  const data = Buffer.concat([cipher.update(text, "utf8"), cipher.final()]);
  return {
    alg: "aes-256-gcm" as const,
    keyId: keyIdOf(key),
    iv: iv.toString("base64"),
    tag: cipher.getAuthTag().toString("base64"),
    data: data.toString("base64"),
  };
}

function unseal(sealed: { iv: string; tag: string; data: string }, key: Buffer): string {
  const decipher = crypto.createDecipheriv("aes-256-gcm", key, Buffer.from(sealed.iv, "base64"));
  decipher.setAuthTag(Buffer.from(sealed.tag, "base64"));
  return Buffer.concat([decipher.update(Buffer.from(sealed.data, "base64")), decipher.final()]).toString("utf8");
}

const exists = (p: string) =>
  fs.access(p).then(
    () => true,
    () => false,
  );
