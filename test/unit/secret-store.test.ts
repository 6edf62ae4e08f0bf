/** The headless secret store on real files: 0600, atomic, sealed with a key, a lost key, loose permissions. */
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import { FileSecretStore } from "../../server/secrets/file-secret-store.js";

const dirs: string[] = [];
function tempFile(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-secrets-"));
  dirs.push(dir);
  return path.join(dir, "data", "secrets.json");
}
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const mode = (file: string) => fs.statSync(file).mode & 0o777;
const posix = process.platform !== "win32";

describe("FileSecretStore", () => {
  test("stores, reads, deletes; the file is created 0600 and survives a new instance", async () => {
    const file = tempFile();
    const store = new FileSecretStore({ file });
    assert.equal(await store.has("a"), false);
    await store.set("a", "sk-one");
    await store.set("b", "sk-two");
    if (posix) assert.equal(mode(file), 0o600);
    const again = new FileSecretStore({ file });
    assert.equal(await again.get("a"), "sk-one");
    await again.delete("a");
    await again.delete("missing");
    assert.equal(await new FileSecretStore({ file }).has("a"), false);
    assert.equal(await new FileSecretStore({ file }).get("b"), "sk-two");
    assert.deepEqual(fs.readdirSync(path.dirname(file)), ["secrets.json"], "no temp files left behind");
  });

  test("concurrent writes are serialized: none is lost", async () => {
    const store = new FileSecretStore({ file: tempFile() });
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.set(`k${i}`, `v${i}`)));
    for (let i = 0; i < 20; i++) assert.equal(await store.get(`k${i}`), `v${i}`);
  });

  test("with a key the file is sealed (AES-256-GCM): the secret is not in it, and the same key opens it", async () => {
    const file = tempFile();
    const key = crypto.randomBytes(32);
    await new FileSecretStore({ file, key }).set("provider:x:apiKey", "sk-sealed-value");
    const text = fs.readFileSync(file, "utf8");
    assert.doesNotMatch(text, /sk-sealed-value/);
    assert.match(text, /aes-256-gcm/);
    assert.equal(await new FileSecretStore({ file, key }).get("provider:x:apiKey"), "sk-sealed-value");
    await assert.rejects(new FileSecretStore({ file }).get("provider:x:apiKey"), /sealed, and no key/);
  });

  test("a sealed file the key cannot open is set aside and the store starts empty", async () => {
    const file = tempFile();
    await new FileSecretStore({ file, key: crypto.randomBytes(32) }).set("a", "old");
    const store = new FileSecretStore({ file, key: crypto.randomBytes(32) });
    assert.equal(await store.get("a"), undefined);
    assert.ok(fs.existsSync(`${file}.unreadable`));
  });

  test("a plain file is sealed on the next write once a key is given", async () => {
    const file = tempFile();
    await new FileSecretStore({ file }).set("a", "sk-plain");
    const key = crypto.randomBytes(32);
    const store = new FileSecretStore({ file, key });
    assert.equal(await store.get("a"), "sk-plain");
    await store.set("b", "x");
    assert.doesNotMatch(fs.readFileSync(file, "utf8"), /sk-plain/);
  });

  test("a file readable by others is tightened to 0600 when read", { skip: !posix }, async () => {
    const file = tempFile();
    await new FileSecretStore({ file }).set("a", "v");
    fs.chmodSync(file, 0o644);
    assert.equal(await new FileSecretStore({ file }).get("a"), "v");
    assert.equal(mode(file), 0o600);
  });

  test("refuses a key that is not 32 bytes", () => {
    assert.throws(() => new FileSecretStore({ file: tempFile(), key: Buffer.alloc(16) }), /32 bytes/);
  });
});
