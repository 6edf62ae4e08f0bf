/**
 * Wire requests (validated) to provider-neutral requests. Sampling fields carry only what the
 * client set: local models fill in llama-server's defaults (core/types.ts SAMPLING_DEFAULTS),
 * remote providers leave the rest to the upstream.
 */
import { paramNamer, type ParamNamer } from "../chat/params.js";
import { BadRequestError } from "../errors.js";
import type {
  ChatMessage,
  ChatRequest,
  CompletionRequest,
  EmbeddingRequest,
  ResponseFormat,
  SamplingOptions,
  ToolChoice,
  VllmExtra,
  VllmExtras,
} from "../core/types.js";
import { speculativeOf, vllmExtrasIn } from "../core/types.js";
import type { ChatCompletionRequestBody, CompletionRequestBody, EmbeddingRequestBody } from "./schemas.js";

/** vLLM's `guided_json` as a JSON schema: an object, or JSON text of one. */
function guidedJsonSchema(value: Record<string, unknown> | string): Record<string, unknown> {
  let schema: unknown = value;
  if (typeof value === "string") {
    try {
      schema = JSON.parse(value);
    } catch {
      throw new BadRequestError("guided_json must be a JSON schema: an object, or a string of JSON text holding one.", {
        param: "guided_json",
        code: "invalid_value",
      });
    }
  }
  if (typeof schema !== "object" || schema === null || Array.isArray(schema)) {
    throw new BadRequestError("guided_json must be a JSON schema object.", {
      param: "guided_json",
      code: "invalid_value",
    });
  }
  return schema as Record<string, unknown>;
}

type Content = string | { type: string; text?: unknown }[] | null | undefined;

export function textOf(content: Content, param: string): string {
  if (content === null || content === undefined) return "";
  if (typeof content === "string") return content;
  return content
    .map((part, i) => {
      if (part.type !== "text" || typeof part.text !== "string") {
        throw new BadRequestError(
          `Content parts of type '${part.type}' are not supported by this model; send text parts only.`,
          {
            param: `${param}.${i}.type`,
            code: "unsupported_content",
          },
        );
      }
      return part.text;
    })
    .join("");
}

export function samplingOf(body: {
  temperature?: number | null;
  top_p?: number | null;
  top_k?: number | null;
  min_p?: number | null;
  seed?: number | null;
  presence_penalty?: number | null;
  frequency_penalty?: number | null;
}): Partial<SamplingOptions> {
  const set = <T>(v: T | null | undefined): T | undefined => (v === null ? undefined : v);
  const out: Partial<SamplingOptions> = {
    temperature: set(body.temperature),
    topP: set(body.top_p),
    topK: set(body.top_k),
    minP: set(body.min_p),
    seed: set(body.seed),
    presencePenalty: set(body.presence_penalty),
    frequencyPenalty: set(body.frequency_penalty),
  };
  for (const key of Object.keys(out) as (keyof SamplingOptions)[]) if (out[key] === undefined) delete out[key];
  return out;
}

/** The vLLM fields the client set, for providers that pass them upstream. */
function withExtras(body: Partial<Record<VllmExtra, unknown>>): { extras?: VllmExtras } {
  const set = vllmExtrasIn(body);
  return set.length > 0 ? { extras: Object.fromEntries(set.map((k) => [k, body[k]])) } : {};
}

function stopOf(stop: string | string[] | null | undefined): string[] {
  if (stop === null || stop === undefined) return [];
  return (Array.isArray(stop) ? stop : [stop]).filter((s) => s.length > 0);
}

/** Refuses values Hearth would otherwise silently ignore. */
function refuseUnsupported(body: { logit_bias?: Record<string, number> | null }): void {
  if (body.logit_bias && Object.keys(body.logit_bias).length > 0) {
    throw new BadRequestError("logit_bias is not supported.", { param: "logit_bias", code: "unsupported_value" });
  }
}

/** Choices the request asks for (`n`), within the server's `maxN`. */
export function choicesOf(body: { n?: number | null }, maxN: number): number {
  const n = body.n ?? 1;
  if (n > maxN) {
    throw new BadRequestError(`n is ${n}, but this server allows at most ${maxN} choices per request (--max-n).`, {
      param: "n",
      code: "unsupported_value",
    });
  }
  return n;
}

export function toChatRequest(body: ChatCompletionRequestBody): ChatRequest {
  refuseUnsupported(body);
  const wantsTop = body.top_logprobs !== null && body.top_logprobs !== undefined && body.top_logprobs > 0;
  if (wantsTop && !body.logprobs) {
    throw new BadRequestError("top_logprobs requires logprobs to be true.", { param: "top_logprobs" });
  }
  const messages: ChatMessage[] = body.messages.map((m, i): ChatMessage => {
    const param = `messages.${i}.content`;
    switch (m.role) {
      case "system":
      case "developer":
        return { role: "system", content: textOf(m.content, param) };
      case "user":
        return { role: "user", content: textOf(m.content, param) };
      case "assistant":
        return {
          role: "assistant",
          content: m.content === null || m.content === undefined ? null : textOf(m.content, param),
          ...(m.tool_calls && m.tool_calls.length > 0
            ? {
                toolCalls: m.tool_calls.map((c) => ({
                  id: c.id,
                  name: c.function.name,
                  arguments: c.function.arguments,
                })),
              }
            : {}),
          ...(m.reasoning_content ? { reasoning: m.reasoning_content } : {}),
        };
      case "tool":
        return { role: "tool", toolCallId: m.tool_call_id, content: textOf(m.content, param) };
    }
  });
  const rf = body.response_format;
  let responseFormat: ResponseFormat = { type: "text" };
  if (rf?.type === "json_object") responseFormat = { type: "json_object" };
  if (rf?.type === "json_schema") {
    if (!rf.json_schema.schema) {
      throw new BadRequestError("response_format.json_schema.schema is required.", {
        param: "response_format.json_schema.schema",
      });
    }
    responseFormat = {
      type: "json_schema",
      name: rf.json_schema.name,
      schema: rf.json_schema.schema,
      strict: rf.json_schema.strict ?? false,
    };
  }
  if (responseFormat.type === "text" && body.guided_json !== undefined && body.guided_json !== null) {
    responseFormat = {
      type: "json_schema",
      name: "guided_json",
      schema: guidedJsonSchema(body.guided_json),
      strict: true,
      fromGuidedJson: true,
    };
  }
  const tools = (body.tools ?? []).map((t) => ({
    name: t.function.name,
    ...(t.function.description !== undefined ? { description: t.function.description } : {}),
    ...(t.function.parameters !== undefined ? { parameters: t.function.parameters } : {}),
  }));
  const tc = body.tool_choice;
  const toolChoice: ToolChoice =
    tc === null || tc === undefined ? "auto" : typeof tc === "string" ? tc : { name: tc.function.name };
  if (toolChoice !== "auto" && toolChoice !== "none" && tools.length === 0) {
    throw new BadRequestError("tool_choice requires tools.", { param: "tool_choice" });
  }
  return {
    kind: "chat",
    model: body.model,
    messages,
    maxTokens: body.max_completion_tokens ?? body.max_tokens ?? undefined,
    sampling: samplingOf(body),
    stop: stopOf(body.stop),
    responseFormat,
    tools,
    toolChoice,
    ...(body.parallel_tool_calls !== null && body.parallel_tool_calls !== undefined
      ? { parallelToolCalls: body.parallel_tool_calls }
      : {}),
    ...(body.logprobs ? { topLogprobs: body.top_logprobs ?? 0 } : {}),
    ...(body.user ? { user: body.user } : {}),
    ...speculativeOf(body.speculative),
    ...reasoningOf(body),
    ...withExtras(body),
  };
}

/** `reasoning_effort`, or llama-server's and vLLM's `chat_template_kwargs.enable_thinking: false`. */
function reasoningOf(body: ChatCompletionRequestBody): Pick<ChatRequest, "reasoning"> {
  const effort = body.reasoning_effort === "minimal" ? "low" : body.reasoning_effort;
  if (effort) return { reasoning: { effort } };
  if (body.chat_template_kwargs?.enable_thinking === false) return { reasoning: { effort: "none" } };
  return {};
}

/** OpenAI's legacy completions default to 16 tokens; so do we, for clients that rely on it. */
const COMPLETIONS_DEFAULT_MAX_TOKENS = 16;

export function toCompletionRequest(body: CompletionRequestBody): CompletionRequest {
  refuseUnsupported(body);
  if (Array.isArray(body.prompt) && body.prompt.length > 1) {
    throw new BadRequestError("Only one prompt per request is supported; send an array of one or a string.", {
      param: "prompt",
      code: "unsupported_value",
    });
  }
  if (body.suffix)
    throw new BadRequestError("suffix is not supported.", { param: "suffix", code: "unsupported_value" });
  if (body.best_of !== null && body.best_of !== undefined && body.best_of > 1) {
    throw new BadRequestError("best_of > 1 is not supported.", { param: "best_of", code: "unsupported_value" });
  }
  const prompt = Array.isArray(body.prompt) ? (body.prompt[0] as string) : body.prompt;
  return {
    kind: "completion",
    model: body.model,
    prompt,
    echo: body.echo ?? false,
    ...(body.logprobs !== null && body.logprobs !== undefined ? { topLogprobs: body.logprobs } : {}),
    maxTokens: body.max_tokens ?? COMPLETIONS_DEFAULT_MAX_TOKENS,
    sampling: samplingOf(body),
    stop: stopOf(body.stop),
    ...(body.user ? { user: body.user } : {}),
    ...speculativeOf(body.speculative),
    ...withExtras(body),
  };
}

export function toEmbeddingRequest(body: EmbeddingRequestBody): EmbeddingRequest {
  if (body.dimensions !== null && body.dimensions !== undefined) {
    throw new BadRequestError("dimensions is not supported by local embedding models.", {
      param: "dimensions",
      code: "unsupported_value",
    });
  }
  const input = body.input;
  const user = body.user ? { user: body.user } : {};
  if (typeof input === "string") return { model: body.model, input: [input], ...user };
  if (input.every((v): v is string => typeof v === "string")) return { model: body.model, input, ...user };
  throw new BadRequestError("Token-array input is not supported; send strings.", {
    param: "input",
    code: "unsupported_value",
  });
}

const SHARED_NAMES = { topLogprobs: "logprobs", maxTokens: "max_tokens" };

/** Chat completions' names for the fields of the neutral request `toChatRequest` made (chat/params.ts). */
export function chatParamNames(request: ChatRequest): ParamNamer {
  const fromGuidedJson = request.responseFormat.type === "json_schema" && request.responseFormat.fromGuidedJson;
  return paramNamer({
    ...SHARED_NAMES,
    "messages.*.toolCalls": "messages.*.tool_calls",
    "messages.*.toolCallId": "messages.*.tool_call_id",
    toolChoice: "tool_choice",
    responseFormat: fromGuidedJson ? "guided_json" : "response_format",
    "responseFormat.schema": fromGuidedJson ? "guided_json" : "response_format.json_schema.schema",
    "tools.*.parameters": "tools.*.function.parameters",
    parallelToolCalls: "parallel_tool_calls",
    "messages.*.reasoning": "messages.*.reasoning_content",
    reasoning: "reasoning_effort",
  });
}

/** Legacy completions' names for the neutral request's fields. */
export const completionParamNames: ParamNamer = paramNamer(SHARED_NAMES);
