/**
 * The Vercel AI SDK (`ai@7` with `@ai-sdk/openai@4`, Node >= 22), run by test/compat/ai-sdk.test.ts
 * in a Node 22 child: `generateText`/`streamText` over the Responses API (the provider's default)
 * and chat completions (`provider.chat`), tools the SDK executes, `generateObject` and
 * `Output.object` (alone and beside tools), and `previousResponseId`.
 */
import { createOpenAI } from "@ai-sdk/openai";
import { generateObject, generateText, Output, streamText, tool } from "ai";
import { z } from "zod";
import { runCases, type CompatEnv } from "./cases.js";

const provider = (env: CompatEnv) => createOpenAI({ baseURL: `${env.url}/v1`, apiKey: env.apiKey });
/** zod 4's `.int()` is `minimum`/`maximum` at ±2^53-1: refused with a 400 before issue 18. */
const Person = z.object({ name: z.string().max(12), age: z.number().int().min(1).max(99) });
const calls: unknown[] = [];
const weather = tool({
  description: "The weather in a city",
  inputSchema: z.object({ city: z.string().max(24) }),
  execute: async (input) => {
    calls.push(input);
    return { temperature_c: 21 };
  },
});

await runCases({
  async generateTextResponses(env) {
    const r = await generateText({ model: provider(env)(env.models["qwen3-answer"]!), prompt: "Hi", maxRetries: 0 });
    return { text: r.text, finishReason: r.finishReason, usage: r.usage };
  },

  async generateTextChat(env) {
    const r = await generateText({
      model: provider(env).chat(env.models["qwen3-answer"]!),
      prompt: "Hi",
      maxRetries: 0,
    });
    return { text: r.text, finishReason: r.finishReason, usage: r.usage };
  },

  async streamTextChat(env) {
    const r = streamText({
      model: provider(env).chat(env.models.stories260K!),
      prompt: "Tell me about a cat",
      maxOutputTokens: 12,
      maxRetries: 0,
    });
    const parts: string[] = [];
    for await (const part of r.fullStream) parts.push(part.type);
    return { text: await r.text, finishReason: await r.finishReason, usage: await r.usage, parts };
  },

  async streamTextResponses(env) {
    const r = streamText({ model: provider(env)(env.models["qwen3-answer"]!), prompt: "Hi", maxRetries: 0 });
    let text = "";
    for await (const delta of r.textStream) text += delta;
    return { text, finishReason: await r.finishReason };
  },

  async toolsStreamedChat(env) {
    calls.length = 0;
    const r = streamText({
      model: provider(env).chat(env.models["qwen3-tool"]!),
      prompt: "What is the weather in Paris?",
      tools: { get_weather: weather },
      maxRetries: 0,
    });
    const parts: string[] = [];
    for await (const part of r.fullStream) parts.push(part.type);
    return { parts, toolCalls: (await r.toolCalls).map((c) => [c.toolName, c.input]), executed: [...calls] };
  },

  async toolsResponses(env) {
    calls.length = 0;
    const r = await generateText({
      model: provider(env)(env.models["qwen3-tool"]!),
      prompt: "What is the weather in Paris?",
      tools: { get_weather: weather },
      maxRetries: 0,
    });
    return {
      finishReason: r.finishReason,
      toolCalls: r.toolCalls.map((c) => [c.toolName, c.input]),
      toolResults: r.toolResults.map((c) => c.output),
      executed: [...calls],
    };
  },

  async generateObjectChat(env) {
    const r = await generateObject({
      model: provider(env).chat(env.models.stories260K!),
      schema: Person,
      prompt: "Describe a person as JSON",
      maxOutputTokens: 100,
      seed: 1,
      maxRetries: 0,
    });
    return { object: r.object, finishReason: r.finishReason };
  },

  async generateObjectResponses(env) {
    const r = await generateObject({
      model: provider(env)(env.models.stories260K!),
      schema: Person,
      prompt: "Describe a person as JSON",
      maxOutputTokens: 100,
      seed: 2,
      maxRetries: 0,
    });
    return { object: r.object, finishReason: r.finishReason };
  },

  async toolsWithOutput(env) {
    // Tools beside Output.object: a 400 before issue 18 ("Using both tools and response_format").
    const ask = (toolChoice: "none" | "required", seed: number) =>
      generateText({
        model: provider(env)(env.models.stories260K!),
        prompt: "Describe a person as JSON",
        tools: { get_weather: weather },
        toolChoice,
        output: Output.object({ schema: Person }),
        maxOutputTokens: 100,
        seed,
        maxRetries: 0,
      });
    calls.length = 0;
    const answered = await ask("none", 3);
    const called = await ask("required", 4);
    return {
      output: answered.output,
      calledFinish: called.finishReason,
      calledTools: called.toolCalls.map((c) => c.toolName),
      executed: calls.length,
    };
  },

  async previousResponseId(env) {
    const model = provider(env)(env.models["qwen3-answer"]!);
    const first = await generateText({ model, prompt: "Hi", maxRetries: 0 });
    const second = await generateText({
      model,
      prompt: "Hi again",
      providerOptions: { openai: { previousResponseId: first.response.id } },
      maxRetries: 0,
    });
    return {
      firstId: first.response.id,
      first: { text: first.text, input: first.usage.inputTokens, output: first.usage.outputTokens },
      second: { text: second.text, input: second.usage.inputTokens },
    };
  },
});
