/**
 * /v1/responses through the official `openai` client against a real server and the real tiny
 * model: text and items, streaming events, stored responses (previous_response_id, GET, DELETE),
 * function tools, structured output and errors.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Ajv } from "ajv";
import type OpenAI from "openai";
import { startTestServer, type TestServer } from "../helpers/server.js";

const MODEL = "stories260K";

type StreamEvent = { type: string; sequence_number: number } & Record<string, unknown>;

async function events(stream: AsyncIterable<unknown>): Promise<StreamEvent[]> {
  const out: StreamEvent[] = [];
  for await (const e of stream) out.push(e as StreamEvent);
  return out;
}

describe("/v1/responses", () => {
  let t: TestServer;
  let client: OpenAI;
  before(async () => {
    t = await startTestServer({ parallel: 4, chatTemplate: "chatML" });
    client = t.client;
  });
  after(() => t.close());

  const weather: OpenAI.Responses.FunctionTool = {
    type: "function",
    name: "get_weather",
    description: "Weather for a city",
    parameters: { type: "object", properties: { city: { type: "string", maxLength: 20 } } },
    strict: false,
  };

  test("text input with instructions: output text, usage and the request echoed back", async () => {
    const res = await client.responses.create({
      model: MODEL,
      instructions: "You tell stories.",
      input: "Tell me about a cat",
      max_output_tokens: 400,
      temperature: 0,
      metadata: { run: "1" },
    });
    assert.equal(res.object, "response");
    assert.match(res.id, /^resp_/);
    assert.equal(res.model, MODEL);
    assert.equal(res.instructions, "You tell stories.");
    assert.deepEqual(res.metadata, { run: "1" });
    assert.ok(["completed", "incomplete"].includes(res.status ?? ""));
    assert.ok(res.output_text.length > 0);
    const message = res.output[0];
    assert.ok(message?.type === "message" && message.role === "assistant");
    assert.equal(message.content[0]?.type === "output_text" ? message.content[0].text : "", res.output_text);
    assert.ok((res.usage?.input_tokens ?? 0) > 5);
    assert.equal(res.usage?.total_tokens, (res.usage?.input_tokens ?? 0) + (res.usage?.output_tokens ?? 0));
  });

  test("max_output_tokens cuts the reply: status incomplete with the reason", async () => {
    const res = await client.responses.create({ model: MODEL, input: "Once upon a time", max_output_tokens: 6 });
    assert.equal(res.status, "incomplete");
    assert.equal(res.incomplete_details?.reason, "max_output_tokens");
    assert.equal(res.usage?.output_tokens, 6);
  });

  test("structured input items: system, developer, user and assistant messages with content parts", async () => {
    const res = await client.responses.create({
      model: MODEL,
      max_output_tokens: 8,
      input: [
        { role: "developer", content: "Answer briefly." },
        { type: "message", role: "user", content: [{ type: "input_text", text: "Hello" }] },
        {
          type: "message",
          role: "assistant",
          content: [{ type: "output_text", text: "Hi there.", annotations: [] }],
        } as never,
        { role: "user", content: "Tell me a story" },
      ],
    });
    assert.ok(res.output_text.length > 0);
  });

  test("streaming sends the Responses event sequence, numbered, whose deltas add up to the final text", async () => {
    const stream = await client.responses.create({
      model: MODEL,
      input: "A dog and a ball",
      max_output_tokens: 12,
      stream: true,
    });
    const list = await events(stream);
    const types = list.map((e) => e.type);
    assert.deepEqual(types.slice(0, 4), [
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.content_part.added",
    ]);
    assert.deepEqual(types.slice(-4), [
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.incomplete",
    ]);
    assert.ok(types.filter((x) => x === "response.output_text.delta").length > 1);
    assert.deepEqual(
      list.map((e) => e.sequence_number),
      list.map((_, i) => i),
    );
    const text = list
      .filter((e) => e.type === "response.output_text.delta")
      .map((e) => e.delta as string)
      .join("");
    assert.equal(list.find((e) => e.type === "response.output_text.done")?.text, text);
    const final = list.at(-1)!.response as OpenAI.Responses.Response;
    const created = list[0]!.response as OpenAI.Responses.Response;
    assert.equal(final.id, created.id);
    assert.equal(created.status, "in_progress");
    const item = final.output[0];
    assert.equal(item?.type === "message" && item.content[0]?.type === "output_text" ? item.content[0].text : "", text);
    assert.equal(final.usage?.output_tokens, 12);
  });

  test("the SDK's stream helper accepts the stream and builds the final response", async () => {
    const stream = client.responses.stream({ model: MODEL, input: "Tell me a story", max_output_tokens: 10 });
    let deltas = "";
    stream.on("response.output_text.delta", (e) => (deltas += e.delta));
    const final = await stream.finalResponse();
    assert.equal(final.output_text, deltas);
    assert.ok(deltas.length > 0);
  });

  test("store + previous_response_id continue the conversation without resending it", async () => {
    const first = await client.responses.create({
      model: MODEL,
      instructions: "Tell short stories.",
      input: "Tell me about a little fox who found a shiny key in the snow.",
      max_output_tokens: 20,
      temperature: 0,
    });
    const second = await client.responses.create({
      model: MODEL,
      instructions: "Tell short stories.",
      input: "What happened next?",
      previous_response_id: first.id,
      max_output_tokens: 10,
      temperature: 0,
    });
    assert.equal(second.previous_response_id, first.id);
    const firstTotal = (first.usage?.input_tokens ?? 0) + (first.usage?.output_tokens ?? 0);
    assert.ok((second.usage?.input_tokens ?? 0) > firstTotal, "the first exchange is part of the second prompt");
    assert.ok(
      (second.usage?.input_tokens_details.cached_tokens ?? 0) >= (first.usage?.input_tokens ?? 0) - 1,
      "and its KV cache is reused",
    );

    // One conversation in history holds both exchanges, as the UI shows it.
    const list = (await (await fetch(`${t.url}/api/conversations?source=api`)).json()) as {
      items: { id: string; systemPrompt: string | null; messageCount: number }[];
    };
    const conv = list.items.find((c) => c.systemPrompt === "Tell short stories.");
    assert.ok(conv);
    const detail = (await (await fetch(`${t.url}/api/conversations/${conv.id}`)).json()) as {
      messages: { role: string; content: string }[];
    };
    assert.deepEqual(
      detail.messages.map((m) => m.role),
      ["system", "user", "assistant", "user", "assistant"],
    );
    assert.equal(detail.messages[2]?.content, first.output_text);
    assert.equal(detail.messages[4]?.content, second.output_text);
  });

  test("GET returns a stored response exactly as POST returned it, with every request field set", async () => {
    const created = await client.responses.create({
      model: MODEL,
      instructions: "Be kind.",
      input: [{ role: "user", content: "Weather in Oslo?" }],
      max_output_tokens: 60,
      temperature: 0.3,
      top_p: 0.9,
      user: "user-42",
      metadata: { run: "get-1", team: "hearth" },
      tools: [weather],
      tool_choice: { type: "function", name: "get_weather" },
      parallel_tool_calls: false,
      reasoning: { effort: "low" },
      truncation: "disabled",
      store: true,
    });
    // Nothing came back at its default: each of these was lost on GET before (issue 18).
    assert.equal(created.max_output_tokens, 60);
    assert.equal(created.user, "user-42");
    assert.equal(created.tools.length, 1);
    assert.deepEqual(created.tool_choice, { type: "function", name: "get_weather" });
    assert.equal(created.reasoning?.effort, "low");
    assert.ok(created.output.some((o) => o.type === "function_call"));
    const got = await client.responses.retrieve(created.id);
    assert.deepEqual(got, created);
  });

  test("GET of a streamed response equals its response.completed object: text.format, logprobs, cached tokens", async () => {
    const body = {
      model: MODEL,
      instructions: "You tell stories.",
      input: "Tell me about a cat",
      max_output_tokens: 12,
      temperature: 0,
      include: ["message.output_text.logprobs" as const],
      top_logprobs: 2,
      text: { format: { type: "json_object" as const } },
      metadata: { run: "get-2" },
    };
    // Twice, so the second prompt is served from the KV cache and reports cached tokens.
    await client.responses.create({ ...body, store: false });
    const list = await events(await client.responses.create({ ...body, stream: true }));
    const final = list.at(-1)!.response as OpenAI.Responses.Response;
    assert.ok(["response.completed", "response.incomplete"].includes(list.at(-1)!.type));
    assert.ok((final.usage?.input_tokens_details.cached_tokens ?? 0) > 0);
    const part = final.output[0]?.type === "message" ? final.output[0].content[0] : undefined;
    assert.ok(part?.type === "output_text" && (part.logprobs?.length ?? 0) > 0);
    const { output_text: _text, ...got } = await client.responses.retrieve(final.id);
    assert.deepEqual(got, final);
    assert.deepEqual(got.text, { format: { type: "json_object" } });
  });

  test("GET of a continued response; input_items lists what each request added, as items", async () => {
    const first = await client.responses.create({
      model: MODEL,
      instructions: "Be kind.",
      input: "Hello there",
      max_output_tokens: 8,
    });
    const second = await client.responses.create({
      model: MODEL,
      previous_response_id: first.id,
      tools: [weather],
      max_output_tokens: 6,
      input: [
        { role: "user", content: "Weather in Rome?" },
        { type: "function_call", call_id: "call_rome", name: "get_weather", arguments: '{"city":"Rome"}' },
        { type: "function_call_output", call_id: "call_rome", output: "sunny" },
      ],
    });
    assert.deepEqual(await client.responses.retrieve(second.id), second);
    assert.deepEqual(await client.responses.retrieve(first.id), first);
    const firstItems = await client.responses.inputItems.list(first.id);
    assert.deepEqual(
      firstItems.data.map((i) => (i.type === "message" ? i.role : i.type)),
      ["user"],
    );
    // Newest first; the function call is an item of its own, not an assistant message.
    const items = await client.responses.inputItems.list(second.id);
    assert.deepEqual(
      items.data.map((i) => (i.type === "message" ? i.role : i.type)),
      ["function_call_output", "function_call", "user"],
    );
    const call = items.data[1];
    assert.ok(call?.type === "function_call");
    assert.deepEqual([call.call_id, call.name, call.arguments], ["call_rome", "get_weather", '{"city":"Rome"}']);
  });

  test("DELETE removes a stored response: GET and previous_response_id then give 404", async () => {
    const created = await client.responses.create({ model: MODEL, input: "Goodbye", max_output_tokens: 5 });
    const deleted = await client.responses.delete(created.id);
    assert.deepEqual(deleted, { id: created.id, object: "response.deleted", deleted: true });
    await assert.rejects(client.responses.retrieve(created.id), (err: { status?: number }) => err.status === 404);
    await assert.rejects(
      client.responses.create({ model: MODEL, input: "x", previous_response_id: created.id }),
      (err: { status?: number; param?: string }) => err.status === 404 && err.param === "previous_response_id",
    );
    await assert.rejects(client.responses.delete(created.id), (err: { status?: number }) => err.status === 404);
  });

  test("store: false keeps nothing", async () => {
    const created = await client.responses.create({
      model: MODEL,
      input: "Secret",
      max_output_tokens: 5,
      store: false,
    });
    assert.equal((created as { store?: boolean }).store, false);
    await assert.rejects(client.responses.retrieve(created.id), (err: { status?: number }) => err.status === 404);
    await assert.rejects(
      client.responses.create({ model: MODEL, input: "x", previous_response_id: created.id }),
      (err: { status?: number }) => err.status === 404,
    );
    await assert.rejects(
      client.responses.retrieve("resp_not-a-real-id"),
      (err: { status?: number }) => err.status === 404,
    );
  });

  test("function tools: a forced call, then its output continues the stored conversation", async () => {
    const call = await client.responses.create({
      model: MODEL,
      input: "Weather in Paris?",
      tools: [weather],
      tool_choice: "required",
      max_output_tokens: 100,
    });
    const item = call.output.find((o) => o.type === "function_call");
    assert.ok(item?.type === "function_call");
    assert.equal(item.name, "get_weather");
    assert.match(item.call_id, /^call_/);
    assert.equal(typeof (JSON.parse(item.arguments) as { city?: unknown }).city, "string");
    assert.equal(call.status, "completed");

    // The call must be answered before anything else is said.
    await assert.rejects(
      client.responses.create({ model: MODEL, previous_response_id: call.id, input: "And?", tools: [weather] }),
      (err: { status?: number; param?: string }) => err.status === 400 && err.param === "input",
    );
    const answer = await client.responses.create({
      model: MODEL,
      previous_response_id: call.id,
      input: [{ type: "function_call_output", call_id: item.call_id, output: '{"tempC": 21}' }],
      tools: [weather],
      max_output_tokens: 10,
    });
    assert.ok(answer.output_text.length > 0);
    assert.ok((answer.usage?.input_tokens ?? 0) > (call.usage?.input_tokens ?? 0));
    const items = await client.responses.inputItems.list(answer.id);
    assert.deepEqual(
      items.data.map((i) => i.type),
      ["function_call_output"],
    );
  });

  test("function calls and their outputs can also be sent as input items", async () => {
    const res = await client.responses.create({
      model: MODEL,
      tools: [weather],
      max_output_tokens: 6,
      input: [
        { role: "user", content: "Weather in Rome?" },
        { type: "function_call", call_id: "call_abc", name: "get_weather", arguments: '{"city":"Rome"}' },
        { type: "function_call_output", call_id: "call_abc", output: "sunny" },
      ],
    });
    assert.ok(["completed", "incomplete"].includes(res.status ?? ""));
  });

  test("a named tool streams its arguments as function_call events", async () => {
    const stream = await client.responses.create({
      model: MODEL,
      input: "Weather?",
      tools: [weather],
      tool_choice: { type: "function", name: "get_weather" },
      max_output_tokens: 100,
      stream: true,
    });
    const list = await events(stream);
    const added = list.find((e) => e.type === "response.output_item.added");
    assert.equal((added?.item as { type: string }).type, "function_call");
    const args = list
      .filter((e) => e.type === "response.function_call_arguments.delta")
      .map((e) => e.delta as string)
      .join("");
    const done = list.find((e) => e.type === "response.function_call_arguments.done");
    assert.equal(done?.arguments, args);
    assert.equal(typeof (JSON.parse(args) as { city?: unknown }).city, "string");
    assert.equal(list.at(-1)?.type, "response.completed");
  });

  test("namespace tools: a forced call is a function_call with its namespace, sent back it continues", async () => {
    const tools: OpenAI.Responses.Tool[] = [
      {
        type: "namespace",
        name: "weather",
        description: "Weather tools",
        tools: [
          {
            type: "function",
            name: "get",
            description: "Weather for a city",
            parameters: weather.parameters,
          },
        ],
      },
      weather,
    ];
    const created = await client.responses.create({
      model: MODEL,
      input: "Weather in Paris?",
      tools,
      tool_choice: { type: "function", name: "get", namespace: "weather" } as never,
      max_output_tokens: 100,
    });
    const call = created.output.find((o) => o.type === "function_call");
    assert.ok(call?.type === "function_call");
    assert.deepEqual([call.name, call.namespace], ["get", "weather"]);
    assert.equal(typeof (JSON.parse(call.arguments) as { city?: unknown }).city, "string");
    assert.deepEqual(await client.responses.retrieve(created.id), created);

    const answer = await client.responses.create({
      model: MODEL,
      previous_response_id: created.id,
      input: [{ type: "function_call_output", call_id: call.call_id, output: "sunny" }],
      tools,
      max_output_tokens: 6,
    });
    assert.ok(answer.output_text.length > 0);
    // Sent back as an item, the call keeps its namespace apart from its name.
    const resent = await client.responses.create({
      model: MODEL,
      store: false,
      tools,
      max_output_tokens: 6,
      input: [
        { role: "user", content: "Weather in Rome?" },
        { type: "function_call", call_id: "call_ns", name: "get", namespace: "weather", arguments: '{"city":"Rome"}' },
        { type: "function_call_output", call_id: "call_ns", output: "sunny" },
      ],
    });
    assert.ok(["completed", "incomplete"].includes(resent.status ?? ""));
  });

  test("custom tools: a forced call is a custom_tool_call whose input is text, with its own stream events", async () => {
    const applyPatch: OpenAI.Responses.CustomTool = {
      type: "custom",
      name: "apply_patch",
      description: "Apply a patch to files.",
      format: { type: "grammar", syntax: "lark", definition: 'start: "*** Begin Patch" /(.|\\n)*/' },
    };
    const stream = await client.responses.create({
      model: MODEL,
      input: "Fix the bug",
      tools: [applyPatch],
      tool_choice: { type: "custom", name: "apply_patch" },
      max_output_tokens: 60,
      stream: true,
    });
    const list = await events(stream);
    assert.deepEqual(
      list.map((e) => e.type),
      [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.custom_tool_call_input.delta",
        "response.custom_tool_call_input.done",
        "response.output_item.done",
        list.at(-1)!.type,
      ],
    );
    const final = list.at(-1)!.response as OpenAI.Responses.Response;
    const call = final.output[0];
    assert.ok(call?.type === "custom_tool_call");
    assert.equal(call.name, "apply_patch");
    assert.equal(typeof call.input, "string");
    assert.equal(list.find((e) => e.type === "response.custom_tool_call_input.done")?.input, call.input);
    const { output_text: _text, ...got } = await client.responses.retrieve(final.id);
    assert.deepEqual(got, final);

    // The call and its output sent back as items; input_items gives them back as such.
    const next = await client.responses.create({
      model: MODEL,
      tools: [applyPatch],
      max_output_tokens: 6,
      input: [
        { role: "user", content: "Fix the bug" },
        { type: "custom_tool_call", call_id: call.call_id, name: "apply_patch", input: call.input },
        { type: "custom_tool_call_output", call_id: call.call_id, output: "Done." },
      ],
    });
    const items = await client.responses.inputItems.list(next.id);
    assert.deepEqual(
      items.data.map((i) => i.type),
      ["custom_tool_call_output", "custom_tool_call", "message"],
    );
    const sentCall = items.data[1];
    assert.ok(sentCall?.type === "custom_tool_call");
    assert.equal(sentCall.input, call.input);
  });

  test("hosted tools are not offered to the model and the response says so; the rest still work", async () => {
    const created = await client.responses.create({
      model: MODEL,
      input: "Weather in Oslo?",
      tools: [{ type: "web_search" }, weather, { type: "file_search", vector_store_ids: ["vs_1"] }],
      tool_choice: "required",
      max_output_tokens: 100,
    });
    const warnings = (created as { warnings?: { code: string; param: string; message: string }[] }).warnings;
    assert.deepEqual(
      warnings?.map((w) => [w.code, w.param]),
      [
        ["tool_not_available", "tools.0"],
        ["tool_not_available", "tools.2"],
      ],
    );
    assert.match(warnings?.[0]?.message ?? "", /web_search/);
    assert.equal(created.tools.length, 3, "the request's tools are echoed as sent");
    assert.ok(created.output.some((o) => o.type === "function_call" && o.name === "get_weather"));
    assert.deepEqual(await client.responses.retrieve(created.id), created);
  });

  test("text.format json_schema gives output that parses and matches the schema", async () => {
    const schema = {
      type: "object",
      properties: { name: { type: "string", maxLength: 20 }, age: { type: "integer" } },
      required: ["name", "age"],
      additionalProperties: false,
    };
    const res = await client.responses.create({
      model: MODEL,
      input: "A person as JSON",
      max_output_tokens: 200,
      text: { format: { type: "json_schema", name: "person", schema, strict: true } },
    });
    assert.equal(res.status, "completed");
    const value: unknown = JSON.parse(res.output_text);
    const validate = new Ajv().compile(schema);
    assert.ok(validate(value), JSON.stringify(validate.errors));
  });

  test("text.format with function tools: a forced call, or the format's JSON with tool_choice none", async () => {
    const schema = {
      type: "object",
      properties: { xj: { type: "string", maxLength: 20 } },
      required: ["xj"],
      additionalProperties: false,
    };
    const text = { format: { type: "json_schema" as const, name: "r", schema, strict: true } };
    const call = await client.responses.create({
      model: MODEL,
      input: "Weather in Paris?",
      tools: [weather],
      tool_choice: "required",
      text,
      max_output_tokens: 100,
    });
    assert.equal(call.output.find((o) => o.type === "function_call")?.type, "function_call");
    const answer = await client.responses.create({
      model: MODEL,
      input: "Weather in Paris?",
      tools: [weather],
      tool_choice: "none",
      text,
      max_output_tokens: 100,
    });
    assert.ok(new Ajv().compile(schema)(JSON.parse(answer.output_text)), answer.output_text);
  });

  test("logprobs through include", async () => {
    const res = await client.responses.create({
      model: MODEL,
      input: "Hi",
      max_output_tokens: 6,
      temperature: 0,
      include: ["message.output_text.logprobs"],
      top_logprobs: 2,
    });
    const part = res.output[0]?.type === "message" ? res.output[0].content[0] : undefined;
    assert.ok(part?.type === "output_text");
    assert.equal(part.logprobs?.length, 6);
    assert.equal(part.logprobs?.map((l) => l.token).join(""), part.text);
    for (const l of part.logprobs ?? []) assert.ok(l.logprob <= 0 && l.top_logprobs.length === 2);
  });

  test("errors: unknown model, hosted tools, bad items and missing input", async () => {
    const cases: [Record<string, unknown>, number, string | null][] = [
      [{ model: "nope", input: "x" }, 404, "model"],
      [{ model: MODEL, input: "x", tools: [{ type: "web_searcher" }] }, 400, "tools.0.type"],
      [
        { model: MODEL, input: "x", tools: [{ type: "web_search" }], tool_choice: { type: "web_search" } },
        400,
        "tool_choice",
      ],
      [{ model: MODEL, input: "x", tools: [{ type: "web_search" }], tool_choice: "required" }, 400, "tool_choice"],
      [
        { model: MODEL, input: "x", tools: [{ type: "namespace", name: "ns", tools: [{ type: "web_search" }] }] },
        400,
        "tools.0.tools.0.type",
      ],
      [{ model: MODEL, input: [{ type: "function_call_output", output: "x" }] }, 400, "input.0.call_id"],
      [{ model: MODEL, input: [{ type: "input_image", image_url: "x" }] }, 400, "input.0.type"],
      [
        { model: MODEL, input: [{ role: "user", content: [{ type: "input_image", image_url: "x" }] }] },
        400,
        "input.0.content.0.type",
      ],
      [{ model: MODEL }, 400, "input"],
      [{ model: MODEL, input: "x", background: true }, 400, "background"],
      [{ model: MODEL, input: "x", include: ["message.output_text.logprobs"], tools: [weather] }, 400, "top_logprobs"],
    ];
    for (const [body, status, param] of cases) {
      await assert.rejects(
        client.responses.create(body as never),
        (err: { status?: number; param?: string | null }) => {
          assert.equal(err.status, status, JSON.stringify(body));
          assert.equal(err.param, param);
          return true;
        },
      );
    }
  });

  test("errors name the Responses API's fields, never chat completions' (issue 18)", async () => {
    const user = { role: "user", content: "Weather?" };
    const call = (id: string) => ({ type: "function_call", call_id: id, name: "get_weather", arguments: "{}" });
    const output = (id: string) => ({ type: "function_call_output", call_id: id, output: "sunny" });
    const schema = (extra: Record<string, unknown>) => ({
      type: "json_schema",
      name: "s",
      schema: { type: "object", ...extra },
    });
    const bad = { type: "object", properties: "not an object" };
    const cases: [string, Record<string, unknown>, string, string?][] = [
      // Tool-call sequences: the item at fault, also when calls join one assistant turn.
      [
        "an output nobody called for",
        { instructions: "Be brief.", input: [user, output("call_nobody")] },
        "input.1.call_id",
      ],
      ["a call with no output", { input: [user, call("c1"), { role: "user", content: "And?" }] }, "input.1.call_id"],
      [
        "the second of two calls unanswered",
        { input: [user, call("c1"), call("c2"), output("c1")] },
        "input.2.call_id",
      ],
      ["a call with no output at the end", { input: [user, call("c1")] }, "input.1.call_id"],
      [
        "a custom tool's output nobody called for",
        { input: [user, { type: "custom_tool_call_output", call_id: "ctc_x", output: "ok" }] },
        "input.1.call_id",
      ],
      [
        "a wrong-typed field is invalid, not missing",
        { input: [user, { ...output("c"), call_id: 5 }] },
        "input.1.call_id",
        "invalid_value",
      ],
      [
        "a missing one is missing",
        { input: [user, { type: "function_call_output", output: "x" }] },
        "input.1.call_id",
        "missing_required_parameter",
      ],
      // text.format schemas, refused by the engine in the neutral request's names.
      [
        "a keyword outside Structured Outputs' subset, with strict",
        {
          input: "x",
          text: { format: { ...schema({ properties: { a: { allOf: [{ type: "string" }] } } }), strict: true } },
        },
        "text.format.schema",
      ],
      ["a malformed schema", { input: "x", text: { format: schema({ properties: "abc" }) } }, "text.format.schema"],
      ["a schema left out", { input: "x", text: { format: { type: "json_schema", name: "s" } } }, "text.format.schema"],
      // Tool parameters: where the tool is in the request, past hosted tools and inside namespaces.
      [
        "bad parameters",
        { input: "x", tools: [weather, { type: "function", name: "f", parameters: bad }] },
        "tools.1.parameters",
      ],
      [
        "bad parameters after a hosted tool",
        { input: "x", tools: [{ type: "web_search" }, weather, { type: "function", name: "f", parameters: bad }] },
        "tools.2.parameters",
      ],
      [
        "bad parameters in a namespace",
        {
          input: "x",
          tools: [
            weather,
            { type: "namespace", name: "ns", tools: [{ type: "function", name: "f", parameters: bad }] },
          ],
        },
        "tools.1.tools.0.parameters",
      ],
      [
        "a tool_choice naming no tool",
        { input: "x", tools: [weather], tool_choice: { type: "function", name: "nope" } },
        "tool_choice",
      ],
      ["a prompt too long for the context", { input: "word ".repeat(3000) }, "input"],
      ["a wrong-typed extension", { input: "x", seed: "a" }, "seed", "invalid_value"],
    ];
    for (const [what, body, param, code] of cases) {
      await assert.rejects(
        client.responses.create({ model: MODEL, max_output_tokens: 4, ...body } as never),
        (err: { status?: number; param?: string | null; code?: string | null }) => {
          assert.equal(err.status, 400, what);
          assert.equal(err.param, param, what);
          if (code) assert.equal(err.code, code, what);
          return true;
        },
      );
    }
  });
});
