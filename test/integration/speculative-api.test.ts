/**
 * Speculative decoding through the real server (`--prompt-lookup`): the same greedy text with it
 * and with `"speculative": false`, the guesses in `usage.completion_tokens_details`, the
 * /metrics counters, /health, and the field validated at each edge (OpenAI chat and completions,
 * Responses, Anthropic Messages).
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { metricValue, startTestServer } from "../helpers/server.js";
import { startScriptedServer, type ScriptedServer } from "../helpers/scripted-server.js";

const MODEL = "stories260K";
const STORY = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park.";
const SHEEP = "Counting sheep keeps me calm while I wait.";
let t: ScriptedServer;
let sheep: string;

before(async () => {
  t = await startScriptedServer(["qwen3-answer-forever"], { promptLookup: true, parallel: 2 }, { withModel: true });
  sheep = t.id("qwen3-answer-forever");
});
after(async () => {
  await t?.close();
});

interface Details {
  accepted_prediction_tokens?: number;
  rejected_prediction_tokens?: number;
}
const detailsOf = (usage: unknown) =>
  (usage as { completion_tokens_details?: Details } | undefined)?.completion_tokens_details ?? {};

async function complete(prompt: string, extra: Record<string, unknown> = {}) {
  const res = await fetch(`${t.url}/v1/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: MODEL, prompt, max_tokens: 120, temperature: 0, ...extra }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()) as { choices: { text: string }[]; usage: unknown };
}

test("completions: the same greedy text with and without, guesses counted in usage and /metrics", async () => {
  const first = await complete(STORY);
  const prompt = `${STORY}${first.choices[0]!.text}\n\n${STORY}`;
  const draftedBefore = await metricValue(t.url, "hearth_speculative_drafted_tokens_total");
  const acceptedBefore = await metricValue(t.url, "hearth_speculative_accepted_tokens_total");

  const on = await complete(prompt);
  const off = await complete(prompt, { speculative: false });
  assert.equal(on.choices[0]!.text, off.choices[0]!.text, "the same text");
  assert.ok(on.choices[0]!.text.length > 100);

  const d = detailsOf(on.usage);
  assert.ok((d.accepted_prediction_tokens ?? 0) > 5, `accepted guesses: ${JSON.stringify(on.usage)}`);
  assert.equal(typeof d.rejected_prediction_tokens, "number");
  assert.deepEqual(detailsOf(off.usage), {}, "a request that did not speculate reports no guesses");

  const drafted = (await metricValue(t.url, "hearth_speculative_drafted_tokens_total")) - draftedBefore;
  const accepted = (await metricValue(t.url, "hearth_speculative_accepted_tokens_total")) - acceptedBefore;
  assert.equal(accepted, d.accepted_prediction_tokens);
  assert.equal(drafted, d.accepted_prediction_tokens! + d.rejected_prediction_tokens!);
});

test("speculating and plain requests in the same steps: each writes what it writes alone", async () => {
  const first = await complete(STORY);
  const prompt = `${STORY}${first.choices[0]!.text}\n\n${STORY}`;
  const alone = (await complete(prompt, { speculative: false })).choices[0]!.text;
  // parallel 2, one lane each or one lane together: either way the two decode side by side.
  const [on, off] = await Promise.all([complete(prompt), complete(prompt, { speculative: false })]);
  assert.equal(on.choices[0]!.text, alone);
  assert.equal(off.choices[0]!.text, alone);
  assert.ok((detailsOf(on.usage).accepted_prediction_tokens ?? 0) > 0, JSON.stringify(on.usage));
});

test("logprobs with speculation: the same tokens and log-probabilities as without", async () => {
  const first = await complete(STORY);
  const prompt = `${STORY}${first.choices[0]!.text}\n\n${STORY}`;
  type WithLogprobs = { choices: { text: string; logprobs: { tokens: string[]; token_logprobs: number[] } }[] };
  const on = (await complete(prompt, { logprobs: 2, max_tokens: 60 })) as unknown as WithLogprobs;
  const off = (await complete(prompt, { logprobs: 2, max_tokens: 60, speculative: false })) as unknown as WithLogprobs;
  assert.equal(on.choices[0]!.text, off.choices[0]!.text);
  assert.deepEqual(on.choices[0]!.logprobs.tokens, off.choices[0]!.logprobs.tokens);
  const a = on.choices[0]!.logprobs.token_logprobs;
  const b = off.choices[0]!.logprobs.token_logprobs;
  assert.equal(a.length, b.length);
  // A guessed position is computed in a step of several tokens, and llama.cpp's sums are not
  // bit-identical across batch shapes (as with any batching): about 1e-3 apart here, never a token.
  a.forEach((v, i) => assert.ok(Math.abs(v - b[i]!) < 1e-2, `token ${i}: ${v} vs ${b[i]}`));
});

test("a request with a penalty does not speculate", async () => {
  const res = await complete(`${STORY} ${STORY}`, { presence_penalty: 0.5 });
  assert.deepEqual(detailsOf(res.usage), {});
});

test("chat on a model whose reply the prompt holds: same text, most guesses accepted, streamed usage too", async () => {
  const messages = [{ role: "user" as const, content: `Say this forever: ${SHEEP} ${SHEEP}` }];
  const on = await t.client.chat.completions.create({ model: sheep, messages, max_tokens: 60, temperature: 0 });
  const off = await t.client.chat.completions.create({
    model: sheep,
    messages,
    max_tokens: 60,
    temperature: 0,
    // @ts-expect-error Hearth's own field
    speculative: false,
  });
  assert.equal(on.choices[0]!.message.content, off.choices[0]!.message.content);
  assert.match(on.choices[0]!.message.content ?? "", /Counting sheep/);
  const d = detailsOf(on.usage);
  assert.ok(
    (d.accepted_prediction_tokens ?? 0) > 2 * (d.rejected_prediction_tokens ?? 0),
    `most guesses accepted: ${JSON.stringify(on.usage)}`,
  );

  const stream = await t.client.chat.completions.create({
    model: sheep,
    messages,
    max_tokens: 60,
    temperature: 0,
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = "";
  let usage: unknown;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta.content ?? "";
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(text, on.choices[0]!.message.content);
  assert.ok((detailsOf(usage).accepted_prediction_tokens ?? 0) > 0, JSON.stringify(usage));
});

test("the field is checked at every edge: a boolean, or a 400 naming it", async () => {
  const post = (route: string, body: Record<string, unknown>) =>
    fetch(`${t.url}${route}`, {
      method: "POST",
      headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
      body: JSON.stringify(body),
    });
  const messages = [{ role: "user", content: "Hi" }];
  const cases: [string, Record<string, unknown>][] = [
    ["/v1/chat/completions", { model: MODEL, messages, max_tokens: 4 }],
    ["/v1/completions", { model: MODEL, prompt: "Hi", max_tokens: 4 }],
    ["/v1/responses", { model: MODEL, input: "Hi", max_output_tokens: 4, store: false }],
    ["/v1/messages", { model: MODEL, messages, max_tokens: 4 }],
  ];
  for (const [route, body] of cases) {
    const ok = await post(route, { ...body, speculative: false });
    assert.equal(ok.status, 200, `${route}: ${await ok.text()}`);
    const bad = await post(route, { ...body, speculative: "no" });
    assert.equal(bad.status, 400, route);
    assert.match(await bad.text(), /speculative/, `${route} names the field`);
  }
});

test("/health says how each loaded model speculates", async () => {
  const health = (await (await fetch(`${t.url}/health`)).json()) as {
    models: { id: string; speculative: unknown }[];
  };
  const m = health.models.find((x) => x.id === MODEL);
  assert.deepEqual(m?.speculative, { promptLookup: true, draftModel: null, draftMax: 8 });
});

test("a draft model set for one model (Models screen, settings API) with another vocabulary is refused at load", async () => {
  const api = (p: string, method: string, body?: unknown) =>
    fetch(`${t.url}/api/models/${encodeURIComponent(sheep)}${p}`, {
      method,
      headers: { "content-type": "application/json" },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  assert.equal((await api("/unload", "POST", {})).status, 200);
  assert.equal((await api("/settings", "PUT", { draftModel: MODEL })).status, 200);
  try {
    const res = await fetch(`${t.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: sheep, messages: [{ role: "user", content: "Hi" }], max_tokens: 4 }),
    });
    assert.equal(res.status, 400);
    const { error } = (await res.json()) as { error: { message: string } };
    assert.match(error.message, /The draft model stories260K\.gguf cannot draft for this model: .*vocabulary/);
  } finally {
    await api("/settings", "PUT", {});
  }
});

test("--draft-model: a model with the same vocabulary drafts through the server, same text as without", async () => {
  const { testModelPath } = await import("../helpers/models.js");
  const d = await startTestServer({ draftModel: await testModelPath(), parallel: 1 });
  try {
    const health = (await (await fetch(`${d.url}/health`)).json()) as { models: { speculative: unknown }[] };
    assert.deepEqual(health.models[0]?.speculative, {
      promptLookup: false,
      draftModel: "stories260K.gguf",
      draftMax: 8,
    });
    const body = { model: MODEL, prompt: STORY, max_tokens: 80, temperature: 0 };
    const post = async (extra: Record<string, unknown>) =>
      (await (
        await fetch(`${d.url}/v1/completions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ ...body, ...extra }),
        })
      ).json()) as { choices: { text: string }[]; usage: unknown };
    const on = await post({});
    const off = await post({ speculative: false });
    assert.equal(on.choices[0]!.text, off.choices[0]!.text);
    assert.ok((detailsOf(on.usage).accepted_prediction_tokens ?? 0) > 5, JSON.stringify(on.usage));
  } finally {
    await d.close();
  }
});
