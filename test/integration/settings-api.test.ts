/** /api/settings against a real server: secrets stay write-only, changes are validated, saved to settings.json, and marked as needing a restart. */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createServer, type HearthServer } from "../../server/app.js";
import { loadConfig } from "../../server/config.js";

describe("/api/settings", () => {
  let server: HearthServer;
  let url = "";
  let dataDir = "";

  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-settings-"));
    server = createServer(loadConfig({ env: {}, overrides: { port: 0, dataDir, logLevel: "silent", threads: 2 } }));
    url = await server.start();
  });

  after(async () => {
    await server.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const put = (body: unknown) =>
    fetch(`${url}/api/settings`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });

  test("GET shows the running config without the API key", async () => {
    const res = await fetch(`${url}/api/settings`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as {
      settings: Record<string, unknown>;
      saved: Record<string, unknown>;
      restartRequired: string[];
    };
    assert.equal(body.settings.threads, 2);
    assert.equal(body.settings.apiKeySet, false);
    assert.equal("apiKey" in body.settings, false);
    assert.deepEqual(body.restartRequired, []);
  });

  test("PUT validates, saves to settings.json, never echoes the key, and lists what needs a restart", async () => {
    const res = await put({
      threads: 4,
      corsOrigins: ["http://localhost:5173"],
      apiKey: "a-long-secret-key",
      recordApi: false,
    });
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.doesNotMatch(text, /a-long-secret-key/);
    const body = JSON.parse(text) as { saved: Record<string, unknown>; restartRequired: string[] };
    assert.equal(body.saved.threads, 4);
    assert.equal(body.saved.apiKeySet, true);
    assert.deepEqual([...body.restartRequired].sort(), ["apiKey", "corsOrigins", "recordApi", "threads"]);
    const file = path.join(dataDir, "settings.json");
    const saved = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
    assert.deepEqual(saved, {
      threads: 4,
      corsOrigins: ["http://localhost:5173"],
      apiKey: "a-long-secret-key",
      recordApi: false,
    });
    if (process.platform !== "win32") assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    // The saved file is what the next start reads.
    assert.equal(loadConfig({ env: {}, overrides: { dataDir } }).threads, 4);
  });

  test("null removes a setting; bad values and unknown or fixed keys are refused with the field named", async () => {
    let res = await put({ threads: null, apiKey: null });
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dataDir, "settings.json"), "utf8")), {
      corsOrigins: ["http://localhost:5173"],
      recordApi: false,
    });

    for (const [body, param] of [
      [{ port: 70000 }, "port"],
      [{ gpu: "tpu" }, "gpu"],
      [{ apiKey: "short" }, "apiKey"],
      [{ dataDir: "/tmp/elsewhere" }, "dataDir"],
      [{ nonsense: 1 }, "nonsense"],
      [{ host: "0.0.0.0" }, "host"],
    ] as const) {
      res = await put(body);
      assert.equal(res.status, 400, JSON.stringify(body));
      const err = (await res.json()) as { error: { param: string; message: string } };
      assert.equal(err.error.param, param);
    }
  });
});

describe("/api/settings with --config", () => {
  test("edits the file the server was started from, not <data-dir>/settings.json", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-settings-config-"));
    const file = path.join(dataDir, "elsewhere", "my-settings.json");
    fs.mkdirSync(path.dirname(file));
    fs.writeFileSync(file, JSON.stringify({ maxQueue: 7 }));
    const server = createServer(
      loadConfig({ argv: ["--config", file], env: {}, overrides: { port: 0, dataDir, logLevel: "silent" } }),
    );
    try {
      const url = await server.start();
      const got = (await (await fetch(`${url}/api/settings`)).json()) as {
        file: string;
        saved: Record<string, unknown>;
      };
      assert.equal(got.file, file);
      assert.equal(got.saved.maxQueue, 7);
      const res = await fetch(`${url}/api/settings`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ threads: 3 }),
      });
      assert.equal(res.status, 200);
      assert.deepEqual(JSON.parse(fs.readFileSync(file, "utf8")), { maxQueue: 7, threads: 3 });
      assert.equal(fs.existsSync(path.join(dataDir, "settings.json")), false, "no second settings file");
      // The next start with the same --config sees the change.
      assert.equal(loadConfig({ argv: ["--config", file], env: {}, overrides: { dataDir } }).threads, 3);
    } finally {
      await server.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
