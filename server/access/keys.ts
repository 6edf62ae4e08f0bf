/**
 * Named API keys (issue 20): `hk_<id>_<secret>`, each with a name, a scope and optional limits,
 * kept in `<data-dir>/keys.json` (mode 0600, replaced atomically) as a SHA-256 hash of the whole
 * key. The secret is returned once, by `create`, and never stored.
 *
 * A file and not the history database: keys are credentials like `secrets.json`, not history.
 * Deleting or importing history, or starting over with a new history file, must not open or close
 * the server to anyone, and `hearth keys` works without opening (and migrating) the database a
 * running server writes. The server notices changes the CLI makes (mtime, size, inode) within
 * `RELOAD_MS`, so a key revoked from the command line stops working at once for new requests.
 *
 * `sameSecret` is the one way a presented secret is checked, here and for the single `--api-key`,
 * the desktop window's token and the settings token: SHA-256 on both sides, then a constant-time
 * comparison, so the time taken says nothing about how much of a guess was right.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { DEFAULT_LIMITS, KEY_SCOPES, KeyNameSchema, type KeyScope } from "../wire/access.js";

/** How often the server looks at the file for changes another process (`hearth keys`) made. */
export const RELOAD_MS = 500;

export const KEYS_FILE = "keys.json";

const limit = z.number().int().min(0).max(100_000_000);

/** One key as stored (and, less its hash, as listed). */
export const StoredKeySchema = z.object({
  id: z.string().regex(/^[0-9a-f]{12}$/),
  name: KeyNameSchema,
  scope: z.enum(KEY_SCOPES),
  /** Requests per minute; 0 for no limit. */
  rpm: limit,
  /** Tokens (prompt + completion) per minute; 0 for no limit. */
  tpm: limit,
  /** SHA-256 of the whole key, hex. */
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  createdAt: z.number().int(),
});
export type StoredKey = z.infer<typeof StoredKeySchema>;
/** A key as the file knows it: everything but the hash. */
export type KeyInfo = Omit<StoredKey, "hash">;

const FileSchema = z.object({ version: z.literal(1), keys: z.array(StoredKeySchema) });

/** What `create` takes. */
export interface NewKey {
  name: string;
  scope: KeyScope;
  /** Defaults to DEFAULT_LIMITS.rpm; 0 for no limit. */
  rpm?: number;
  /** Defaults to DEFAULT_LIMITS.tpm; 0 for no limit. */
  tpm?: number;
}

export class KeyError extends Error {
  constructor(
    message: string,
    readonly code: "duplicate_name" | "invalid_key" | "key_not_found" | "keys_unreadable",
  ) {
    super(message);
    this.name = "KeyError";
  }
}

export const digest = (secret: string): Buffer => crypto.createHash("sha256").update(secret).digest();

/** True when `presented` hashes to `expected` (a SHA-256 digest), compared in constant time. */
export function sameSecret(presented: string, expected: Buffer): boolean {
  return crypto.timingSafeEqual(digest(presented), expected);
}

/** The id part of `hk_<id>_<secret>`, or null when `token` does not have that form. */
export function keyIdOf(token: string): string | null {
  const m = /^hk_([0-9a-f]{12})_[\w-]{20,}$/.exec(token);
  return m ? m[1]! : null;
}

/** The keys file: read on demand, cached, written whole. Synchronous: it is tiny and read on every keyed request. */
export class KeyStore {
  private keys: StoredKey[] = [];
  private hashes = new Map<string, Buffer>();
  private seen = "";
  private checkedAt = -Infinity;

  constructor(readonly file: string) {}

  static inDataDir(dataDir: string): KeyStore {
    return new KeyStore(path.join(dataDir, KEYS_FILE));
  }

  /** Every key, oldest first, without hashes. */
  list(): KeyInfo[] {
    this.refresh(true);
    return this.keys.map(({ hash: _hash, ...info }) => info);
  }

  /** True when at least one named key exists (binding beyond loopback needs one). */
  any(): boolean {
    this.refresh(false);
    return this.keys.length > 0;
  }

  /** The stored key `token` names and matches, or null. */
  authenticate(token: string): StoredKey | null {
    const id = keyIdOf(token);
    if (id === null) return null;
    this.refresh(false);
    const expected = this.hashes.get(id);
    if (!expected) return null;
    return sameSecret(token, expected) ? (this.keys.find((k) => k.id === id) ?? null) : null;
  }

  /** Creates a key; the returned `key` is the only time its secret exists outside the client. */
  create(input: NewKey, now = Date.now()): { key: string; info: KeyInfo } {
    const name = KeyNameSchema.parse(input.name);
    this.refresh(true);
    if (this.keys.some((k) => k.name.toLowerCase() === name.toLowerCase()))
      throw new KeyError(
        `A key named '${name}' exists already; choose another name or revoke it first.`,
        "duplicate_name",
      );
    const id = crypto.randomBytes(6).toString("hex");
    const key = `hk_${id}_${crypto.randomBytes(32).toString("base64url")}`;
    const stored: StoredKey = {
      id,
      name,
      scope: input.scope,
      rpm: input.rpm ?? DEFAULT_LIMITS.rpm,
      tpm: input.tpm ?? DEFAULT_LIMITS.tpm,
      hash: digest(key).toString("hex"),
      createdAt: now,
    };
    this.write([...this.keys, StoredKeySchema.parse(stored)]);
    const { hash: _hash, ...info } = stored;
    return { key, info };
  }

  /** Revokes the key with this id or (case-insensitive) name; returns it, or throws `key_not_found`. */
  revoke(idOrName: string): KeyInfo {
    this.refresh(true);
    const wanted = idOrName.trim().toLowerCase();
    const found = this.keys.find((k) => k.id === wanted || k.name.toLowerCase() === wanted);
    if (!found) throw new KeyError(`There is no key '${idOrName}'.`, "key_not_found");
    this.write(this.keys.filter((k) => k !== found));
    const { hash: _hash, ...info } = found;
    return info;
  }

  /** Rereads the file when it changed; `force` skips the RELOAD_MS pause (writes and lists). */
  private refresh(force: boolean): void {
    const now = performance.now();
    if (!force && now - this.checkedAt < RELOAD_MS) return;
    this.checkedAt = now;
    let stat: fs.Stats | undefined;
    try {
      stat = fs.statSync(this.file, { throwIfNoEntry: false });
    } catch (err) {
      throw new KeyError(`The keys file ${this.file} cannot be read: ${(err as Error).message}`, "keys_unreadable");
    }
    const version = stat ? `${stat.ino}:${stat.size}:${stat.mtimeMs}` : "";
    if (version === this.seen) return;
    this.load(stat ? this.read() : []);
    this.seen = version;
  }

  private read(): StoredKey[] {
    try {
      return FileSchema.parse(JSON.parse(fs.readFileSync(this.file, "utf8"))).keys;
    } catch (err) {
      // Refusing every key is the safe answer to a file that cannot be trusted; the message says which file.
      throw new KeyError(
        `The keys file ${this.file} cannot be read (${(err as Error).message}). Fix or delete it.`,
        "keys_unreadable",
      );
    }
  }

  private load(keys: StoredKey[]): void {
    this.keys = keys;
    this.hashes = new Map(keys.map((k) => [k.id, Buffer.from(k.hash, "hex")]));
  }

  private write(keys: StoredKey[]): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, `${JSON.stringify({ version: 1, keys }, null, 2)}\n`, { mode: 0o600 });
    fs.renameSync(tmp, this.file);
    this.load(keys);
    const stat = fs.statSync(this.file);
    this.seen = `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
  }
}

/**
 * True when `<dataDir>/keys.json` holds a key: binding beyond loopback needs a key, and a named one
 * will do (config.ts). An unreadable file holds none that could be checked.
 */
export function namedKeysExist(dataDir: string): boolean {
  try {
    return KeyStore.inDataDir(dataDir).any();
  } catch {
    return false;
  }
}
