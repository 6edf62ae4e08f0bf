/**
 * The headless secret store: one JSON file in the data dir, created with mode 0600 and replaced
 * atomically on every change. With `key` (32 bytes) the file's content is sealed with
 * AES-256-GCM: that is how the Electron shell protects it with the OS keychain (electron/secrets.ts
 * keeps the key in safeStorage and hands it to the server process as HEARTH_SECRETS_KEY).
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
  sealed: z.object({ alg: z.literal("aes-256-gcm"), iv: z.string(), tag: z.string(), data: z.string() }),
});

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
      this.cache = new Map();
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
    try {
      this.cache = new Map(
        Object.entries(PlainFileSchema.shape.secrets.parse(JSON.parse(unseal(sealed.data.sealed, this.options.key)))),
      );
    } catch {
      // The keychain was reset and the shell made a new key: keep the old file aside, start empty.
      await fs.rename(file, `${file}.unreadable`);
      logger?.warn(
        { file },
        "the secrets file could not be unsealed with the current key; it was kept as .unreadable and API keys must be entered again",
      );
      this.cache = new Map();
    }
    return this.cache;
  }

  /** Writes `secrets` and only then makes them the cache, so a failed write changes nothing. */
  private async save(secrets: Map<string, string>): Promise<void> {
    const { file, key } = this.options;
    const plain = { version: 1 as const, secrets: Object.fromEntries(secrets) };
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
