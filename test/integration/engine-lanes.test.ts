/**
 * Decode lanes through the real server: a model's sequences spread over two contexts that decode
 * side by side (server/engine/runtime.ts, defaultLanes). Every lane gives the same greedy text as
 * one request alone, concurrent requests all complete, and /health, the metrics and the model's
 * info say how many lanes run.
 */
import assert from "node:assert/strict";
import os from "node:os";
import { after, before, describe, test } from "node:test";
import { estimateModelMemory } from "../../server/engine/gguf-info.js";
import { defaultLanes } from "../../server/engine/runtime.js";
import { modelPath, testModelPath } from "../helpers/models.js";
import { metricValue, startTestServer, type TestServer } from "../helpers/server.js";

const MODEL = "stories260K";
const PROMPTS = [
  "Once upon a time",
  "The little dog",
  "Lily and Tom went",
  "One day a bird",
  "The sun was",
  "A big red ball",
];
let t: TestServer;

before(async () => {
  t = await startTestServer({ parallel: 4, lanes: 2 });
});
after(() => t.close());

const greedy = async (prompt: string) =>
  (await t.client.completions.create({ model: MODEL, prompt, max_tokens: 24, temperature: 0 })).choices[0]?.text ?? "";

test("/health, the model's info and the engine metric report the lanes", async () => {
  const health = (await (await fetch(`${t.url}/health`)).json()) as {
    engine: { lanes: number };
    models: { lanes: number; parallel: number }[];
  };
  assert.equal(health.engine.lanes, 2);
  assert.equal(health.models[0]?.lanes, 2);
  assert.equal(health.models[0]?.parallel, 4);
  const metrics = await (await fetch(`${t.url}/metrics`)).text();
  assert.match(metrics, /hearth_engine_info\{[^}]*lanes="2"[^}]*\} 1/, "hearth_engine_info carries the lanes");
});

test("/health says how many of a model's layers are on the GPU and what the GPU has: none on the CPU", async () => {
  const health = (await (await fetch(`${t.url}/health`)).json()) as {
    engine: { gpu: string | false; gpuDevices: string[]; vram: unknown };
    models: { gpuLayers: number; totalLayers: number; batchSize: number }[];
  };
  assert.equal(health.engine.gpu, false);
  assert.deepEqual(health.engine.gpuDevices, []);
  assert.equal(health.engine.vram, null);
  // stories260K: 5 blocks and the output layer, as llama.cpp counts what it can offload.
  assert.deepEqual([health.models[0]?.gpuLayers, health.models[0]?.totalLayers], [0, 6]);
  assert.equal(
    health.models[0]?.batchSize,
    512,
    "node-llama-cpp's default batch on the CPU (gpu-sizing.ts is GPU-only)",
  );
});

test("concurrent requests over both lanes give the same greedy text as each alone", async () => {
  const alone: string[] = [];
  for (const p of PROMPTS) alone.push(await greedy(p));
  assert.ok(
    alone.every((text) => text.length > 0),
    "text was generated",
  );
  // Six at once over four sequences: both lanes busy, two requests queued for the first free slot.
  const together = await Promise.all(PROMPTS.map(greedy));
  assert.deepEqual(together, alone, "no lane changes a token");
  assert.equal(await metricValue(t.url, "hearth_busy_sequences"), 0, "every sequence was given back");
});

test("eight concurrent streams through two lanes all finish with text", async () => {
  const streams = await Promise.all(
    Array.from({ length: 8 }, async (_, i) => {
      const stream = await t.client.chat.completions.create({
        model: MODEL,
        messages: [{ role: "user", content: `Tell me story number ${i}` }],
        max_tokens: 32,
        stream: true,
      });
      let text = "";
      let finish: string | null | undefined = null;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? "";
        finish = chunk.choices[0]?.finish_reason ?? finish;
      }
      return { text, finish };
    }),
  );
  for (const [i, s] of streams.entries()) {
    assert.ok(s.text.length > 0, `stream ${i} has text`);
    assert.ok(s.finish === "length" || s.finish === "stop", `stream ${i} finished: ${s.finish}`);
  }
});

test("a conversation's next turn still reuses its cached prefix with lanes", async () => {
  const messages = [
    { role: "system" as const, content: "You are a storyteller who tells long tales about animals in the forest." },
    { role: "user" as const, content: "Tell me about the fox and the owl who lived by the river." },
  ];
  const first = await t.client.chat.completions.create({ model: MODEL, messages, max_tokens: 16, temperature: 0 });
  const reply = first.choices[0]?.message.content ?? "";
  const second = await t.client.chat.completions.create({
    model: MODEL,
    messages: [...messages, { role: "assistant", content: reply }, { role: "user", content: "And then?" }],
    max_tokens: 4,
  });
  const cached = second.usage?.prompt_tokens_details?.cached_tokens ?? 0;
  assert.ok(
    cached >= (first.usage?.prompt_tokens ?? 0) - 1,
    `cached ${cached} of the first turn's ${first.usage?.prompt_tokens} prompt tokens`,
  );
});

describe("automatic lanes", () => {
  let auto: TestServer;
  before(async () => {
    auto = await startTestServer({ parallel: 4 });
  });
  after(() => auto.close());

  const loadedLanes = async () => {
    const res = await fetch(`${auto.url}/api/models/${MODEL}`);
    return ((await res.json()) as { loaded: { lanes: number } | null }).loaded?.lanes;
  };

  test("follow a model's own thread count, so lanes x threads never exceeds the cores", async () => {
    const cores = os.availableParallelism();
    await auto.client.completions.create({ model: MODEL, prompt: "Once", max_tokens: 2 });
    assert.equal(await loadedLanes(), defaultLanes(cores, 1, false), "one thread per lane by default");
    const put = await fetch(`${auto.url}/api/models/${MODEL}/settings`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ threads: cores }),
    });
    assert.equal(put.status, 200);
    assert.equal((await fetch(`${auto.url}/api/models/${MODEL}/unload`, { method: "POST" })).status, 200);
    assert.equal((await fetch(`${auto.url}/api/models/${MODEL}/load`, { method: "POST" })).status, 200);
    assert.equal(await loadedLanes(), 1, `a model on all ${cores} cores gets one lane`);
    const reply = await auto.client.completions.create({ model: MODEL, prompt: "Once upon a time", max_tokens: 8 });
    assert.ok((reply.choices[0]?.text ?? "").length > 0, "it still generates");
  });
});

test("the memory estimate counts each lane's own context buffers", async () => {
  const files = [await testModelPath()];
  const one = await estimateModelMemory(files, { contextSize: 512, sequences: 4 });
  const two = await estimateModelMemory(files, { contextSize: 512, sequences: 4, lanes: 2 });
  assert.ok(two.total > one.total, `two lanes ${two.total} B > one ${one.total} B`);
  assert.deepEqual(
    await estimateModelMemory(files, { contextSize: 512, sequences: 4, lanes: 1 }),
    one,
    "one lane is the old estimate",
  );
});

describe("lanes of one sequence on a model big enough for split threads", () => {
  // bench-86M is over the 32 MiB below which batched steps keep one thread, so each lane's prompts
  // go through its StepBatcher with the batch threads (local-model.ts, laneBatcher). Its weights are
  // random, so near-tied logits make exact text comparisons brittle: the stories260K tests above
  // check that lanes change no token.
  let big: TestServer;
  const BIG = "bench-86M-q4_k_m";
  before(async () => {
    big = await startTestServer({
      model: await modelPath(`${BIG}.gguf`),
      parallel: 2,
      lanes: 2,
      threads: 1,
      batchThreads: 2,
      ctxSize: 512,
    });
  });
  after(() => big.close());

  test("prompts decode side by side and alone, and every request finishes", async () => {
    const prompts = [
      "the quick brown fox jumps over the lazy dog ".repeat(8),
      "once upon a time in a land far away ".repeat(8),
    ];
    const run = (prompt: string) =>
      big.client.completions.create({ model: BIG, prompt, max_tokens: 12, temperature: 0 });
    const results = [await run(prompts[0]!), ...(await Promise.all(prompts.map((p) => run(`${p} again`))))];
    for (const r of results) {
      assert.equal(r.usage?.completion_tokens, 12, JSON.stringify(r.usage));
      assert.equal(r.choices[0]?.finish_reason, "length");
    }
    const health = (await (await fetch(`${big.url}/health`)).json()) as {
      models: { lanes: number }[];
      engine: { batchThreads: number };
    };
    assert.equal(health.models[0]?.lanes, 2);
    assert.equal(health.engine.batchThreads, 2);
    assert.equal(await metricValue(big.url, "hearth_busy_sequences"), 0, "both sequences were given back");
  });
});
