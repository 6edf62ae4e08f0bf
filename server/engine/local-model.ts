/**
 * One loaded GGUF model: its N sequences spread over one context per decode lane (one on a GPU,
 * two on a 2-core CPU; runtime.ts defaultLanes), each context's sequences the batch (docs/ENGINE-NOTES.md
 * §2.2), long-lived slots that keep their KV cache between requests (§2.3), and a queue in front.
 * Concurrent requests each hold a sequence and node-llama-cpp merges a lane's tokens into one
 * llama_decode per step. All OpenAI JSON stays at the HTTP edge; this yields neutral events.
 */
import crypto from "node:crypto";
import os from "node:os";
import path from "node:path";
import {
  LlamaChat,
  LlamaCompletion,
  type ChatHistoryItem,
  type ChatModelFunctions,
  type LlamaContext,
  type LlamaContextSequence,
  type LlamaEmbeddingContext,
  type LlamaGrammar,
  type LlamaModel,
  type Token,
} from "node-llama-cpp";
import { BadRequestError, ShuttingDownError } from "../errors.js";
import type { Logger } from "../logger.js";
import type {
  ChatRequest,
  CompletionRequest,
  EmbeddingResult,
  FinishReason,
  GenerationEvent,
  GenerationRequest,
  GenerationStream,
  RequestWarning,
  SamplingOptions,
} from "../core/types.js";
import { withSamplingDefaults } from "../core/types.js";
import { AsyncQueue } from "../util/async-queue.js";
import { StepBatcher } from "./batch-barrier.js";
import { toChatHistory } from "./chat-history.js";
import type { ChildSpawner } from "../util/disposable-child.js";
import { chatWrapperFor } from "./chat-template.js";
import {
  CallOrAnswerStream,
  ForcedCallStream,
  callOrAnswerHint,
  forcedCallHint,
  forcedCallSchema,
} from "./forced-tool-call.js";
import {
  GrammarCache,
  checkSchemaBounds,
  nativeSchemaWarnings,
  requiredParameters,
  type SchemaPart,
} from "./grammar.js";
import { ignoreEosBias } from "./ignore-eos.js";
import { decodeWithLogprobs, stopTriggersOf, type DecodeWithLogprobsResult } from "./logprobs.js";
import { attentionHeadWidth, flashAttentionFor, laneShares, type EngineRuntime } from "./runtime.js";
import {
  computeBytesPerBatchToken,
  gpuSizing,
  kvBytesPerSequence,
  modelDimsOf,
  type DimsMetadata,
} from "./gpu-sizing.js";
import { SlotPool, type PoolStats } from "./slot-pool.js";
import { prefillInChunks } from "./prefill.js";
import {
  AdaptivePredictor,
  draftModelPredictor,
  loadDraft,
  promptLookupPredictor,
  type LoadedDraft,
  type SpeculationConfig,
} from "./speculative.js";
import { ReplySplitter, Thinking, type ThinkingPlan } from "./thinking.js";
import { assertStopsCanMatch, assertTextCanFit, longestTokenChars } from "./text-bounds.js";

export interface LocalModelOptions {
  /** The id clients send as `model`. */
  id: string;
  path: string;
  /** 0 chooses from the model and memory. */
  parallel: number;
  /** Tokens per sequence; 0 chooses from the model. */
  ctxSize: number;
  maxQueue: number;
  defaultMaxTokens: number;
  /** Layers to put on the GPU: "auto" fits what free VRAM allows, "max" all of them. Defaults to "auto". */
  gpuLayers?: "auto" | "max" | number;
  /** A chat wrapper name or Jinja template to use instead of the model's own. Defaults to the model's (see chat-template.ts). */
  chatTemplate?: string;
  runtime: EngineRuntime;
  logger: Logger;
  /** Starts the chat-template checker's process (template-guard.ts). Defaults to a child of this process. */
  children?: ChildSpawner;
  /** Speculative decoding (speculative.ts). Defaults to none. */
  speculative?: SpeculationConfig | null;
  onPoolChange?: (stats: PoolStats) => void;
  onLoadProgress?: (progress: number) => void;
  signal?: AbortSignal;
}

interface Slot {
  index: number;
  /** The context (decode lane) the sequence belongs to. */
  lane: number;
  sequence: LlamaContextSequence;
  /** The chat with the model's own wrapper. */
  chat: LlamaChat;
  /** Chats with a wrapper variant (thinking.ts), made on first use. */
  variantChats: Map<string, LlamaChat>;
  completion: LlamaCompletion;
  /** The sequence's guesser when the model speculates (speculative.ts). */
  predictor?: AdaptivePredictor;
}

export interface LocalModelInfo {
  id: string;
  path: string;
  parallel: number;
  /** Contexts the sequences are spread over, decoding side by side (runtime.ts, defaultLanes). */
  lanes: number;
  contextSize: number;
  trainContextSize: number;
  sizeBytes: number;
  /** Layers on the GPU (0 on CPU). */
  gpuLayers: number;
  /** The model's layers, its output layer counted as llama.cpp offloads it: all are on the GPU when gpuLayers equals it. */
  totalLayers: number;
  /** Tokens per decode step (a prompt longer than this is evaluated in several). */
  batchSize: number;
  chatWrapper: string;
  hasChatTemplate: boolean;
  /** The model writes thoughts its chat wrapper keeps apart from the answer (thinking.ts). */
  thinks: boolean;
  /** How it speculates (speculative.ts), the draft model by file name; null where it does not. */
  speculative: { promptLookup: boolean; draftModel: string | null; draftMax: number } | null;
}

const DEFAULT_CTX_CAP = 4096;

/**
 * What a sequence and a batch token cost in VRAM: from the model's dimensions where its metadata
 * gives them, else node-llama-cpp's estimate (which also counts per-sequence graph buffers, so it
 * sizes high: 124 MiB a sequence for bench-86M at 2,048 tokens, whose f16 KV cache is 72 MiB).
 */
function gpuCostsOf(
  model: LlamaModel,
  contextSize: number,
): { kvBytesPerSequence: number; computeBytesPerBatchToken: number } {
  const tokens = (model.fileInfo.metadata as { tokenizer?: { ggml?: { tokens?: unknown } } }).tokenizer?.ggml?.tokens;
  const dims = modelDimsOf(
    model.fileInfo.architectureMetadata as DimsMetadata,
    Array.isArray(tokens) ? tokens.length : 0,
  );
  if (dims)
    return {
      kvBytesPerSequence: kvBytesPerSequence(dims, contextSize),
      computeBytesPerBatchToken: computeBytesPerBatchToken(dims),
    };
  const estimate = (sequences: number, batchSize: number) =>
    model.fileInsights.estimateContextResourceRequirements({
      contextSize,
      modelGpuLayers: model.gpuLayers,
      sequences,
      batchSize,
    }).gpuVram;
  const one = estimate(1, 512);
  return {
    kvBytesPerSequence: Math.max(1, estimate(2, 512) - one),
    computeBytesPerBatchToken: Math.max(0, (estimate(1, 2048) - one) / 1536),
  };
}

/** Sequences to run by default on the CPU: enough to batch well, few enough that their KV cache fits easily. */
export function chooseParallel(modelBytes: number, kvBytesPerSequence: number, freeBytes: number): number {
  const target = modelBytes < 2 * 1024 ** 3 ? 8 : modelBytes < 8 * 1024 ** 3 ? 4 : 2;
  const budget = freeBytes * 0.25;
  const fits = kvBytesPerSequence > 0 ? Math.floor(budget / kvBytesPerSequence) : target;
  return Math.max(1, Math.min(target, fits));
}

function finishReasonOf(stopReason: string): FinishReason {
  if (stopReason === "maxTokens") return "length";
  if (stopReason === "functionCalls") return "tool_calls";
  return "stop";
}

/** How a generation ended, as `run` reports it in the finish event. */
interface Outcome {
  reason: FinishReason;
  /** The request's stop string that ended the text. */
  stopSequence?: string;
  /** Tokens the model spent thinking, for a model that thinks. */
  reasoningTokens?: number;
}

/** The stop string node-llama-cpp reports for a custom stop trigger (text parts only). */
function stopSequenceOf(metadata: { stopReason: string; customStopTrigger?: readonly unknown[] }): string | undefined {
  if (metadata.stopReason !== "customStopTrigger" || !metadata.customStopTrigger) return undefined;
  return metadata.customStopTrigger.filter((p): p is string => typeof p === "string").join("");
}

function outcomeOfLogprobDecode(result: DecodeWithLogprobsResult, requestStops: readonly string[]): Outcome {
  const custom =
    result.stopString !== undefined && requestStops.includes(result.stopString) ? result.stopString : undefined;
  return {
    reason: result.stopReason === "maxTokens" ? "length" : "stop",
    ...(custom !== undefined ? { stopSequence: custom } : {}),
  };
}

/**
 * node-llama-cpp streams a call's params up to and including the end marker of its params grammar
 * (`FunctionCallParamsGrammar`: four newlines), which is not part of the arguments. JSON whitespace
 * at the end of a chunk is held back until more of the call follows, and dropped when it is done.
 */
class CallParamsStream {
  private readonly held = new Map<number, string>();

  /** The part of `chunk` of call `index` to pass on now. */
  take(index: number, chunk: string, done: boolean): string {
    const text = (this.held.get(index) ?? "") + chunk;
    const body = text.replace(/[ \t\r\n]+$/, "");
    this.held.set(index, done ? "" : text.slice(body.length));
    return body;
  }
}

function newCallId(): string {
  return `call_${crypto.randomBytes(12).toString("hex")}`;
}

/**
 * llama.cpp's penalties over the last 64 generated tokens: presence and frequency (OpenAI's), and
 * the multiplicative repetition penalty (vLLM's `repetition_penalty`, Ollama's `repeat_penalty`;
 * 1 is none).
 */
function repeatPenaltyOf(s: SamplingOptions, repetitionPenalty: number) {
  if (s.frequencyPenalty === 0 && s.presencePenalty === 0 && repetitionPenalty === 1) return false as const;
  return {
    frequencyPenalty: s.frequencyPenalty,
    presencePenalty: s.presencePenalty,
    penalty: repetitionPenalty,
    lastTokens: 64,
  };
}

/** The request's frequency, presence and repetition penalties for node-llama-cpp, or false when none applies. */
function repeatPenaltyFor(request: GenerationRequest) {
  const repetition = request.extras?.repetition_penalty;
  return repeatPenaltyOf(withSamplingDefaults(request.sampling), typeof repetition === "number" ? repetition : 1);
}

function samplingOf(request: GenerationRequest) {
  const s = withSamplingDefaults(request.sampling);
  return {
    temperature: s.temperature,
    topP: s.topP,
    topK: s.topK,
    minP: s.minP,
    seed: s.seed ?? crypto.randomInt(0, 2 ** 31),
    repeatPenalty: repeatPenaltyFor(request),
  };
}

/**
 * Whether a request may speculate (speculative.ts): unless it says `speculative: false`, and not
 * with frequency, presence or repetition penalties, which node-llama-cpp computes from the tokens generated
 * before a step, so a guessed position would be sampled with a stale penalty list and the text
 * could differ from a run without guesses.
 */
export function speculates(request: GenerationRequest): boolean {
  return request.speculative !== false && repeatPenaltyFor(request) === false;
}

/** Characters of a chat's messages and tool-call arguments: what the prompt-size bounds are checked on. */
function chatChars(request: ChatRequest): number {
  return request.messages.reduce(
    (sum, m) =>
      sum +
      (m.content?.length ?? 0) +
      (m.role === "assistant" ? (m.toolCalls ?? []).reduce((n, c) => n + c.arguments.length, 0) : 0),
    0,
  );
}

/**
 * When the HTTP side hears of new events: after node-llama-cpp has dispatched the next decode, so
 * the chunk's JSON, the SSE write and history work run on the JavaScript thread while the native
 * threads compute, instead of between a token and the next decode. node-llama-cpp queues its
 * dispatch with setImmediate in the turn that produced the token; a second setImmediate lands after
 * it. One stream through HTTP on bench-86M: 167 -> 182 and 208 -> 242 tok/s against a bare loop's
 * 196 and 230 (BENCHMARKS.md, "the HTTP work overlaps the decode"). Events that arrive in
 * between are taken together.
 */
function afterNextDispatch(deliver: () => void): void {
  setImmediate(() => setImmediate(deliver));
}

/** Smallest model whose batched steps get the batch threads (see LocalModel.load). */
const BATCH_THREADS_MIN_MODEL_BYTES = 32 * 2 ** 20;

/**
 * Cached prompt tokens a busy sequence in a lane is worth when choosing a slot: a new request goes
 * to the least busy lane, where its steps run beside the others' instead of behind them, unless
 * another slot already holds a real share of its prompt (a conversation's next turn), which still
 * wins.
 */
const LANE_BALANCE_TOKENS = 64;

/**
 * What a free slot is worth to a new prompt, in tokens: the cached prefix it saves re-evaluating,
 * counted only when that is at least half of what the slot would evict (the cached tokens after the
 * prefix), less LANE_BALANCE_TOKENS per generation already running in its lane. Every used slot
 * shares a chat template's header with any prompt; counting that alone sent an unrelated request
 * into a conversation's slot while an empty one waited, and the conversation's next turn re-read its
 * whole history. Now such a slot scores like an empty one, and ties go to empty slots first, then
 * the least recently used (SlotPool), as llama-server picks when no slot is similar enough.
 */
export function slotScore(cachedPrefix: number, cachedTokens: number, busyInLane: number): number {
  const worthReusing = cachedPrefix > 0 && cachedPrefix * 2 >= cachedTokens - cachedPrefix;
  return (worthReusing ? cachedPrefix : 0) - LANE_BALANCE_TOKENS * busyInLane;
}

/**
 * The StepBatcher for a lane of `sequences`, or null when it has nothing to do: several sequences
 * need joined steps, and a lane of one still needs `threadsFor` to give its prompts the batch
 * threads (without it, parallel 2 over two lanes prefilled a 1,804-token prompt on one thread:
 * 4.0-5.1 s to the first token, 2.2-2.6 s with it).
 */
export function laneBatcher(
  sequences: number,
  threadsFor: ((batchTokens: number) => number) | null,
): StepBatcher | null {
  if (sequences <= 1 && !threadsFor) return null;
  return new StepBatcher(threadsFor ? { threadsFor } : {});
}

export class LocalModel {
  private readonly pool: SlotPool<Slot>;
  private readonly grammars: GrammarCache;
  private embeddingContext: Promise<LlamaEmbeddingContext> | null = null;
  private embeddingLock: Promise<unknown> = Promise.resolve();
  private readonly active = new Set<Promise<unknown>>();
  private closing = false;
  /** Fires when the shutdown grace period ends, cancelling what still runs. */
  private readonly shutdown = new AbortController();
  /** The longest text one token stands for: prompts beyond the context's worth of it are refused untokenized. */
  private readonly tokenChars: number;

  private constructor(
    readonly info: LocalModelInfo,
    private readonly model: LlamaModel,
    private readonly contexts: readonly LlamaContext[],
    slots: Slot[],
    /** Generations running in each lane (shared with the lanes' thread choice in load). */
    private readonly laneBusy: number[],
    private readonly thinking: Thinking,
    /** The draft model, when it speculates with one (speculative.ts). */
    private readonly draft: LoadedDraft | null,
    private readonly options: LocalModelOptions,
  ) {
    this.pool = new SlotPool(slots, options.maxQueue, options.onPoolChange);
    this.tokenChars = longestTokenChars(
      (model.fileInfo.metadata as { tokenizer?: { ggml?: { tokens?: unknown } } }).tokenizer?.ggml?.tokens,
    );
    // Report the pool's size at once, not only on the first request, so metrics show it while idle.
    options.onPoolChange?.(this.pool.stats);
    this.grammars = new GrammarCache(options.runtime.llama);
  }

  static async load(options: LocalModelOptions): Promise<LocalModel> {
    const { llama } = options.runtime;
    const model = await options.runtime.explainFailure(() =>
      llama.loadModel({
        modelPath: options.path,
        gpuLayers: options.gpuLayers ?? "auto",
        onLoadProgress: options.onLoadProgress,
        loadSignal: options.signal,
      }),
    );
    try {
      const trainContextSize = model.trainContextSize;
      const contextSize = options.ctxSize > 0 ? options.ctxSize : Math.min(trainContextSize, DEFAULT_CTX_CAP);
      let parallel = options.parallel;
      // node-llama-cpp's default (512, or less for a small context) on the CPU; chosen on a GPU.
      let batchSize: number | undefined;
      if (llama.gpu !== false) {
        ({ parallel, batchSize } = gpuSizing({
          freeVramBytes: (await llama.getVramState()).free,
          ...gpuCostsOf(model, contextSize),
          contextSize,
          parallel,
        }));
      } else if (parallel <= 0) {
        const perSequence = model.fileInsights.estimateContextResourceRequirements({
          contextSize,
          modelGpuLayers: model.gpuLayers,
          sequences: 1,
        });
        parallel = chooseParallel(model.size, perSequence.cpuRam, os.freemem());
      }
      // One llama_decode with one graph computation per step for each lane's generating sequences
      // (batch-barrier.ts; BENCHMARKS.md, "Batching"), the lanes decoding side by side (defaultLanes).
      const { threads, batchThreads } = options.runtime;
      const shares = laneShares(parallel, options.runtime.lanes);
      const laneBusy = shares.map(() => 0);
      // Steps of 4+ tokens (batched sequences, prompts) get the batch threads while no other lane is
      // generating; one stream keeps its core free for JavaScript. Only for models big enough that a
      // step's math outweighs waking the threads: bench-86M at c=8 went 236 -> 334 tok/s,
      // stories260K fell 2,382 -> 1,411 (BENCHMARKS.md). With lanes busy, each keeps `threads`.
      const splitThreads = batchThreads !== threads && model.size >= BATCH_THREADS_MIN_MODEL_BYTES;
      const othersIdle = (lane: number) => laneBusy.every((busy, i) => i === lane || busy === 0);
      // Off where llama.cpp's CPU flash attention would leave its fast path (runtime.ts).
      const flashAttention = flashAttentionFor(attentionHeadWidth(model.fileInfo.architectureMetadata), llama.gpu);
      const contexts: LlamaContext[] = [];
      const slots: Slot[] = [];
      let thinking: Thinking | null = null;
      const speculative = options.speculative;
      let draft: LoadedDraft | null = null;
      try {
        // A draft model drafts for every sequence (one draft sequence each); prompt lookup is then not used.
        if (speculative?.draftModel && speculative.draftMax > 0) {
          draft = await loadDraft(llama, speculative.draftModel, model, {
            contextSize,
            sequences: parallel,
            threads,
            ...(options.gpuLayers !== undefined ? { gpuLayers: options.gpuLayers } : {}),
          });
        }
        const predictorFor = (): AdaptivePredictor | undefined => {
          if (!speculative) return undefined;
          if (draft)
            return new AdaptivePredictor(
              draftModelPredictor(draft.context.getSequence(), speculative.draftMax),
              speculative.draftMax,
            );
          if (speculative.promptLookup)
            return new AdaptivePredictor(promptLookupPredictor(speculative.draftMax), speculative.draftMax);
          return undefined;
        };
        const { wrapper: chatWrapper, promptEnd } = await chatWrapperFor(
          model,
          options.chatTemplate,
          (reason) =>
            options.logger.warn(
              { model: options.id, reason },
              "the model's chat template was refused; using a chat format chosen from its name instead",
            ),
          options.children,
        );
        for (const [lane, sequences] of shares.entries()) {
          const batcher = laneBatcher(
            sequences,
            splitThreads ? (n) => (n >= 4 && othersIdle(lane) ? batchThreads : threads) : null,
          );
          const context = await model.createContext({
            sequences,
            contextSize,
            threads: { ideal: threads, min: 1 },
            ...(batchSize ? { batchSize } : {}),
            ...(flashAttention === false ? { flashAttention } : {}),
            ...(batcher ? { batching: { itemPrioritizationStrategy: batcher.strategy } } : {}),
          });
          contexts.push(context);
          if (batcher && !batcher.install(context))
            options.logger.debug("step batcher not installed: node-llama-cpp internals differ");
          for (let i = 0; i < sequences; i++) {
            const predictor = predictorFor();
            const sequence = context.getSequence(predictor ? { tokenPredictor: predictor } : {});
            const chat = new LlamaChat({
              contextSequence: sequence,
              autoDisposeSequence: false,
              ...(chatWrapper ? { chatWrapper } : {}),
            });
            thinking ??= new Thinking(chat.chatWrapper, promptEnd);
            slots.push({
              index: slots.length,
              lane,
              sequence,
              chat,
              variantChats: new Map(),
              completion: new LlamaCompletion({ contextSequence: sequence }),
              ...(predictor ? { predictor } : {}),
            });
          }
        }
      } catch (err) {
        await Promise.allSettled(contexts.map((c) => c.dispose()));
        if (draft) await draft.model.dispose();
        throw err;
      }
      const info: LocalModelInfo = {
        id: options.id,
        path: options.path,
        parallel,
        lanes: contexts.length,
        contextSize: contexts[0]!.contextSize,
        trainContextSize,
        sizeBytes: model.size,
        gpuLayers: model.gpuLayers,
        totalLayers: model.fileInsights.totalLayers,
        batchSize: contexts[0]!.batchSize,
        chatWrapper: slots[0]!.chat.chatWrapper.wrapperName,
        hasChatTemplate: typeof model.fileInfo.metadata.tokenizer?.chat_template === "string",
        thinks: thinking!.thinks,
        speculative:
          speculative && (draft || speculative.promptLookup)
            ? { promptLookup: !draft, draftModel: draft?.name ?? null, draftMax: speculative.draftMax }
            : null,
      };
      options.logger.info(
        { model: info, threads: options.runtime.threads, flashAttention: contexts[0]!.flashAttention },
        `loaded ${path.basename(options.path)}`,
      );
      return new LocalModel(info, model, contexts, slots, laneBusy, thinking!, draft, options);
    } catch (err) {
      await model.dispose();
      throw err;
    }
  }

  get stats(): PoolStats {
    return this.pool.stats;
  }

  /** The slot's chat for `plan`: its own, or one with the plan's wrapper variant (made once per slot). */
  private chatOf(slot: Slot, plan: ThinkingPlan): LlamaChat {
    if (!plan.variant) return slot.chat;
    let chat = slot.variantChats.get(plan.variant.key);
    if (!chat) {
      chat = new LlamaChat({
        contextSequence: slot.sequence,
        autoDisposeSequence: false,
        chatWrapper: plan.variant.wrapper,
      });
      slot.variantChats.set(plan.variant.key, chat);
    }
    return chat;
  }

  /** Validates, counts the prompt, waits for a sequence, then streams events. */
  async generate(request: GenerationRequest, signal: AbortSignal): Promise<GenerationStream> {
    if (this.closing) throw new ShuttingDownError();
    return request.kind === "chat" ? this.generateChat(request, signal) : this.generateCompletion(request, signal);
  }

  private maxTokensFor(requested: number | undefined, promptTokens: number, param: string): number {
    const room = this.info.contextSize - promptTokens - 1;
    if (room < 1) {
      throw new BadRequestError(
        `This model's context is ${this.info.contextSize} tokens per sequence, but the prompt is ${promptTokens} tokens. Shorten the ${param}, or start the server with a larger --ctx-size.`,
        { param, code: "context_length_exceeded" },
      );
    }
    return Math.min(requested ?? this.options.defaultMaxTokens, room);
  }

  /**
   * The chat history and functions a chat request puts in the prompt, and how the reply may call
   * a tool without them: `forced` (tool_choice "required" or named) constrains it to a call object
   * of `callSchema`; `either` (tools with a response format, tool_choice "auto") to that or the
   * format's JSON, since node-llama-cpp takes a grammar or functions, never both (§0.12).
   */
  private chatPromptOf(
    request: ChatRequest,
    plan: ThinkingPlan,
  ): {
    history: ChatHistoryItem[];
    functions: ChatModelFunctions | undefined;
    call: { mode: "forced" | "either"; schema: Record<string, unknown>; names: Set<string> } | null;
  } {
    const history = toChatHistory(request.messages) as ChatHistoryItem[];
    if (plan.thoughtBudget !== 0) this.thinking.openThought(history);
    const hasTools = request.tools.length > 0 && request.toolChoice !== "none";
    const forced = hasTools && (request.toolChoice === "required" || typeof request.toolChoice === "object");
    if (forced || (hasTools && request.responseFormat.type !== "text")) {
      const { allowed, schema } = forcedCallSchema(request.tools, forced ? request.toolChoice : "required");
      const hint = forced ? forcedCallHint(allowed) : callOrAnswerHint(allowed);
      history.splice(history.length - 1, 0, { type: "system", text: hint });
      const names = new Set(allowed.map((t) => t.name));
      return { history, functions: undefined, call: { mode: forced ? "forced" : "either", schema, names } };
    }
    const functions = hasTools
      ? (Object.fromEntries(
          request.tools.map((t) => [
            t.name,
            { description: t.description, params: requiredParameters(t.parameters ?? undefined) as never },
          ]),
        ) as ChatModelFunctions)
      : undefined;
    return { history, functions, call: null };
  }

  /**
   * The grammar a chat reply is written under, and what it leaves unenforced: the call object for
   * a forced call (the response format waits for a later turn, as OpenAI's forced calls do), the
   * call object or the format's JSON when the model may do either, else the format's.
   */
  private async chatGrammar(
    request: ChatRequest,
    mode: "forced" | "either" | null,
    callSchema: Record<string, unknown> | undefined,
  ): Promise<{ grammar: LlamaGrammar | undefined; warnings: RequestWarning[] }> {
    const format = request.responseFormat;
    const call = callSchema ? [{ schema: callSchema, param: "tools", strict: false }] : [];
    let parts: SchemaPart[];
    // No native way to force a call (docs/ENGINE-NOTES.md §3.3): constrain the reply to a call object.
    if (mode === "forced") parts = call;
    else if (format.type === "json_schema") {
      const answer = { schema: format.schema, param: "responseFormat.schema", strict: format.strict };
      parts = mode === "either" ? [...call, answer] : [answer];
    } else if (format.type === "json_object") {
      if (mode !== "either") return { grammar: await this.grammars.json(), warnings: [] };
      parts = [
        ...call,
        { schema: { type: "object", additionalProperties: true }, param: "responseFormat", strict: false },
      ];
    } else return { grammar: undefined, warnings: [] };
    const built = await this.grammars.oneOf(parts);
    // A copy: the cached list is shared by every request with this schema.
    return { grammar: built.grammar, warnings: [...built.warnings] };
  }

  /**
   * Tokens the prompt of a chat request takes: the messages, tools and system text rendered with
   * the model's chat template, as `generate` would send them (`/v1/messages/count_tokens`).
   */
  countChatTokens(request: ChatRequest): number {
    // Counting a prompt longer than the context is the point; the bound only keeps tokenizing cheap.
    assertTextCanFit(chatChars(request), this.info.contextSize * 64, this.tokenChars, "messages");
    const plan = this.thinking.plan(request.reasoning);
    const { history, functions } = this.chatPromptOf(request, plan);
    return this.chatOf(this.pool.slots[0]!, plan)
      .chatWrapper.generateContextState({
        chatHistory: history,
        availableFunctions: functions,
        documentFunctionParams: true,
      })
      .contextText.tokenize(this.model.tokenizer).length;
  }

  private async generateChat(request: ChatRequest, signal: AbortSignal): Promise<GenerationStream> {
    assertTextCanFit(chatChars(request), this.info.contextSize, this.tokenChars, "messages");
    assertStopsCanMatch(request.stop, this.info.contextSize, this.tokenChars);
    // Tool schemas become prompt text and grammars: bound them before either is built.
    request.tools.forEach(
      (t, i) => t.parameters !== undefined && checkSchemaBounds(t.parameters, `tools.${i}.parameters`),
    );
    const plan = this.thinking.plan(request.reasoning);
    const { history, functions, call } = this.chatPromptOf(request, plan);
    const { grammar, warnings } = await this.chatGrammar(request, call?.mode ?? null, call?.schema);
    if (functions) {
      request.tools.forEach((t, i) =>
        warnings.push(...nativeSchemaWarnings(requiredParameters(t.parameters), `tools.${i}.parameters`)),
      );
    }
    /** Where the reply's text goes: straight out, or through a call's reader. */
    const replyReader = (queue: AsyncQueue<GenerationEvent>) => {
      const push = (e: GenerationEvent) => queue.push(e);
      if (call?.mode === "forced") return new ForcedCallStream(newCallId(), push);
      if (call?.mode === "either") return new CallOrAnswerStream(call.names, newCallId(), push);
      return null;
    };

    const anySlot = this.pool.slots[0]!;
    const tokenBias = request.extras?.ignore_eos === true ? ignoreEosBias(this.model) : undefined;
    if (request.topLogprobs !== undefined) {
      // The logprobs decode reads raw tokens: a thought would come out as answer text.
      if (this.thinking.thinks) {
        throw new BadRequestError(
          "logprobs are not available for this model: it thinks before it answers, as OpenAI's reasoning models do, and those refuse logprobs too.",
          { param: "topLogprobs", code: "unsupported_value" },
        );
      }
      if (functions || call?.mode === "either") {
        throw new BadRequestError(
          "logprobs cannot be combined with tools the model may call on its own (tool_choice 'auto'); use tool_choice 'none', 'required' or a named tool.",
          { param: "topLogprobs", code: "unsupported_value" },
        );
      }
      const state = this.chatOf(anySlot, plan).chatWrapper.generateContextState({ chatHistory: history });
      const prompt = state.contextText.tokenize(this.model.tokenizer);
      const maxTokens = this.maxTokensFor(request.maxTokens, prompt.length, "messages");
      const stop = stopTriggersOf(this.model, [
        ...state.stopGenerationTriggers,
        ...(grammar?.stopGenerationTriggers ?? []),
        ...request.stop,
      ]);
      const topLogprobs = request.topLogprobs;
      return this.run(
        prompt,
        signal,
        warnings,
        async (slot, queue, genSignal) => {
          const forced = replyReader(queue);
          const result = await decodeWithLogprobs({
            model: this.model,
            sequence: slot.sequence,
            prompt,
            maxTokens,
            topLogprobs,
            stop,
            sampling: samplingOf(request),
            grammar,
            tokenBias,
            signal: genSignal,
            onText: (text, logprobs) => (forced ? forced.feed(text) : queue.push({ type: "text", text, logprobs })),
          });
          if (forced?.end()) return { reason: "tool_calls" };
          return outcomeOfLogprobDecode(result, request.stop);
        },
        { speculate: speculates(request) },
      );
    }
    const promptTokens = this.chatOf(anySlot, plan)
      .chatWrapper.generateContextState({
        chatHistory: history,
        availableFunctions: functions,
        documentFunctionParams: true,
      })
      .contextText.tokenize(this.model.tokenizer);
    const maxTokens = this.maxTokensFor(request.maxTokens, promptTokens.length, "messages");

    return this.run(
      promptTokens,
      signal,
      warnings,
      async (slot, queue, genSignal) => {
        const toolIds = new Map<number, string>();
        const params = new CallParamsStream();
        const forced = replyReader(queue);
        const reply = new ReplySplitter(
          (text) => (forced ? forced.feed(text) : queue.push({ type: "text", text })),
          (text) => queue.push({ type: "reasoning", text }),
        );
        const result = await this.chatOf(slot, plan).generateResponse(
          history as ChatHistoryItem[],
          {
            ...samplingOf(request),
            signal: genSignal,
            stopOnAbortSignal: true,
            maxTokens,
            customStopTriggers: request.stop.length > 0 ? request.stop : undefined,
            grammar,
            tokenBias,
            functions,
            documentFunctionParams: functions ? true : undefined,
            maxParallelFunctionCalls: request.parallelToolCalls === false ? 1 : undefined,
            onResponseChunk: (chunk) => reply.push(chunk),
            ...(plan.thoughtBudget !== undefined ? { budgets: { thoughtTokens: plan.thoughtBudget } } : {}),
            onFunctionCallParamsChunk: (chunk) => {
              let id = toolIds.get(chunk.callIndex);
              const first = id === undefined;
              if (id === undefined) {
                id = newCallId();
                toolIds.set(chunk.callIndex, id);
              }
              const argumentsDelta = params.take(chunk.callIndex, chunk.paramsChunk, chunk.done);
              if (first || argumentsDelta) {
                queue.push({
                  type: "tool_call",
                  index: chunk.callIndex,
                  id,
                  name: chunk.functionName,
                  argumentsDelta,
                  first,
                });
              }
            },
          } as Parameters<LlamaChat["generateResponse"]>[1],
        );
        const reasoningTokens = reply.reasoningTokens;
        if (forced && result.metadata.stopReason !== "abort" && forced.end())
          return { reason: "tool_calls", reasoningTokens };
        const stopSequence = stopSequenceOf(result.metadata);
        return {
          reason: finishReasonOf(result.metadata.stopReason),
          ...(stopSequence !== undefined ? { stopSequence } : {}),
          ...(this.thinking.thinks ? { reasoningTokens } : {}),
        };
      },
      { speculate: speculates(request) },
    );
  }

  private async generateCompletion(request: CompletionRequest, signal: AbortSignal): Promise<GenerationStream> {
    assertTextCanFit(request.prompt.length, this.info.contextSize, this.tokenChars, "prompt");
    assertStopsCanMatch(request.stop, this.info.contextSize, this.tokenChars);
    // A completion prompt is the model's raw input: its special tokens are tokens, as llama-server
    // and vLLM read them (a chat-formatted prompt works). Chat messages keep them as text (LlamaText).
    const promptTokens = this.model.tokenize(request.prompt, true);
    const bos = this.model.tokens.bos;
    const fullPrompt = bos !== null && this.model.tokens.shouldPrependBosToken ? [bos, ...promptTokens] : promptTokens;
    const maxTokens = this.maxTokensFor(request.maxTokens, fullPrompt.length, "prompt");
    const tokenBias = request.extras?.ignore_eos === true ? ignoreEosBias(this.model) : undefined;
    if (request.topLogprobs !== undefined) {
      const topLogprobs = request.topLogprobs;
      const withBos = fullPrompt.length > promptTokens.length;
      // With echo, scoring the prompt evaluates it again from its first token: nothing to prefill.
      return this.run(
        fullPrompt,
        signal,
        [],
        async (slot, queue, genSignal) => {
          const result = await decodeWithLogprobs({
            model: this.model,
            sequence: slot.sequence,
            prompt: fullPrompt,
            maxTokens,
            topLogprobs,
            stop: stopTriggersOf(this.model, request.stop),
            sampling: samplingOf(request),
            tokenBias,
            promptLogprobs: request.echo,
            signal: genSignal,
            // The BOS token is not part of the prompt text the client sent.
            onPromptLogprobs: (logprobs) =>
              queue.push({ type: "text", text: request.prompt, logprobs: withBos ? logprobs.slice(1) : logprobs }),
            onText: (text, logprobs) => queue.push({ type: "text", text, logprobs }),
          });
          return outcomeOfLogprobDecode(result, request.stop);
        },
        { prefill: !request.echo, speculate: speculates(request) },
      );
    }
    return this.run(
      fullPrompt,
      signal,
      [],
      async (slot, queue, genSignal) => {
        if (request.echo) queue.push({ type: "text", text: request.prompt });
        const result = await slot.completion.generateCompletionWithMeta(promptTokens, {
          ...samplingOf(request),
          signal: genSignal,
          stopOnAbortSignal: true,
          maxTokens,
          customStopTriggers: request.stop.length > 0 ? request.stop : undefined,
          tokenBias,
          onTextChunk: (text) => queue.push({ type: "text", text }),
        });
        const stopSequence = stopSequenceOf(result.metadata);
        return {
          reason: finishReasonOf(result.metadata.stopReason),
          ...(stopSequence !== undefined ? { stopSequence } : {}),
        };
      },
      { speculate: speculates(request) },
    );
  }

  /**
   * Admission and the generation lifecycle shared by chat and completions: acquire the best slot
   * (slotScore), generate in the background into a queue, always release the slot. `warnings`
   * go out with the admission (GenerationStream.admission).
   */
  private async run(
    promptTokens: Token[],
    signal: AbortSignal,
    warnings: RequestWarning[],
    generate: (slot: Slot, queue: AsyncQueue<GenerationEvent>, signal: AbortSignal) => Promise<Outcome>,
    options: { prefill?: boolean; speculate?: boolean } = {},
  ): Promise<GenerationStream> {
    const slot = await this.pool.acquire(
      (s) =>
        slotScore(
          s.sequence.compareContextTokens(promptTokens).firstDifferentIndex,
          s.sequence.nextTokenIndex,
          this.laneBusy[s.lane] ?? 0,
        ),
      signal,
    );
    this.laneBusy[slot.lane]!++;
    const controller = new AbortController();
    // The model-wide shutdown signal lives as long as the model: in Node 20, AbortSignal.any keeps a
    // WeakRef per call in a long-lived source for good (measured: ~2,000 per 2,800 requests), so
    // shutdown is forwarded into the request's own controller and the listener removed when done.
    const onShutdown = () => controller.abort(this.shutdown.signal.reason);
    if (this.shutdown.signal.aborted) onShutdown();
    else this.shutdown.signal.addEventListener("abort", onShutdown, { once: true });
    const genSignal = AbortSignal.any([signal, controller.signal]);
    const queue = new AsyncQueue<GenerationEvent>(
      () => controller.abort(new Error("consumer stopped reading")),
      afterNextDispatch,
    );
    const cachedTokens = Math.max(
      0,
      Math.min(slot.sequence.compareContextTokens(promptTokens).firstDifferentIndex, promptTokens.length - 1),
    );
    const meterBefore = slot.sequence.tokenMeter.getState();

    const task = (async () => {
      try {
        slot.predictor?.begin(options.speculate === true, promptTokens);
        // In batch-sized pieces, so a client gone, Stop or a timeout frees the slot after one batch
        // instead of after the whole prompt (prefill.ts; docs/ENGINE-NOTES.md §2.16).
        if (options.prefill !== false)
          await prefillInChunks(slot.sequence, promptTokens, this.contexts[slot.lane]!.batchSize, genSignal);
        const outcome = await generate(slot, queue, genSignal);
        const guessed = slot.predictor && options.speculate === true ? slot.predictor.end() : undefined;
        if (genSignal.aborted) {
          queue.fail(genSignal.reason);
          return;
        }
        const used = slot.sequence.tokenMeter.diff(meterBefore);
        queue.push({
          type: "finish",
          reason: outcome.reason,
          usage: {
            promptTokens: promptTokens.length,
            completionTokens: used.usedOutputTokens,
            cachedTokens,
            ...(outcome.reasoningTokens !== undefined ? { reasoningTokens: outcome.reasoningTokens } : {}),
            ...(guessed
              ? { prediction: { accepted: guessed.accepted, rejected: guessed.drafted - guessed.accepted } }
              : {}),
          },
          ...(outcome.stopSequence !== undefined ? { stopSequence: outcome.stopSequence } : {}),
        });
        queue.end();
      } catch (err) {
        // An abort before the first token throws even with stopOnAbortSignal (docs/ENGINE-NOTES.md §0.5).
        queue.fail(genSignal.aborted ? genSignal.reason : err);
      } finally {
        this.shutdown.signal.removeEventListener("abort", onShutdown);
        slot.predictor?.end();
        this.laneBusy[slot.lane]!--;
        this.pool.release(slot);
      }
    })();
    this.active.add(task);
    void task.finally(() => this.active.delete(task));
    const admission = { warnings, usage: { promptTokens: promptTokens.length, cachedTokens } };
    return { admission, [Symbol.asyncIterator]: () => queue[Symbol.asyncIterator]() };
  }

  async embed(inputs: readonly string[], signal: AbortSignal): Promise<EmbeddingResult> {
    if (this.closing) throw new ShuttingDownError();
    const contextSize = Math.min(this.model.trainContextSize, DEFAULT_CTX_CAP);
    this.embeddingContext ??= this.model.createEmbeddingContext({ contextSize, threads: this.options.runtime.threads });
    const context = await this.embeddingContext;
    // One embedding sequence per context: requests take turns.
    const run = this.embeddingLock.then(async () => {
      const vectors: Float32Array[] = [];
      let promptTokens = 0;
      for (const [i, input] of inputs.entries()) {
        if (signal.aborted) throw signal.reason;
        assertTextCanFit(input.length, contextSize, this.tokenChars, `input.${i}`);
        const length = context.calculateInputLength(input);
        if (length > contextSize) {
          throw new BadRequestError(`input[${i}] is ${length} tokens, more than the model's ${contextSize}.`, {
            param: `input.${i}`,
            code: "context_length_exceeded",
          });
        }
        promptTokens += length;
        const { vector } = await context.getEmbeddingFor(input);
        vectors.push(normalize(vector));
      }
      return { vectors, promptTokens };
    });
    this.embeddingLock = run.catch(() => undefined);
    return run;
  }

  /** Stops admitting, lets running generations finish for `graceMs`, then cancels them and frees the model. */
  async close(graceMs = 0): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.pool.close(new ShuttingDownError());
    if (this.active.size > 0 && graceMs > 0) {
      await Promise.race([Promise.allSettled([...this.active]), new Promise((r) => setTimeout(r, graceMs).unref())]);
    }
    this.shutdown.abort(new ShuttingDownError());
    await Promise.allSettled([...this.active]);
    await Promise.all(this.contexts.map((c) => c.dispose()));
    if (this.draft) await this.draft.model.dispose();
    if (this.embeddingContext) await (await this.embeddingContext).dispose();
    await this.model.dispose();
  }

  /** Token count of plain text, for usage accounting at the edges. */
  tokenize(text: string): number {
    return this.model.tokenize(text, false).length;
  }
}

function normalize(vector: readonly number[]): Float32Array {
  let sum = 0;
  for (const v of vector) sum += v * v;
  const norm = Math.sqrt(sum) || 1;
  const out = new Float32Array(vector.length);
  for (let i = 0; i < vector.length; i++) out[i] = (vector[i] as number) / norm;
  return out;
}
