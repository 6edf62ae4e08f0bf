/**
 * Remote provider API keys in the desktop app are protected by the OS keychain through Electron's
 * safeStorage, by envelope encryption: the server keeps its secrets file as usual, encrypted with a
 * random 256-bit key, and only that key is stored here, encrypted by safeStorage. The shell
 * decrypts it at launch and hands it to the server process as HEARTH_SECRETS_KEY (base64, in the
 * environment, never on the command line). Without a usable keychain (Linux with no secret service
 * gives safeStorage's "basic_text" backend, which is obfuscation only) no key is passed and the
 * server falls back to its plain 0600 secrets file, as in headless mode.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";

/** Environment variable carrying the base64 key to the server. */
export const SECRETS_KEY_ENV = "HEARTH_SECRETS_KEY";
const KEY_BYTES = 32;

/** The part of Electron's `safeStorage` the shell uses. */
export interface SafeStorageLike {
  isEncryptionAvailable(): boolean;
  encryptString(plainText: string): Buffer;
  decryptString(encrypted: Buffer): string;
  /** Linux only in Electron; absent or "unknown" elsewhere. */
  getSelectedStorageBackend?(): string;
}

export type SecretsKeyResult =
  { key: Buffer; source: "loaded" | "created" | "replaced" } | { key: null; source: "unavailable"; reason: string };

function keychainProblem(safeStorage: SafeStorageLike, platform: NodeJS.Platform): string | null {
  if (!safeStorage.isEncryptionAvailable()) return "the OS keychain is not available";
  if (platform === "linux" && safeStorage.getSelectedStorageBackend?.() === "basic_text") {
    return "no secret service (gnome-keyring, KWallet) is running, so safeStorage would only obfuscate";
  }
  return null;
}

function writePrivate(file: string, data: Buffer): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, data, { mode: 0o600 });
  fs.renameSync(tmp, file);
}

/**
 * Loads the secrets key from `file` (decrypting it with safeStorage), creating it on first use.
 * A file that no longer decrypts (the keychain was reset) is kept as `<file>.unreadable` and a new
 * key is made: secrets sealed with the old key are then unreadable and must be entered again.
 */
export function loadSecretsKey(
  safeStorage: SafeStorageLike,
  file: string,
  platform: NodeJS.Platform = process.platform,
): SecretsKeyResult {
  const problem = keychainProblem(safeStorage, platform);
  if (problem) return { key: null, source: "unavailable", reason: problem };
  let replaced = false;
  if (fs.existsSync(file)) {
    try {
      const key = Buffer.from(safeStorage.decryptString(fs.readFileSync(file)), "base64");
      if (key.length === KEY_BYTES) return { key, source: "loaded" };
    } catch {
      // Falls through to a fresh key below.
    }
    fs.renameSync(file, `${file}.unreadable`);
    replaced = true;
  }
  const key = crypto.randomBytes(KEY_BYTES);
  writePrivate(file, safeStorage.encryptString(key.toString("base64")));
  return { key, source: replaced ? "replaced" : "created" };
}

/** The environment entries that give the server its secrets key (none when there is no key). */
export function secretsKeyEnv(result: SecretsKeyResult): Record<string, string> {
  return result.key ? { [SECRETS_KEY_ENV]: result.key.toString("base64") } : {};
}
