/**
 * The remote provider's edge: neutral requests to the upstream's OpenAI wire bodies (with the
 * parameter policy of each provider kind), and the upstream's stream chunks back to neutral
 * events. Pure functions and one small decoder, so both directions are unit-tested on bytes.
 */
import crypto from "node:crypto";
import { createParser, type EventSourceParser } from "eventsource-parser";
import { BadRequestError, UpstreamError } from "../errors.js";
import type { ProviderKind } from "./provider-config.js";
import type {
  ChatMessage,
  ChatRequest,
  CompletionRequest,
  EmbeddingRequest,
  FinishReason,
  GenerationEvent,
  SamplingOptions,
  TokenLogprob,
  Usage,
} from "../core/types.js";
import { vllmExtrasIn, type VllmExtras } from "../core/types.js";

/**
 * What each kind does with parameters Hearth understands (README "Providers"):
 * - `top_k`, `min_p`: vLLM and generic servers get them; OpenAI has no such knobs, so they are
 *   dropped (they tune quality, and the UI sends them for every model).
 * - vLLM's structured-output and sampling extras (`guided_json`...): passed to vLLM and generic
 *   servers when a client sends them; refused for OpenAI (silently ignoring a constraint would
 *   return unconstrained output).
 * - `stop`: OpenAI takes at most 4 sequences; more is refused rather than truncated.
 * - Reasoning: `reasoning_effort` goes to every kind; `none` also sends vLLM's and llama-server's
 *   `chat_template_kwargs.enable_thinking: false` to the servers that take it (Qwen3 templates
 *   read it). A thought budget has no common field and is not forwarded. Replies' thoughts come
 *   back in `reasoning_content` (vLLM before 0.10, DeepSeek, llama-server) or `reasoning` (newer
 *   vLLM, OpenRouter); either becomes reasoning events.
 */

export interface KindPolicy {
  topK: "send" | "drop";
  minP: "send" | "drop";
  extras: "send" | "refuse";
  maxStop: number;
  /** OpenAI deprecated `max_tokens` on chat and its reasoning models refuse it. */
  chatMaxTokensField: "max_tokens" | "max_completion_tokens";
  /** vLLM releases before 0.8 refuse `top_k: 0` and want -1 for "disabled". */
  topKDisabled: 0 | -1;
}

export const KIND_POLICIES: Record<ProviderKind, KindPolicy> = {
  openai: {
    topK: "drop",
    minP: "drop",
    extras: "refuse",
    maxStop: 4,
    chatMaxTokensField: "max_completion_tokens",
    topKDisabled: 0,
  },
  vllm: {
    topK: "send",
    minP: "send",
    extras: "send",
    maxStop: Infinity,
    chatMaxTokensField: "max_tokens",
    topKDisabled: -1,
  },
  "openai-compatible": {
    topK: "send",
    minP: "send",
    extras: "send",
    maxStop: Infinity,
    chatMaxTokensField: "max_tokens",
    topKDisabled: 0,
  },
};

const SAMPLING_WIRE: Record<keyof SamplingOptions, string> = {
  temperature: "temperature",
  topP: "top_p",
  topK: "top_k",
  minP: "min_p",
  seed: "seed",
  presencePenalty: "presence_penalty",
  frequencyPenalty: "frequency_penalty",
};

/**
 * Sampling fields the client actually set (the app's own chats set them all): the upstream's
 * defaults are better for its models than Hearth's local ones.
 */
function samplingBody(sampling: Partial<SamplingOptions>, policy: KindPolicy): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(SAMPLING_WIRE) as [keyof SamplingOptions, string][]) {
    const value = sampling[key];
    if (value === undefined) continue;
    if (key === "topK") {
      if (policy.topK === "drop") continue;
      body[field] = value === 0 ? policy.topKDisabled : value;
    } else if (key === "minP") {
      if (policy.minP === "drop") continue;
      body[field] = value;
    } else {
      body[field] = value;
    }
  }
  return body;
}

function extrasBody(extras: VllmExtras | undefined, policy: KindPolicy, kind: ProviderKind): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const field of vllmExtrasIn(extras)) {
    if (policy.extras === "refuse") {
      throw new BadRequestError(
        `'${field}' is not supported by ${kind} providers; for structured output use response_format.`,
        {
          param: field,
          code: "unsupported_parameter",
        },
      );
    }
    body[field] = extras![field];
  }
  return body;
}

function stopBody(stop: string[], policy: KindPolicy, kind: ProviderKind): Record<string, unknown> {
  if (stop.length === 0) return {};
  if (stop.length > policy.maxStop) {
    throw new BadRequestError(
      `${kind} providers accept at most ${policy.maxStop} stop sequences; this request has ${stop.length}.`,
      {
        param: "stop",
        code: "unsupported_value",
      },
    );
  }
  return { stop };
}

/**
 * A neutral message on OpenAI's wire. Only the mapping lives here (stored history became neutral
 * messages in history/prompt.ts): an assistant's null content stays null beside tool calls, and is
 * "" without them, since OpenAI requires content unless there are tool calls.
 */
function messageBody(m: ChatMessage): Record<string, unknown> {
  switch (m.role) {
    case "system":
    case "user":
      return { role: m.role, content: m.content };
    case "assistant": {
      const calls = m.toolCalls ?? [];
      return {
        role: "assistant",
        content: m.content ?? (calls.length > 0 ? null : ""),
        ...(calls.length > 0
          ? {
              tool_calls: calls.map((c) => ({
                id: c.id,
                type: "function",
                function: { name: c.name, arguments: c.arguments },
              })),
            }
          : {}),
      };
    }
    case "tool":
      return { role: "tool", tool_call_id: m.toolCallId, content: m.content };
  }
}

const STREAM = { stream: true, stream_options: { include_usage: true } } as const;

/** The upstream body for a chat request; always streamed, with usage asked for. */
export function chatBody(request: ChatRequest, upstreamModel: string, kind: ProviderKind): Record<string, unknown> {
  const policy = KIND_POLICIES[kind];
  const body: Record<string, unknown> = {
    model: upstreamModel,
    messages: request.messages.map(messageBody),
    ...samplingBody(request.sampling, policy),
    ...stopBody(request.stop, policy, kind),
    ...extrasBody(request.extras, policy, kind),
    ...STREAM,
  };
  if (request.maxTokens !== undefined) body[policy.chatMaxTokensField] = request.maxTokens;
  if (request.topLogprobs !== undefined) {
    body.logprobs = true;
    if (request.topLogprobs > 0) body.top_logprobs = request.topLogprobs;
  }
  if (request.user) body.user = request.user;
  const effort = request.reasoning?.effort;
  if (effort) {
    body.reasoning_effort = effort;
    if (effort === "none" && kind !== "openai") body.chat_template_kwargs = { enable_thinking: false };
  }
  const rf = request.responseFormat;
  if (rf.type === "json_object") body.response_format = { type: "json_object" };
  if (rf.type === "json_schema" && !rf.fromGuidedJson)
    body.response_format = {
      type: "json_schema",
      json_schema: { name: rf.name, schema: rf.schema, strict: rf.strict },
    };
  if (request.tools.length > 0) {
    body.tools = request.tools.map((t) => ({
      type: "function",
      function: {
        name: t.name,
        ...(t.description !== undefined ? { description: t.description } : {}),
        ...(t.parameters ? { parameters: t.parameters } : {}),
      },
    }));
    const tc = request.toolChoice;
    body.tool_choice = typeof tc === "string" ? tc : { type: "function", function: { name: tc.name } };
    if (request.parallelToolCalls !== undefined) body.parallel_tool_calls = request.parallelToolCalls;
  }
  return body;
}

/** The upstream body for a legacy completion; always streamed, with usage asked for. */
export function completionBody(
  request: CompletionRequest,
  upstreamModel: string,
  kind: ProviderKind,
): Record<string, unknown> {
  const policy = KIND_POLICIES[kind];
  return {
    model: upstreamModel,
    prompt: request.prompt,
    ...(request.echo ? { echo: true } : {}),
    ...(request.maxTokens !== undefined ? { max_tokens: request.maxTokens } : {}),
    ...(request.topLogprobs !== undefined ? { logprobs: request.topLogprobs } : {}),
    ...samplingBody(request.sampling, policy),
    ...stopBody(request.stop, policy, kind),
    ...extrasBody(request.extras, policy, kind),
    ...(request.user ? { user: request.user } : {}),
    ...STREAM,
  };
}

/** Floats are asked for whatever the client wants: the /v1 edge encodes base64 itself. */
export function embeddingBody(request: EmbeddingRequest, upstreamModel: string): Record<string, unknown> {
  const user = request.user;
  return {
    model: upstreamModel,
    input: request.input,
    encoding_format: "float",
    ...(typeof user === "string" && user ? { user } : {}),
  };
}

// ---- upstream replies to neutral events ----

interface WireUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number } | null;
  completion_tokens_details?: { reasoning_tokens?: number } | null;
}

interface WireToolCallDelta {
  index?: number;
  id?: string;
  function?: { name?: string; arguments?: string };
}

interface WireTokenLogprob {
  token?: string;
  logprob?: number | null;
  bytes?: number[] | null;
  top_logprobs?: { token?: string; logprob?: number; bytes?: number[] | null }[] | null;
}

/** Chat chunks carry `content`; legacy completions carry parallel arrays. */
interface WireLogprobs {
  content?: WireTokenLogprob[] | null;
  tokens?: string[];
  token_logprobs?: (number | null)[];
  top_logprobs?: (Record<string, number> | null)[] | null;
}

interface WireDelta {
  content?: string | null;
  reasoning_content?: string | null;
  reasoning?: string | null;
  tool_calls?: WireToolCallDelta[] | null;
}

interface WireChoice {
  index?: number;
  text?: string | null;
  delta?: WireDelta | null;
  message?: WireDelta | null;
  logprobs?: WireLogprobs | null;
  finish_reason?: string | null;
  /** vLLM: the stop string (or token id) that ended the text. */
  stop_reason?: string | number | null;
}

interface WireChunk {
  /** Older vLLM releases send a stream error as a top-level `{"object": "error", "message": ...}`. */
  object?: string;
  message?: unknown;
  choices?: WireChoice[];
  usage?: WireUsage | null;
  error?: { message?: unknown; code?: unknown } | string;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

function finishReasonOf(reason: string): FinishReason {
  switch (reason) {
    case "length":
      return "length";
    case "tool_calls":
    case "function_call":
      return "tool_calls";
    case "content_filter":
      return "content_filter";
    default:
      return "stop";
  }
}

const utf8Bytes = (token: string) => [...Buffer.from(token, "utf8")];

/** The upstream's per-token log-probabilities, in either wire form, as neutral entries. */
export function logprobsOf(wire: WireLogprobs | null | undefined): TokenLogprob[] | undefined {
  if (!wire) return undefined;
  if (Array.isArray(wire.content)) {
    return wire.content.map((t) => {
      const token = t.token ?? "";
      return {
        token,
        logprob: t.logprob ?? null,
        bytes: t.bytes ?? utf8Bytes(token),
        top: (t.top_logprobs ?? []).map((a) => ({
          token: a.token ?? "",
          logprob: a.logprob ?? 0,
          bytes: a.bytes ?? utf8Bytes(a.token ?? ""),
        })),
      };
    });
  }
  if (Array.isArray(wire.tokens)) {
    return wire.tokens.map((token, i) => ({
      token,
      logprob: wire.token_logprobs?.[i] ?? null,
      bytes: utf8Bytes(token),
      top: Object.entries(wire.top_logprobs?.[i] ?? {})
        .sort(([, a], [, b]) => b - a)
        .map(([t, logprob]) => ({ token: t, logprob, bytes: utf8Bytes(t) })),
    }));
  }
  return undefined;
}

export function usageOf(u: WireUsage | null | undefined): Usage {
  const reasoningTokens = u?.completion_tokens_details?.reasoning_tokens;
  return {
    promptTokens: u?.prompt_tokens ?? 0,
    completionTokens: u?.completion_tokens ?? 0,
    cachedTokens: u?.prompt_tokens_details?.cached_tokens ?? 0,
    ...(typeof reasoningTokens === "number" ? { reasoningTokens } : {}),
  };
}

/**
 * Turns the upstream's SSE `data:` payloads into neutral events, in order. Holds what spans
 * chunks: tool-call ids and names by index, the finish reason, the usage (which comes after it).
 */
export class UpstreamChunkDecoder {
  private readonly calls = new Map<number, { id: string; name: string }>();
  private finish: FinishReason | null = null;
  private stopSequence: string | undefined;
  private usage: Usage | null = null;
  private done = false;

  /** `describe` names the provider in errors: "The provider 'x'". */
  constructor(
    private readonly describe: string,
    private readonly scrub: (text: string) => string,
  ) {}

  get finished(): boolean {
    return this.done;
  }

  /** Events carried by one `data:` payload; `[DONE]` ends the stream. */
  push(data: string): GenerationEvent[] {
    if (this.done) return [];
    if (data === "[DONE]") return this.end();
    let chunk: unknown;
    try {
      chunk = JSON.parse(data);
    } catch {
      throw this.badEvent("a stream event that is not JSON");
    }
    if (!isObject(chunk)) throw this.badEvent("a stream event that is not a JSON object");
    return this.decoding(() => {
      const c = chunk as WireChunk;
      if (c.error !== undefined && c.error !== null) throw this.streamError(c.error);
      if (c.object === "error") throw this.streamError({ message: c.message });
      if (c.usage) this.usage = usageOf(c.usage);
      const events: GenerationEvent[] = [];
      for (const choice of c.choices ?? []) {
        if ((choice.index ?? 0) !== 0) continue;
        this.decodeChoice(choice, events);
      }
      return events;
    });
  }

  /** The one `finish` event, once the stream ended; an upstream that stopped mid-way is an error. */
  end(): GenerationEvent[] {
    if (this.done) return [];
    if (this.finish === null) {
      throw new UpstreamError(502, "server_error", `${this.describe} closed the stream before the reply finished.`, {
        code: "provider_stream_cut",
      });
    }
    this.done = true;
    return [
      {
        type: "finish",
        reason: this.finish,
        usage: this.usage ?? usageOf(null),
        ...(this.stopSequence !== undefined ? { stopSequence: this.stopSequence } : {}),
      },
    ];
  }

  /** A whole non-streamed reply (some servers ignore `stream: true`). */
  whole(reply: unknown): GenerationEvent[] {
    if (!isObject(reply)) throw this.badEvent("a reply that is not a JSON object");
    const body = reply as WireChunk;
    const events = this.decoding(() => {
      if (body.error !== undefined && body.error !== null) throw this.streamError(body.error);
      const found: GenerationEvent[] = [];
      const choice = body.choices?.find((c) => (c.index ?? 0) === 0);
      if (choice) this.decodeChoice({ ...choice, delta: choice.delta ?? choice.message ?? null }, found);
      if (body.usage) this.usage = usageOf(body.usage);
      return found;
    });
    this.finish ??= "stop";
    return [...events, ...this.end()];
  }

  /**
   * Runs a decode step over the upstream's JSON, whose shape it does not control: a field of the
   * wrong type (`choices: [null]`) is the upstream's malformed reply, not a network failure.
   */
  private decoding(step: () => GenerationEvent[]): GenerationEvent[] {
    try {
      return step();
    } catch (err) {
      if (err instanceof TypeError) throw this.badEvent("a malformed stream event");
      throw err;
    }
  }

  private badEvent(what: string): UpstreamError {
    return new UpstreamError(502, "server_error", `${this.describe} sent ${what}.`, { code: "provider_bad_response" });
  }

  private decodeChoice(choice: WireChoice, events: GenerationEvent[]): void {
    const reasoning = choice.delta?.reasoning_content ?? choice.delta?.reasoning;
    if (typeof reasoning === "string" && reasoning.length > 0) events.push({ type: "reasoning", text: reasoning });
    const text = choice.delta?.content ?? choice.text;
    const logprobs = logprobsOf(choice.logprobs);
    if ((typeof text === "string" && text.length > 0) || (logprobs && logprobs.length > 0)) {
      events.push({ type: "text", text: text ?? "", ...(logprobs && logprobs.length > 0 ? { logprobs } : {}) });
    }
    for (const call of choice.delta?.tool_calls ?? []) {
      const index = call.index ?? 0;
      let known = this.calls.get(index);
      const first = known === undefined;
      if (!known) {
        known = { id: call.id ?? `call_${crypto.randomBytes(12).toString("hex")}`, name: call.function?.name ?? "" };
        this.calls.set(index, known);
      }
      const argumentsDelta = call.function?.arguments ?? "";
      if (first || argumentsDelta)
        events.push({ type: "tool_call", index, id: known.id, name: known.name, argumentsDelta, first });
    }
    if (choice.finish_reason) this.finish = finishReasonOf(choice.finish_reason);
    if (typeof choice.stop_reason === "string" && choice.stop_reason.length > 0) this.stopSequence = choice.stop_reason;
  }

  private streamError(error: WireChunk["error"]): UpstreamError {
    const message =
      typeof error === "string" ? error : typeof error?.message === "string" ? error.message : "unknown error";
    return new UpstreamError(
      502,
      "server_error",
      `${this.describe} reported an error during the reply: ${this.scrub(message)}`,
      {
        code: "provider_error",
      },
    );
  }
}

/**
 * Bytes of an upstream SSE reply to neutral events: UTF-8 decoding and SSE framing that hold a
 * partial character, line or event until the next network chunk completes it.
 */
export class UpstreamSseDecoder {
  private readonly chunks: UpstreamChunkDecoder;
  private readonly parser: EventSourceParser;
  private readonly utf8 = new TextDecoder();
  private readonly payloads: string[] = [];

  constructor(describe: string, scrub: (text: string) => string) {
    this.chunks = new UpstreamChunkDecoder(describe, scrub);
    this.parser = createParser({ onEvent: (event) => this.payloads.push(event.data) });
  }

  /** True once the upstream's `[DONE]` (or end) produced the finish event. */
  get finished(): boolean {
    return this.chunks.finished;
  }

  /** The events completed by this network chunk (often one, sometimes none or several). */
  feed(bytes: Uint8Array): GenerationEvent[] {
    this.parser.feed(this.utf8.decode(bytes, { stream: true }));
    return this.drain();
  }

  /** The body ended: whatever was still pending, then the finish event (or an error if it never finished). */
  end(): GenerationEvent[] {
    this.parser.feed(this.utf8.decode());
    this.parser.reset({ consume: true });
    return [...this.drain(), ...this.chunks.end()];
  }

  private drain(): GenerationEvent[] {
    if (this.payloads.length === 0) return [];
    const events: GenerationEvent[] = [];
    for (const data of this.payloads) events.push(...this.chunks.push(data));
    this.payloads.length = 0;
    return events;
  }
}
