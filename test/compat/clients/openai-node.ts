/**
 * openai@7 (Node >= 22), run by test/compat/openai-node.test.ts in a Node 22 child: chat
 * completions and the Responses API, plain, streamed, with tools, with structured output through
 * the SDK's zod helpers, and stateful through `previous_response_id`.
 */
import OpenAI from "openai";
import { zodResponseFormat, zodTextFormat } from "openai/helpers/zod";
import { z } from "zod";
import { runCases, type CompatEnv } from "./cases.js";

const client = (env: CompatEnv) => new OpenAI({ baseURL: `${env.url}/v1`, apiKey: env.apiKey, maxRetries: 0 });
const hi = [{ role: "user" as const, content: "Hi" }];
const weather: OpenAI.ChatCompletionTool = {
  type: "function",
  function: {
    name: "get_weather",
    description: "The weather in a city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
};
/** zod 4's `.int()` is `minimum`/`maximum` at ±2^53-1: refused with a 400 before issue 18. */
const Person = z.object({ name: z.string().max(12), age: z.number().int().min(1).max(99) });

await runCases({
  async chat(env) {
    const res = await client(env).chat.completions.create({ model: env.models["qwen3-answer"]!, messages: hi });
    return { content: res.choices[0]!.message.content, finish: res.choices[0]!.finish_reason, usage: res.usage };
  },

  async chatStream(env) {
    const stream = await client(env).chat.completions.create({
      model: env.models.stories260K!,
      messages: [{ role: "user", content: "Tell me about a cat" }],
      max_tokens: 12,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
      usage = chunk.usage ?? usage;
    }
    return { text, finish, usage };
  },

  async chatTools(env) {
    const res = await client(env).chat.completions.create({
      model: env.models["qwen3-tool"]!,
      messages: [{ role: "user", content: "What is the weather in Paris?" }],
      tools: [weather],
    });
    const call = res.choices[0]!.message.tool_calls?.[0];
    return {
      finish: res.choices[0]!.finish_reason,
      content: res.choices[0]!.message.content,
      name: call?.type === "function" ? call.function.name : null,
      arguments: call?.type === "function" ? JSON.parse(call.function.arguments) : null,
    };
  },

  async chatToolsStream(env) {
    const stream = await client(env).chat.completions.create({
      model: env.models["qwen3-tool"]!,
      messages: [{ role: "user", content: "What is the weather in Paris?" }],
      tools: [weather],
      stream: true,
    });
    const deltas: unknown[] = [];
    let args = "";
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta;
      if (delta) deltas.push(delta);
      args += delta?.tool_calls?.[0]?.function?.arguments ?? "";
    }
    return { first: deltas[0], arguments: JSON.parse(args) };
  },

  async chatParse(env) {
    const res = await client(env).chat.completions.parse({
      model: env.models.stories260K!,
      messages: [{ role: "user", content: "Describe a person as JSON" }],
      max_tokens: 100,
      seed: 1,
      response_format: zodResponseFormat(Person, "person"),
    });
    return { finish: res.choices[0]!.finish_reason, parsed: res.choices[0]!.message.parsed };
  },

  async responses(env) {
    const res = await client(env).responses.create({ model: env.models["qwen3-answer"]!, input: "Hi" });
    return { status: res.status, text: res.output_text, usage: res.usage };
  },

  async responsesStream(env) {
    const stream = client(env).responses.stream({ model: env.models["qwen3-answer"]!, input: "Hi", store: false });
    const types = new Set<string>();
    let text = "";
    for await (const event of stream) {
      types.add(event.type);
      if (event.type === "response.output_text.delta") text += event.delta;
    }
    const final = await stream.finalResponse();
    return { types: [...types], text, final: final.output_text };
  },

  async responsesTools(env) {
    const openai = client(env);
    const tools: OpenAI.Responses.FunctionTool[] = [
      { type: "function", name: "get_weather", parameters: weather.function.parameters!, strict: false },
    ];
    const first = await openai.responses.create({
      model: env.models["qwen3-tool"]!,
      input: "What is the weather in Paris?",
      tools,
    });
    const call = first.output.find((o) => o.type === "function_call");
    if (call?.type !== "function_call") throw new Error(`no call: ${JSON.stringify(first.output)}`);
    // The tool's result goes back on top of the stored response, and another model answers it.
    const second = await openai.responses.create({
      model: env.models["qwen3-answer"]!,
      previous_response_id: first.id,
      input: [{ type: "function_call_output", call_id: call.call_id, output: '{"temperature_c": 21}' }],
      tools,
    });
    return {
      name: call.name,
      arguments: JSON.parse(call.arguments),
      answer: second.output_text,
      firstInput: first.usage!.input_tokens,
      secondInput: second.usage!.input_tokens,
    };
  },

  async responsesParse(env) {
    const res = await client(env).responses.parse({
      model: env.models.stories260K!,
      input: "Describe a person as JSON",
      max_output_tokens: 100,
      text: { format: zodTextFormat(Person, "person") },
    });
    return { status: res.status, parsed: res.output_parsed };
  },

  async responsesStateful(env) {
    const openai = client(env);
    const first = await openai.responses.create({ model: env.models["qwen3-answer"]!, input: "Hi" });
    const second = await openai.responses.create({
      model: env.models["qwen3-answer"]!,
      input: "Hi again",
      previous_response_id: first.id,
    });
    const stored = await openai.responses.retrieve(second.id);
    return {
      first: { text: first.output_text, input: first.usage!.input_tokens, output: first.usage!.output_tokens },
      second: { text: second.output_text, input: second.usage!.input_tokens },
      storedMatches: JSON.stringify(stored) === JSON.stringify(second),
    };
  },
});
