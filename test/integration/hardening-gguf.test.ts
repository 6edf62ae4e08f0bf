/**
 * Malformed model files, made by the test from the real tiny model (test/helpers/gguf-corpus.ts):
 * the library scan lists each as unusable with a reason, naming one in /v1 (just-in-time load)
 * or /api gives a clear 4xx, `--model` with one makes `hearth serve` exit with a clear message,
 * all within seconds, and the server keeps serving the good model throughout. Several of these
 * files abort the process inside llama.cpp (GGML_ASSERT) or hang node-llama-cpp's header reader
 * if they get that far; the TypeScript header check (server/engine/gguf-validate.ts) stops them.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { killHard, spawnRaw } from "../helpers/cli-process.js";
import { malformedGgufs, specialPaths } from "../helpers/gguf-corpus.js";
import { testModelPath } from "../helpers/models.js";
import { mapLimit, rawRequest } from "../helpers/raw-http.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

const corpusDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-gguf-corpus-"));
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-gguf-data-"));
let corpus: Map<string, { bytes: Buffer; why: string }>;
let special: Map<string, string>;

/** Files whose header reads fine and that llama.cpp refuses at load: listed as usable, refused when loaded. */
const REFUSED_AT_LOAD = new Set(["architecture-unknown", "tensor-shape-swapped", "tensor-dims-zero"]);
/** Odd but harmless: llama.cpp replaces the bad token id, caps the context, keeps the bytes. They serve normally. */
const HARMLESS = new Set(["context-length-huge", "bos-token-out-of-range", "string-invalid-utf8"]);
/** HEARTH_HARDENING_FULL=1 starts `hearth serve --model` with every pick, not a few. */
const FULL = process.env.HEARTH_HARDENING_FULL === "1";

before(async () => {
  const source = fs.readFileSync(await testModelPath());
  corpus = malformedGgufs(source);
  for (const [name, { bytes }] of corpus) fs.writeFileSync(path.join(corpusDir, `${name}.gguf`), bytes);
  special = specialPaths(corpusDir);
  fs.writeFileSync(path.join(corpusDir, "good.gguf"), source);
});
after(() => {
  fs.rmSync(corpusDir, { recursive: true, force: true });
  fs.rmSync(dataDir, { recursive: true, force: true });
});

interface ModelView {
  id: string;
  status: string;
  error: string | null;
}

describe("the library and just-in-time loading", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ modelDirs: [corpusDir], parallel: 1, ctxSize: 256 }, { withModel: false });
  });
  after(() => t.close());

  test("the scan finishes and lists every malformed file as unusable, with a reason", async () => {
    const res = await rawRequest(t.url, { path: "/api/models", timeoutMs: 20_000 });
    assert.equal(res.status, 200);
    const models = new Map((JSON.parse(res.body) as { models: ModelView[] }).models.map((m) => [m.id, m]));
    assert.equal(models.get("good")?.status, "ok");
    for (const [name, { why }] of corpus) {
      const m = models.get(name);
      assert.ok(m, `${name} (${why}) is listed`);
      if (REFUSED_AT_LOAD.has(name) || HARMLESS.has(name)) continue;
      assert.equal(m.status, "invalid", `${name} (${why}) is listed as invalid`);
      assert.ok(m.error && m.error.length > 10, `${name}: a reason is given`);
    }
    // Paths that are not files are either skipped by the walk or listed as unusable; never read.
    for (const [file, why] of special) {
      const m = models.get(file.replace(/\.gguf$/, ""));
      assert.ok(m === undefined || m.status === "invalid", `${file} (${why})`);
    }
  });

  test("naming each one in /v1 gives a 4xx with the reason, and the good model still answers", async () => {
    const names = [...corpus.keys(), ...[...special.keys()].map((f) => f.replace(/\.gguf$/, ""))];
    const failures: string[] = [];
    await mapLimit(names, 2, async (name) => {
      const res = await rawRequest(t.url, {
        path: "/v1/chat/completions",
        body: JSON.stringify({ model: name, messages: [{ role: "user", content: "hi" }], max_tokens: 2 }),
        timeoutMs: 20_000,
      }).catch((err: Error) => ({ status: 0, body: err.message }));
      if (HARMLESS.has(name)) {
        if (res.status !== 200) failures.push(`${name} should serve: ${res.status} ${res.body.slice(0, 200)}`);
      } else if (res.status < 400 || res.status >= 500)
        failures.push(`${name}: ${res.status} ${res.body.slice(0, 200)}`);
      else {
        const error = (JSON.parse(res.body) as { error: { code: string; message: string } }).error;
        if (!["model_unusable", "model_not_found"].includes(error.code))
          failures.push(`${name}: ${error.code} ${error.message}`);
      }
    });
    assert.deepEqual(failures, []);
    const ok = await t.client.chat.completions.create({
      model: "good",
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 3,
    });
    assert.equal(ok.usage?.completion_tokens, 3);
  });

  test("a file llama.cpp refuses at load is reported in /api/models with the load error", async () => {
    const load = await rawRequest(t.url, {
      path: "/api/models/tensor-shape-swapped/load",
      body: "{}",
      timeoutMs: 20_000,
    });
    assert.equal(load.status, 400, load.body);
    assert.equal((JSON.parse(load.body) as { error: { code: string } }).error.code, "model_unusable");
    const list = JSON.parse((await rawRequest(t.url, { path: "/api/models" })).body) as {
      models: (ModelView & { state: string; loadError: string | null })[];
    };
    const m = list.models.find((x) => x.id === "tensor-shape-swapped")!;
    assert.equal(m.state, "error");
    // llama.cpp's own reason, not just node-llama-cpp's "Failed to load model".
    assert.match(m.loadError ?? "", /wrong shape/);
    assert.equal((await rawRequest(t.url, { path: "/health/live" })).status, 200);
  });
});

describe("--model with a malformed file", () => {
  // One of each kind by default (a reader hang, a native abort, a native refusal, non-files); all with FULL.
  const picks: [string, RegExp, boolean][] = [
    ["wrong-magic.gguf", /not a gguf file/i, false],
    ["kv-count-huge.gguf", /metadata entries/, false],
    ["float-array-count-huge.gguf", /claims \d+ elements/, true],
    ["tensor-n-dims-huge.gguf", /dimensions/, false],
    ["block-count-zero.gguf", /block_count/, true],
    ["vocab-empty.gguf", /vocabulary is empty/, false],
    ["head-count-zero.gguf", /head_count/, false],
    ["epsilon-nan.gguf", /epsilon/, false],
    ["cut-at-000024.gguf", /truncated/, false],
    ["tensor-shape-swapped.gguf", /cannot be loaded: .*tensor 'token_embd\.weight' has wrong shape/, true],
    ["a-directory.gguf", /not a model file/, false],
    ["a-fifo.gguf", /not a model file/, true],
    ["loop-a.gguf", /loop of symbolic links/, true],
    ["/dev/zero", /not a model file/, true],
  ].filter((p) => FULL || p[2]) as [string, RegExp, boolean][];

  const check = async (t: { diagnostic(m: string): void }, list: [string, RegExp, boolean][]) => {
    const failures: string[] = [];
    // Two at a time on one data dir: first starts that race each other must still each give the file's own error.
    await mapLimit(list, 2, async ([file, expected]) => {
      const model = file.startsWith("/") ? file : path.join(corpusDir, file);
      const child = spawnRaw(["--model", model, "--port", "0", "--data-dir", dataDir, "--threads", "1"]);
      let stderr = "";
      let stdout = "";
      child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
      child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
      const exited = new Promise<number | string>((resolve) =>
        child.once("exit", (code, signal) => resolve(code ?? signal ?? "?")),
      );
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      const code = await exited;
      clearTimeout(timer);
      await killHard({ child, exited });
      const line = stderr.split("\n").find((l) => l.startsWith("Hearth could not start:")) ?? "";
      t.diagnostic(`${file}: ${line}`);
      if (code !== 1 || !expected.test(line) || stdout.includes("ready"))
        failures.push(`${file}: exit ${code}, ${line || stderr.slice(-300)}`);
    });
    assert.deepEqual(failures, []);
  };
  test(`hearth serve exits 1 with a clear message for each of ${picks.length} bad files`, (t) => check(t, picks));
});
