/**
 * Remote providers as an attack surface (issue 22): what an /api caller or a hostile upstream can
 * make Hearth do with a provider. Stored credentials never follow a provider to a new origin;
 * metrics stay bounded whatever model names clients send; a provider that leads back to this
 * server is refused instead of recursing; a test does not read another service's reply through;
 * upstream text (Retry-After, error messages, stream events) reaches clients and logs only parsed
 * and scrubbed. Upstreams are small real HTTP servers on 127.0.0.1.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import net, { type AddressInfo } from "node:net";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { PROVIDER_TEST_MS } from "../../server/providers/remote.js";
import { captureLogger, rawServer, startHearth, type Hearth, type RawServer } from "../helpers/remote.js";

const HEARTH_KEY = "hearth-key-7d03be51";
const KEY = "sk-proj-Q7f2Lm9XwR4tZb81";
const HEADER_SECRET = "org-lab-5c9e1a77";
const user = (content: string) => [{ role: "user" as const, content }];

type View = { hasApiKey: boolean; headers: string[]; status: { state: string; code: string | null } };
type TestResult = { ok: boolean; error: { message: string; code: string | null; status: number } | null };

const sse = (v: unknown) => `data: ${typeof v === "string" ? v : JSON.stringify(v)}\n\n`;

/** An OpenAI-compatible upstream: `/models` lists "m" (or fails), chats get a short streamed reply. */
function answerLikeOpenAI(res: http.ServerResponse, url: string, modelsWork = true): void {
  if (url.endsWith("/models")) {
    if (!modelsWork) {
      res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: "model listing is broken" } }));
      return;
    }
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ object: "list", data: [{ id: "m", object: "model", created: 1 }] }));
    return;
  }
  res.writeHead(200, { "content-type": "text/event-stream" });
  res.write(sse({ choices: [{ index: 0, delta: { content: "hello" }, finish_reason: null }] }));
  res.write(sse({ choices: [{ index: 0, delta: {}, finish_reason: "stop" }] }));
  res.write(sse({ choices: [], usage: { prompt_tokens: 2, completion_tokens: 1, total_tokens: 3 } }));
  res.end(sse("[DONE]"));
}

describe("remote providers against hostile callers and upstreams", () => {
  let hearth: Hearth;
  const logs = captureLogger();
  const raws: RawServer[] = [];

  async function api(p: string, init: { method?: string; body?: unknown } = {}) {
    const res = await hearth.api(p, init);
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, json: text ? (JSON.parse(text) as unknown) : null };
  }

  async function raw(handler: Parameters<typeof rawServer>[0]): Promise<RawServer> {
    const server = await rawServer(handler);
    raws.push(server);
    return server;
  }

  before(async () => {
    hearth = await startHearth(HEARTH_KEY, { parallel: 1 }, logs.logger);
  });
  after(async () => {
    await hearth?.close();
    for (const r of raws) await r.close();
  });

  describe("a provider moved to another origin loses its stored credentials", () => {
    let home: RawServer;
    let elsewhere: RawServer;
    before(async () => {
      home = await raw((req, res) => answerLikeOpenAI(res, req.url ?? ""));
      elsewhere = await raw((req, res) => answerLikeOpenAI(res, req.url ?? ""));
      const added = await api("/api/providers", {
        body: {
          id: "mover",
          name: "Mover",
          kind: "openai-compatible",
          baseUrl: `${home.url}/v1`,
          apiKey: KEY,
          headers: { "X-Team-Token": HEADER_SECRET },
        },
      });
      assert.equal(added.status, 201, added.text);
      assert.equal(home.requests.at(-1)?.headers.authorization, `Bearer ${KEY}`);
    });

    test("PATCH to another host: the key and headers are cleared and never reach it", async () => {
      const moved = await api("/api/providers/mover", { method: "PATCH", body: { baseUrl: `${elsewhere.url}/v1` } });
      assert.equal(moved.status, 200, moved.text);
      const view = moved.json as View;
      assert.equal(view.hasApiKey, false, "the answer says the key is gone");
      assert.deepEqual(view.headers, []);
      assert.equal(((await api("/api/providers/mover/test", { body: {} })).json as TestResult).ok, true);
      const chat = await api("/v1/chat/completions", { body: { model: "mover/m", messages: user("hi") } });
      assert.equal(chat.status, 200, chat.text);
      assert.ok(elsewhere.requests.length >= 3, "discovery, the test and the chat reached the new host");
      for (const r of elsewhere.requests) {
        assert.equal(r.headers.authorization, undefined, `${r.method} ${r.url} carried a key`);
        assert.equal(r.headers["x-team-token"], undefined, `${r.method} ${r.url} carried the header`);
      }
      const secrets = fs.readFileSync(path.join(hearth.dataDir, "secrets.json"), "utf8");
      assert.ok(!secrets.includes(KEY) && !secrets.includes(HEADER_SECRET), "deleted from the secret store");
      assert.match(logs.text(), /stored API key and extra headers were cleared/);
    });

    test("a key given in the same PATCH goes to the new origin; a new path on the same origin keeps it", async () => {
      const back = await api("/api/providers/mover", {
        method: "PATCH",
        body: { baseUrl: `${home.url}/v1`, apiKey: KEY, headers: { "X-Team-Token": HEADER_SECRET } },
      });
      assert.equal((back.json as View).hasApiKey, true);
      assert.equal(home.requests.at(-1)?.headers.authorization, `Bearer ${KEY}`);
      const samePlace = await api("/api/providers/mover", { method: "PATCH", body: { baseUrl: `${home.url}/api/v1` } });
      assert.equal((samePlace.json as View).hasApiKey, true, "same scheme, host and port: the key stays");
      assert.deepEqual((samePlace.json as View).headers, ["X-Team-Token"]);
      assert.equal(home.requests.at(-1)?.url, "/api/v1/models");
      assert.equal(home.requests.at(-1)?.headers.authorization, `Bearer ${KEY}`);
      const otherPort = await api("/api/providers/mover", {
        method: "PATCH",
        body: { baseUrl: `${elsewhere.url}/api/v1` },
      });
      assert.equal((otherPort.json as View).hasApiKey, false, "same host, another port: another origin");
    });
  });

  describe("upstream text reaches clients and logs only parsed and scrubbed", () => {
    let step = "ok";
    const retryDate = () => new Date(Date.now() + 30_000).toUTCString();
    const hex = Buffer.from(KEY).toString("hex");
    before(async () => {
      const leaky = await raw((req, res) => {
        if (req.url?.endsWith("/models") || step === "ok") return answerLikeOpenAI(res, req.url ?? "");
        const json = (status: number, headers: Record<string, string>, body: unknown) => {
          res.writeHead(status, { "content-type": "application/json", ...headers });
          res.end(JSON.stringify(body));
        };
        if (step === "retry-key") return json(429, { "retry-after": KEY }, { error: { message: "slow down" } });
        if (step === "retry-long")
          return json(429, { "retry-after": "7".repeat(7001) }, { error: { message: "slow" } });
        if (step === "retry-date") return json(429, { "retry-after": retryDate() }, { error: { message: "slow" } });
        if (step === "echo")
          return json(
            400,
            {},
            {
              error: {
                message: `bad key ${KEY.toUpperCase()} / ${[...KEY].join("\u200b")} / ${hex} / ${KEY.slice(0, 12)} ${KEY.slice(12)} / ${HEADER_SECRET}`,
              },
            },
          );
        if (step === "null") {
          res.writeHead(200, { "content-type": "text/event-stream" });
          res.end(sse("null"));
        }
      });
      const added = await api("/api/providers", {
        body: {
          id: "leaky",
          name: "Leaky",
          kind: "openai-compatible",
          baseUrl: `${leaky.url}/v1`,
          apiKey: KEY,
          headers: { "X-Org": HEADER_SECRET },
        },
      });
      assert.equal(added.status, 201, added.text);
    });
    const chat = (s: string) => {
      step = s;
      return api("/v1/chat/completions", { body: { model: "leaky/m", messages: user("hi") } });
    };

    test("Retry-After is passed on as seconds only: not the key, not 7,001 characters, a date as seconds", async () => {
      const withKey = await chat("retry-key");
      assert.equal(withKey.status, 429);
      assert.equal(withKey.headers.get("retry-after"), null);
      assert.ok(!withKey.text.includes(KEY), withKey.text);
      const long = await chat("retry-long");
      assert.equal(long.status, 429);
      assert.equal(long.headers.get("retry-after"), null);
      assert.ok(long.text.length < 1000, `${long.text.length} characters`);
      const dated = await chat("retry-date");
      const seconds = Number(dated.headers.get("retry-after"));
      assert.ok(Number.isInteger(seconds) && seconds > 0 && seconds <= 31, String(dated.headers.get("retry-after")));
    });

    test("a key echoed upper-cased, with zero-width characters, hex-encoded or split is redacted", async () => {
      const echoed = await chat("echo");
      assert.equal(echoed.status, 400);
      const message = (echoed.json as { error: { message: string } }).error.message;
      assert.match(message, /^The provider 'leaky' rejected the request \(HTTP 400\): bad key \[redacted\]/);
      const flat = message.toLowerCase().replace(/[^a-z0-9]/g, "");
      for (const piece of ["q7f2lm9x", "wr4tzb81", hex.slice(0, 12), "5c9e1a77"])
        assert.ok(!flat.includes(piece), `${piece} in ${message}`);
    });

    test("a `data: null` chunk is a bad response, and does not mark the provider unreachable", async () => {
      assert.equal((await chat("ok")).status, 200);
      const nulled = await chat("null");
      assert.equal(nulled.status, 502);
      assert.equal((nulled.json as { error: { code: string } }).error.code, "provider_bad_response");
      const view = (await api("/api/providers/leaky")).json as View;
      assert.equal(view.status.state, "ok");
    });

    test("the log holds none of it", () => {
      const text = logs.text();
      for (const s of [KEY, KEY.toUpperCase(), hex, HEADER_SECRET, "7".repeat(100)])
        assert.ok(!text.includes(s), `the log contains ${s.slice(0, 8)}...`);
    });
  });

  test("metrics label generations only for known models: names sent while discovery fails become 'other'", async () => {
    const broken = await raw((req, res) => answerLikeOpenAI(res, req.url ?? "", false));
    const added = await api("/api/providers", {
      body: { id: "nodisco", name: "No discovery", kind: "openai-compatible", baseUrl: `${broken.url}/v1` },
    });
    assert.equal((added.json as { discoveredModels: unknown }).discoveredModels, null, "discovery failed");
    for (let i = 0; i < 25; i++) {
      const res = await api("/v1/chat/completions", { body: { model: `nodisco/name-${i}`, messages: user("hi") } });
      assert.equal(res.status, 200, res.text);
    }
    const local = await api("/v1/chat/completions", {
      body: { model: "stories260K", messages: user("hi"), max_tokens: 2 },
    });
    assert.equal(local.status, 200);
    const metrics = await (
      await fetch(`${hearth.url}/metrics`, { headers: { authorization: `Bearer ${HEARTH_KEY}` } })
    ).text();
    assert.ok(!metrics.includes("nodisco/name-"), "no series per unknown name");
    const generations = metrics.split("\n").filter((l) => l.startsWith("hearth_generations_total{"));
    const count = (model: string) =>
      generations.filter((l) => l.includes(`model="${model}"`)).reduce((n, l) => n + Number(l.split(" ").at(-1)), 0);
    assert.equal(count("other"), 25);
    assert.equal(count("stories260K"), 1, "a local model keeps its name");
    assert.ok(count("leaky/m") >= 1, "a model the provider is known to serve keeps its name");
  });

  describe("a provider that leads back to this server", () => {
    test("its own address (or a name for it) is refused when adding, editing or testing", async () => {
      const port = new URL(hearth.url).port;
      for (const baseUrl of [`${hearth.url}/v1`, `http://localhost:${port}/v1`, `http://0.0.0.0:${port}/v1`]) {
        const body = { id: "self", name: "Self", kind: "openai-compatible", baseUrl, apiKey: HEARTH_KEY };
        const added = await api("/api/providers", { body });
        assert.equal(added.status, 400, `${baseUrl}: ${added.text}`);
        const error = (added.json as { error: { param: string; code: string } }).error;
        assert.deepEqual([error.param, error.code], ["baseUrl", "provider_is_self"]);
        assert.equal((await api("/api/providers/test", { body })).status, 400);
        const edited = await api("/api/providers/leaky", { method: "PATCH", body: { baseUrl } });
        assert.equal(edited.status, 400);
      }
      assert.equal((await api("/api/providers/self")).status, 404, "nothing was saved");
      assert.equal(
        ((await api("/api/providers/leaky")).json as View).hasApiKey,
        true,
        "the refused edit changed nothing",
      );
    });

    test("through a forwarder its address check cannot see, the request comes back once and is refused", async () => {
      let forwarded = 0;
      // Forwards everything to Hearth, but at most 5 times: without loop detection a request would recurse.
      const forwarder = http.createServer((req, res) => {
        forwarded++;
        if (forwarded > 5) {
          res.writeHead(500).end();
          return;
        }
        const target = new URL(hearth.url);
        const upstream = http.request(
          { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
          (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
          },
        );
        upstream.on("error", () => res.destroy());
        req.pipe(upstream);
      });
      await new Promise<void>((r) => forwarder.listen(0, "127.0.0.1", () => r()));
      try {
        const url = `http://127.0.0.1:${(forwarder.address() as AddressInfo).port}/v1`;
        const added = await api("/api/providers", {
          body: { id: "loop", name: "Loop", kind: "openai-compatible", baseUrl: url, apiKey: HEARTH_KEY },
        });
        assert.equal(added.status, 201, added.text);
        assert.equal((added.json as View).status.code, "provider_loop");
        assert.equal(forwarded, 1, "discovery came back once and stopped");

        forwarded = 0;
        const tested = (await api("/api/providers/loop/test", { body: {} })).json as TestResult;
        assert.equal(tested.ok, false);
        assert.equal(tested.error?.code, "provider_loop");
        assert.match(tested.error?.message ?? "", /leads back to this Hearth server/);
        assert.equal(forwarded, 1);

        forwarded = 0;
        const nested = `loop/${"loop/".repeat(8)}stories260K`;
        const res = await api("/v1/chat/completions", { body: { model: nested, messages: user("hi"), max_tokens: 2 } });
        assert.equal(res.status, 502, res.text);
        assert.equal((res.json as { error: { code: string } }).error.code, "provider_loop");
        assert.equal(forwarded, 1, "one hop, not a recursion");
      } finally {
        forwarder.closeAllConnections();
        await new Promise<void>((r) => forwarder.close(() => r()));
      }
    });
  });

  test("a test against another kind of service says little: no page text, a short message", async () => {
    const page = `<html><head><title>Build server</title></head><body>INTERNAL-ADMIN-PANEL ${"row ".repeat(500)}</body></html>`;
    const service = await raw((req, res) => {
      if (req.url === "/html/models") {
        res.writeHead(404, { "content-type": "text/html" });
        res.end(page);
        return;
      }
      res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ message: `INTERNAL-STATUS ${"detail ".repeat(300)}` }));
    });
    const probe = async (baseUrl: string) =>
      (await api("/api/providers/test", { body: { id: "probe", name: "Probe", kind: "openai-compatible", baseUrl } }))
        .json as TestResult;
    const html = await probe(`${service.url}/html`);
    assert.equal(html.ok, false);
    assert.doesNotMatch(html.error?.message ?? "", /INTERNAL|Build server|row/);
    const json = await probe(`${service.url}/json`);
    assert.equal(json.ok, false);
    assert.ok((json.error?.message.length ?? 0) <= 300, `${json.error?.message.length} characters echoed`);
  });

  test("a test cannot scan ports: a closed port, a silent one, a non-HTTP service and an unknown host look alike and take as long", async () => {
    // Each is a different answer at the TCP level; through /api they must be one: the same error,
    // at the same time (PROVIDER_TEST_MS), or the test is an oracle for what listens where.
    const { targets, close } = await unreachableTargets();
    try {
      const results = await Promise.all(
        Object.entries(targets).map(async ([what, baseUrl]) => {
          const started = performance.now();
          const res = await api("/api/providers/test", {
            body: { id: "scan", name: "Scan", kind: "openai-compatible", baseUrl },
          });
          const ms = performance.now() - started;
          const body = res.json as TestResult & { latencyMs: number };
          const host = new URL(baseUrl).host;
          return {
            what,
            ms,
            latencyMs: body.latencyMs,
            ok: body.ok,
            error: { ...body.error, message: body.error?.message.replace(host, "<host>") },
          };
        }),
      );
      const [first] = results;
      for (const r of results) {
        assert.equal(r.ok, false, r.what);
        assert.deepEqual(r.error, first!.error, `${r.what} and ${first!.what} differ`);
        assert.equal(r.latencyMs, PROVIDER_TEST_MS, r.what);
        assert.ok(r.ms >= PROVIDER_TEST_MS - 50, `${r.what} answered after ${Math.round(r.ms)} ms`);
      }
      assert.equal(first!.error.code, "provider_unreachable");
      assert.match(first!.error.message ?? "", /gave no HTTP answer/);
    } finally {
      close();
    }
  });

  test("a saved provider's status and requests through it give the test's one answer, whatever the cause", async () => {
    // Saving a provider checks it at once and shows the status to any /api caller: it must not
    // tell a closed port from a silent one, a non-HTTP service or an unknown host either.
    const { targets, close } = await unreachableTargets();
    try {
      const seen = await Promise.all(
        Object.entries(targets).map(async ([what, baseUrl], i) => {
          const id = `saved-scan-${i}`;
          const res = await api("/api/providers", {
            body: { id, name: id, kind: "openai-compatible", baseUrl, timeoutSeconds: 1 },
          });
          assert.equal(res.status, 201, res.text);
          const { status } = res.json as { status: { state: string; code: string; message: string } };
          const host = new URL(baseUrl).host;
          const chat = await api("/v1/chat/completions", {
            body: { model: `${id}/m`, messages: user("hi"), max_tokens: 2 },
          });
          const listed = (await api(`/api/providers/${id}`)).json as { status: { message: string; code: string } };
          return {
            what,
            status: { ...status, message: status.message.replace(host, "<host>").replace(id, "<id>") },
            listed: { ...listed.status, message: listed.status.message.replace(host, "<host>").replace(id, "<id>") },
            chat: { status: chat.status, message: (chat.json as { error: { message: string } }).error.message },
          };
        }),
      );
      const [first] = seen;
      for (const r of seen) {
        assert.equal(r.status.state, "error", r.what);
        assert.deepEqual(
          [r.status.code, r.status.message],
          [first!.status.code, first!.status.message],
          `${r.what} and ${first!.what} differ`,
        );
        assert.deepEqual([r.listed.code, r.listed.message], [first!.status.code, first!.status.message], r.what);
        assert.ok([502, 504].includes(r.chat.status), `${r.what}: ${r.chat.status}`);
        assert.match(r.chat.message, /gave no HTTP answer/, r.what);
        assert.doesNotMatch(r.chat.message, /refused|resolve|could not be found|dropped/, r.what);
      }
      assert.equal(first!.status.code, "provider_unreachable");
      assert.match(first!.status.message, /gave no HTTP answer/);
      // The cause is not lost: the server's log has it.
      assert.match(logs.text(), /ECONNREFUSED/);
      assert.match(logs.text(), /ENOTFOUND|EAI_AGAIN/);
    } finally {
      close();
    }
  });
});

/**
 * Base URLs that give no HTTP answer in four different ways at the TCP level (a closed port, a
 * silent listener, a non-HTTP service, an unknown host), which Hearth must report as one.
 */
async function unreachableTargets(): Promise<{ targets: Record<string, string>; close: () => void }> {
  const closedPort = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
  const sockets: net.Socket[] = [];
  const tcp = async (onConnect: (socket: net.Socket) => void) => {
    const server = net.createServer((socket) => {
      sockets.push(socket);
      socket.on("error", () => undefined);
      onConnect(socket);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    return server;
  };
  const silent = await tcp(() => undefined);
  const ssh = await tcp((socket) => socket.end("SSH-2.0-OpenSSH_9.6\r\n"));
  return {
    targets: {
      closed: `http://127.0.0.1:${closedPort}/v1`,
      silent: `http://127.0.0.1:${(silent.address() as AddressInfo).port}/v1`,
      "not HTTP": `http://127.0.0.1:${(ssh.address() as AddressInfo).port}/v1`,
      "unknown host": "http://hearth-scan-test.invalid/v1",
    },
    close: () => {
      for (const socket of sockets) socket.destroy();
      silent.close();
      ssh.close();
    },
  };
}
