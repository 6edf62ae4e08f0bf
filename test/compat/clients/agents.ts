/**
 * The OpenAI Agents SDK (`@openai/agents` 0.20, on openai@7, so Node >= 22), run by
 * test/compat/agents.test.ts in a Node 22 child: runs over the Responses API (the SDK's default)
 * and chat completions, streamed runs, an agent loop with a tool the SDK executes, `outputType`
 * alone and beside tools, and `previousResponseId` across runs.
 */
import OpenAI from "openai";
import {
  Agent,
  OpenAIChatCompletionsModel,
  run,
  setDefaultOpenAIClient,
  setTracingDisabled,
  tool,
  type ToolToFinalOutputFunction,
} from "@openai/agents";
import { z } from "zod";
import { runCases, type CompatEnv } from "./cases.js";

setTracingDisabled(true);
const clientOf = (env: CompatEnv) => new OpenAI({ baseURL: `${env.url}/v1`, apiKey: env.apiKey, maxRetries: 0 });
/** zod 4's `.int()` is `minimum`/`maximum` at ±2^53-1: refused with a 400 before issue 18. */
const Person = z.object({ name: z.string().max(12), age: z.number().int().min(1).max(99) });
const calls: unknown[] = [];
const weather = tool({
  name: "get_weather",
  description: "The weather in a city",
  parameters: z.object({ city: z.string().max(24) }),
  execute: async (input) => {
    calls.push(input);
    return '{"temperature_c": 21}';
  },
});

await runCases({
  async runResponses(env) {
    setDefaultOpenAIClient(clientOf(env));
    const agent = new Agent({ name: "Greeter", instructions: "Greet the user.", model: env.models["qwen3-answer"] });
    const result = await run(agent, "Hi");
    return { finalOutput: result.finalOutput, lastResponseId: result.lastResponseId ?? null };
  },

  async runChatCompletions(env) {
    const model = new OpenAIChatCompletionsModel(clientOf(env), env.models["qwen3-answer"]!);
    const result = await run(new Agent({ name: "Greeter", instructions: "Greet the user.", model }), "Hi");
    return { finalOutput: result.finalOutput };
  },

  async runStreamed(env) {
    setDefaultOpenAIClient(clientOf(env));
    const agent = new Agent({ name: "Greeter", instructions: "Greet the user.", model: env.models["qwen3-answer"] });
    const result = await run(agent, "Hi", { stream: true });
    let text = "";
    for await (const delta of result.toTextStream()) text += delta;
    await result.completed;
    return { text, finalOutput: result.finalOutput };
  },

  async runWithTools(env) {
    setDefaultOpenAIClient(clientOf(env));
    calls.length = 0;
    // The scripted tool model calls get_weather on every turn: the SDK sends the first result back
    // (a second model call carrying function_call_output), and the run ends at the second result.
    let rounds = 0;
    const endAtSecond: ToolToFinalOutputFunction = (_context, results) => {
      const first = results[0];
      return ++rounds >= 2 && first?.type === "function_output"
        ? { isFinalOutput: true, isInterrupted: undefined, finalOutput: String(first.output) }
        : { isFinalOutput: false, isInterrupted: undefined };
    };
    const agent = new Agent({
      name: "Forecaster",
      instructions: "Use the tool to answer.",
      model: env.models["qwen3-tool"],
      tools: [weather],
      toolUseBehavior: endAtSecond,
    });
    const result = await run(agent, "What is the weather in Paris?", { maxTurns: 4 });
    return {
      finalOutput: result.finalOutput,
      executed: [...calls],
      modelCalls: result.rawResponses.length,
      items: result.newItems.map((i) => i.type),
    };
  },

  async outputType(env) {
    setDefaultOpenAIClient(clientOf(env));
    const agent = new Agent({
      name: "Describer",
      instructions: "Describe a person as JSON.",
      model: env.models.stories260K,
      outputType: Person,
      modelSettings: { maxTokens: 100 },
    });
    const result = await run(agent, "Describe a person");
    return { finalOutput: result.finalOutput };
  },

  async toolsWithOutputType(env) {
    setDefaultOpenAIClient(clientOf(env));
    calls.length = 0;
    // Tools beside outputType: a 400 before issue 18. A required call is the tool's grammar; the
    // tool's result is the final output, so it is a Person too.
    const findPerson = tool({
      name: "find_person",
      description: "A person who lives in a city",
      parameters: z.object({ city: z.string().max(24) }),
      execute: async (input) => {
        calls.push(input);
        return JSON.stringify({ name: "Ada", age: 36 });
      },
    });
    const agent = new Agent({
      name: "Describer",
      instructions: "Describe a person as JSON.",
      model: env.models.stories260K,
      tools: [findPerson],
      outputType: Person,
      modelSettings: { toolChoice: "required", maxTokens: 100 },
      toolUseBehavior: "stop_on_first_tool",
    });
    const result = await run(agent, "Who lives in Paris?");
    return { finalOutput: result.finalOutput, executed: calls.length };
  },

  async previousResponseId(env) {
    setDefaultOpenAIClient(clientOf(env));
    const agent = new Agent({ name: "Greeter", instructions: "Greet the user.", model: env.models["qwen3-answer"] });
    const first = await run(agent, "Hi");
    const second = await run(agent, "Hi again", { previousResponseId: first.lastResponseId });
    const usage = (r: typeof first) => r.rawResponses[0]!.usage;
    return {
      first: { input: usage(first).inputTokens, output: usage(first).outputTokens },
      second: { input: usage(second).inputTokens, finalOutput: second.finalOutput },
    };
  },
});
