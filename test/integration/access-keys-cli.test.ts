/**
 * `hearth keys` as a process, beside a running server on the same data folder: a key created on
 * the command line works at once, `list` shows it without its secret, and `revoke` shuts it out
 * of the running server within the store's reload pause (access/keys.ts RELOAD_MS).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import { after, before, test } from "node:test";
import { RELOAD_MS } from "../../server/access/keys.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

let t: TestServer;
before(async () => {
  t = await startTestServer({}, { withModel: false });
});
after(() => t.close());

const keys = (...args: string[]) =>
  spawnSync(process.execPath, ["--import", "tsx", "server/cli.ts", "keys", ...args, "--data-dir", t.dataDir], {
    encoding: "utf8",
    env: { ...process.env, HEARTH_LOG_LEVEL: "silent" },
  });

const status = async (key: string) =>
  (await fetch(`${t.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } })).status;

test("create prints the key alone; the running server takes it, list shows it, revoke shuts it out", async () => {
  const created = keys("create", "--name", "laptop", "--scope", "inference", "--rpm", "5", "--tpm", "0");
  assert.equal(created.status, 0, created.stderr);
  const key = created.stdout.trim();
  assert.match(key, /^hk_[0-9a-f]{12}_[\w-]+$/);
  assert.match(created.stderr, /only time the key is shown/);
  await new Promise((r) => setTimeout(r, RELOAD_MS + 100));
  assert.equal(await status(key), 200);

  const listed = keys("list");
  assert.equal(listed.status, 0, listed.stderr);
  const row = listed.stdout.split("\n").find((l) => l.includes("laptop"));
  assert.ok(row, listed.stdout);
  assert.match(row, /inference\s+5\s+-/);
  assert.equal(listed.stdout.includes(key.split("_")[2]!), false, "list never shows a secret");
  assert.equal(fs.readFileSync(`${t.dataDir}/keys.json`, "utf8").includes(key), false);

  const revoked = keys("revoke", "laptop");
  assert.equal(revoked.status, 0, revoked.stderr);
  assert.match(revoked.stderr, /Revoked key 'laptop'/);
  await new Promise((r) => setTimeout(r, RELOAD_MS + 100));
  assert.equal(await status(key), 401);
  assert.equal(keys("revoke", "laptop").status, 1, "revoking a key that is gone fails");
});

test("bad input is refused with the reason and exit code 2", () => {
  const noName = keys("create");
  assert.equal(noName.status, 2);
  assert.match(noName.stderr, /needs --name/);
  const badScope = keys("create", "--name", "x", "--scope", "root");
  assert.equal(badScope.status, 2);
  assert.match(badScope.stderr, /--scope must be one of inference, admin/);
  const badName = keys("create", "--name", "a/b");
  assert.equal(badName.status, 2);
  assert.match(badName.stderr, /--name may hold letters/);
  const unknown = keys("rotate");
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /Unknown command 'rotate'/);
});
