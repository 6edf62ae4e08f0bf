/**
 * Ollama's API on its own port (`--ollama-port`, server/ollama/), through the official `ollama` npm
 * client against a real Hearth with stories260K (pinned with --model) and scripted models: chat and
 * generate, streamed (NDJSON) and not, `format` as a JSON schema, tools in Ollama's shape, thoughts,
 * `options` as sampling, `keep_alive` loading and unloading, embeddings, the model routes, and
 * errors in Ollama's `{"error": ...}` shape.
 */
import assert from "node:assert/strict";
import http from "node:http";
import { after, before, describe, test } from "node:test";
import { Ollama, type ChatResponse, type Message } from "ollama";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { scriptedModelsDir, type ScriptedModelName } from "../helpers/scripted-models.js";

const API_KEY = "ollama-test-key-7e1f";
const SCRIPTED: ScriptedModelName[] = ["qwen3-tool", "qwen3-answer", "qwen3-think"];
const TINY = "stories260K";

let t: TestServer;
let library: { dir: string; cleanup(): void } | undefined;
let ollama: Ollama;
let base: string;
const ids = new Map<ScriptedModelName, string>();
const model = (name: ScriptedModelName) => ids.get(name)!;
const auth = { Authorization: `Bearer ${API_KEY}` };

const weather = {
  type: "function",
  function: {
    name: "get_weather",
    description: "The weather in a city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
};

/** A raw request to the Ollama port: status, headers and the parsed body. */
async function call(path: string, body?: unknown, headers: Record<string, string> = auth) {
  const res = await fetch(`${base}${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { ...headers, ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) as Record<string, unknown> };
}

/** The thrown error's status and message (the client's ResponseError). */
async function failure(promise: Promise<unknown>): Promise<{ status: number; message: string }> {
  try {
    await promise;
  } catch (err) {
    return { status: (err as { status_code?: number }).status_code ?? 0, message: (err as Error).message };
  }
  assert.fail("expected the request to fail");
}

const loaded = async () => (await ollama.ps()).models.map((m) => m.name);

before(async () => {
  library = scriptedModelsDir(SCRIPTED);
  t = await startTestServer({ apiKey: API_KEY, modelDirs: [library.dir], parallel: 2, ollamaPort: 0 });
  assert.ok(t.server.ollamaUrl, "the Ollama port is listening");
  base = t.server.ollamaUrl;
  assert.notEqual(base, t.url);
  ollama = new Ollama({ host: base, headers: auth });
  const listed = (await t.client.models.list()).data.map((m) => m.id);
  for (const name of SCRIPTED) {
    const id = listed.find((m) => m.startsWith(`${name}-`));
    assert.ok(id, `${name} is listed`);
    ids.set(name, id);
  }
});
after(async () => {
  await t?.close();
  library?.cleanup();
});

describe("/api/chat", () => {
  test("not streamed: one reply with done, the reason and the counts", async () => {
    const res = await ollama.chat({
      model: TINY,
      messages: [{ role: "user", content: "Once upon a time" }],
      stream: false,
      options: { temperature: 0, num_predict: 12 },
    });
    assert.equal(res.model, TINY);
    assert.equal(res.message.role, "assistant");
    assert.ok(res.message.content.length > 0);
    assert.equal(res.done, true);
    assert.equal(res.done_reason, "length");
    assert.equal(res.eval_count, 12);
    assert.ok(res.prompt_eval_count > 0);
    assert.ok(res.total_duration >= res.eval_duration && res.eval_duration > 0);
    assert.ok(!Number.isNaN(Date.parse(String(res.created_at))));
  });

  test("streamed: NDJSON lines whose text is the unstreamed reply, the last one done", async () => {
    const request = {
      model: TINY,
      messages: [{ role: "user", content: "The little dog" }],
      options: { temperature: 0, num_predict: 16 },
    };
    const whole = await ollama.chat({ ...request, stream: false });
    const parts: ChatResponse[] = [];
    for await (const part of await ollama.chat({ ...request, stream: true })) parts.push(part);
    assert.ok(parts.length > 2, `${parts.length} lines`);
    assert.deepEqual(
      parts.map((p) => p.done),
      [...parts.slice(1).map(() => false), true],
    );
    assert.equal(parts.map((p) => p.message.content).join(""), whole.message.content);
    const last = parts.at(-1)!;
    assert.equal(last.done_reason, "length");
    assert.equal(last.eval_count, 16);
    assert.equal(last.prompt_eval_count, whole.prompt_eval_count);
  });

  test("format as a JSON schema: the reply parses and matches it", async () => {
    const res = await ollama.chat({
      model: TINY,
      messages: [{ role: "user", content: "A name" }],
      stream: false,
      format: {
        type: "object",
        properties: { name: { type: "string", maxLength: 10 }, age: { type: "integer", minimum: 1, maximum: 9 } },
        required: ["name", "age"],
      },
      options: { temperature: 0, num_predict: 200 },
    });
    const value = JSON.parse(res.message.content) as { name: unknown; age: unknown };
    assert.equal(typeof value.name, "string");
    assert.ok((value.name as string).length <= 10);
    assert.ok(Number.isInteger(value.age) && (value.age as number) >= 1 && (value.age as number) <= 9);
  });

  test('format "json": a JSON object', async () => {
    const res = await ollama.chat({
      model: TINY,
      messages: [{ role: "user", content: "JSON please" }],
      stream: false,
      format: "json",
      options: { temperature: 0, num_predict: 60 },
    });
    if (res.done_reason === "stop") {
      const value: unknown = JSON.parse(res.message.content);
      assert.ok(typeof value === "object" && value !== null && !Array.isArray(value));
    } else {
      assert.match(res.message.content, /^\s*\{/);
    }
  });

  test("tools: the call comes back in Ollama's shape, arguments as an object", async () => {
    const res = await ollama.chat({
      model: model("qwen3-tool"),
      messages: [{ role: "user", content: "What is the weather in Paris?" }],
      tools: [weather],
      stream: false,
      options: { temperature: 0 },
    });
    assert.deepEqual(res.message.tool_calls, [{ function: { name: "get_weather", arguments: { city: "Paris" } } }]);
    assert.equal(res.message.content, "");
    assert.equal(res.done_reason, "stop");
  });

  test("tools, streamed: one line carries the whole call before the done line", async () => {
    const parts: ChatResponse[] = [];
    const stream = await ollama.chat({
      model: model("qwen3-tool"),
      messages: [{ role: "user", content: "What is the weather in Paris?" }],
      tools: [weather],
      stream: true,
      options: { temperature: 0 },
    });
    for await (const part of stream) parts.push(part);
    const withCalls = parts.filter((p) => p.message.tool_calls?.length);
    assert.equal(withCalls.length, 1);
    assert.deepEqual(withCalls[0]!.message.tool_calls, [
      { function: { name: "get_weather", arguments: { city: "Paris" } } },
    ]);
    assert.ok(parts.at(-1)!.done);
    assert.ok(!parts.some((p) => p.message.content.includes("<tool_call>")));
  });

  test("a tool's result, paired with its call by tool_name, is answered", async () => {
    const messages: Message[] = [
      { role: "user", content: "What is the weather in Paris?" },
      {
        role: "assistant",
        content: "",
        tool_calls: [{ function: { name: "get_weather", arguments: { city: "Paris" } } }],
      },
      { role: "tool", content: '{"temperature_c": 21}', tool_name: "get_weather" },
    ];
    const res = await ollama.chat({ model: model("qwen3-answer"), messages, tools: [weather], stream: false });
    assert.equal(res.message.content, "Hello there!");
    const orphan = await failure(
      ollama.chat({
        model: model("qwen3-answer"),
        messages: [...messages.slice(0, 1), { role: "tool", content: "21", tool_name: "get_weather" }],
        stream: false,
      }),
    );
    assert.equal(orphan.status, 400);
    assert.match(orphan.message, /get_weather/);
  });

  test("a thinking model's thoughts come back in message.thinking, apart from the answer", async () => {
    const res = await ollama.chat({
      model: model("qwen3-think"),
      messages: [{ role: "user", content: "Count" }],
      stream: false,
    });
    assert.equal(res.message.thinking?.trim(), "Let me count.");
    assert.equal(res.message.content.trim(), "Hello there!");
  });
});

describe("/api/generate", () => {
  test("not streamed and streamed give the same text; raw skips the chat template", async () => {
    const request = { model: TINY, prompt: "Lily went to the park", options: { temperature: 0, num_predict: 10 } };
    const whole = await ollama.generate({ ...request, stream: false });
    assert.equal(whole.done, true);
    assert.equal(whole.eval_count, 10);
    assert.ok((whole.response ?? "").length > 0);
    let text = "";
    let last;
    for await (const part of await ollama.generate({ ...request, stream: true })) {
      text += part.response;
      last = part;
    }
    assert.equal(text, whole.response);
    assert.equal(last?.done, true);
    const raw = await ollama.generate({ ...request, raw: true, stream: false });
    assert.equal(raw.eval_count, 10);
    assert.ok(raw.prompt_eval_count < whole.prompt_eval_count, "no chat template around a raw prompt");
  });

  test("options: stop, seed and repeat_penalty reach the sampler", async () => {
    const request = { model: TINY, prompt: "Once upon a time", stream: false as const };
    const greedy = await ollama.generate({ ...request, options: { temperature: 0, num_predict: 40 } });
    const text = greedy.response ?? "";
    const word = text.trim().split(/\s+/)[3]!;
    const stopped = await ollama.generate({ ...request, options: { temperature: 0, num_predict: 40, stop: [word] } });
    assert.equal(stopped.response, text.slice(0, text.indexOf(word)));
    const penalised = await ollama.generate({
      ...request,
      options: { temperature: 0, num_predict: 40, repeat_penalty: 1.8 },
    });
    assert.notEqual(penalised.response, greedy.response, "repeat_penalty changes a greedy reply");
    const seeded = { ...request, options: { temperature: 1, seed: 42, num_predict: 20 } };
    assert.equal((await ollama.generate(seeded)).response, (await ollama.generate(seeded)).response);
  });

  test("options the server decides are ignored with a warning; unsupported samplers are refused", async () => {
    const res = await call("/api/generate", {
      model: TINY,
      prompt: "Hi",
      stream: false,
      options: { num_ctx: 8192, num_predict: 2, mirostat: 0 },
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("x-hearth-warnings") ?? "", /options\.num_ctx: ignored/);
    const mirostat = await call("/api/generate", { model: TINY, prompt: "Hi", options: { mirostat: 2 } });
    assert.equal(mirostat.status, 400);
    assert.match(String(mirostat.json().error), /mirostat/);
    const penalty = await call("/api/generate", { model: TINY, prompt: "Hi", options: { repeat_penalty: 0 } });
    assert.equal(penalty.status, 400);
    assert.match(String(penalty.json().error), /repetition_penalty|repeat_penalty/);
  });
});

describe("keep_alive", () => {
  test("an empty prompt loads the model; with keep_alive 0 it unloads it", async () => {
    const id = model("qwen3-answer");
    const load = await ollama.generate({ model: id, prompt: "", stream: false });
    assert.equal(load.done_reason, "load");
    assert.ok((await loaded()).includes(id));
    const running = (await ollama.ps()).models.find((m) => m.name === id)!;
    assert.ok(running.size > 0);
    assert.ok(Date.parse(String(running.expires_at)) > Date.now());
    const unload = await ollama.generate({ model: id, prompt: "", keep_alive: 0, stream: false });
    assert.equal(unload.done_reason, "unload");
    assert.ok(!(await loaded()).includes(id));
  });

  test("keep_alive 0 on a chat unloads the model once the reply is done", async () => {
    const id = model("qwen3-answer");
    const res = await ollama.chat({
      model: id,
      messages: [{ role: "user", content: "Hi" }],
      keep_alive: 0,
      stream: false,
    });
    assert.equal(res.message.content, "Hello there!");
    const deadline = Date.now() + 10_000;
    while ((await loaded()).includes(id) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.ok(!(await loaded()).includes(id), "unloaded");
    assert.ok((await loaded()).includes(TINY), "the other model stays");
  });

  test('a duration ("10m") sets when the model expires', async () => {
    await ollama.generate({ model: TINY, prompt: "Hi", keep_alive: "10m", stream: false, options: { num_predict: 1 } });
    const running = (await ollama.ps()).models.find((m) => m.name === TINY)!;
    const left = Date.parse(String(running.expires_at)) - Date.now();
    assert.ok(left > 9 * 60_000 && left <= 10 * 60_000, `${left} ms left`);
    const bad = await call("/api/generate", { model: TINY, prompt: "Hi", keep_alive: "soon" });
    assert.equal(bad.status, 400);
    assert.match(String(bad.json().error), /keep_alive/);
  });
});

describe("embeddings and models", () => {
  test("/api/embed: one unit-length vector per input; /api/embeddings: the same vector", async () => {
    const res = await ollama.embed({ model: TINY, input: ["a red ball", "the cat sat"] });
    assert.equal(res.model, TINY);
    assert.equal(res.embeddings.length, 2);
    for (const v of res.embeddings) assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-3);
    assert.notDeepEqual(res.embeddings[0], res.embeddings[1]);
    assert.ok(res.prompt_eval_count > 0);
    const one = await ollama.embeddings({ model: TINY, prompt: "a red ball" });
    assert.equal(one.embedding.length, res.embeddings[0]!.length);
    one.embedding.forEach((x, i) => assert.ok(Math.abs(x - res.embeddings[0]![i]!) < 1e-6));
    const sized = await call("/api/embed", { model: TINY, input: "x", dimensions: 3 });
    assert.equal(sized.status, 400);
  });

  test("/api/tags lists /v1/models' ids with details from the GGUF header", async () => {
    const { models } = await ollama.list();
    const v1 = (await t.client.models.list()).data.map((m) => m.id).sort();
    assert.deepEqual(models.map((m) => m.name).sort(), v1);
    const tiny = models.find((m) => m.name === TINY)!;
    assert.equal(tiny.model, TINY);
    assert.equal(tiny.details.format, "gguf");
    assert.equal(tiny.details.family, "llama");
    assert.match(tiny.details.parameter_size, /^\d+(\.\d)?K$/);
    assert.ok(tiny.size > 0);
    assert.match(tiny.digest, /^[0-9a-f]{64}$/);
  });

  test("/api/show: capabilities and model_info; an unknown model is a 404", async () => {
    const res = await ollama.show({ model: model("qwen3-answer") });
    assert.ok(res.capabilities.includes("completion") && res.capabilities.includes("tools"));
    const info = res.model_info as unknown as Record<string, unknown>;
    assert.equal(info["general.architecture"], "qwen3");
    assert.equal(typeof info["qwen3.context_length"], "number");
    assert.equal(res.details.family, "qwen3");
    const missing = await call("/api/show", { model: "nope" });
    assert.equal(missing.status, 404);
  });

  test("/api/ps lists the loaded models; /api/version names the API and Hearth", async () => {
    const running = (await ollama.ps()).models.find((m) => m.name === TINY)!;
    assert.ok(running, "the --model one is loaded");
    assert.ok(running.size > 0);
    assert.equal(running.size_vram, 0);
    const version = await call("/api/version");
    assert.equal(version.status, 200);
    assert.match(String(version.json().version), /^\d+\.\d+\.\d+$/);
    assert.equal(typeof version.json().hearth, "string");
    assert.equal((await ollama.version()).version, version.json().version);
  });

  test("the root answers as Ollama's does", async () => {
    const res = await call("/", undefined, {});
    assert.equal(res.status, 200);
    assert.equal(res.text, "Ollama is running");
  });
});

describe("logprobs and history", () => {
  test("logprobs: one per token, with the top alternatives", async () => {
    const res = await call("/api/generate", {
      model: TINY,
      prompt: "Once",
      stream: false,
      logprobs: true,
      top_logprobs: 2,
      options: { temperature: 0, num_predict: 4 },
    });
    const body = res.json() as {
      logprobs: { token: string; logprob: number; top_logprobs: unknown[] }[];
      response: string;
    };
    assert.equal(body.logprobs.length, 4);
    assert.equal(body.logprobs.map((l) => l.token).join(""), body.response);
    for (const l of body.logprobs) {
      assert.ok(l.logprob <= 0);
      assert.equal(l.top_logprobs.length, 2);
    }
  });

  test("a chat is recorded in history as an API conversation", async () => {
    const marker = `ollama-history-${Date.now()}`;
    await ollama.chat({
      model: TINY,
      messages: [{ role: "user", content: marker }],
      stream: false,
      options: { num_predict: 2 },
    });
    // The recorder writes the turn as the reply ends: give it a moment.
    let found = "";
    for (let i = 0; i < 50 && !found.includes(marker); i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 50));
      const res = await fetch(`${t.url}/api/search?q=${encodeURIComponent(marker)}`, { headers: auth });
      found = JSON.stringify(await res.json());
    }
    assert.ok(found.includes(marker), found.slice(0, 300));
    const id = (JSON.parse(found) as { hits: { conversationId: string }[] }).hits[0]!.conversationId;
    const conversation = (await (await fetch(`${t.url}/api/conversations/${id}`, { headers: auth })).json()) as {
      source: string;
    };
    assert.equal(conversation.source, "api");
  });
});

describe("errors", () => {
  test("an unknown path is a 404 in Ollama's shape", async () => {
    const res = await call("/api/pull", { model: TINY });
    assert.equal(res.status, 404);
    assert.deepEqual(Object.keys(res.json()), ["error"]);
    assert.match(String(res.json().error), /\/api\/pull/);
  });

  test("bad input is a 400 in Ollama's shape, through the client too", async () => {
    const res = await call("/api/chat", { model: TINY, messages: [{ role: "robot", content: "x" }] });
    assert.equal(res.status, 400);
    assert.deepEqual(Object.keys(res.json()), ["error"]);
    const thrown = await failure(
      ollama.chat({ model: TINY, messages: [{ role: "user", content: "x", images: ["aGk="] }] }),
    );
    assert.equal(thrown.status, 400);
    assert.match(thrown.message, /images/);
  });

  test("an unknown model is a 404; name:latest finds the model", async () => {
    const missing = await failure(ollama.chat({ model: "nope", messages: [{ role: "user", content: "x" }] }));
    assert.equal(missing.status, 404);
    const latest = await ollama.generate({
      model: `${TINY}:latest`,
      prompt: "Hi",
      stream: false,
      options: { num_predict: 1 },
    });
    assert.equal(latest.model, `${TINY}:latest`);
    assert.equal(latest.eval_count, 1);
  });

  test("the same guards as /v1: a foreign Host, a foreign Origin, a cross-site request, a non-JSON body", async () => {
    const url = new URL(base);
    const raw = (path: string, headers: Record<string, string>, body?: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = http.request(
          { host: url.hostname, port: url.port, path, method: body ? "POST" : "GET", headers: { ...auth, ...headers } },
          (res) => {
            let text = "";
            res.on("data", (c: Buffer) => (text += c.toString()));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
          },
        );
        req.on("error", reject);
        req.end(body);
      });
    const refused = [
      await raw("/api/tags", { Host: "evil.example" }),
      await raw("/api/tags", { Origin: "https://evil.example" }),
      await raw("/api/tags", { "Sec-Fetch-Site": "cross-site" }),
      await raw("/api/chat", { "Content-Type": "text/plain" }, JSON.stringify({ model: TINY })),
    ];
    assert.deepEqual(
      refused.map((r) => r.status),
      [403, 403, 403, 415],
    );
    for (const r of refused) assert.deepEqual(Object.keys(JSON.parse(r.body) as object), ["error"], r.body);
  });

  test("without the API key: 401 in Ollama's shape", async () => {
    const res = await call("/api/tags", undefined, {});
    assert.equal(res.status, 401);
    assert.deepEqual(Object.keys(res.json()), ["error"]);
  });
});
