/**
 * Structurally valid model files that crash llama.cpp (SIGABRT, SIGSEGV) when loaded or first
 * evaluated, made by the test from the real tiny model (test/helpers/gguf-corpus.ts,
 * engineCrashGgufs): a chat request naming each gets a clear 400, the server answers /health after
 * every one, and each is listed with a reason: `invalid` for those the header check knows
 * (gguf-validate.ts), `broken` for those only the load probe finds (engine/load-probe.ts: the first
 * load runs in a disposable child). Before the probe, the first chat request to such a file ended
 * this test's own process (the server runs in it).
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { pino } from "pino";
import { LoadProbe, lastStderrLine } from "../../server/engine/load-probe.js";
import { createRuntime, type EngineRuntime } from "../../server/engine/runtime.js";
import { killHard, spawnRaw } from "../helpers/cli-process.js";
import { engineCrashGgufs, type CrashingGguf } from "../helpers/gguf-corpus.js";
import { testModelPath } from "../helpers/models.js";
import { rawRequest } from "../helpers/raw-http.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

const corpusDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-gguf-crash-"));
let corpus: Map<string, CrashingGguf>;
let source: Buffer;

interface ModelView {
  id: string;
  status: string;
  error: string | null;
}

/** What each probe-only file's reason must say: the signal, the stage and llama.cpp's own last line. */
const PROBE_REASONS: Record<string, RegExp> = {
  "tensor-type-unsupported":
    /^llama\.cpp crashed \(SIGABRT\) while evaluating a prompt: binary-ops\.cpp:\d+: binary_op: unsupported types/,
  "tensor-type-segfault": /^llama\.cpp crashed \(SIGSEGV\) while evaluating a prompt/,
};

before(async () => {
  source = fs.readFileSync(await testModelPath());
  corpus = engineCrashGgufs(source);
  for (const [name, { bytes }] of corpus) fs.writeFileSync(path.join(corpusDir, `${name}.gguf`), bytes);
  fs.writeFileSync(path.join(corpusDir, "good.gguf"), source);
});
after(() => fs.rmSync(corpusDir, { recursive: true, force: true }));

const chat = (url: string, model: string) =>
  rawRequest(url, {
    path: "/v1/chat/completions",
    body: JSON.stringify({ model, messages: [{ role: "user", content: "Hello 😀" }], max_tokens: 2 }),
    timeoutMs: 60_000,
  });

const listed = async (url: string) =>
  new Map(
    (JSON.parse((await rawRequest(url, { path: "/api/models" })).body) as { models: ModelView[] }).models.map((m) => [
      m.id,
      m,
    ]),
  );

describe("files that crash llama.cpp, named by chat requests", () => {
  let t: TestServer;
  let dataDir: string;
  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-gguf-crash-data-"));
    t = await startTestServer(
      { modelDirs: [corpusDir], parallel: 1, ctxSize: 256, dataDir },
      { withModel: false, ownModelChecks: true },
    );
  });
  after(() => t.close());

  test("each gets a 400 with the reason, the server answers /health after each, and the good model still serves", async (c) => {
    for (const name of [...corpus.keys()].sort()) {
      const res = await chat(t.url, name);
      const health = await rawRequest(t.url, { path: "/health/live" }).catch((err: Error) => ({
        status: 0,
        body: err.message,
      }));
      assert.equal(health.status, 200, `the server died at ${name}`);
      assert.equal(res.status, 400, `${name}: ${res.body}`);
      const error = (JSON.parse(res.body) as { error: { code: string; message: string } }).error;
      assert.equal(error.code, "model_unusable", name);
      c.diagnostic(`${name}: ${error.message}`);
    }
    const ok = await chat(t.url, "good");
    assert.equal(ok.status, 200, ok.body);
  });

  test("each is listed as unusable with a reason: invalid by the header check, broken by the probe; none in /v1/models", async () => {
    const models = await listed(t.url);
    assert.equal(models.get("good")?.status, "ok");
    for (const [name, { probeOnly, why }] of corpus) {
      const m = models.get(name);
      assert.ok(m, name);
      assert.equal(m.status, probeOnly ? "broken" : "invalid", `${name} (${why}): ${m.error}`);
      if (probeOnly) assert.match(m.error ?? "", PROBE_REASONS[name]!, name);
      else assert.match(m.error ?? "", /^Not a usable model: /, name);
    }
    const v1 = JSON.parse((await rawRequest(t.url, { path: "/v1/models" })).body) as { data: { id: string }[] };
    const ids = v1.data.map((m) => m.id);
    assert.ok(ids.includes("good"));
    for (const name of corpus.keys()) assert.ok(!ids.includes(name), `${name} is offered in /v1/models`);
  });

  test("/health/ready names each model a request could not load, as error with the reason and no path; the server stays ready", async () => {
    // A file that vanished after it was listed fails with the OS's words, which name the path.
    const vanished = path.join(corpusDir, "vanished.gguf");
    fs.writeFileSync(vanished, source);
    await rawRequest(t.url, { path: "/api/models/rescan", body: "{}" });
    fs.rmSync(vanished);
    assert.equal((await chat(t.url, "vanished")).status, 400);

    const ready = await rawRequest(t.url, { path: "/health/ready" });
    assert.equal(ready.status, 200, ready.body);
    const body = JSON.parse(ready.body) as { status: string; models: { id: string; state: string; error?: string }[] };
    assert.equal(body.status, "ready");
    const states = new Map(body.models.map((m) => [m.id, m]));
    assert.equal(states.get("good")?.state, "loaded");
    const models = await listed(t.url);
    for (const name of corpus.keys()) {
      const m = states.get(name);
      assert.equal(m?.state, "error", `${name}: ${JSON.stringify(m)}`);
      // The reason /api/models gives, without the request's "The model 'x' cannot be loaded: ".
      assert.equal(m.error, models.get(name)?.error, name);
    }
    assert.equal(states.get("vanished")?.state, "error");
    assert.match(states.get("vanished")?.error ?? "", /vanished\.gguf/);
    assert.ok(!ready.body.includes(corpusDir), `/health/ready (no key needed) shows where files are: ${ready.body}`);
  });

  test("the verdicts are kept in the data dir: a restarted server lists the broken files before any request", async () => {
    const checks = JSON.parse(fs.readFileSync(path.join(dataDir, "model-checks.json"), "utf8")) as {
      verdicts: Record<string, { verdict: string; file: string }>;
    };
    const byFile = new Map(Object.values(checks.verdicts).map((v) => [path.basename(v.file, ".gguf"), v.verdict]));
    assert.equal(byFile.get("good"), "ok");
    for (const name of Object.keys(PROBE_REASONS)) assert.equal(byFile.get(name), "crashed", name);

    await t.server.close();
    t = await startTestServer(
      { modelDirs: [corpusDir], parallel: 1, ctxSize: 256, dataDir },
      { withModel: false, ownModelChecks: true },
    );
    const models = await listed(t.url);
    for (const [name, reason] of Object.entries(PROBE_REASONS)) {
      assert.equal(models.get(name)?.status, "broken", name);
      assert.match(models.get(name)?.error ?? "", reason);
    }
    // Known broken from disk, refused before any load: /health/ready still says why once asked for.
    const name = Object.keys(PROBE_REASONS)[0]!;
    assert.equal((await chat(t.url, name)).status, 400);
    const ready = JSON.parse((await rawRequest(t.url, { path: "/health/ready" })).body) as {
      models: { id: string; state: string; error?: string }[];
    };
    const state = ready.models.find((m) => m.id === name);
    assert.equal(state?.state, "error");
    assert.match(state?.error ?? "", PROBE_REASONS[name]!);
  });

  test("a file that changes is checked again: fixed in place, it loads and serves", async () => {
    const file = path.join(corpusDir, "tensor-type-unsupported.gguf");
    fs.writeFileSync(file, source);
    const rescan = JSON.parse((await rawRequest(t.url, { path: "/api/models/rescan", body: "{}" })).body) as {
      models: ModelView[];
    };
    assert.equal(rescan.models.find((m) => m.id === "tensor-type-unsupported")?.status, "ok");
    const res = await chat(t.url, "tensor-type-unsupported");
    assert.equal(res.status, 200, res.body);
    fs.writeFileSync(file, corpus.get("tensor-type-unsupported")!.bytes);
  });
});

describe("hearth serve --model with a file only the probe catches", () => {
  test("exits 1 with the crash as the reason, instead of dying of it", async (c) => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-gguf-crash-cli-"));
    try {
      const model = path.join(corpusDir, "tensor-type-segfault.gguf");
      const child = spawnRaw(["--model", model, "--port", "0", "--data-dir", dataDir, "--threads", "1"]);
      let stderr = "";
      child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | string>((resolve) =>
        child.once("exit", (code, signal) => resolve(code ?? signal ?? "?")),
      );
      const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
      const code = await exited;
      clearTimeout(timer);
      await killHard({ child, exited });
      const line = stderr.split("\n").find((l) => l.startsWith("Hearth could not start:")) ?? "";
      c.diagnostic(line);
      assert.equal(code, 1, stderr.slice(-1000));
      assert.match(line, /cannot be loaded: llama\.cpp crashed \(SIGSEGV\) while evaluating a prompt/);
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe("the probe on its own", () => {
  let runtime: EngineRuntime;
  const logger = pino({ level: "silent" });
  before(async () => {
    runtime = await createRuntime({ gpu: "cpu", threads: 1, logger });
  });
  after(() => runtime.dispose());

  test("a load that hangs is given up after the stall limit, as stalled, and not written to disk", async () => {
    if (process.platform === "win32") return;
    // A FIFO nobody writes to: llama.cpp's open of it blocks for good (the library never lists one).
    const fifo = path.join(corpusDir, "hangs.fifo");
    const { execFileSync } = await import("node:child_process");
    execFileSync("mkfifo", [fifo]);
    const cacheFile = path.join(corpusDir, "checks.json");
    const probe = new LoadProbe({ cacheFile, logger, stallMs: 8000 });
    const verdict = await probe.check([fifo], runtime, { gpuLayers: 0, contextSize: 256 });
    assert.equal(verdict.kind, "stalled", JSON.stringify(verdict));
    assert.match(
      verdict.kind === "stalled" ? verdict.reason : "",
      /^the check made no progress for 8 s while loading it/,
    );
    assert.equal(await probe.brokenReason([fifo], runtime), verdict.kind === "stalled" ? verdict.reason : "");
    assert.equal(fs.existsSync(cacheFile), false);
  });

  test("a clean refusal by llama.cpp is an error of this load, with llama.cpp's reason, not a broken file", async () => {
    const g = corpus.get("tensor-type-unsupported")!;
    const file = path.join(corpusDir, "refused.gguf");
    // A tensor missing its last byte is refused by llama.cpp with an error; the header check leaves the data to it.
    fs.writeFileSync(file, g.bytes.subarray(0, g.bytes.length - 1));
    const probe = new LoadProbe({ cacheFile: null, logger });
    const verdict = await probe.check([file], runtime, { gpuLayers: 0, contextSize: 256 });
    assert.equal(verdict.kind, "failed", JSON.stringify(verdict));
    assert.equal(await probe.brokenReason([file], runtime), undefined);
  });

  test("the reason keeps llama.cpp's own line, without build paths", () => {
    assert.equal(
      lastStderrLine(
        '{"level":40,"msg":"load: bad special token"}\n/home/runner/work/x/llama.cpp/src/llama-vocab.cpp:2539: GGML_ASSERT(a == b) failed\n',
      ),
      "llama-vocab.cpp:2539: GGML_ASSERT(a == b) failed",
    );
    assert.equal(
      lastStderrLine("terminate called after throwing an instance of 'std::out_of_range'\n  what():  _Map_base::at\n"),
      "terminate called after throwing an instance of 'std::out_of_range' what():  _Map_base::at",
    );
    assert.equal(lastStderrLine('{"level":40,"msg":"load: x"}\n'), 'its last log line was "load: x"');
  });
});
