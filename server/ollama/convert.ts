/**
 * Ollama's requests (validated) to neutral ones, and what each Ollama field means here:
 * `options` become sampling (what only loading decides, like `num_ctx`, is ignored with a warning),
 * `format` the response format, `think` the reasoning effort, `keep_alive` an idle time for the
 * model manager. Tool calls carry no ids on Ollama's wire: the converter gives each call one and
 * pairs a tool message with the call it answers by `tool_name`, else in order.
 */
import { TracedMessages, paramNamer, type ParamNamer } from "../chat/params.js";
import type {
  ChatRequest,
  CompletionRequest,
  GenerationRequest,
  ReasoningOptions,
  RequestWarning,
  ResponseFormat,
  SamplingOptions,
  ToolCall,
  VllmExtras,
} from "../core/types.js";
import { BadRequestError } from "../errors.js";
import type { ChatRequestBody, GenerateRequestBody, OllamaOptions } from "./schemas.js";

/** Options that say how a model is loaded or run: the server's own settings decide them (README "Ollama API"). */
const LOAD_OPTIONS: Record<string, string> = {
  num_ctx: "the context size is the server's (--ctx-size, or the model's own setting)",
  num_batch: "the batch size is the server's",
  num_gpu: "GPU offload is the server's (--gpu)",
  main_gpu: "GPU choice is the server's (--gpu)",
  num_thread: "threads are the server's (--threads)",
  num_keep: "the context is never shifted, so there is nothing to keep",
  numa: "NUMA placement is the engine's",
  low_vram: "memory use is the server's (--model-memory-mb)",
  use_mmap: "how the file is read is the engine's",
  use_mlock: "how the file is read is the engine's",
  vocab_only: "models are always loaded whole",
  logits_all: "logits are not returned; use logprobs",
  embedding_only: "models are always loaded whole",
};

/**
 * Sampling options Hearth's samplers do not have, accepted at the value that leaves them off
 * (clients such as Open WebUI send Ollama's defaults); any other value is refused by name.
 */
const NEUTRAL_VALUES: Record<string, unknown> = {
  mirostat: 0,
  tfs_z: 1,
  typical_p: 1,
  repeat_last_n: 64,
  penalize_newline: true,
};
/** Mirostat's two knobs do nothing while `mirostat` is 0. */
const MIROSTAT_KNOBS = new Set(["mirostat_tau", "mirostat_eta"]);

interface Converted<R extends GenerationRequest> {
  request: R;
  paramName: ParamNamer;
  /** What the request set that Hearth does not follow, for X-Hearth-Warnings. */
  warnings: RequestWarning[];
}

/** The neutral sampling fields, max tokens, stop strings and extras of `options`, and what is ignored. */
function optionsOf(options: OllamaOptions | null | undefined) {
  const o = options ?? {};
  const warnings: RequestWarning[] = [];
  for (const [key, value] of Object.entries(o)) {
    if (value === undefined) continue;
    if (key in LOAD_OPTIONS) warnings.push({ param: `options.${key}`, message: `ignored: ${LOAD_OPTIONS[key]}` });
    else if (key in NEUTRAL_VALUES && value !== NEUTRAL_VALUES[key])
      throw new BadRequestError(
        `options.${key} is not supported by Hearth's samplers; leave it out or set it to ${JSON.stringify(NEUTRAL_VALUES[key])}.`,
        { param: `options.${key}`, code: "unsupported_parameter" },
      );
    else if (MIROSTAT_KNOBS.has(key) && (o.mirostat ?? 0) !== 0)
      warnings.push({ param: `options.${key}`, message: "ignored: mirostat is not supported" });
  }
  const sampling: Partial<SamplingOptions> = {};
  if (o.temperature !== undefined) sampling.temperature = o.temperature;
  if (o.top_p !== undefined) sampling.topP = o.top_p;
  if (o.top_k !== undefined) sampling.topK = o.top_k;
  if (o.min_p !== undefined) sampling.minP = o.min_p;
  if (o.seed !== undefined) sampling.seed = o.seed;
  if (o.presence_penalty !== undefined) sampling.presencePenalty = o.presence_penalty;
  if (o.frequency_penalty !== undefined) sampling.frequencyPenalty = o.frequency_penalty;
  // vLLM's name for llama.cpp's penalty: local models follow it, vLLM upstreams receive it.
  const extras: VllmExtras = o.repeat_penalty !== undefined ? { repetition_penalty: o.repeat_penalty } : {};
  return {
    sampling,
    // -1 (no limit) and -2 (fill the context) leave it to the server's default, as 0 does.
    ...(o.num_predict !== undefined && o.num_predict > 0 ? { maxTokens: o.num_predict } : {}),
    stop: o.stop ?? [],
    ...(Object.keys(extras).length > 0 ? { extras } : {}),
    warnings,
  };
}

function responseFormatOf(format: ChatRequestBody["format"]): ResponseFormat {
  if (format === undefined || format === null || format === "") return { type: "text" };
  if (format === "json") return { type: "json_object" };
  return { type: "json_schema", name: "response", schema: format, strict: true };
}

function reasoningOf(think: ChatRequestBody["think"]): { reasoning?: ReasoningOptions } {
  if (think === undefined || think === null || think === true) return {};
  return { reasoning: { effort: think === false ? "none" : think } };
}

function logprobsOf(body: { logprobs?: boolean; top_logprobs?: number }): { topLogprobs?: number } {
  return body.logprobs ? { topLogprobs: body.top_logprobs ?? 0 } : {};
}

/** Neutral names -> Ollama's (errors from the pipeline name the client's own fields). */
const OPTION_NAMES = {
  temperature: "options.temperature",
  topP: "options.top_p",
  topK: "options.top_k",
  minP: "options.min_p",
  seed: "options.seed",
  presencePenalty: "options.presence_penalty",
  frequencyPenalty: "options.frequency_penalty",
  maxTokens: "options.num_predict",
  stop: "options.stop",
  repetition_penalty: "options.repeat_penalty",
  topLogprobs: "top_logprobs",
  responseFormat: "format",
  "responseFormat.schema": "format",
  reasoning: "think",
};

function argumentsText(args: Record<string, unknown> | string, param: string): string {
  if (typeof args !== "string") return JSON.stringify(args);
  try {
    const parsed: unknown = JSON.parse(args);
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) return args;
  } catch {
    // refused below
  }
  throw new BadRequestError("Tool call arguments must be a JSON object (or JSON text of one).", {
    param,
    code: "invalid_value",
  });
}

export function toChatRequest(body: ChatRequestBody): Converted<ChatRequest> {
  const traced = new TracedMessages();
  /** The calls of the latest assistant message that no tool message answered yet. */
  let open: ToolCall[] = [];
  let calls = 0;
  body.messages.forEach((m, i) => {
    traced.origin = `messages.${i}`;
    switch (m.role) {
      case "system":
      case "user":
        traced.push({ role: m.role, content: m.content });
        break;
      case "assistant": {
        const toolCalls = (m.tool_calls ?? []).map((c, j) => ({
          id: `call_${++calls}`,
          name: c.function.name,
          arguments: argumentsText(c.function.arguments, `messages.${i}.tool_calls.${j}.function.arguments`),
        }));
        open = [...toolCalls];
        traced.push({
          role: "assistant",
          content: m.content === "" && toolCalls.length > 0 ? null : m.content,
          ...(toolCalls.length > 0 ? { toolCalls } : {}),
          ...(m.thinking ? { reasoning: m.thinking } : {}),
        });
        break;
      }
      case "tool": {
        const at = m.tool_name !== undefined ? open.findIndex((c) => c.name === m.tool_name) : 0;
        const call = at >= 0 ? open[at] : undefined;
        if (!call) {
          throw new BadRequestError(
            m.tool_name !== undefined
              ? `No tool call to '${m.tool_name}' in the assistant message before is left to answer.`
              : "A tool message must follow an assistant message with tool_calls, one message per call.",
            { param: `messages.${i}`, code: "invalid_value" },
          );
        }
        open.splice(at, 1);
        traced.push({ role: "tool", toolCallId: call.id, content: m.content });
        break;
      }
    }
  });
  const { warnings, ...options } = optionsOf(body.options);
  const request: ChatRequest = {
    kind: "chat",
    model: body.model,
    messages: traced.messages,
    ...options,
    responseFormat: responseFormatOf(body.format),
    tools: (body.tools ?? []).map((t) => ({
      name: t.function.name,
      ...(t.function.description !== undefined ? { description: t.function.description } : {}),
      ...(t.function.parameters !== undefined ? { parameters: t.function.parameters } : {}),
    })),
    toolChoice: "auto",
    ...reasoningOf(body.think),
    ...logprobsOf(body),
  };
  const paramName = paramNamer(
    {
      ...OPTION_NAMES,
      "messages.*.toolCalls": "messages.*.tool_calls",
      "messages.*.toolCallId": "messages.*.tool_name",
      "messages.*.reasoning": "messages.*.thinking",
      "tools.*.parameters": "tools.*.function.parameters",
      toolChoice: "tools",
      parallelToolCalls: "tools",
    },
    traced.origins,
  );
  return { request, paramName, warnings };
}

/** `/api/generate`: a one-turn chat through the model's template, or with `raw` the prompt as is. */
export function toGenerateRequest(body: GenerateRequestBody): Converted<ChatRequest | CompletionRequest> {
  if (body.suffix)
    throw new BadRequestError("suffix (fill-in-the-middle) is not supported.", {
      param: "suffix",
      code: "unsupported_parameter",
    });
  if (body.template)
    throw new BadRequestError("template is not supported: the model's own chat template is used (or raw: true).", {
      param: "template",
      code: "unsupported_parameter",
    });
  if (body.context && body.context.length > 0)
    throw new BadRequestError(
      "context (the token context of an earlier reply) is not supported; send the conversation to /api/chat instead.",
      { param: "context", code: "unsupported_parameter" },
    );
  const { warnings, ...options } = optionsOf(body.options);
  if (body.raw) {
    if (body.format)
      throw new BadRequestError("format needs the chat template; it cannot be combined with raw.", {
        param: "format",
        code: "unsupported_value",
      });
    const request: CompletionRequest = {
      kind: "completion",
      model: body.model,
      prompt: body.system ? `${body.system}\n\n${body.prompt}` : body.prompt,
      echo: false,
      ...options,
      ...logprobsOf(body),
    };
    return { request, paramName: paramNamer(OPTION_NAMES), warnings };
  }
  const traced = new TracedMessages();
  if (body.system !== undefined) {
    traced.origin = "system";
    traced.push({ role: "system", content: body.system });
  }
  traced.origin = "prompt";
  traced.push({ role: "user", content: body.prompt });
  const request: ChatRequest = {
    kind: "chat",
    model: body.model,
    messages: traced.messages,
    ...options,
    responseFormat: responseFormatOf(body.format),
    tools: [],
    toolChoice: "auto",
    ...reasoningOf(body.think),
    ...logprobsOf(body),
  };
  return { request, paramName: paramNamer(OPTION_NAMES, traced.origins), warnings };
}

const UNITS_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * `keep_alive` in milliseconds: Infinity for a negative value (keep loaded), 0 to unload when done,
 * undefined when not given (the server's --model-idle-timeout). Numbers are seconds; strings are Go
 * durations ("5m", "1h30m", "-1s") or bare seconds ("300", "-1").
 */
export function keepAliveMs(value: number | string | null | undefined): number | undefined {
  if (value === undefined || value === null) return undefined;
  let ms: number;
  if (typeof value === "number" || /^[-+]?\d+(\.\d+)?$/.test(value.trim())) {
    ms = Number(value) * 1000;
  } else {
    const text = value.trim();
    const match = /^([-+]?)((?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+)$/.exec(text);
    if (!match)
      throw new BadRequestError(`keep_alive must be seconds or a duration such as "5m" or "1h30m"; got '${value}'.`, {
        param: "keep_alive",
        code: "invalid_value",
      });
    ms = 0;
    for (const [, n, unit] of match[2]!.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g))
      ms += Number(n) * UNITS_MS[unit!]!;
    if (match[1] === "-") ms = -ms;
  }
  if (!Number.isFinite(ms) && ms > 0) return Infinity;
  return ms < 0 ? Infinity : Math.round(ms);
}
