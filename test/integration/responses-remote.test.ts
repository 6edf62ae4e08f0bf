/**
 * /v1/responses and /v1/messages for a remote model: Hearth translates both to chat completions
 * for a provider that only has those. The upstream is a second, real Hearth with the test model.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { startHearth, upstreamMetric, type Hearth } from "../helpers/remote.js";

const UPSTREAM_KEY = "upstream-key-0a7c2e91";
const HEARTH_KEY = "hearth-key-9d34b6f0";
const LOCAL = "stories260K";
const REMOTE = "up/stories260K";
/** The SDK's types no longer list sampling fields; the API (and Hearth) still take them. */
const GREEDY: object = { temperature: 0 };

/** Generations the upstream ran (the remote provider sends it chat completions only). */
const generations = (upstream: Hearth) => upstreamMetric(upstream, "hearth_generations_total");

describe("remote models through /v1/responses and /v1/messages", () => {
  let upstream: Hearth;
  let hearth: Hearth;
  let anthropic: Anthropic;

  before(async () => {
    upstream = await startHearth(UPSTREAM_KEY, { parallel: 4 });
    hearth = await startHearth(HEARTH_KEY, { parallel: 2 });
    const res = await hearth.api("/api/providers", {
      body: {
        id: "up",
        name: "Upstream",
        kind: "openai-compatible",
        baseUrl: `${upstream.url}/v1`,
        apiKey: UPSTREAM_KEY,
      },
    });
    assert.equal(res.status, 201);
    anthropic = new Anthropic({ baseURL: hearth.url, apiKey: HEARTH_KEY, maxRetries: 0 });
  });
  after(async () => {
    await hearth?.close();
    await upstream?.close();
  });

  const direct = (system: string, content: string, max_tokens: number) =>
    upstream.client.chat.completions.create({
      model: LOCAL,
      messages: [
        { role: "system", content: system },
        { role: "user", content },
      ],
      ...GREEDY,
      max_tokens,
    });

  test("a response from a remote model is a chat completion upstream, with the same greedy text", async () => {
    const before = await generations(upstream);
    const res = await hearth.client.responses.create({
      model: REMOTE,
      instructions: "Tell stories.",
      input: "A dog found a bone",
      max_output_tokens: 16,
      temperature: 0,
    });
    assert.equal(await generations(upstream), before + 1);
    const expected = await direct("Tell stories.", "A dog found a bone", 16);
    assert.equal(res.output_text, expected.choices[0]!.message.content);
    assert.equal(res.usage?.output_tokens, 16);
    assert.equal(res.model, REMOTE);

    const next = await hearth.client.responses.create({
      model: REMOTE,
      instructions: "Tell stories.",
      input: "And then?",
      previous_response_id: res.id,
      max_output_tokens: 4,
    });
    assert.ok(
      (next.usage?.input_tokens ?? 0) > (res.usage?.input_tokens ?? 0) + 10,
      "the stored exchange went upstream with the new input",
    );
  });

  test("a streamed response from a remote model", async () => {
    const stream = await hearth.client.responses.create({
      model: REMOTE,
      input: "A cat",
      max_output_tokens: 8,
      stream: true,
    });
    const types: string[] = [];
    for await (const e of stream) types.push(e.type);
    assert.equal(types[0], "response.created");
    assert.ok(types.includes("response.output_text.delta"));
    assert.equal(types.at(-1), "response.incomplete");
  });

  test("a message from a remote model is a chat completion upstream, with the same greedy text", async () => {
    const before = await generations(upstream);
    const msg = await anthropic.messages.create({
      model: REMOTE,
      system: "Tell stories.",
      max_tokens: 16,
      ...GREEDY,
      messages: [{ role: "user", content: "A dog found a bone" }],
    });
    assert.equal(await generations(upstream), before + 1);
    const expected = await direct("Tell stories.", "A dog found a bone", 16);
    assert.equal(msg.content[0]?.type === "text" ? msg.content[0].text : "", expected.choices[0]!.message.content);
    assert.equal(msg.usage.output_tokens, 16);

    const stream = anthropic.messages.stream({
      model: REMOTE,
      max_tokens: 8,
      messages: [{ role: "user", content: "A cat" }],
    });
    const final = await stream.finalMessage();
    assert.equal(final.stop_reason, "max_tokens");
  });

  test("a forced tool call on a remote model comes back as tool_use and function_call", async () => {
    const tool = {
      name: "get_weather",
      input_schema: { type: "object" as const, properties: { city: { type: "string", maxLength: 12 } } },
    };
    const msg = await anthropic.messages.create({
      model: REMOTE,
      max_tokens: 100,
      tools: [tool],
      tool_choice: { type: "any" },
      messages: [{ role: "user", content: "Weather?" }],
    });
    const use = msg.content.find((b) => b.type === "tool_use");
    assert.ok(use?.type === "tool_use" && use.name === "get_weather");
    assert.equal(msg.stop_reason, "tool_use");

    const res = await hearth.client.responses.create({
      model: REMOTE,
      input: "Weather?",
      tools: [{ type: "function", name: "get_weather", parameters: tool.input_schema, strict: false }],
      tool_choice: "required",
      max_output_tokens: 100,
    });
    assert.equal(res.output.find((o) => o.type === "function_call")?.type, "function_call");
  });

  test("n choices go upstream as one request each; logprobs come back from the upstream", async () => {
    const res = await hearth.client.chat.completions.create({
      model: REMOTE,
      messages: [{ role: "user", content: "Hi" }],
      max_tokens: 4,
      n: 2,
      temperature: 1,
    });
    assert.equal(res.choices.length, 2);
    assert.equal(res.usage?.completion_tokens, 8);
    const withLogprobs = await hearth.client.chat.completions.create({
      model: REMOTE,
      messages: [{ role: "user", content: "Hi" }],
      max_tokens: 4,
      logprobs: true,
      top_logprobs: 2,
    });
    const content = withLogprobs.choices[0]?.logprobs?.content ?? [];
    assert.ok(content.length > 0, "the upstream's logprobs are passed through");
    for (const t of content) assert.ok(t.logprob <= 0, `logprob ${t.logprob} <= 0`);
  });
});
