/**
 * "Serve on local network" (issue 20) through real HTTP: turning it on (the `host` setting, from the
 * desktop app with its settings token) is refused without a key and accepted with one, applied at
 * the next start; the last key cannot be revoked while it is on; a server bound to 0.0.0.0 refuses
 * requests from other machines without a key, lists its LAN URLs, and its Host guard accepts its
 * addresses and its own `.local` name but not a foreign name.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { KeyStore } from "../../server/access/keys.js";
import { lanAddresses, localNames } from "../../server/access/network.js";
import { createServer, type HearthServer } from "../../server/app.js";
import { loadConfig, SETTINGS_TOKEN_HEADER } from "../../server/config.js";
import { createLogger } from "../../server/logger.js";

const SETTINGS_TOKEN = "desktop-settings-token-0123456789abcdef";

interface Started {
  server: HearthServer;
  url: string;
  port: number;
  dataDir: string;
}

async function start(dataDir: string, host?: string): Promise<Started> {
  const server = createServer(
    loadConfig({
      env: {},
      overrides: {
        port: 0,
        dataDir,
        logLevel: "silent",
        settingsToken: SETTINGS_TOKEN,
        ...(host ? { host } : {}),
      },
    }),
    { logger: createLogger("silent") },
  );
  const url = await server.start();
  return { server, url, port: Number(new URL(url).port), dataDir };
}

/** A GET with a chosen Host header (fetch does not let one set it). */
function getWithHost(port: number, p: string, host: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path: p, headers: { host, ...headers } }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
  });
}

describe("turning the local network on", () => {
  let s: Started;
  before(async () => {
    s = await start(fs.mkdtempSync(path.join(os.tmpdir(), "hearth-lan-")));
  });
  after(async () => {
    await s.server.close();
    fs.rmSync(s.dataDir, { recursive: true, force: true });
  });

  const putHost = (host: string | null) =>
    fetch(`${s.url}/api/settings`, {
      method: "PUT",
      headers: { "content-type": "application/json", [SETTINGS_TOKEN_HEADER]: SETTINGS_TOKEN },
      body: JSON.stringify({ host }),
    });
  const network = async () =>
    (await (await fetch(`${s.url}/api/network`)).json()) as {
      enabled: boolean;
      savedEnabled: boolean;
      restartRequired: boolean;
      hasKey: boolean;
      urls: string[];
      port: number;
    };

  test("is refused without a key, saved with one for the next start, and keeps its last key", async () => {
    assert.deepEqual(
      { ...(await network()), urls: [] },
      {
        enabled: false,
        host: "127.0.0.1",
        port: s.port,
        savedEnabled: false,
        restartRequired: false,
        urls: [],
        hasKey: false,
      },
    );
    const refused = await putHost("0.0.0.0");
    assert.equal(refused.status, 400);
    const body = (await refused.json()) as { error: { code: string; param: string; message: string } };
    assert.equal(body.error.code, "api_key_required");
    assert.equal(body.error.param, "host");
    assert.match(body.error.message, /needs an API key first.*create one under API keys/);
    assert.equal(fs.existsSync(path.join(s.dataDir, "settings.json")), false, "nothing was saved");

    const created = await fetch(`${s.url}/api/keys`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "family", scope: "inference" }),
    });
    assert.equal(created.status, 201);
    const ok = await putHost("0.0.0.0");
    assert.equal(ok.status, 200, await ok.clone().text());
    assert.ok(((await ok.json()) as { restartRequired: string[] }).restartRequired.includes("host"));
    const view = await network();
    assert.equal(view.enabled, false);
    assert.equal(view.savedEnabled, true);
    assert.equal(view.restartRequired, true);
    assert.equal(view.hasKey, true);
    assert.deepEqual(
      view.urls.filter((u) => !u.includes(".local")),
      lanAddresses().map((a) => `http://${a}:${s.port}`),
    );

    // Without its last key the next start would refuse 0.0.0.0: the API will not revoke it.
    const revoke = await fetch(`${s.url}/api/keys/family`, { method: "DELETE" });
    assert.equal(revoke.status, 409);
    assert.equal(((await revoke.json()) as { error: { code: string } }).error.code, "key_required");
    // Turning the network off again lets it go.
    assert.equal((await putHost(null)).status, 200);
    assert.equal((await fetch(`${s.url}/api/keys/family`, { method: "DELETE" })).status, 200);
  });

  test("the Host guard refuses the machine's own name while serving this machine only", async () => {
    const [name] = localNames();
    if (!name) return;
    assert.equal((await getWithHost(s.port, "/health/live", `${name}.local:${s.port}`)).status, 403);
  });
});

describe("a server on 0.0.0.0 with a named key", () => {
  let s: Started;
  let key = "";
  before(async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-lan-"));
    // config.ts refuses 0.0.0.0 without a key: a named one counts.
    key = KeyStore.inDataDir(dataDir).create({ name: "laptop", scope: "inference", rpm: 0, tpm: 0 }).key;
    s = await start(dataDir, "0.0.0.0");
  });
  after(async () => {
    await s.server.close();
    fs.rmSync(s.dataDir, { recursive: true, force: true });
  });

  test("a fresh data folder without keys may not listen on 0.0.0.0", () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-lan-"));
    try {
      assert.throws(
        () => loadConfig({ env: {}, overrides: { port: 0, dataDir: empty, host: "0.0.0.0" } }),
        /Refusing to listen on 0\.0\.0\.0 without an API key.*hearth keys create/,
      );
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });

  test("other machines need the key; this machine does not; /api/network lists the URLs", async () => {
    const view = (await (await fetch(`${s.url}/api/network`)).json()) as {
      enabled: boolean;
      restartRequired: boolean;
      urls: string[];
    };
    assert.equal(view.enabled, true);
    assert.equal(view.restartRequired, false);
    const addresses = lanAddresses();
    assert.deepEqual(
      view.urls.filter((u) => !u.includes(".local")),
      addresses.map((a) => `http://${a}:${s.port}`),
    );
    // Loopback without a key: the person at the machine.
    assert.equal((await fetch(`${s.url}/v1/models`)).status, 200);
    const lan = addresses[0];
    if (!lan) return; // a machine with no network interface has no LAN to test
    const base = `http://${lan}:${s.port}`;
    const anonymous = await fetch(`${base}/v1/models`);
    assert.equal(anonymous.status, 401);
    assert.equal(((await anonymous.json()) as { error: { code: string } }).error.code, "invalid_api_key");
    assert.equal((await fetch(`${base}/v1/models`, { headers: { authorization: `Bearer ${key}` } })).status, 200);
    // The inference key cannot manage the server from there either.
    assert.equal((await fetch(`${base}/api/settings`, { headers: { authorization: `Bearer ${key}` } })).status, 403);
  });

  test("the Host and Origin guards accept the LAN addresses and the machine's .local name", async () => {
    for (const addr of lanAddresses()) {
      const host = `${addr}:${s.port}`;
      const res = await getWithHost(s.port, "/v1/models", host, {
        origin: `http://${host}`,
        "sec-fetch-site": "same-origin",
      });
      assert.equal(res.status, 200, `${host}: ${res.body}`);
      const foreign = await getWithHost(s.port, "/v1/models", host, { origin: "http://evil.example" });
      assert.equal(foreign.status, 403);
    }
    for (const name of localNames()) {
      const res = await getWithHost(s.port, "/health/live", `${name}:${s.port}`);
      assert.equal(res.status, 200, name);
    }
    const rebinding = await getWithHost(s.port, "/health/live", `attacker.example:${s.port}`);
    assert.equal(rebinding.status, 403);
    assert.match(rebinding.body, /invalid_host/);
  });
});
