/**
 * Network exposure, table-driven: every bind address (127.0.0.1, ::1 where the machine has it,
 * 0.0.0.0 with a key or --insecure) x every CORS setting x with and without an API key. In each,
 * the Host check refuses DNS names it does not know (DNS rebinding), a foreign Origin or a body
 * that is not JSON never triggers work, CORS headers go only to allowed origins, and the key is
 * required where set. Then: each security setting saved through /api/settings changes what the
 * restarted server does, and values written to the logs cannot forge log lines.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import { pino } from "pino";
import { createServer } from "../../server/app.js";
import { ConfigError, loadConfig, SETTINGS_TOKEN_HEADER, type ConfigInput } from "../../server/config.js";
import { killHard, spawnHearth } from "../helpers/cli-process.js";
import { rawRequest, type RawResponse } from "../helpers/raw-http.js";
import { startTestServer } from "../helpers/server.js";

const KEY = "hardening-key-8c2f51";
const APP_ORIGIN = "http://app.example:5173";
const EVIL_ORIGIN = "https://evil.example";

async function canListen(host: string): Promise<boolean> {
  const s = net.createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      s.once("error", reject);
      s.listen(0, host, () => resolve());
    });
    return true;
  } catch {
    return false;
  } finally {
    s.close();
  }
}

/** A non-loopback IPv4 address of this machine, to reach a 0.0.0.0 bind the way another host would. */
function lanAddress(): string | undefined {
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  }
  return undefined;
}

const errorCode = (r: RawResponse) => (JSON.parse(r.body) as { error: { code: string | null } }).error.code;

interface Combo {
  bind: "127.0.0.1" | "::1" | "0.0.0.0";
  cors: string[];
  apiKey: string | undefined;
}

const hasIpv6 = await canListen("::1");
const combos: Combo[] = [];
for (const bind of ["127.0.0.1", "::1", "0.0.0.0"] as const) {
  for (const cors of [[], [APP_ORIGIN], ["*"]]) {
    for (const apiKey of [undefined, KEY]) combos.push({ bind, cors, apiKey });
  }
}

describe("Host, Origin, Content-Type, CORS and API key on every bind address and setting", () => {
  const lan = lanAddress();

  for (const c of combos) {
    const name = `bind ${c.bind}, CORS ${c.cors.length === 0 ? "closed" : c.cors.join(",")}, ${c.apiKey ? "API key" : "no key"}${c.bind === "0.0.0.0" && !c.apiKey ? " (--insecure)" : ""}`;
    test(name, { skip: c.bind === "::1" && !hasIpv6 ? "this machine has no ::1" : false }, async () => {
      const t = await startTestServer(
        {
          host: c.bind,
          corsOrigins: c.cors,
          ...(c.apiKey ? { apiKey: c.apiKey } : {}),
          ...(c.bind === "0.0.0.0" && !c.apiKey ? { insecure: true } : {}),
        },
        { withModel: false },
      );
      try {
        const port = new URL(t.url).port;
        const ownHost = c.bind === "::1" ? `[::1]:${port}` : `127.0.0.1:${port}`;
        const auth: Record<string, string> = c.apiKey ? { authorization: `Bearer ${c.apiKey}` } : {};
        const send = (headers: Record<string, string>, init: { method?: string; path?: string; body?: string } = {}) =>
          rawRequest(t.url, {
            method: init.method ?? "POST",
            path: init.path ?? "/api/conversations",
            headers: { host: ownHost, ...headers },
            ...(init.method === "GET" || init.method === "OPTIONS" ? {} : { body: init.body ?? "{}" }),
          });
        const corsAllows = (origin: string) => c.cors.includes("*") || c.cors.includes(origin);

        // Host: loopback names and IP literals pass; DNS names that are not configured never do, key or not.
        for (const host of [ownHost, `localhost:${port}`, "localhost", `app.localhost:${port}`]) {
          const r = await rawRequest(t.url, { path: "/health/live", headers: { host } });
          assert.equal(r.status, 200, `Host ${host}`);
        }
        for (const host of [
          `evil.example:${port}`,
          "evil.example",
          `127.0.0.1.nip.io:${port}`,
          `localhost.evil.example:${port}`,
          `[::1].evil:${port}`,
        ]) {
          for (const p of ["/health/live", "/v1/models", "/api/conversations"]) {
            const r = await rawRequest(t.url, { path: p, headers: { host, ...auth } });
            assert.equal(r.status, 403, `Host ${host} on ${p}`);
            assert.equal(errorCode(r), "invalid_host");
          }
          const post = await rawRequest(t.url, { path: "/api/conversations", body: "{}", headers: { host, ...auth } });
          assert.equal(post.status, 403);
        }

        // A cross-origin request never triggers work unless CORS lets that origin in.
        const evil = await send({ ...auth, origin: EVIL_ORIGIN });
        assert.equal(evil.status, corsAllows(EVIL_ORIGIN) ? 201 : 403, evil.body);
        if (evil.status === 403) assert.equal(errorCode(evil), "invalid_origin");
        const app = await send({ ...auth, origin: APP_ORIGIN });
        assert.equal(app.status, corsAllows(APP_ORIGIN) ? 201 : 403, app.body);
        assert.equal(
          (await send({ ...auth, origin: "null" })).status,
          403,
          "opaque origins (sandboxed frames, file://) are refused",
        );
        assert.equal(
          (await send({ ...auth, origin: `http://${ownHost}` })).status,
          201,
          "the server's own origin (its UI) is allowed",
        );

        // Bodies a browser sends without a preflight are refused, whatever the origin or key.
        for (const type of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]) {
          const r = await send({ ...auth, "content-type": type });
          assert.equal(r.status, 415, `${type}: ${r.body}`);
          const fromApp = await send({ ...auth, "content-type": type, origin: APP_ORIGIN });
          assert.ok(fromApp.status === 415 || fromApp.status === 403, `${type} from ${APP_ORIGIN}: ${fromApp.status}`);
        }

        // CORS headers: only for allowed origins, on preflights and on answers.
        for (const origin of [EVIL_ORIGIN, APP_ORIGIN]) {
          const pre = await send(
            {
              origin,
              "access-control-request-method": "POST",
              "access-control-request-headers": "content-type,authorization",
            },
            { method: "OPTIONS", path: "/v1/chat/completions" },
          );
          assert.equal(
            pre.headers["access-control-allow-origin"],
            corsAllows(origin) ? origin : undefined,
            `preflight from ${origin}`,
          );
          const get = await send({ ...auth, origin }, { method: "GET", path: "/v1/models" });
          assert.equal(
            get.headers["access-control-allow-origin"],
            corsAllows(origin) ? origin : undefined,
            `GET from ${origin}`,
          );
        }

        // The API key, where set, on /v1, /api and /metrics; health stays open for supervisors.
        const noKey = await send({}, { method: "GET", path: "/v1/models" });
        assert.equal(noKey.status, c.apiKey ? 401 : 200);
        if (c.apiKey) {
          assert.equal(errorCode(noKey), "invalid_api_key");
          assert.equal(
            (await send({ authorization: "Bearer wrong-key-123456" }, { method: "GET", path: "/api/conversations" }))
              .status,
            401,
          );
          assert.equal(
            (await send({ "x-api-key": c.apiKey }, { method: "GET", path: "/api/conversations" })).status,
            200,
          );
          assert.equal((await send({}, { method: "GET", path: "/metrics" })).status, 401);
          assert.equal((await send({})).status, 401, "no work without the key");
          assert.equal(
            (await send({ origin: APP_ORIGIN })).status,
            corsAllows(APP_ORIGIN) ? 401 : 403,
            "an allowed origin still needs the key",
          );
        }
        assert.equal((await send({}, { method: "GET", path: "/health/live" })).status, 200);

        // The bind address decides who can connect at all.
        if (lan) {
          const fromLan = await rawRequest(`http://${lan}:${port}`, {
            path: "/health/live",
            headers: { host: `${lan}:${port}` },
            timeoutMs: 5000,
          }).catch((err: Error) => err);
          if (c.bind === "0.0.0.0") {
            assert.ok(!(fromLan instanceof Error), `reachable on ${lan}`);
            assert.equal(fromLan.status, 200, "an IP literal in Host is what the user typed, never a rebinding");
            const v1 = await rawRequest(`http://${lan}:${port}`, {
              path: "/v1/models",
              headers: { host: `${lan}:${port}` },
            });
            assert.equal(v1.status, c.apiKey ? 401 : 200);
          } else {
            assert.ok(
              fromLan instanceof Error && /ECONNREFUSED/.test(fromLan.message),
              `a ${c.bind} bind is not reachable on ${lan}`,
            );
          }
        }
      } finally {
        await t.close();
      }
    });
  }

  test("a non-loopback bind without a key is refused at start-up unless --insecure", () => {
    for (const host of ["0.0.0.0", "::", "192.168.1.20"]) {
      assert.throws(() => loadConfig({ env: {}, overrides: { host, dataDir: os.tmpdir() } }), ConfigError);
      assert.doesNotThrow(() => loadConfig({ env: {}, overrides: { host, dataDir: os.tmpdir(), insecure: true } }));
      assert.doesNotThrow(() => loadConfig({ env: {}, overrides: { host, dataDir: os.tmpdir(), apiKey: KEY } }));
    }
    assert.throws(
      () => loadConfig({ env: {}, overrides: { dataDir: os.tmpdir(), apiKey: "short" } }),
      ConfigError,
      "keys shorter than 8 characters",
    );
  });
});

describe("cross-site requests never reach /v1, /api or /metrics, whatever the method", () => {
  // What Chromium and Firefox send for `<img src="http://127.0.0.1:7424/api/search?q=...">` on another site.
  const crossSiteImage = {
    "sec-fetch-site": "cross-site",
    "sec-fetch-mode": "no-cors",
    "sec-fetch-dest": "image",
    referer: "https://evil.example/page.html",
    accept: "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8",
    "user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
  };

  test("an <img>, <script> or link GET from another site is refused; the app's own pages and other clients pass", async () => {
    const t = await startTestServer({ corsOrigins: [APP_ORIGIN] }, { withModel: false });
    try {
      for (const p of ["/api/search?q=anything", "/api/conversations", "/v1/models", "/metrics", "/api/export"]) {
        const r = await rawRequest(t.url, { path: p, headers: crossSiteImage });
        assert.equal(r.status, 403, `${p}: ${r.body}`);
        assert.equal(errorCode(r), "invalid_origin");
        for (const [site, dest] of [
          ["same-site", "script"],
          ["cross-site", "document"],
        ] as const) {
          const other = await rawRequest(t.url, {
            path: p,
            headers: { ...crossSiteImage, "sec-fetch-site": site, "sec-fetch-dest": dest },
          });
          assert.equal(other.status, 403, `${site} ${dest} ${p}`);
        }
        // A CORS GET from a page that is not configured names its origin, and is refused for it.
        const cors = await rawRequest(t.url, {
          path: p,
          headers: { origin: EVIL_ORIGIN, "sec-fetch-site": "cross-site", "sec-fetch-mode": "cors" },
        });
        assert.equal(cors.status, 403, `CORS GET ${p} from ${EVIL_ORIGIN}`);
      }
      // The UI's own requests, what the person typed in the address bar, other programs, and configured origins.
      const port = new URL(t.url).port;
      for (const headers of [
        { "sec-fetch-site": "same-origin", "sec-fetch-mode": "cors", "sec-fetch-dest": "empty" },
        { "sec-fetch-site": "none", "sec-fetch-mode": "navigate", "sec-fetch-dest": "document" },
        {},
        { origin: APP_ORIGIN, "sec-fetch-site": "cross-site", "sec-fetch-mode": "cors" },
        { origin: `http://127.0.0.1:${port}`, "sec-fetch-site": "same-origin", "sec-fetch-mode": "cors" },
      ] as Record<string, string>[]) {
        const r = await rawRequest(t.url, { path: "/api/search?q=anything", headers });
        assert.equal(r.status, 200, `${JSON.stringify(headers)}: ${r.body}`);
      }
      const fromApp = await rawRequest(t.url, {
        path: "/api/conversations",
        headers: { origin: APP_ORIGIN, "sec-fetch-site": "cross-site", "sec-fetch-mode": "cors" },
      });
      assert.equal(fromApp.headers["access-control-allow-origin"], APP_ORIGIN);
      // A link from another site to the UI or a health check still opens.
      for (const p of ["/", "/health/live"]) {
        const r = await rawRequest(t.url, {
          path: p,
          headers: { ...crossSiteImage, "sec-fetch-mode": "navigate", "sec-fetch-dest": "document" },
        });
        assert.equal(r.status, 200, p);
      }
    } finally {
      await t.close();
    }
  });
});

describe("each security setting saved in /api/settings changes what the restarted server does", () => {
  /** The desktop app's per-launch settings token: the only way an API call changes the guarding settings. */
  const SETTINGS_TOKEN = "settings-token-for-the-hardening-test-0123";
  const desktop = { [SETTINGS_TOKEN_HEADER]: SETTINGS_TOKEN };
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-settings-security-"));
  after(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  /** Starts a server from what settings.json holds (no overrides but the data dir and quiet logs). */
  async function boot(overrides: Partial<ConfigInput> = {}) {
    const config = loadConfig({
      env: {},
      overrides: { dataDir, logLevel: "silent", settingsToken: SETTINGS_TOKEN, ...overrides },
    });
    const server = createServer(config, { logger: pino({ level: "silent" }) });
    const url = await server.start();
    return { server, url, config };
  }

  async function put(url: string, body: unknown, headers: Record<string, string> = {}) {
    return rawRequest(url, { method: "PUT", path: "/api/settings", body: JSON.stringify(body), headers });
  }

  test("apiKey, corsOrigins, allowedHosts, host, port and insecure", async () => {
    const freePort = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, "127.0.0.1", () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    // 1. Defaults: open on loopback, closed to other origins and names.
    let s = await boot({ port: 0 });
    assert.equal((await rawRequest(s.url, { path: "/v1/models" })).status, 200);
    assert.equal((await rawRequest(s.url, { path: "/health/live", headers: { host: "hearth.lan" } })).status, 403);
    assert.equal(
      (await rawRequest(s.url, { path: "/api/conversations", body: "{}", headers: { origin: APP_ORIGIN } })).status,
      403,
    );
    // A plain API call may set a key and a port, never the guards.
    for (const body of [{ corsOrigins: [APP_ORIGIN] }, { allowedHosts: ["hearth.lan"] }, { host: "0.0.0.0" }]) {
      const refused = await put(s.url, { apiKey: KEY, ...body });
      assert.equal(refused.status, 403, JSON.stringify(body));
      assert.equal(errorCode(refused), "protected_setting");
    }
    const saved = await put(
      s.url,
      {
        apiKey: KEY,
        corsOrigins: [APP_ORIGIN],
        allowedHosts: ["hearth.lan"],
        port: freePort,
      },
      desktop,
    );
    assert.equal(saved.status, 200, saved.body);
    assert.ok(!saved.body.includes(KEY), "the saved key is never echoed");
    assert.deepEqual((JSON.parse(saved.body) as { restartRequired: string[] }).restartRequired.sort(), [
      "allowedHosts",
      "apiKey",
      "corsOrigins",
      "port",
    ]);
    await s.server.close();

    // 2. After a restart: the key is required, the origin and the name are let in, the port moved.
    s = await boot();
    assert.equal(new URL(s.url).port, String(freePort));
    const auth = { authorization: `Bearer ${KEY}` };
    assert.equal((await rawRequest(s.url, { path: "/v1/models" })).status, 401);
    assert.equal((await rawRequest(s.url, { path: "/v1/models", headers: auth })).status, 200);
    assert.equal(
      (await rawRequest(s.url, { path: "/health/live", headers: { host: `hearth.lan:${freePort}` } })).status,
      200,
    );
    assert.equal((await rawRequest(s.url, { path: "/health/live", headers: { host: "other.lan" } })).status, 403);
    const fromApp = await rawRequest(s.url, {
      path: "/api/conversations",
      body: "{}",
      headers: { ...auth, origin: APP_ORIGIN },
    });
    assert.equal(fromApp.status, 201);
    assert.equal(fromApp.headers["access-control-allow-origin"], APP_ORIGIN);
    assert.equal(
      (await rawRequest(s.url, { path: "/api/conversations", body: "{}", headers: { ...auth, origin: EVIL_ORIGIN } }))
        .status,
      403,
    );

    // 3. Exposing the server needs a key or --insecure, checked when saving.
    // The API key does not open them either.
    assert.equal((await put(s.url, { host: "0.0.0.0", port: 0 }, auth)).status, 403);
    const noKey = await put(s.url, { host: "0.0.0.0", apiKey: null }, { ...auth, ...desktop });
    assert.equal(noKey.status, 400);
    assert.equal(errorCode(noKey), "api_key_required");
    assert.equal((await put(s.url, { host: "0.0.0.0", port: 0 }, { ...auth, ...desktop })).status, 200);
    await s.server.close();
    s = await boot();
    assert.equal(s.config.host, "0.0.0.0");
    const lan = lanAddress();
    if (lan) {
      const port = new URL(s.url).port;
      assert.equal(
        (await rawRequest(`http://${lan}:${port}`, { path: "/v1/models", headers: { host: `${lan}:${port}` } })).status,
        401,
        "exposed, and the key guards it",
      );
    }
    assert.equal((await put(s.url, { insecure: true, apiKey: null }, auth)).status, 403);
    assert.equal((await put(s.url, { insecure: true, apiKey: null }, { ...auth, ...desktop })).status, 200);
    await s.server.close();

    // 4. --insecure on 0.0.0.0: no key any more, and the Host check still holds.
    s = await boot();
    assert.equal(s.config.apiKey, undefined);
    assert.equal((await rawRequest(s.url, { path: "/v1/models" })).status, 200);
    assert.equal((await rawRequest(s.url, { path: "/v1/models", headers: { host: "evil.example" } })).status, 403);
    // Back to loopback: the key-less server no longer needs --insecure to start.
    assert.equal(
      (await put(s.url, { host: "127.0.0.1", insecure: null, corsOrigins: null, allowedHosts: null }, desktop)).status,
      200,
    );
    await s.server.close();
    s = await boot();
    assert.equal(s.config.host, "127.0.0.1");
    assert.equal(
      (await rawRequest(s.url, { path: "/health/live", headers: { host: "hearth.lan" } })).status,
      403,
      "allowedHosts removed",
    );
    await s.server.close();
  });
});

describe("logs cannot be forged", () => {
  test("values with CR/LF are written JSON-escaped: every stderr line parses, none is the forged one", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-logs-"));
    const forged = '{"level":60,"msg":"FORGED admin logged in"}';
    const p = await spawnHearth(["--port", "0", "--data-dir", dataDir, "--log-level", "debug"], {
      env: { HEARTH_LOG_LEVEL: "debug" },
    });
    try {
      const evil = `x\r\n${forged}\n\u2028${forged}`;
      // A setting name, a model name, a conversation title and a search are all logged or echoed in errors.
      await rawRequest(p.url, { method: "PUT", path: "/api/settings", body: JSON.stringify({ [evil]: 1 }) });
      await rawRequest(p.url, {
        path: "/v1/chat/completions",
        body: JSON.stringify({ model: evil, messages: [{ role: "user", content: evil }] }),
      });
      await rawRequest(p.url, {
        path: "/v1/chat/completions",
        body: JSON.stringify({ model: `m\u2028${forged}`, messages: [{ role: "user", content: "x" }] }),
      });
      await rawRequest(p.url, { path: `/api/search?q=${encodeURIComponent(evil)}` });
      await rawRequest(p.url, { path: `/nothing/${encodeURIComponent(evil)}` });
      // A request id that is not a plain token is replaced, never logged as given.
      const res = await rawRequest(p.url, { path: "/v1/models", headers: { "x-request-id": `id ${forged}` } });
      assert.match(String(res.headers["x-request-id"]), /^[0-9a-f-]{36}$/);
      p.child.kill("SIGTERM");
      await p.exited;
      const lines = p
        .stderr()
        .split("\n")
        .filter((l) => l.length > 0);
      assert.ok(lines.length > 5, "the server logged at debug level");
      assert.ok(p.stderr().includes("FORGED"), "the hostile values did reach the log, escaped");
      for (const line of lines) {
        const entry = JSON.parse(line) as { msg?: string; level?: number };
        assert.notEqual(entry.msg, "FORGED admin logged in", line);
      }
    } finally {
      await killHard(p);
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe("every registered path: a wrong method is a 405 with Allow, an unknown path a 404, both in the OpenAI error shape", () => {
  interface Layer {
    route?: { path: string; methods: Record<string, boolean> };
    rawPath?: unknown;
    handle?: { stack?: Layer[] };
  }
  /** Every route of the running app with its full path and methods, found the way the 405 handlers are installed. */
  function routes(stack: Layer[], prefix = ""): { path: string; methods: string[] }[] {
    return stack.flatMap((layer) => {
      if (layer.route) {
        const methods = Object.keys(layer.route.methods)
          .filter((m) => m !== "_all")
          .map((m) => m.toUpperCase());
        return [{ path: `${prefix}${layer.route.path}`.replace(/\/$/, "") || "/", methods }];
      }
      if (layer.handle?.stack)
        return routes(
          layer.handle.stack,
          `${prefix}${typeof layer.rawPath === "string" && layer.rawPath !== "/" ? layer.rawPath : ""}`,
        );
      return [];
    });
  }

  test("405 with the right Allow on each of them", async () => {
    const t = await startTestServer({}, { withModel: false });
    try {
      const byPath = new Map<string, Set<string>>();
      for (const r of routes((t.server.app as unknown as { router: { stack: Layer[] } }).router.stack)) {
        if (r.path.includes("*") || r.methods.length === 0) continue;
        const set = byPath.get(r.path) ?? new Set<string>();
        for (const m of r.methods) set.add(m);
        byPath.set(r.path, set);
      }
      assert.ok(byPath.size > 30, `found ${byPath.size} paths`);
      const failures: string[] = [];
      for (const [pattern, methods] of byPath) {
        const concrete = pattern.replace(/:\w+/g, "x");
        if (methods.has("GET")) methods.add("HEAD");
        const wrong = ["PUT", "PATCH", "DELETE", "POST", "GET"].find((m) => !methods.has(m));
        if (!wrong) continue;
        const res = await rawRequest(t.url, {
          method: wrong,
          path: concrete,
          ...(wrong === "GET" ? {} : { body: "{}" }),
        });
        const allow = new Set(
          String(res.headers.allow ?? "")
            .split(", ")
            .filter(Boolean),
        );
        // /v1/messages (and its count_tokens) answers in Anthropic's error shape, every other path in OpenAI's.
        const error = (JSON.parse(res.body) as { error?: { code?: string; message?: string } }).error;
        const shaped = concrete.startsWith("/v1/messages")
          ? typeof error?.message === "string"
          : error?.code === "method_not_allowed";
        if (res.status !== 405 || !shaped || [...methods].some((m) => !allow.has(m)) || allow.size !== methods.size) {
          failures.push(
            `${wrong} ${concrete}: ${res.status} Allow=${String(res.headers.allow)} (expected ${[...methods].join(", ")})`,
          );
        }
      }
      assert.deepEqual(failures, []);
      for (const [method, p] of [
        ["GET", "/v1/nothing"],
        ["POST", "/api/nothing"],
        ["DELETE", "/v1/models/x/y/z/w"],
        ["GET", "/metrics/x"],
      ] as const) {
        const res = await rawRequest(t.url, {
          method,
          path: p,
          ...(method === "POST" ? { body: "{}" } : {}),
          headers: { accept: "application/json" },
        });
        assert.equal(res.status, 404, `${method} ${p}`);
        const error = (JSON.parse(res.body) as { error: { message: string; type: string; code: string | null } }).error;
        assert.ok(error.message.length > 0 && error.type.length > 0, `${method} ${p}: OpenAI error shape`);
      }
    } finally {
      await t.close();
    }
  });
});
