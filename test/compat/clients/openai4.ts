/**
 * openai@4 (the last 4.x, Node 18+), run by test/compat/openai4.test.ts on Node 20 from its own
 * prefix (.cache/openai4, with zod@3 for its zod helpers): chat completions and the Responses API,
 * plain, streamed, with tools, with structured output through `beta.chat.completions.parse` and
 * `responses.parse`, and stateful through `previous_response_id`. Not type-checked with the
 * project (tsconfig.json): its imports resolve to the prefix's packages, not the project's.
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
/** zod 3's `.int()` sends `type: integer`; `.min`/`.max` send `minimum`/`maximum`. */
const Person = z.object({ name: z.string().max(12), age: z.number().int().min(1).max(99) });

/** The text of a response's messages: openai@4 sets `output_text` only on what `create` returns. */
const textOf = (res: OpenAI.Responses.Response) =>
  res.output
    .flatMap((o) => (o.type === "message" ? o.content : []))
    .map((c) => (c.type === "output_text" ? c.text : ""))
    .join("");

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
      name: call?.function.name ?? null,
      arguments: call ? JSON.parse(call.function.arguments) : null,
    };
  },

  async chatToolsRunner(env) {
    // The SDK's own tool loop: it runs the function and sends its result back for the answer.
    const executed: unknown[] = [];
    const runner = client(env).beta.chat.completions.runTools({
      model: env.models["qwen3-tool"]!,
      messages: [{ role: "user", content: "What is the weather in Paris?" }],
      max_tokens: 40,
      tools: [
        {
          type: "function",
          function: {
            name: "get_weather",
            parameters: weather.function.parameters!,
            parse: JSON.parse,
            function: (args: unknown) => {
              executed.push(args);
              return { temperature_c: 21 };
            },
          },
        },
      ],
    });
    // The scripted tool model calls again on every turn: stop after the first result went back.
    const roles: string[] = [];
    runner.on("message", (m) => {
      roles.push(m.role);
      if (m.role === "tool") runner.abort();
    });
    await runner.done().catch(() => undefined);
    return { executed, roles };
  },

  async chatParse(env) {
    const res = await client(env).beta.chat.completions.parse({
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
    return { types: [...types], text, final: textOf(final) };
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
    const stored = await openai.responses.retrieve(second.id);
    return {
      name: call.name,
      arguments: JSON.parse(call.arguments),
      answer: second.output_text,
      firstInput: first.usage!.input_tokens,
      secondInput: second.usage!.input_tokens,
      storedText: textOf(stored),
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
});
