/**
 * Usage per key and model (issue 20) through real HTTP and the official clients: what /api/usage
 * (JSON and CSV) and /metrics report equals the sum of the `usage` the responses returned, over
 * OpenAI chat (plain and streamed), completions, Anthropic messages and a failing request; keys
 * are told apart, and the secret appears nowhere.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { startTestServer, type TestServer } from "../helpers/server.js";

const MODEL = "stories260K";

let t: TestServer;
before(async () => {
  t = await startTestServer({ parallel: 2 });
});
after(() => t.close());

async function createKey(name: string): Promise<string> {
  const res = await fetch(`${t.url}/api/keys`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name, scope: "inference", rpm: 0, tpm: 0 }),
  });
  assert.equal(res.status, 201);
  return ((await res.json()) as { key: string }).key;
}

interface Row {
  day: string;
  keyId: string;
  keyName: string;
  model: string;
  requests: number;
  promptTokens: number;
  completionTokens: number;
  reasoningTokens: number;
  errors: number;
}

test("usage per key and model equals the sum of the usage the responses returned", async () => {
  const keyA = await createKey("alice");
  const keyB = await createKey("bob");
  const a = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: keyA, maxRetries: 0 });
  const b = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: keyB, maxRetries: 0 });
  const messages = [{ role: "user" as const, content: "Once upon a time" }];
  let prompt = 0;
  let completion = 0;

  const chat = await a.chat.completions.create({ model: MODEL, messages, max_tokens: 8 });
  prompt += chat.usage!.prompt_tokens;
  completion += chat.usage!.completion_tokens;

  const stream = await a.chat.completions.create({
    model: MODEL,
    messages,
    max_tokens: 6,
    stream: true,
    stream_options: { include_usage: true },
  });
  for await (const chunk of stream) {
    if (chunk.usage) {
      prompt += chunk.usage.prompt_tokens;
      completion += chunk.usage.completion_tokens;
    }
  }

  const text = await a.completions.create({ model: MODEL, prompt: "The cat", max_tokens: 5 });
  prompt += text.usage!.prompt_tokens;
  completion += text.usage!.completion_tokens;

  const anthropic = new Anthropic({ baseURL: t.url, apiKey: keyA, maxRetries: 0 });
  const msg = await anthropic.messages.create({ model: MODEL, max_tokens: 7, messages });
  prompt += msg.usage.input_tokens + (msg.usage.cache_read_input_tokens ?? 0);
  completion += msg.usage.output_tokens;

  // A request that fails before generating counts as a request with an error, under no model.
  await assert.rejects(a.chat.completions.create({ model: "no-such-model", messages, max_tokens: 1 }));

  const other = await b.chat.completions.create({ model: MODEL, messages, max_tokens: 3 });

  const res = await fetch(`${t.url}/api/usage`);
  assert.equal(res.status, 200);
  const report = (await res.json()) as { rows: Row[]; totals: Record<string, number>; from: string; to: string };
  const today = new Date().toISOString().slice(0, 10);
  assert.equal(report.to, today);
  const alice = report.rows.find((r) => r.keyName === "alice" && r.model === MODEL);
  assert.deepEqual(alice && { ...alice, keyId: "" }, {
    day: today,
    keyId: "",
    keyName: "alice",
    model: MODEL,
    requests: 4,
    promptTokens: prompt,
    completionTokens: completion,
    reasoningTokens: 0,
    errors: 0,
  });
  assert.equal(keyA.split("_")[1], alice!.keyId);
  const failed = report.rows.find((r) => r.keyName === "alice" && r.model === "");
  assert.equal(failed?.requests, 1);
  assert.equal(failed?.errors, 1);
  const bob = report.rows.find((r) => r.keyName === "bob" && r.model === MODEL);
  assert.equal(bob?.promptTokens, other.usage!.prompt_tokens);
  assert.equal(bob?.completionTokens, other.usage!.completion_tokens);
  assert.equal(report.totals.promptTokens, prompt + other.usage!.prompt_tokens);

  // One key only; the CSV file has the same numbers.
  const onlyBob = (await (await fetch(`${t.url}/api/usage?key=${bob!.keyId}`)).json()) as { rows: Row[] };
  assert.deepEqual(
    onlyBob.rows.map((r) => r.keyName),
    ["bob"],
  );
  const csv = await fetch(`${t.url}/api/usage?format=csv`);
  assert.match(csv.headers.get("content-type") ?? "", /^text\/csv/);
  assert.match(csv.headers.get("content-disposition") ?? "", /attachment; filename="hearth-usage-.*\.csv"/);
  const lines = (await csv.text()).trim().split("\r\n");
  assert.equal(lines[0], "day,keyId,keyName,model,requests,promptTokens,completionTokens,reasoningTokens,errors");
  assert.ok(lines.includes(`${today},${alice!.keyId},alice,${MODEL},4,${prompt},${completion},0,0`), lines.join("\n"));

  // /metrics: the key's name as the label, the same token sums, never a secret.
  const metrics = await (await fetch(`${t.url}/metrics`)).text();
  assert.match(metrics, new RegExp(`hearth_key_tokens_total\\{key="alice",kind="prompt"\\} ${prompt}\\n`));
  assert.match(metrics, new RegExp(`hearth_key_tokens_total\\{key="alice",kind="completion"\\} ${completion}\\n`));
  assert.match(metrics, /hearth_key_requests_total\{key="alice"\} 5\n/);
  assert.match(metrics, /hearth_key_errors_total\{key="alice"\} 1\n/);
  for (const key of [keyA, keyB]) assert.equal(metrics.includes(key.split("_")[2]!), false);

  // The key list says when each key was last used.
  const keys = (await (await fetch(`${t.url}/api/keys`)).json()) as {
    data: { name: string; lastUsedAt: number | null }[];
  };
  const lastUsed = keys.data.find((k) => k.name === "alice")?.lastUsedAt;
  assert.ok(lastUsed !== null && lastUsed !== undefined && Date.now() - lastUsed < 60_000);
});

test("bad ranges are refused naming the field", async () => {
  const res = await fetch(`${t.url}/api/usage?from=2026-02-01&to=2026-01-01`);
  assert.equal(res.status, 400);
  assert.equal(((await res.json()) as { error: { param: string } }).error.param, "from");
  const bad = await fetch(`${t.url}/api/usage?from=yesterday`);
  assert.equal(bad.status, 400);
});

test("Ollama's API on its own port: the key's limits, headers and usage apply there too", async () => {
  const o = await startTestServer({ parallel: 2, ollamaPort: 0 });
  try {
    const res = await fetch(`${o.url}/api/keys`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "ollama-tool", scope: "inference", rpm: 5, tpm: 0 }),
    });
    const { key } = (await res.json()) as { key: string };
    const chat = await fetch(`${o.server.ollamaUrl}/api/chat`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
      body: JSON.stringify({
        model: MODEL,
        stream: false,
        messages: [{ role: "user", content: "Once" }],
        options: { num_predict: 5 },
      }),
    });
    assert.equal(chat.status, 200);
    assert.equal(chat.headers.get("x-ratelimit-remaining-requests"), "4");
    const body = (await chat.json()) as { prompt_eval_count: number; eval_count: number };
    const report = (await (await fetch(`${o.url}/api/usage`)).json()) as { rows: Row[] };
    const row = report.rows.find((r) => r.keyName === "ollama-tool" && r.model === MODEL);
    assert.equal(row?.requests, 1);
    assert.equal(row?.promptTokens, body.prompt_eval_count);
    assert.equal(row?.completionTokens, body.eval_count);
  } finally {
    await o.close();
  }
});

test("a stream its client drops still counts: its tokens go to the key's usage and its token limit", async () => {
  const res = await fetch(`${t.url}/api/keys`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: "dropper", scope: "inference", rpm: 0, tpm: 40 }),
  });
  const { key } = (await res.json()) as { key: string };
  const client = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: key, maxRetries: 0 });
  // Far more tokens than the limit allows; the client reads 45 events and goes away.
  const stream = await client.completions.create({
    model: MODEL,
    prompt: "Once upon a time",
    max_tokens: 4000,
    stream: true,
  });
  let events = 0;
  for await (const chunk of stream) {
    if (chunk.choices[0]?.text) events++;
    if (events === 45) break; // the SDK aborts the request
  }
  // The server notices at its next event and counts what was sent.
  let row: Row | undefined;
  for (let i = 0; i < 100 && !row; i++) {
    const report = (await (await fetch(`${t.url}/api/usage`)).json()) as { rows: Row[] };
    row = report.rows.find((r) => r.keyName === "dropper" && r.model === MODEL);
    if (!row) await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(row, "the dropped stream was recorded");
  assert.equal(row.requests, 1);
  assert.equal(row.errors, 0);
  assert.ok(row.promptTokens > 0, JSON.stringify(row));
  assert.ok(row.completionTokens >= 45 && row.completionTokens < 4000, JSON.stringify(row));
  // The dropped tokens are spent: the next request is over the key's 40 tokens a minute.
  const next = await fetch(`${t.url}/v1/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: JSON.stringify({ model: MODEL, prompt: "Once", max_tokens: 2 }),
  });
  assert.equal(next.status, 429);
  assert.ok(Number(next.headers.get("retry-after")) > 0);
});
