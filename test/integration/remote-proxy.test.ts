/**
 * Hearth proxying to a remote OpenAI-compatible server. The upstream is a second, real Hearth
 * (the test model, its own API key); the client is the official `openai` package. Discovery,
 * routing, passthrough of streams and usage, and cancellation that reaches the upstream.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startHearth, upstreamMetric, waitFor, type Hearth } from "../helpers/remote.js";

const UPSTREAM_KEY = "upstream-key-6f1d0c2b9a";
const LOCAL = "stories260K";
const REMOTE = "up/stories260K";
const user = (content: string) => [{ role: "user" as const, content }];

describe("remote provider: proxying to another OpenAI-compatible server", () => {
  let upstream: Hearth;
  let hearth: Hearth;

  before(async () => {
    upstream = await startHearth(UPSTREAM_KEY, { parallel: 4, ctxSize: 2048 });
    hearth = await startHearth("hearth-key-3c9e71d5", { parallel: 2 });
  });
  after(async () => {
    await hearth?.close();
    await upstream?.close();
  });

  test("adding a provider discovers its models, which /v1/models lists next to the local ones", async () => {
    const res = await hearth.api("/api/providers", {
      body: { id: "up", name: "Upstream Hearth", kind: "vllm", baseUrl: `${upstream.url}/v1`, apiKey: UPSTREAM_KEY },
    });
    assert.equal(res.status, 201);
    const view = (await res.json()) as {
      status: { state: string };
      availableModels: string[];
      discoveredModels: string[];
      hasApiKey: boolean;
    };
    assert.equal(view.status.state, "ok");
    assert.deepEqual(view.discoveredModels, [LOCAL]);
    assert.deepEqual(view.availableModels, [REMOTE]);
    assert.equal(view.hasApiKey, true);

    const models = await hearth.client.models.list();
    assert.deepEqual(models.data.map((m) => m.id).sort(), [LOCAL, REMOTE]);
    assert.equal(models.data.find((m) => m.id === REMOTE)?.owned_by, "up");
    assert.equal((await hearth.client.models.retrieve(REMOTE)).id, REMOTE);
  });

  test("requests for <provider>/<model> go upstream; local model names stay local", async () => {
    const before = await upstreamMetric(upstream, "hearth_generations_total");
    const remote = await hearth.client.chat.completions.create({
      model: REMOTE,
      messages: user("Once upon a time"),
      max_tokens: 8,
    });
    assert.equal(remote.model, REMOTE);
    assert.match(remote.id, /^chatcmpl-/);
    assert.equal(remote.usage?.completion_tokens, 8, "usage comes from the upstream");
    assert.equal(await upstreamMetric(upstream, "hearth_generations_total"), before + 1);

    const local = await hearth.client.chat.completions.create({
      model: LOCAL,
      messages: user("Once upon a time"),
      max_tokens: 8,
    });
    assert.equal(local.model, LOCAL);
    assert.equal(
      await upstreamMetric(upstream, "hearth_generations_total"),
      before + 1,
      "the local request did not go upstream",
    );
  });

  test("the proxied reply is the upstream's: same greedy text as asking the upstream directly", async () => {
    const ask = { messages: user("Tell me about a dog"), temperature: 0, max_tokens: 24, seed: 7 };
    const direct = await upstream.client.chat.completions.create({ model: LOCAL, ...ask });
    const proxied = await hearth.client.chat.completions.create({ model: REMOTE, ...ask });
    assert.equal(proxied.choices[0]?.message.content, direct.choices[0]?.message.content);
    assert.equal(proxied.choices[0]?.finish_reason, direct.choices[0]?.finish_reason);
    assert.deepEqual(proxied.usage?.completion_tokens, direct.usage?.completion_tokens);
  });

  test("streamed chat keeps Hearth's own id and model names, and passes the upstream's usage through", async () => {
    const stream = await hearth.client.chat.completions.create({
      model: REMOTE,
      messages: user("Tell me about a cat"),
      max_tokens: 16,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    assert.equal(chunks[0]?.choices[0]?.delta.role, "assistant");
    assert.equal(new Set(chunks.map((c) => c.id)).size, 1);
    assert.ok(chunks.every((c) => c.model === REMOTE));
    assert.ok(chunks.map((c) => c.choices[0]?.delta.content ?? "").join("").length > 0);
    assert.equal(chunks.at(-2)?.choices[0]?.finish_reason, "length");
    const usage = chunks.at(-1)?.usage;
    assert.equal(usage?.completion_tokens, 16);
    assert.ok((usage?.prompt_tokens ?? 0) > 0);
  });

  test("forced tool calls come back as tool_calls, streamed and not", async () => {
    const tools = [
      {
        type: "function" as const,
        function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } },
      },
    ];
    // Greedy, so the tiny model's argument string has one length: sampled ones can run past max_tokens.
    const ask = {
      model: REMOTE,
      messages: user("Weather in Oslo?"),
      tools,
      tool_choice: "required" as const,
      max_tokens: 200,
      temperature: 0,
    };
    const whole = await hearth.client.chat.completions.create(ask);
    assert.equal(whole.choices[0]?.finish_reason, "tool_calls");
    const call = whole.choices[0]?.message.tool_calls?.[0];
    assert.equal(call?.type === "function" ? call.function.name : undefined, "get_weather");
    assert.equal(typeof JSON.parse(call?.type === "function" ? call.function.arguments : "null").city, "string");

    const stream = await hearth.client.chat.completions.create({ ...ask, stream: true });
    const deltas = [];
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      deltas.push(...(chunk.choices[0]?.delta.tool_calls ?? []));
      finish ??= chunk.choices[0]?.finish_reason;
    }
    assert.equal(finish, "tool_calls");
    assert.equal(deltas[0]?.function?.name, "get_weather");
    assert.ok(deltas[0]?.id);
  });

  // RemoteProvider forwards logprobs and decodes them (unit-tested in remote-wire.test.ts), but the
  // /v1 edge (server/openai/generation.ts, providerFor) still refuses them for non-local providers.
  test("log-probabilities asked through the proxy are the upstream's", async () => {
    const ask = { messages: user("Once upon a time"), temperature: 0, max_tokens: 4, logprobs: true, top_logprobs: 2 };
    const direct = await upstream.client.chat.completions.create({ model: LOCAL, ...ask });
    const proxied = await hearth.client.chat.completions.create({ model: REMOTE, ...ask });
    const want = direct.choices[0]?.logprobs?.content ?? [];
    const got = proxied.choices[0]?.logprobs?.content ?? [];
    assert.equal(got.length, 4);
    assert.deepEqual(
      got.map((t) => t.token),
      want.map((t) => t.token),
    );
    got.forEach((t, i) => {
      assert.ok(Math.abs(t.logprob - want[i]!.logprob) < 1e-3);
      assert.equal(t.top_logprobs.length, 2);
    });
    const completion = await hearth.client.completions.create({
      model: REMOTE,
      prompt: "Once upon a time",
      max_tokens: 3,
      temperature: 0,
      logprobs: 2,
    });
    const lp = completion.choices[0]?.logprobs;
    assert.equal(lp?.tokens?.length, 3);
    assert.equal(lp?.token_logprobs?.length, 3);
    assert.equal(Object.keys(lp?.top_logprobs?.[0] ?? {}).length, 2);
  });

  test("legacy completions and embeddings (float and the SDK's base64) are proxied", async () => {
    const completion = await hearth.client.completions.create({
      model: REMOTE,
      prompt: "Once upon a time",
      max_tokens: 6,
    });
    assert.equal(completion.model, REMOTE);
    assert.equal(completion.usage?.completion_tokens, 6);

    const direct = await upstream.client.embeddings.create({ model: LOCAL, input: ["a red ball", "the sea"] });
    const viaBase64 = await hearth.client.embeddings.create({ model: REMOTE, input: ["a red ball", "the sea"] });
    const viaFloat = await hearth.client.embeddings.create({
      model: REMOTE,
      input: ["a red ball", "the sea"],
      encoding_format: "float",
    });
    assert.equal(viaBase64.model, REMOTE);
    assert.equal(viaBase64.data.length, 2);
    for (const got of [viaBase64, viaFloat]) {
      got.data.forEach((d, i) => {
        const want = direct.data[i]!.embedding;
        assert.equal(d.embedding.length, want.length);
        d.embedding.forEach((v, j) => assert.ok(Math.abs(v - want[j]!) < 1e-6));
      });
    }
    assert.equal(viaFloat.usage.prompt_tokens, direct.usage.prompt_tokens);
  });

  test("vLLM's guided_json reaches a vLLM upstream as itself; local models follow it and refuse vLLM fields they cannot", async () => {
    const schema = {
      type: "object",
      properties: { name: { type: "string", maxLength: 12 } },
      required: ["name"],
      additionalProperties: false,
    };
    const post = (body: Record<string, unknown>) =>
      fetch(`${hearth.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: "Bearer hearth-key-3c9e71d5" },
        body: JSON.stringify({ messages: user("Give me a name"), max_tokens: 40, temperature: 0, ...body }),
      });
    // Through the proxy: the upstream (a Hearth) gets guided_json itself, and its reply follows the schema.
    for (const model of [REMOTE, LOCAL]) {
      for (const guided of [schema, JSON.stringify(schema)]) {
        const res = await post({ model, guided_json: guided });
        const text = await res.text();
        assert.equal(res.status, 200, `${model}: ${text}`);
        const content = (JSON.parse(text) as { choices: { message: { content: string } }[] }).choices[0]!.message
          .content;
        const parsed = JSON.parse(content) as { name?: unknown };
        assert.equal(typeof parsed.name, "string", `${model} followed guided_json: ${content}`);
        assert.deepEqual(Object.keys(parsed), ["name"]);
      }
    }
    // What a local model cannot honour is refused by name, not ignored; through a vLLM provider it is forwarded
    // (here the upstream is a Hearth, so its refusal comes back as the upstream's 400).
    const regex = await post({ model: LOCAL, guided_regex: "[a-z]+" });
    assert.equal(regex.status, 400);
    const error = ((await regex.json()) as { error: { param: string; code: string } }).error;
    assert.deepEqual([error.param, error.code], ["guided_regex", "unsupported_parameter"]);
    const forwarded = await post({ model: REMOTE, guided_regex: "[a-z]+" });
    assert.equal(forwarded.status, 400, "the upstream saw guided_regex");
    assert.match(await forwarded.text(), /guided_regex/);
    const bad = await post({ model: LOCAL, guided_json: "{not json" });
    assert.equal(bad.status, 400);
  });

  test("schemas nested 10,000 deep for a remote model get a 400 naming the field, not a 500", async () => {
    let deep = '{"type":"string"}';
    for (let i = 0; i < 10_000; i++) deep = `{"type":"array","items":${deep}}`;
    const cases: [string, string][] = [
      ["guided_json", `"guided_json":${deep}`],
      [
        "response_format.json_schema.schema",
        `"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":${deep}}}`,
      ],
      ["tools.0.function.parameters", `"tools":[{"type":"function","function":{"name":"f","parameters":${deep}}}]`],
    ];
    for (const [param, field] of cases) {
      // Written by hand: JSON.stringify itself cannot nest this deep.
      const res = await fetch(`${hearth.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: "Bearer hearth-key-3c9e71d5" },
        body: `{"model":"${REMOTE}","messages":[{"role":"user","content":"hi"}],"max_tokens":2,${field}}`,
      });
      assert.equal(res.status, 400, param);
      const body = (await res.json()) as { error: { param: string; message: string } };
      assert.equal(body.error.param, param);
      assert.match(body.error.message, /nested more than 128 levels/);
    }
    const ok = await hearth.client.chat.completions.create({ model: REMOTE, messages: user("hi"), max_tokens: 2 });
    assert.equal(ok.choices.length, 1, "and the server keeps serving");
  });

  test("the same 10,000-deep schemas on /v1/responses and /v1/messages get a 400 naming the field, for remote and local models", async () => {
    let deep = '{"type":"string"}';
    for (let i = 0; i < 10_000; i++) deep = `{"type":"array","items":${deep}}`;
    const userMsg = `[{"role":"user","content":"hi"}]`;
    const cases: { path: string; param: string; body: (model: string) => string }[] = [
      {
        path: "/v1/responses",
        param: "text.format.schema",
        body: (m) =>
          `{"model":"${m}","input":"hi","max_output_tokens":2,"text":{"format":{"type":"json_schema","name":"x","schema":${deep}}}}`,
      },
      {
        path: "/v1/responses",
        param: "tools.0.parameters",
        body: (m) =>
          `{"model":"${m}","input":"hi","max_output_tokens":2,"tools":[{"type":"function","name":"f","parameters":${deep}}]}`,
      },
      {
        path: "/v1/messages",
        param: "tools.0.input_schema",
        body: (m) =>
          `{"model":"${m}","max_tokens":2,"messages":${userMsg},"tools":[{"name":"f","input_schema":${deep}}]}`,
      },
      {
        path: "/v1/messages",
        param: "output_config.format.schema",
        body: (m) =>
          `{"model":"${m}","max_tokens":2,"messages":${userMsg},"output_config":{"format":{"type":"json_schema","schema":${deep}}}}`,
      },
      {
        // A tool call the client sends back in the conversation: its input becomes the call's arguments text.
        path: "/v1/messages",
        param: "messages.1.content.0.input",
        body: (m) =>
          `{"model":"${m}","max_tokens":2,"messages":[{"role":"user","content":"hi"},` +
          `{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"f","input":${deep}}]},` +
          `{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"ok"}]}]}`,
      },
    ];
    for (const model of [REMOTE, LOCAL])
      for (const { path, param, body } of cases) {
        // Written by hand: JSON.stringify itself cannot nest this deep.
        const res = await fetch(`${hearth.url}${path}`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: "Bearer hearth-key-3c9e71d5" },
          body: body(model),
        });
        const text = await res.text();
        assert.equal(res.status, 400, `${model} ${path} ${param}: ${text.slice(0, 300)}`);
        const error = (JSON.parse(text) as { error: { param?: string; message: string } }).error;
        if (path === "/v1/responses") assert.equal(error.param, param, `${model} ${param}`);
        assert.match(error.message, /nested more than 128 levels/, `${model} ${param}`);
        if (path === "/v1/messages") assert.ok(error.message.includes(`'${param}'`), `${model}: ${error.message}`);
      }
    const ok = await hearth.client.chat.completions.create({ model: REMOTE, messages: user("hi"), max_tokens: 2 });
    assert.equal(ok.choices.length, 1, "and the server keeps serving");
  });

  test("counting tokens for a remote model is refused clearly: the upstream's tokenizer is not here", async () => {
    const res = await fetch(`${hearth.url}/v1/messages/count_tokens`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": "hearth-key-3c9e71d5" },
      body: JSON.stringify({ model: REMOTE, messages: [{ role: "user", content: "hi" }] }),
    });
    assert.equal(res.status, 400);
    const body = (await res.json()) as { type: string; error: { type: string; message: string } };
    assert.equal(body.type, "error");
    assert.match(body.error.message, /remote provider 'up'/);
  });

  test("a model the provider does not serve is a 404 listing what it does serve", async () => {
    await assert.rejects(
      hearth.client.chat.completions.create({ model: "up/no-such-model", messages: user("hi"), max_tokens: 2 }),
      (err: { status?: number; message?: string }) => err.status === 404 && /up\/stories260K/.test(err.message ?? ""),
    );
  });

  test("chunks pass through as they arrive: the first one reaches the client while the upstream is still generating", async (t) => {
    const gensBefore = await upstreamMetric(upstream, "hearth_generations_total");
    const started = performance.now();
    const stream = await hearth.client.chat.completions.create({
      model: REMOTE,
      messages: user("Once upon a time"),
      max_tokens: 600,
      stream: true,
    });
    let firstAt = 0;
    let busyAtFirst = -1;
    let gensAtFirst = -1;
    let text = "";
    for await (const chunk of stream) {
      const piece = chunk.choices[0]?.delta.content ?? "";
      if (piece && firstAt === 0) {
        firstAt = performance.now();
        busyAtFirst = await upstreamMetric(upstream, "hearth_busy_sequences");
        gensAtFirst = await upstreamMetric(upstream, "hearth_generations_total");
      }
      text += piece;
    }
    const endAt = performance.now();
    assert.ok(busyAtFirst >= 1, "the upstream was still generating when the first chunk arrived");
    assert.equal(gensAtFirst, gensBefore, "and had not finished this reply");
    assert.equal(await upstreamMetric(upstream, "hearth_generations_total"), gensBefore + 1);
    assert.ok(text.length > 0);
    // For the record (speed is measured in bench/proxy.ts, not asserted): the first text vs the whole reply.
    t.diagnostic(
      `first text after ${(firstAt - started).toFixed(1)} ms, reply done after ${(endAt - started).toFixed(1)} ms`,
    );
  });

  test("a client that disconnects mid-stream cancels the upstream request: its sequence is freed before the reply could finish", async () => {
    const gensBefore = await upstreamMetric(upstream, "hearth_generations_total");
    const stream = await hearth.client.chat.completions.create({
      model: REMOTE,
      messages: user("Once upon a time"),
      max_tokens: 1500,
      stream: true,
    });
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content) break; // leaving the loop aborts the request, as the SDK documents
    }
    const freed = await waitFor(async () => (await upstreamMetric(upstream, "hearth_busy_sequences")) === 0);
    assert.ok(freed, "the upstream's sequence was released");
    assert.equal(
      await upstreamMetric(upstream, "hearth_generations_total"),
      gensBefore,
      "the upstream generation was cancelled, not completed",
    );
    // The local model and the provider both still answer.
    const again = await hearth.client.chat.completions.create({
      model: REMOTE,
      messages: user("Hello"),
      max_tokens: 3,
    });
    assert.equal(again.usage?.completion_tokens, 3);
  });

  test("the app's own chats (/api/conversations) can use a remote model", async () => {
    const created = await hearth.api("/api/conversations", { body: { model: REMOTE, provider: "up" } });
    assert.equal(created.status, 201);
    const { id } = (await created.json()) as { id: string };
    const res = await hearth.api(`/api/conversations/${id}/messages`, {
      body: { content: "A story about a whale", stream: false, params: { maxTokens: 5 } },
    });
    assert.equal(res.status, 200, await res.clone().text());
    const reply = (await res.json()) as { model: string; usage: { completion_tokens: number } };
    assert.equal(reply.model, REMOTE);
    assert.equal(reply.usage.completion_tokens, 5);
    const detail = (await (await hearth.api(`/api/conversations/${id}`)).json()) as {
      messages: { role: string; model: string | null; status: string }[];
    };
    const stored = detail.messages.at(-1);
    assert.equal(stored?.role, "assistant");
    assert.equal(stored?.model, REMOTE);
    assert.equal(stored?.status, "complete");
  });

  test("/v1 chats through a provider are recorded in history like local ones", async () => {
    await hearth.client.chat.completions.create({
      model: REMOTE,
      messages: user("A history check about owls"),
      max_tokens: 4,
    });
    const res = await hearth.api("/api/conversations?source=api&model=up%2Fstories260K");
    assert.equal(res.status, 200);
    const page = (await res.json()) as { items: { model: string | null; provider: string | null }[] };
    assert.ok(page.items.length > 0);
    assert.equal(page.items[0]?.provider, "up");
  });
});
