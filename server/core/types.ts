/**
 * The provider-neutral contract between the HTTP edge and whatever generates text: the local
 * engine or a remote OpenAI-compatible server. Wire formats (OpenAI, Anthropic, Responses JSON,
 * SSE) never cross it: the converters at the edge validate wire bodies and build these, and the
 * encoders at the edge turn these events back into wire shapes. Nothing here imports anything.
 */

export interface SamplingOptions {
  /** 0 is greedy. */
  temperature: number;
  topP: number;
  /** 0 disables top-k. */
  topK: number;
  minP: number;
  seed?: number;
  presencePenalty: number;
  frequencyPenalty: number;
}

export interface ToolCall {
  id: string;
  name: string;
  /** JSON text, as OpenAI sends it. */
  arguments: string;
}

export type ChatMessage =
  | { role: "system"; content: string }
  | { role: "user"; content: string }
  /** `reasoning`: the thoughts the model wrote before `content`, when a client sends them back. */
  | { role: "assistant"; content: string | null; toolCalls?: ToolCall[]; reasoning?: string }
  | { role: "tool"; toolCallId: string; content: string };

export interface ToolDefinition {
  name: string;
  description?: string;
  /** A JSON schema object. */
  parameters?: Record<string, unknown>;
}

/**
 * How hard a thinking model should think: OpenAI's `reasoning_effort` levels. `none` turns
 * thinking off where the model can answer without it.
 */
export const REASONING_EFFORTS = ["none", "low", "medium", "high"] as const;
export type ReasoningEffort = (typeof REASONING_EFFORTS)[number];

/** A request's reasoning controls; a model that does not think ignores them and just answers. */
export interface ReasoningOptions {
  effort?: ReasoningEffort;
  /** Most tokens the thoughts may take before the model must answer (Anthropic's `budget_tokens`). */
  budgetTokens?: number;
}

export type ToolChoice = "auto" | "none" | "required" | { name: string };

export type ResponseFormat =
  | { type: "text" }
  | { type: "json_object" }
  /** `fromGuidedJson`: made from vLLM's `guided_json`, which a vLLM upstream receives as itself. */
  | { type: "json_schema"; name: string; schema: Record<string, unknown>; strict: boolean; fromGuidedJson?: true };

/**
 * llama-server's sampling defaults, which suit local models better than OpenAI's temperature 1 with
 * no truncation (README "Defaults"). Local models apply them to what a request leaves unset; remote
 * providers send only what the client set, so the upstream's own defaults apply there.
 */
export const SAMPLING_DEFAULTS = {
  temperature: 0.8,
  topP: 0.95,
  topK: 40,
  minP: 0.05,
  presencePenalty: 0,
  frequencyPenalty: 0,
} as const satisfies Omit<SamplingOptions, "seed">;

/** `sampling` with the defaults filled in for what the client did not set. */
export function withSamplingDefaults(sampling: Partial<SamplingOptions>): SamplingOptions {
  const out: SamplingOptions = { ...SAMPLING_DEFAULTS };
  for (const [key, value] of Object.entries(sampling) as [keyof SamplingOptions, number | undefined][]) {
    if (value !== undefined) out[key] = value;
  }
  return out;
}

/**
 * vLLM's own request fields, validated at the edge. Forwarded by providers whose upstream takes
 * them (vLLM), refused by name by the others; local models follow `guided_json` on chat (the edge
 * turns it into the response format) and `ignore_eos`.
 */
export const VLLM_EXTRAS = [
  "guided_json",
  "guided_regex",
  "guided_choice",
  "guided_grammar",
  "guided_decoding_backend",
  "guided_whitespace_pattern",
  "repetition_penalty",
  "length_penalty",
  "min_tokens",
  "ignore_eos",
  "skip_special_tokens",
  "spaces_between_special_tokens",
  "include_stop_str_in_output",
] as const;
export type VllmExtra = (typeof VLLM_EXTRAS)[number];
/** The vLLM fields a client set (never null), with their validated values. */
export type VllmExtras = Partial<Record<VllmExtra, unknown>>;

/** The neutral form of the body field `speculative`: only `false` says anything (turn it off). */
export function speculativeOf(value: boolean | null | undefined): { speculative?: false } {
  return value === false ? { speculative: false } : {};
}

/** The vLLM fields set in `extras`, in VLLM_EXTRAS order. */
export function vllmExtrasIn(extras: VllmExtras | undefined): VllmExtra[] {
  return extras ? VLLM_EXTRAS.filter((k) => extras[k] !== undefined && extras[k] !== null) : [];
}

interface GenerationRequestBase {
  /** The model id as the client named it. */
  model: string;
  /** Tokens to generate at most; undefined means the server default. */
  maxTokens?: number;
  /** What the client set; see SAMPLING_DEFAULTS for the rest. */
  sampling: Partial<SamplingOptions>;
  stop: string[];
  /** Number of top alternatives per token when logprobs were asked for; undefined = no logprobs. */
  topLogprobs?: number;
  /** The end user, for logs and upstreams that take it. */
  user?: string;
  /** vLLM fields the client set. */
  extras?: VllmExtras;
  /**
   * False turns speculative decoding off for this request (`"speculative": false` in the body);
   * undefined leaves it to the server's settings. Output is the same either way.
   */
  speculative?: boolean;
}

export interface ChatRequest extends GenerationRequestBase {
  kind: "chat";
  messages: ChatMessage[];
  responseFormat: ResponseFormat;
  tools: ToolDefinition[];
  toolChoice: ToolChoice;
  /** Undefined when the client did not say; local models then allow several calls. */
  parallelToolCalls?: boolean;
  /** Undefined: the model's own default (thinking models think). */
  reasoning?: ReasoningOptions;
}

export interface CompletionRequest extends GenerationRequestBase {
  kind: "completion";
  prompt: string;
  echo: boolean;
}

export type GenerationRequest = ChatRequest | CompletionRequest;

export interface EmbeddingRequest {
  model: string;
  input: string[];
  user?: string;
}

export interface EmbeddingResult {
  /** Unit-length vectors, one per input, in order. */
  vectors: Float32Array[];
  promptTokens: number;
}

export type FinishReason = "stop" | "length" | "tool_calls" | "content_filter";

export interface Usage {
  promptTokens: number;
  /** Includes the reasoning tokens. */
  completionTokens: number;
  cachedTokens: number;
  /** Of the completion tokens, those the model spent thinking; undefined when the provider does not say. */
  reasoningTokens?: number;
  /**
   * Speculative decoding's guessed tokens the model accepted and rejected (engine/speculative.ts);
   * undefined where the request did not speculate.
   */
  prediction?: { accepted: number; rejected: number };
}

/** One token's log-probability (natural log, <= 0) and the most likely alternatives, best first. */
export interface TokenLogprob {
  token: string;
  /** Null only for an echoed prompt's first token, which has nothing before it to be predicted from. */
  logprob: number | null;
  bytes: number[];
  top: { token: string; logprob: number; bytes: number[] }[];
}

/**
 * What a generation yields, in order: reasoning, text and tool-call deltas, then exactly one
 * `finish`. Reasoning is the model's thinking, kept apart from the answer in every wire format.
 */
export type GenerationEvent =
  | { type: "reasoning"; text: string }
  /** `logprobs` covers the tokens of `text`, when the request asked for them (`topLogprobs`). */
  | { type: "text"; text: string; logprobs?: TokenLogprob[] }
  | { type: "tool_call"; index: number; id: string; name: string; argumentsDelta: string; first: boolean }
  /** `stopSequence`: the request's stop string that ended the text, when the provider knows it. */
  | { type: "finish"; reason: FinishReason; usage: Usage; stopSequence?: string };

/**
 * Something a provider accepted but cannot honour exactly (a JSON-schema keyword no grammar
 * enforces), said once in the response (`X-Hearth-Warnings`).
 */
export interface RequestWarning {
  /** The neutral field it is about (`responseFormat.schema`); the pipeline renames it to the route's. */
  param: string;
  message: string;
}

/** What a provider knows once it admitted a request, before the first event. */
export interface Admission {
  warnings: RequestWarning[];
  /**
   * The prompt's tokens, counted at admission (Anthropic's `message_start` carries them);
   * undefined where the provider learns them only at the end (remote upstreams).
   */
  usage?: Pick<Usage, "promptTokens" | "cachedTokens">;
}

/**
 * Returned once the request was admitted (a sequence is free, the prompt fits); iterate it for
 * events. `admission` is set by the provider that admitted it (wrappers that observe the events
 * do not carry it on; the pipeline reads it first).
 */
export type GenerationStream = AsyncIterable<GenerationEvent> & { readonly admission?: Admission };

/** One event of one choice of a request with `n` choices. */
export interface ChoiceEvent {
  choice: number;
  event: GenerationEvent;
}

/** The events of `n` choices, interleaved; each choice ends with its own `finish`. */
export type ChoiceStream = AsyncIterable<ChoiceEvent>;

export interface ModelInfo {
  /** The id clients send as `model`. */
  id: string;
  ownedBy: string;
  created: number;
  /** The provider that serves it. */
  provider: string;
}

export interface Provider {
  readonly id: string;
  listModels(): Promise<ModelInfo[]>;
  /** True when this provider serves `model` (as the client named it). */
  hasModel(model: string): Promise<boolean>;
  /**
   * Admits a request and returns its event stream. Rejects (with a HearthError) before any
   * event when the request cannot start: queue full, prompt too long, unknown model.
   * The signal cancels admission and generation alike.
   */
  generate(request: GenerationRequest, signal: AbortSignal): Promise<GenerationStream>;
  /**
   * Tokens the prompt of `request` takes with the model's own tokenizer and chat template. Only
   * providers that can know it have it (remote OpenAI-compatible servers have no such endpoint).
   */
  countTokens?(request: ChatRequest, signal: AbortSignal): Promise<number>;
  embed(request: EmbeddingRequest, signal: AbortSignal): Promise<EmbeddingResult>;
  close(): Promise<void>;
}

/**
 * Told what a request's generations used, once each ends: the per-key token limits and usage
 * (server/access/). The pipeline (chat/service.ts) calls it for every wire format alike.
 */
export interface UsageMeter {
  /**
   * A choice was admitted and will end with one `finished` or `failed`, also when its client goes
   * away: until then the request's usage is not final. Not called for embeddings.
   */
  began?(): void;
  /** One choice (or an embedding request) finished with this usage. */
  finished(model: string, usage: Usage): void;
  /** One choice failed after it was admitted (the response may already be 200), having used `usage`. */
  failed(model: string, usage?: Usage): void;
}
