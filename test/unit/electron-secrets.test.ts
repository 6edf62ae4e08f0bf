import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { shellConfig } from "../../electron/config.js";
import { loadSecretsKey, SECRETS_KEY_ENV, secretsKeyEnv, type SafeStorageLike } from "../../electron/secrets.js";
import { startAutoUpdate } from "../../electron/updater.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-secrets-"));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A fake of Electron's safeStorage: real AES-GCM under a "keychain" key the test controls. */
function fakeSafeStorage(keychain: Buffer, options: { available?: boolean; backend?: string } = {}): SafeStorageLike {
  return {
    isEncryptionAvailable: () => options.available ?? true,
    getSelectedStorageBackend: () => options.backend ?? "gnome_libsecret",
    encryptString(text) {
      const iv = crypto.randomBytes(12);
      const c = crypto.createCipheriv("aes-256-gcm", keychain, iv);
      const body = Buffer.concat([c.update(text, "utf8"), c.final()]);
      return Buffer.concat([iv, c.getAuthTag(), body]);
    },
    decryptString(buf) {
      const d = crypto.createDecipheriv("aes-256-gcm", keychain, buf.subarray(0, 12));
      d.setAuthTag(buf.subarray(12, 28));
      return Buffer.concat([d.update(buf.subarray(28)), d.final()]).toString("utf8");
    },
  };
}

describe("secrets key (safeStorage envelope)", () => {
  test("created once, stored encrypted with owner-only permissions, then loaded back", () => {
    const file = path.join(dir, "a", "secrets.key");
    const storage = fakeSafeStorage(crypto.randomBytes(32));
    const first = loadSecretsKey(storage, file, "linux");
    assert.equal(first.source, "created");
    assert.equal(first.key?.length, 32);
    const onDisk = fs.readFileSync(file);
    assert.ok(!onDisk.includes(first.key!.toString("base64")), "the key is not on disk in clear");
    if (process.platform !== "win32") assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    const second = loadSecretsKey(storage, file, "linux");
    assert.equal(second.source, "loaded");
    assert.deepEqual(second.key, first.key);
    assert.deepEqual(secretsKeyEnv(second), { [SECRETS_KEY_ENV]: first.key!.toString("base64") });
  });

  test("a key the keychain can no longer decrypt is set aside and replaced", () => {
    const file = path.join(dir, "b", "secrets.key");
    const first = loadSecretsKey(fakeSafeStorage(crypto.randomBytes(32)), file, "darwin");
    const again = loadSecretsKey(fakeSafeStorage(crypto.randomBytes(32)), file, "darwin");
    assert.equal(again.source, "replaced");
    assert.notDeepEqual(again.key, first.key);
    assert.ok(fs.existsSync(`${file}.unreadable`));
  });

  test("no keychain, or Linux's basic_text obfuscation: no key, the server keeps its 0600 file", () => {
    const none = loadSecretsKey(
      fakeSafeStorage(crypto.randomBytes(32), { available: false }),
      path.join(dir, "c.key"),
      "win32",
    );
    assert.equal(none.key, null);
    const basic = loadSecretsKey(
      fakeSafeStorage(crypto.randomBytes(32), { backend: "basic_text" }),
      path.join(dir, "d.key"),
      "linux",
    );
    assert.equal(basic.key, null);
    assert.match(basic.source === "unavailable" ? basic.reason : "", /secret service/);
    assert.deepEqual(secretsKeyEnv(basic), {});
    assert.equal(fs.existsSync(path.join(dir, "d.key")), false);
  });
});

describe("shell config", () => {
  test("reads its variables and falls back to the OS data folder", () => {
    const c = shellConfig(
      { HEARTH_DATA_DIR: "/data", HEARTH_MODEL: "/m.gguf", HEARTH_PORT: "7000", HEARTH_DISABLE_UPDATES: "1" },
      "linux",
    );
    assert.deepEqual(c, {
      dataDir: "/data",
      userDataDir: undefined,
      model: "/m.gguf",
      port: 7000,
      disableUpdates: true,
    });
    const d = shellConfig({ XDG_DATA_HOME: "/xdg", HEARTH_PORT: "nope" }, "linux");
    assert.equal(d.dataDir, path.join("/xdg", "hearth"));
    assert.equal(d.port, undefined, "the server's own setting (7424 unless changed)");
    assert.equal(d.model, undefined);
    assert.equal(d.disableUpdates, false);
  });
});

describe("auto-update", () => {
  test("never loads electron-updater when running from source or when disabled", async () => {
    let loads = 0;
    const load = async () => {
      loads++;
      return { checkForUpdatesAndNotify: async () => null, on: () => undefined };
    };
    assert.equal(
      await startAutoUpdate({ isPackaged: false, disabled: false, load, log: () => undefined }),
      "unpackaged",
    );
    assert.equal(await startAutoUpdate({ isPackaged: true, disabled: true, load, log: () => undefined }), "disabled");
    assert.equal(loads, 0);
  });

  test("checks in a packaged app, and update errors are only logged", async () => {
    const logs: string[] = [];
    let checks = 0;
    const result = await startAutoUpdate({
      isPackaged: true,
      disabled: false,
      load: async () => ({
        checkForUpdatesAndNotify: async () => {
          checks++;
          throw new Error("net::ERR_INTERNET_DISCONNECTED");
        },
        on: () => undefined,
      }),
      log: (m) => logs.push(m),
    });
    assert.equal(result, "checking");
    await new Promise((r) => setImmediate(r));
    assert.equal(checks, 1);
    assert.deepEqual(logs, ["auto-update: net::ERR_INTERNET_DISCONNECTED"]);
  });
});
