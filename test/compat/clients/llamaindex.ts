/**
 * LlamaIndex (TypeScript: `@llamaindex/openai` with `@llamaindex/core` and `@llamaindex/workflow`),
 * run by test/compat/llamaindex.test.ts on Node 20 from its own prefix (.cache/llamaindex): its
 * `OpenAI` LLM over chat completions (chat, stream, a tool call `exec` runs and the result sent
 * back, an `agent` workflow, a zod `responseFormat`) and its `OpenAIResponses` LLM (chat, stream,
 * a tool call, `trackPreviousResponses`). Not type-checked with the project (tsconfig.json): its
 * imports resolve to the prefix's packages.
 */
import { tool } from "@llamaindex/core/tools";
import type { ChatMessage } from "@llamaindex/core/llms";
import { OpenAI, OpenAIResponses } from "@llamaindex/openai";
import { agent } from "@llamaindex/workflow";
import { z } from "zod";
import { runCases, type CompatEnv } from "./cases.js";

const llm = (env: CompatEnv, model: string, maxTokens?: number) =>
  new OpenAI({ model, baseURL: `${env.url}/v1`, apiKey: env.apiKey, maxRetries: 0, maxTokens });
/** Stored where the turns are tracked: `previous_response_id` names a stored response, as at OpenAI. */
const responsesLlm = (env: CompatEnv, model: string, trackPreviousResponses = false) =>
  new OpenAIResponses({
    model,
    baseURL: `${env.url}/v1`,
    apiKey: env.apiKey,
    maxRetries: 0,
    trackPreviousResponses,
    store: trackPreviousResponses,
  });
const hi: ChatMessage[] = [{ role: "user", content: "Hi" }];
const executed: unknown[] = [];
const weather = tool({
  name: "get_weather",
  description: "The weather in a city",
  parameters: z.object({ city: z.string() }),
  execute: (input) => {
    executed.push(input);
    return { temperature_c: 21 };
  },
});
/** Usage of the streamed responses read by `textOf`, in order. */
const usage: { input_tokens: number; output_tokens: number }[] = [];

/**
 * The text of a streamed `OpenAIResponses` chat. Its chunks repeat the last text delta for every
 * event after it (`output_text.done`, `response.completed` ...: a LlamaIndex bug, the same against
 * OpenAI), so only the chunks of `response.output_text.delta` events count.
 */
async function textOf(stream: AsyncIterable<{ delta: string; raw: unknown }>): Promise<string> {
  let text = "";
  for await (const chunk of stream) {
    const raw = chunk.raw as { type: string; response?: { usage?: (typeof usage)[number] } };
    if (raw.type === "response.output_text.delta") text += chunk.delta;
    if (raw.type === "response.completed" && raw.response?.usage) usage.push(raw.response.usage);
  }
  return text;
}

const Person = z.object({ name: z.string().max(12), age: z.number().int().min(1).max(99) });

await runCases({
  async chat(env) {
    const res = await llm(env, env.models["qwen3-answer"]!).chat({ messages: hi });
    const raw = res.raw as { usage?: { prompt_tokens: number } };
    return { content: res.message.content, role: res.message.role, promptTokens: raw.usage?.prompt_tokens };
  },

  async chatStream(env) {
    const stream = await llm(env, env.models.stories260K!, 12).chat({
      messages: [{ role: "user", content: "Tell me about a cat" }],
      stream: true,
    });
    let text = "";
    let chunks = 0;
    for await (const chunk of stream) {
      text += chunk.delta;
      chunks++;
    }
    return { text, chunks };
  },

  async complete(env) {
    const res = await llm(env, env.models["qwen3-answer"]!).complete({ prompt: "Hi" });
    return { text: res.text };
  },

  async toolCall(env) {
    executed.length = 0;
    const messages: ChatMessage[] = [{ role: "user", content: "What is the weather in Paris?" }];
    // exec: one model call; LlamaIndex runs the tool it asked for and returns both messages.
    const step = await llm(env, env.models["qwen3-tool"]!).exec({ messages, tools: [weather] });
    // The tool's result goes back (role tool), and the answering model replies.
    const answer = await llm(env, env.models["qwen3-answer"]!).chat({ messages: [...messages, ...step.newMessages] });
    return {
      calls: step.toolCalls.map((c) => [c.name, typeof c.input === "string" ? JSON.parse(c.input) : c.input]),
      executed: [...executed],
      roles: step.newMessages.map((m) => m.role),
      answer: answer.message.content,
    };
  },

  async toolCallStream(env) {
    executed.length = 0;
    const stream = await llm(env, env.models["qwen3-tool"]!).exec({
      messages: [{ role: "user", content: "What is the weather in Paris?" }],
      tools: [weather],
      stream: true,
    });
    // A stream whose first chunk calls a tool is read to its end inside exec, the tool run.
    for await (const _ of stream.stream) void _;
    const step = stream.newMessages();
    return {
      calls: stream.toolCalls.map((c) => [c.name, c.input]),
      executed: [...executed],
      roles: step.map((m) => m.role),
    };
  },

  async agent(env) {
    // An agent workflow: the scripted model calls exec_command, the agent runs the tool (here it
    // only records the command) and sends its result back, and the model answers once it is there.
    const commands: unknown[] = [];
    const execCommand = tool({
      name: "exec_command",
      description: "Run a shell command",
      parameters: z.object({ cmd: z.string() }),
      execute: (input) => {
        commands.push(input);
        return "done";
      },
    });
    const workflow = agent({ llm: llm(env, env.models["qwen3-exec"]!, 40), tools: [execCommand], timeout: 60 });
    const result = await workflow.run("Write hearth to proof.txt");
    return { result: result.data.result, commands };
  },

  async structured(env) {
    const res = await llm(env, env.models.stories260K!, 100).chat({
      messages: [{ role: "user", content: "Describe a person as JSON" }],
      responseFormat: Person,
    });
    return { parsed: Person.parse(JSON.parse(String(res.message.content))) };
  },

  async responses(env) {
    const res = await responsesLlm(env, env.models["qwen3-answer"]!).chat({ messages: hi });
    return { content: res.message.content };
  },

  async responsesStream(env) {
    const stream = await responsesLlm(env, env.models["qwen3-answer"]!).chat({ messages: hi, stream: true });
    return { text: await textOf(stream) };
  },

  async responsesToolCall(env) {
    executed.length = 0;
    const messages: ChatMessage[] = [{ role: "user", content: "What is the weather in Paris?" }];
    const step = await responsesLlm(env, env.models["qwen3-tool"]!).exec({ messages, tools: [weather] });
    // The call and its result go back as function_call and function_call_output input items.
    const answer = await responsesLlm(env, env.models["qwen3-answer"]!).chat({
      messages: [...messages, ...step.newMessages],
    });
    return {
      calls: step.toolCalls.map((c) => [c.name, typeof c.input === "string" ? JSON.parse(c.input) : c.input]),
      executed: [...executed],
      answer: answer.message.content,
    };
  },

  async responsesStateful(env) {
    // trackPreviousResponses takes the id from a stream's response.created only: streamed turns.
    const model = responsesLlm(env, env.models["qwen3-answer"]!, true);
    usage.length = 0;
    const first = await textOf(await model.chat({ messages: hi, stream: true }));
    const firstId = model.previousResponseId;
    const second = await textOf(await model.chat({ messages: [{ role: "user", content: "Hi again" }], stream: true }));
    return { firstId, secondId: model.previousResponseId, texts: [first, second], usage: [...usage] };
  },
});
