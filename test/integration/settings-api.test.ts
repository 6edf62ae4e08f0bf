/**
 * /api/settings against a real server: secrets stay write-only, changes are validated, saved to the
 * settings file config.ts read, and marked as needing a restart; the settings that guard the server
 * change only with the desktop app's settings token; values that would make every later start fail
 * are refused when saved.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createServer, type HearthServer } from "../../server/app.js";
import { loadConfig, SETTINGS_TOKEN_HEADER } from "../../server/config.js";
import { createLogger } from "../../server/logger.js";

/** What the Electron main process hands the server in HEARTH_SETTINGS_TOKEN. */
const SETTINGS_TOKEN = "desktop-settings-token-0123456789abcdef";

describe("/api/settings", () => {
  let server: HearthServer;
  let url = "";
  let dataDir = "";

  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-settings-"));
    server = createServer(
      loadConfig({
        env: {},
        overrides: { port: 0, dataDir, logLevel: "silent", threads: 2, settingsToken: SETTINGS_TOKEN },
      }),
    );
    url = await server.start();
  });

  after(async () => {
    await server.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const put = (body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${url}/api/settings`, {
      method: "PUT",
      headers: { "content-type": "application/json", ...headers },
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
    const res = await put(
      {
        threads: 4,
        corsOrigins: ["http://localhost:5173"],
        apiKey: "a-long-secret-key",
        recordApi: false,
      },
      { [SETTINGS_TOKEN_HEADER]: SETTINGS_TOKEN },
    );
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
      res = await put(body, { [SETTINGS_TOKEN_HEADER]: SETTINGS_TOKEN });
      assert.equal(res.status, 400, JSON.stringify(body));
      const err = (await res.json()) as { error: { param: string; message: string } };
      assert.equal(err.error.param, param);
    }
  });
  test("the settings that guard the server are refused to a plain API call, with where to change them", async () => {
    const file = path.join(dataDir, "settings.json");
    const before = fs.readFileSync(file, "utf8");
    for (const [body, flag] of [
      [{ host: "0.0.0.0", insecure: true }, "--host"],
      [{ insecure: true }, "--insecure"],
      [{ corsOrigins: ["*"] }, "--cors-origins"],
      [{ allowedHosts: ["evil.example"] }, "--allowed-hosts"],
      [{ hfEndpoint: "https://evil.example" }, "--hf-endpoint"],
      [{ threads: 3, corsOrigins: null }, "--cors-origins"],
    ] as const) {
      for (const headers of [{}, { [SETTINGS_TOKEN_HEADER]: "not-the-token-but-long-enough-to-try-1234" }] as Record<
        string,
        string
      >[]) {
        const res = await put(body, headers);
        assert.equal(res.status, 403, JSON.stringify(body));
        const err = (await res.json()) as { error: { code: string; param: string; message: string } };
        assert.equal(err.error.code, "protected_setting");
        assert.ok(
          err.error.message.includes(flag) && /desktop app's Settings/.test(err.error.message),
          err.error.message,
        );
      }
    }
    assert.equal(fs.readFileSync(file, "utf8"), before, "nothing was saved");
    const view = (await (await fetch(`${url}/api/settings`)).json()) as { protected: string[] };
    assert.deepEqual([...view.protected].sort(), ["allowedHosts", "corsOrigins", "hfEndpoint", "host", "insecure"]);
  });

  test("values that would make every later start fail are refused when saved", async () => {
    const token = { [SETTINGS_TOKEN_HEADER]: SETTINGS_TOKEN };
    // TEST-NET-3: never an address of this machine.
    let res = await put({ host: "203.0.113.7", apiKey: "a-long-secret-key" }, token);
    assert.equal(res.status, 400);
    let err = (await res.json()) as { error: { code: string; param: string; message: string } };
    assert.equal(err.error.code, "address_unavailable");
    assert.equal(err.error.param, "host");
    assert.match(err.error.message, /203\.0\.113\.7 is not an address of this machine/);
    // An address it has is fine, and so is this server's own port (taken now, free at the next start).
    res = await put({ host: "127.0.0.1", port: Number(new URL(url).port) }, token);
    assert.equal(res.status, 200);
    // `npm run build:engine` puts its build here; CI and a fresh clone have none.
    const localBuilds = path.join("node_modules", "node-llama-cpp", "llama", "localBuilds");
    if (!fs.existsSync(localBuilds) || fs.readdirSync(localBuilds).length === 0) {
      res = await put({ engineBinary: "local" });
      assert.equal(res.status, 400);
      err = (await res.json()) as typeof err;
      assert.equal(err.error.code, "no_local_build");
      assert.match(err.error.message, /npm run build:engine/);
    }
    assert.equal((await put({ engineBinary: "prebuilt" })).status, 200);
    const saved = JSON.parse(fs.readFileSync(path.join(dataDir, "settings.json"), "utf8")) as Record<string, unknown>;
    assert.equal(saved.engineBinary, "prebuilt");
    assert.notEqual(saved.host, "203.0.113.7");
  });
});

describe("an insecure bind", () => {
  test("prints a warning at start", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-settings-insecure-"));
    const lines: string[] = [];
    const server = createServer(
      loadConfig({ env: {}, overrides: { port: 0, dataDir, host: "0.0.0.0", insecure: true, corsOrigins: ["*"] } }),
      { logger: createLogger("info", { write: (line: string) => void lines.push(line) }) },
    );
    try {
      await server.start();
    } finally {
      await server.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
    const warnings = lines.map((l) => JSON.parse(l) as { level: number; msg: string }).filter((l) => l.level === 40);
    assert.ok(
      warnings.some((w) => /INSECURE: listening on 0\.0\.0\.0 without an API key/.test(w.msg)),
      lines.join(""),
    );
    assert.ok(warnings.some((w) => /CORS allows every origin/.test(w.msg)));
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
