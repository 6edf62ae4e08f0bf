/**
 * Loading models on demand through the real server and the official openai client: a request
 * naming a model loads it (once, however many requests wait), idle models unload, the memory
 * budget evicts the least recently used, busy models are waited for (bounded), and the state
 * shows in /api/models, /health/ready and /metrics.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { estimateModelMemory } from "../../server/engine/gguf-info.js";
import { modelPath } from "../helpers/models.js";
import { metricValue, startTestServer, type TestServer } from "../helpers/server.js";

const A = "stories260K";
const B = "bench-11M-q8_0";
const C = "bench-86M-q4_k_m";
const MiB = 1024 * 1024;

interface ModelView {
  id: string;
  state: string;
  memoryBytes: number | null;
  pinned: boolean;
  loaded: null | { contextSize: number; parallel: number };
}

async function api<T>(
  t: TestServer,
  method: string,
  route: string,
  body?: unknown,
): Promise<{ status: number; body: T; headers: Headers }> {
  const res = await fetch(`${t.url}${route}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T, headers: res.headers };
}

const stateOf = async (t: TestServer, id: string) => (await api<ModelView>(t, "GET", `/api/models/${id}`)).body.state;

async function waitFor(what: string, fn: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function linkModels(t: TestServer, files: string[]): Promise<void> {
  const dir = path.join(t.dataDir, "models");
  fs.mkdirSync(dir, { recursive: true });
  for (const f of files) fs.symlinkSync(await modelPath(f), path.join(dir, f));
  assert.equal((await api(t, "POST", "/api/models/rescan")).status, 200);
}

const complete = (t: TestServer, model: string) =>
  t.client.completions.create({ model, prompt: "Once upon a time", max_tokens: 4 });

describe("just-in-time loading and LRU eviction under a memory budget", () => {
  let t: TestServer;
  let budget: number;

  before(async () => {
    // Budget for A and C together, but not B and C: loading C after A and B must evict exactly B.
    const est = async (f: string) =>
      (await estimateModelMemory([await modelPath(`${f}.gguf`)], { contextSize: 256, sequences: 1 })).total;
    const [a, b, c] = [await est(A), await est(B), await est(C)];
    budget = Math.ceil((a + c) / MiB) + 1;
    assert.ok(b + c > budget * MiB, "the budget is tight enough to force an eviction");
    t = await startTestServer(
      { parallel: 1, ctxSize: 256, modelIdleTimeout: 0, modelMemoryMb: budget },
      { withModel: false },
    );
    await linkModels(t, [`${A}.gguf`, `${B}.gguf`, `${C}.gguf`]);
  });
  after(() => t?.close());

  test("a request naming an unloaded model loads it once, however many requests wait for it", async () => {
    assert.equal(await stateOf(t, B), "unloaded");
    const replies = await Promise.all([1, 2, 3, 4].map(() => complete(t, B)));
    for (const r of replies) assert.ok(r.choices[0]!.text.length > 0);
    assert.equal(await stateOf(t, B), "loaded");
    assert.equal(await metricValue(t.url, `hearth_model_loads_total{model="${B}"}`), 1);
    assert.equal(await metricValue(t.url, `hearth_model_state{model="${B}",state="loaded"}`), 1);
    const ready = await api<{ status: string; models: { id: string; state: string; memoryBytes: number }[] }>(
      t,
      "GET",
      "/health/ready",
    );
    assert.equal(ready.status, 200);
    const b = ready.body.models.find((m) => m.id === B);
    assert.equal(b?.state, "loaded");
    assert.ok((b?.memoryBytes ?? 0) > 0);
  });

  test("loading past the budget unloads the least recently used idle model first", async () => {
    await complete(t, A);
    await complete(t, A); // A is now the most recently used; B the least.
    assert.equal(await stateOf(t, A), "loaded");
    assert.equal(await stateOf(t, B), "loaded");
    const chat = await t.client.chat.completions.create({
      model: C,
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 3,
    });
    assert.ok(chat.choices[0]!.message.content !== undefined);
    assert.equal(await stateOf(t, C), "loaded");
    assert.equal(await stateOf(t, B), "unloaded", "B was the least recently used");
    assert.equal(await stateOf(t, A), "loaded", "A still fits beside C");
    assert.equal(await metricValue(t.url, `hearth_model_loaded{model="${B}"}`), 0);
    const list = await api<{ memory: { budgetBytes: number; usedBytes: number } }>(t, "GET", "/api/models");
    assert.equal(list.body.memory.budgetBytes, budget * MiB);
    assert.ok(list.body.memory.usedBytes <= budget * MiB, `${list.body.memory.usedBytes} <= ${budget * MiB}`);
  });

  test("a model bigger than the budget on its own is refused with a clear 503", async () => {
    const put = await api<{ settings: { contextSize: number } }>(t, "PUT", `/api/models/${C}/settings`, {
      contextSize: 2048,
    });
    assert.equal(put.status, 200);
    assert.equal((await api(t, "POST", `/api/models/${C}/unload`)).status, 200);
    const res = await api<{ error: { code: string; message: string } }>(t, "POST", "/v1/completions", {
      model: C,
      prompt: "x",
      max_tokens: 2,
    });
    assert.equal(res.status, 503);
    assert.equal(res.body.error.code, "insufficient_memory");
    assert.match(res.body.error.message, /memory budget/);
    assert.equal((await api(t, "PUT", `/api/models/${C}/settings`, {})).status, 200);
  });

  test("load and unload through the API, with per-model settings applied at load", async () => {
    const put = await api<{ settings: { contextSize: number; parallel: number }; reloadRequired: boolean }>(
      t,
      "PUT",
      `/api/models/${A}/settings`,
      { contextSize: 512, parallel: 1 },
    );
    assert.deepEqual(put.body.settings, { contextSize: 512, parallel: 1 });
    assert.equal(put.body.reloadRequired, true);
    assert.equal((await api(t, "PUT", `/api/models/${A}/settings`, { contextSize: -1 })).status, 400);
    assert.equal((await api(t, "PUT", `/api/models/${A}/settings`, { gpuLayers: "lots" })).status, 400);
    const unloaded = await api<ModelView>(t, "POST", `/api/models/${A}/unload`);
    assert.equal(unloaded.body.state, "unloaded");
    const loaded = await api<ModelView>(t, "POST", `/api/models/${A}/load`, { pinned: true });
    assert.equal(loaded.status, 200);
    assert.equal(loaded.body.state, "loaded");
    assert.equal(loaded.body.pinned, true);
    assert.equal(loaded.body.loaded?.contextSize, 512);
    assert.equal(loaded.body.loaded?.parallel, 1);
    const saved = JSON.parse(fs.readFileSync(path.join(t.dataDir, "model-settings.json"), "utf8")) as Record<
      string,
      unknown
    >;
    assert.deepEqual(saved[A], { contextSize: 512, parallel: 1 });
    assert.equal((await api(t, "POST", "/api/models/no-such-model/load")).status, 404);
  });
});

describe("a busy model is waited for, boundedly, before it can be evicted", () => {
  let t: TestServer;

  before(async () => {
    const est = async (f: string) =>
      (await estimateModelMemory([await modelPath(`${f}.gguf`)], { contextSize: 2048, sequences: 1 })).total;
    const [b, c] = [await est(B), await est(C)];
    const budget = Math.ceil(Math.max(b, c) / MiB) + 1;
    assert.ok(b + c > budget * MiB);
    t = await startTestServer(
      { parallel: 1, ctxSize: 2048, modelIdleTimeout: 0, modelMemoryMb: budget, modelLoadTimeout: 2 },
      { withModel: false },
    );
    await linkModels(t, [`${B}.gguf`, `${C}.gguf`]);
  });
  after(() => t?.close());

  test("while C generates, a request for B gets a 503 with Retry-After; once C is idle, B loads", async () => {
    // Loading may outlast the 2 s bound on a busy machine: the load goes on and a later call finds it done.
    await api(t, "POST", `/api/models/${C}/load`);
    await waitFor(`${C} to load`, async () => (await stateOf(t, C)) === "loaded");
    const controller = new AbortController();
    // bench-86M never emits end-of-text: this keeps C busy until it is aborted.
    const stream = await t.client.completions.create(
      { model: C, prompt: "Once", max_tokens: 2000, stream: true },
      { signal: controller.signal },
    );
    const iterator = stream[Symbol.asyncIterator]();
    const first = await iterator.next();
    assert.equal(first.done, false, "C is generating");

    const blocked = await api<{ error: { code: string; message: string } }>(t, "POST", "/v1/completions", {
      model: B,
      prompt: "x",
      max_tokens: 2,
    });
    assert.equal(blocked.status, 503, JSON.stringify(blocked.body));
    assert.equal(blocked.body.error.code, "not_ready");
    assert.match(blocked.body.error.message, /other models are busy/);
    assert.ok(Number(blocked.headers.get("retry-after")) > 0);
    assert.equal(await stateOf(t, C), "loaded", "the busy model was not evicted");

    controller.abort();
    await iterator.return?.();
    let reply = await complete(t, B).catch((err: { status?: number }) => err);
    for (let i = 0; i < 20 && (reply as { status?: number }).status === 503; i++)
      reply = await complete(t, B).catch((err: { status?: number }) => err);
    assert.ok("choices" in reply && reply.choices[0]!.text.length > 0, String(reply));
    assert.equal(await stateOf(t, B), "loaded");
    assert.equal(await stateOf(t, C), "unloaded");
  });
});

describe("idle unload", () => {
  let t: TestServer;

  before(async () => {
    // --model is loaded at start and pinned; models loaded on demand unload after 1 s idle.
    t = await startTestServer({ modelIdleTimeout: 1, parallel: 1, ctxSize: 256 });
    await linkModels(t, [`${B}.gguf`]);
  });
  after(() => t?.close());

  test("a model loaded on demand unloads once idle and loads again on the next request; --model stays", async () => {
    const pinned = await api<ModelView>(t, "GET", `/api/models/${A}`);
    assert.equal(pinned.body.state, "loaded");
    assert.equal(pinned.body.pinned, true);

    await complete(t, B);
    assert.equal(await stateOf(t, B), "loaded");
    await waitFor(`${B} to unload`, async () => (await stateOf(t, B)) === "unloaded");
    assert.equal(await metricValue(t.url, `hearth_model_loaded{model="${B}"}`), 0);
    assert.equal(await metricValue(t.url, `hearth_model_state{model="${B}",state="unloaded"}`), 1);
    assert.equal(await stateOf(t, A), "loaded", "the pinned --model is never unloaded for being idle");

    await complete(t, B);
    assert.equal(await stateOf(t, B), "loaded");
    assert.equal(await metricValue(t.url, `hearth_model_loads_total{model="${B}"}`), 2);
    const reply = await complete(t, A);
    assert.ok(reply.choices[0]!.text.length > 0);
  });
});

describe("a draft model counts against the memory budget", () => {
  let t: TestServer;

  before(async () => {
    // Room for stories260K with its contexts, not for stories260K plus bench-86M drafting for it.
    const est = async (f: string) =>
      (await estimateModelMemory([await modelPath(`${f}.gguf`)], { contextSize: 256, sequences: 1 })).total;
    const [target, draft] = [await est(A), await est(C)];
    const budget = Math.ceil((target * 2) / MiB) + 1;
    assert.ok(target + draft > budget * MiB, "the draft does not fit beside the model");
    t = await startTestServer(
      { parallel: 1, ctxSize: 256, modelIdleTimeout: 0, modelMemoryMb: budget },
      { withModel: false },
    );
    await linkModels(t, [`${A}.gguf`, `${C}.gguf`]);
  });
  after(() => t?.close());

  test("a model whose draft would pass the budget is refused; without the draft it loads", async () => {
    assert.equal((await api(t, "PUT", `/api/models/${A}/settings`, { draftModel: C })).status, 200);
    const res = await api<{ error: { code: string; message: string } }>(t, "POST", "/v1/completions", {
      model: A,
      prompt: "x",
      max_tokens: 2,
    });
    assert.equal(res.status, 503, JSON.stringify(res.body));
    assert.equal(res.body.error.code, "insufficient_memory");
    assert.equal(await stateOf(t, A), "error");
    assert.equal((await api(t, "PUT", `/api/models/${A}/settings`, {})).status, 200);
    const ok = await complete(t, A);
    assert.ok(ok.choices[0]!.text.length > 0);
    assert.equal(await stateOf(t, A), "loaded");
  });
});
