/**
 * Canary secrets, followed everywhere they must not go. `hearth serve` runs as a process with
 * trace logging, its own API key and the key that seals secrets.json in its environment, and a
 * remote provider whose API key is a canary; it proxies chats to that provider, records them,
 * exports them and loads a model whose chat template keeps the template checker busy. None of
 * the canaries may appear in: its log, the history database or its WAL and shared-memory files
 * (copied while the server runs and again after it stopped), any other file of the data folder,
 * exports, /api and /v1 answers, the environment of any process it starts, or a renderer bundle
 * built with the canaries in the environment. (remote-secrets.test.ts covers the provider API.)
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { after, before, test } from "node:test";
import { descendants, killHard, spawnHearth, type HearthProcess } from "../helpers/cli-process.js";
import { withStringMetadata } from "../helpers/gguf-writer.js";
import { testModelPath } from "../helpers/models.js";
import { rawRequest } from "../helpers/raw-http.js";
import { filesUnder, startHearth, type Hearth } from "../helpers/remote.js";

const PROVIDER_KEY = `sk-canary-provider-${crypto.randomBytes(6).toString("hex")}`;
const HEARTH_KEY = `canary-hearth-key-${crypto.randomBytes(6).toString("hex")}`;
const SECRETS_KEY = crypto.randomBytes(32).toString("base64");
/** The desktop window's per-launch token. */
const UI_TOKEN = `canary-ui-token-${crypto.randomBytes(6).toString("hex")}`;
const CANARIES = [PROVIDER_KEY, HEARTH_KEY, SECRETS_KEY, UI_TOKEN];

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-canary-"));
const modelDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-canary-models-"));
let upstream: Hearth;
let p: HearthProcess;
/** Every body and header set the server answered with. */
const answers: string[] = [];

const leaks = (text: string | Buffer) =>
  CANARIES.filter((c) => (typeof text === "string" ? text.includes(c) : text.includes(Buffer.from(c))));

async function call(pathname: string, init: { method?: string; body?: unknown } = {}) {
  const res = await rawRequest(p.url, {
    method: init.method ?? (init.body === undefined ? "GET" : "POST"),
    path: pathname,
    headers: { authorization: `Bearer ${HEARTH_KEY}` },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    timeoutMs: 60_000,
  });
  answers.push(res.body, JSON.stringify(res.headers));
  return res;
}

before(async () => {
  upstream = await startHearth(PROVIDER_KEY, { parallel: 2, ctxSize: 1024 });
  const source = fs.readFileSync(await testModelPath());
  fs.copyFileSync(await testModelPath(), path.join(modelDir, "plain.gguf"));
  // A template the checker needs its whole time limit for (and then refuses).
  fs.writeFileSync(
    path.join(modelDir, "slow-template.gguf"),
    withStringMetadata(
      source,
      "tokenizer.chat_template",
      "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    ),
  );
  p = await spawnHearth(
    [
      "--port",
      "0",
      "--data-dir",
      dataDir,
      "--threads",
      "1",
      "--model-dirs",
      modelDir,
      "--parallel",
      "1",
      "--ctx-size",
      "512",
    ],
    {
      env: {
        HEARTH_LOG_LEVEL: "trace",
        HEARTH_API_KEY: HEARTH_KEY,
        HEARTH_SECRETS_KEY: SECRETS_KEY,
        HEARTH_UI_TOKEN: UI_TOKEN,
      },
    },
  );
});
after(async () => {
  if (p) await killHard(p);
  await upstream?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
  fs.rmSync(modelDir, { recursive: true, force: true });
});

test(
  "processes the server starts get none of its secrets in their environment",
  { skip: process.platform !== "linux" ? "reads /proc" : false },
  async () => {
    const seen = new Map<number, string>();
    // Between fork and exec a child still shows the server's own environment block (the one it was
    // started with, secrets included; scrubbing process.env does not rewrite it) and the server's
    // command line: such a snapshot says nothing about what the child gets, so look again later.
    const serverCmdline = fs.readFileSync(`/proc/${p.child.pid!}/cmdline`, "utf8");
    let polling = true;
    const poll = (async () => {
      while (polling) {
        for (const pid of descendants(p.child.pid!)) {
          if (seen.has(pid)) continue;
          try {
            const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
            const environ = fs.readFileSync(`/proc/${pid}/environ`, "utf8");
            if (cmdline === serverCmdline || cmdline !== fs.readFileSync(`/proc/${pid}/cmdline`, "utf8")) continue;
            seen.set(pid, environ + cmdline);
          } catch {
            // ended before we looked
          }
        }
        await new Promise((r) => setTimeout(r, 25));
      }
    })();
    const res = await call("/v1/chat/completions", {
      body: { model: "slow-template", messages: [{ role: "user", content: "hi" }], max_tokens: 3 },
    });
    polling = false;
    await poll;
    assert.equal(res.status, 200, res.body);
    // node-llama-cpp's binary test (a copy of process.env) and the template checker (no environment).
    assert.ok(seen.size >= 1, "the server started child processes while the model loaded");
    for (const [pid, env] of seen)
      assert.deepEqual(leaks(env), [], `process ${pid} got a secret in its environment or arguments`);
  },
);

test("a provider's key reaches only its upstream: not logs, history, WAL, exports or answers", async () => {
  const created = await call("/api/providers", {
    body: { id: "up", name: "Canary upstream", kind: "vllm", baseUrl: `${upstream.url}/v1`, apiKey: PROVIDER_KEY },
  });
  assert.equal(created.status, 201, created.body);
  const proxied = await call("/v1/chat/completions", {
    body: { model: "up/stories260K", messages: [{ role: "user", content: "A story about a fox" }], max_tokens: 8 },
  });
  assert.equal(proxied.status, 200, proxied.body);
  const streamed = await call("/v1/chat/completions", {
    body: {
      model: "up/stories260K",
      messages: [{ role: "user", content: "A story about a bear" }],
      max_tokens: 8,
      stream: true,
    },
  });
  assert.equal(streamed.status, 200);
  assert.equal(
    (
      await call("/v1/responses", {
        body: { model: "up/stories260K", input: "A story about an owl", max_output_tokens: 8 },
      })
    ).status,
    200,
  );
  const conv = await call("/api/conversations", { body: { title: "canary chat", model: "up/stories260K" } });
  const id = (JSON.parse(conv.body) as { id: string }).id;
  assert.equal(
    (await call(`/api/conversations/${id}/messages`, { body: { content: "Tell me more", params: { maxTokens: 8 } } }))
      .status,
    200,
  );
  assert.equal(
    (
      await call("/v1/chat/completions", {
        body: { model: "plain", messages: [{ role: "user", content: "local" }], max_tokens: 4 },
      })
    ).status,
    200,
  );
  // A wrong key upstream: the error the client sees must not echo either key.
  assert.equal(
    (await call("/api/providers/up", { method: "PATCH", body: { apiKey: `${PROVIDER_KEY}-wrong` } })).status,
    200,
  );
  assert.equal(
    (
      await call("/v1/chat/completions", {
        body: { model: "up/stories260K", messages: [{ role: "user", content: "x" }], max_tokens: 2 },
      })
    ).status,
    502,
  );
  assert.equal((await call("/api/providers/up", { method: "PATCH", body: { apiKey: PROVIDER_KEY } })).status, 200);

  // Malformed JSON quoting the key: V8's parse error repeats the start of the body. The client gets
  // its own text back; the log (at trace level here) must not (checked after shutdown below).
  const malformed = await fetch(`${p.url}/api/providers/up`, {
    method: "PATCH",
    // The window's token passes auth as the API key does (the 400 comes from the body).
    headers: { authorization: `Bearer ${UI_TOKEN}`, "content-type": "application/json" },
    body: `x{"apiKey": "${PROVIDER_KEY}"}`,
  });
  assert.equal(malformed.status, 400);
  assert.equal(((await malformed.json()) as { error: { code: string } }).error.code, "invalid_json");
  for (const pathname of [
    "/api/settings",
    "/api/providers",
    "/api/providers/up",
    "/api/models",
    "/api/conversations",
    "/api/search?q=story",
    "/health",
    "/health/ready",
    "/metrics",
    "/openapi.json",
    "/v1/models",
    "/api/export",
    "/api/export?format=markdown",
    `/api/conversations/${id}/export?format=markdown`,
  ]) {
    const res = await call(pathname);
    assert.equal(res.status, 200, `${pathname}: ${res.status}`);
  }
  for (const body of answers) assert.deepEqual(leaks(body), [], `an answer leaked a secret: ${body.slice(0, 200)}`);

  // The database, its WAL and shared memory, copied while the server has them open.
  const live = fs.readdirSync(dataDir).filter((f) => f.startsWith("history.sqlite"));
  assert.ok(
    live.some((f) => f.endsWith("-wal")),
    `the WAL is there to check (${live.join(", ")})`,
  );
  for (const f of live) assert.deepEqual(leaks(fs.readFileSync(path.join(dataDir, f))), [], `${f} holds a secret`);
});

test("after shutdown no file in the data folder and no log line holds a secret", async () => {
  p.child.kill("SIGTERM");
  assert.equal(await p.exited, 0);
  const files = filesUnder(dataDir);
  assert.ok(
    files.some((f) => f.endsWith("secrets.json")),
    "the provider key is stored, sealed",
  );
  for (const file of files)
    assert.deepEqual(leaks(fs.readFileSync(file)), [], `${path.relative(dataDir, file)} holds a secret`);
  const log = p.stderr();
  assert.ok(log.split("\n").length > 20, "requests were logged");
  assert.ok(log.includes('"provider":"up"'), "provider activity was logged");
  assert.deepEqual(leaks(log), [], "the log holds a secret");
});

test("a renderer bundle built with the secrets in the environment holds none of them", async () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-canary-renderer-"));
  try {
    await promisify(execFile)(
      process.execPath,
      [path.resolve("node_modules/vite/bin/vite.js"), "build", "--outDir", out, "--emptyOutDir", "--logLevel", "error"],
      {
        env: {
          ...process.env,
          HEARTH_API_KEY: HEARTH_KEY,
          OPENAI_API_KEY: PROVIDER_KEY,
          VITE_API_KEY: PROVIDER_KEY,
          VITE_HEARTH_API_KEY: HEARTH_KEY,
          HEARTH_SECRETS_KEY: SECRETS_KEY,
        },
        timeout: 120_000,
      },
    );
    const files = filesUnder(out);
    assert.ok(
      files.some((f) => f.endsWith(".js")),
      "the bundle was built",
    );
    for (const file of files)
      assert.deepEqual(leaks(fs.readFileSync(file)), [], `${path.relative(out, file)} holds a secret`);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
