/** The headless secret store on real files: 0600, atomic, sealed with a key, a lost key, loose permissions. */
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import { FileSecretStore, keyIdOf } from "../../server/secrets/file-secret-store.js";

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
    const first = crypto.randomBytes(32);
    await new FileSecretStore({ file, key: first }).set("a", "old");
    const store = new FileSecretStore({ file, key: crypto.randomBytes(32) });
    assert.equal(await store.get("a"), undefined);
    assert.ok(fs.existsSync(`${file}.${keyIdOf(first)}.sealed`));
    assert.equal(fs.existsSync(file), false);
  });

  test("keys A, then B, then A again: each key gets its own secrets back, whatever was written in between", async () => {
    const file = tempFile();
    const [a, b] = [crypto.randomBytes(32), crypto.randomBytes(32)];
    await new FileSecretStore({ file, key: a }).set("provider:x:apiKey", "sk-from-a");
    // B only reads: A's file must come back.
    assert.equal(await new FileSecretStore({ file, key: b }).get("provider:x:apiKey"), undefined);
    assert.equal(await new FileSecretStore({ file, key: a }).get("provider:x:apiKey"), "sk-from-a");
    // B writes its own secret; then A, then B again, then A again.
    await new FileSecretStore({ file, key: b }).set("provider:y:apiKey", "sk-from-b");
    const withA = new FileSecretStore({ file, key: a });
    assert.equal(await withA.get("provider:x:apiKey"), "sk-from-a");
    assert.equal(await withA.get("provider:y:apiKey"), undefined);
    await withA.set("provider:z:apiKey", "sk-from-a-later");
    assert.equal(await new FileSecretStore({ file, key: b }).get("provider:y:apiKey"), "sk-from-b");
    const again = new FileSecretStore({ file, key: a });
    assert.equal(await again.get("provider:x:apiKey"), "sk-from-a");
    assert.equal(await again.get("provider:z:apiKey"), "sk-from-a-later");
    // One file per key: the current one and the other key's, set aside.
    assert.deepEqual(fs.readdirSync(path.dirname(file)).sort(), ["secrets.json", `secrets.json.${keyIdOf(b)}.sealed`]);
  });

  test("a file set aside as .unreadable by an older Hearth opens again with its key", async () => {
    const file = tempFile();
    const a = crypto.randomBytes(32);
    await new FileSecretStore({ file, key: a }).set("k", "v-from-a");
    // What an older version left: no key id, and moved to .unreadable when another key came by.
    const old = JSON.parse(fs.readFileSync(file, "utf8")) as { sealed: { keyId?: string } };
    delete old.sealed.keyId;
    fs.writeFileSync(`${file}.unreadable`, JSON.stringify(old));
    fs.rmSync(file);
    assert.equal(await new FileSecretStore({ file, key: crypto.randomBytes(32) }).get("k"), undefined);
    assert.equal(await new FileSecretStore({ file, key: a }).get("k"), "v-from-a");
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
