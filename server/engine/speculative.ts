/**
 * Speculative decoding inside continuous batching (docs/ENGINE-NOTES.md §2.18). node-llama-cpp
 * takes one TokenPredictor per sequence (`context.getSequence({tokenPredictor})`); while a sequence
 * generates, it appends the predictor's guesses to the sequence's tokens of the next batch step,
 * samples at each of them, keeps the guesses that match what was sampled and erases the rest. The
 * step is the same llama_decode the other sequences of the lane join, so speculating sequences and
 * plain ones share steps. A guess is only ever kept where it equals the sampled token: greedy output
 * is the same with and without it.
 *
 * AdaptivePredictor wraps the predictor that guesses (prompt lookup or a draft model) and decides
 * when guessing pays: at most `draftMax` guesses a step (so one sequence's step stays small beside
 * the others'), a guess window that grows while guesses are accepted and shrinks when they are not,
 * and a pause that doubles after each step whose guesses were all refuted (up to MAX_PAUSE_STEPS),
 * so a model whose output never repeats its input (random weights) pays for one small probe now and
 * then instead of a bigger step every time.
 */
import path from "node:path";
import {
  DraftSequenceTokenPredictor,
  InputLookupTokenPredictor,
  TokenPredictor,
  type Llama,
  type LlamaContext,
  type LlamaContextSequence,
  type LlamaModel,
  type Token,
} from "node-llama-cpp";
import { BadRequestError } from "../errors.js";

/** Guesses a step at most, and how far a draft model runs ahead, unless `--draft-max` says otherwise. */
export const DEFAULT_DRAFT_MAX = 8;

/**
 * Guesses node-llama-cpp 3.22.1 can accept in one step: its `_speculativeEvaluate` checks each
 * guess after the first against `validatedTokens.at(-1)`, a list it never fills, so every second
 * and later guess is refuted and erased (docs/ENGINE-NOTES.md §2.18). Offering more only buys an
 * erase per step; raise this when node-llama-cpp checks guesses against the tokens it sampled.
 */
export const ACCEPTABLE_PER_STEP = 1;
/** The longest pause, in steps, between probes once guesses keep being refuted. */
export const MAX_PAUSE_STEPS = 64;
/**
 * How long a step waits for a guesser that answers later (a draft model) before it goes on without
 * guesses. A draft catches up on at most MAX_PAUSE_STEPS tokens in one batch and decodes one: far
 * less on any pair worth drafting with, and node-llama-cpp's draft predictor can drop a prediction
 * and never answer (docs/ENGINE-NOTES.md §2.18), which must not hold a request for ever.
 */
export const ANSWER_WAIT_MS = 1000;

/** Drafted and accepted tokens: what a request, a model or the server counts. */
export interface SpeculationCounts {
  /** Guessed tokens the model checked. */
  drafted: number;
  /** Of those, the ones it would have generated anyway. */
  accepted: number;
}

/** How a model speculates; null where it does not. */
export interface SpeculationConfig {
  /** Guess from the prompt: the reply's last tokens found in the input, and what followed them there. */
  promptLookup: boolean;
  /** A smaller model with the same vocabulary that drafts ahead (its path). Defaults to none. */
  draftModel?: string;
  /** Guesses a step at most. */
  draftMax: number;
}

/** How `reset` is called (TokenPredictor's own parameter). */
type ResetParams = Parameters<TokenPredictor["reset"]>[0];

/**
 * A sequence's predictor, turned on per request (`begin`) and backing off by itself. Counts come
 * from the sequence's own statistics (`tokenPredictions`), so what node-llama-cpp actually checked
 * is what is reported, including guesses it cut short at a grammar or the context's end.
 */
export class AdaptivePredictor extends TokenPredictor {
  private target: LlamaContextSequence | null = null;
  private enabled = false;
  /** Guesses to offer next step: grows on acceptance, 1 after a miss. */
  private window: number;
  /** Steps left to skip before the next probe. */
  private pause = 0;
  /** Tokens the sequence generated while paused, not yet given to the guesser. */
  private held: Token[] = [];
  /** Steps in a row whose guesses were all refuted, across requests on this sequence. */
  private misses = 0;
  /** The sequence's statistics when last settled. */
  private mark = { validated: 0, refuted: 0 };
  private counts: SpeculationCounts = { drafted: 0, accepted: 0 };
  /** The predictor that guesses (for tests and /health); a draft model is stopped while paused. */
  readonly kind: "prompt-lookup" | "draft-model";

  constructor(
    private readonly inner: TokenPredictor,
    readonly draftMax: number,
    /** Told of each step's drafted and accepted tokens (the model's and server's counters). */
    private readonly onCounts?: (counts: SpeculationCounts) => void,
    /** How long a step waits for the guesser's answer. Defaults to ANSWER_WAIT_MS. */
    private readonly answerWaitMs = ANSWER_WAIT_MS,
  ) {
    super();
    this.kind = inner instanceof DraftSequenceTokenPredictor ? "draft-model" : "prompt-lookup";
    this.window = this.firstWindow();
  }

  /** The most guesses a step offers: draftMax, and no more than node-llama-cpp can accept. */
  private get maxWindow(): number {
    return Math.min(this.draftMax, ACCEPTABLE_PER_STEP);
  }

  private firstWindow(): number {
    return Math.max(1, Math.ceil(this.maxWindow / 2));
  }

  /**
   * Starts a request: guesses from `inputTokens` when `enabled`, counts from zero. The first step
   * probes at once, but the misses before carry over: on a sequence whose guesses kept failing, one
   * more miss pauses it long again, while one accepted guess clears them.
   */
  begin(enabled: boolean, inputTokens: readonly Token[]): void {
    this.settle();
    this.enabled = enabled && this.draftMax > 0;
    this.window = this.firstWindow();
    this.pause = 0;
    this.held = [];
    this.counts = { drafted: 0, accepted: 0 };
    if (this.enabled) this.inner.updateInputTokens(inputTokens.slice());
  }

  /** Ends a request: what it drafted and had accepted. */
  end(): SpeculationCounts {
    this.settle();
    this.enabled = false;
    this.inner.stop();
    return { ...this.counts };
  }

  override reset(params: ResetParams): Promise<void> | void {
    this.settle();
    this.target = params.targetSequence;
    this.mark = { ...params.targetSequence.tokenPredictions };
    // The state given here holds every token: nothing held is still owed.
    this.held = [];
    // A request that does not speculate leaves the guesser alone; the next one that does resets it
    // with the whole state (node-llama-cpp resets the predictor at the start of every generation).
    if (this.enabled) return this.inner.reset(params);
  }

  override updateInputTokens(tokens: Token[]): void {
    if (this.enabled) this.inner.updateInputTokens(tokens);
  }

  /**
   * While paused the tokens wait here and reach the guesser together before its next probe: a
   * draft predictor aborts and re-arms its evaluation on every push it did not predict (an
   * AbortError with its stack each time), which cost a paused draft 0.2 ms of JavaScript a token.
   */
  override pushTokens(tokens: Token[]): void {
    if (!this.enabled) return;
    if (this.pause > 0) this.held.push(...tokens);
    else if (this.held.length === 0) this.inner.pushTokens(tokens);
    else {
      // One push: node-llama-cpp's draft predictor serialises pushes on a lock, and a push still
      // queued when the next prediction starts can abort that prediction's evaluation with no one
      // left to answer it (the request would wait for ever).
      const held = this.held;
      this.held = [];
      this.inner.pushTokens([...held, ...tokens]);
    }
  }

  override predictTokens(): Promise<Token[]> | Token[] {
    this.settle();
    if (!this.enabled) return [];
    if (this.pause > 0) {
      this.pause--;
      return [];
    }
    // A step's tokens are pushed after its decode, so after a pause they have all been handed over.
    const guesses = this.inner.predictTokens();
    return guesses instanceof Promise ? this.answerOf(guesses) : this.offered(guesses);
  }

  /** The guesses of an answer that comes later; none, and a miss, when it has not come in answerWaitMs. */
  private answerOf(pending: Promise<Token[]>): Promise<Token[]> {
    return new Promise((resolve, reject) => {
      let waiting = true;
      const timer = setTimeout(() => {
        waiting = false;
        this.missed();
        resolve([]);
      }, this.answerWaitMs);
      pending.then(
        (guesses) => {
          if (!waiting) return;
          clearTimeout(timer);
          resolve(this.offered(guesses));
        },
        (err: unknown) => {
          if (!waiting) return;
          clearTimeout(timer);
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }

  override stop(untilPredictionsExhausted?: boolean): Promise<void> | void {
    return this.inner.stop(untilPredictionsExhausted);
  }

  override dispose(): Promise<void> | void {
    return this.inner.dispose();
  }

  /**
   * The guesses a step offers, at most `window`. A draft model that had nothing to offer (none of
   * its tokens reached node-llama-cpp's confidence bar) still decoded a token to find that out, and
   * would decode again every step: that counts as a miss, and the draft stops until the next probe.
   * An empty prompt lookup only scanned the prompt, and the reply may start quoting it next step.
   */
  private offered(guesses: Token[]): Token[] {
    if (guesses.length === 0) {
      if (this.kind === "draft-model") this.missed();
      return guesses;
    }
    return guesses.length > this.window ? guesses.slice(0, this.window) : guesses;
  }

  /**
   * Backs off after a step whose guesses were all refuted, or a draft's silence: the pause doubles,
   * and a draft model stops running ahead (node-llama-cpp's draft predictor keeps decoding in the
   * background until it is stopped; the next probe resumes it with the tokens it missed, in one batch).
   */
  private missed(): void {
    this.misses++;
    this.window = 1;
    this.pause = Math.min(MAX_PAUSE_STEPS, 2 ** (this.misses - 1));
    if (this.kind === "draft-model") void this.inner.stop();
  }

  /** Reads what the sequence checked since the last call and adapts the window and the pause. */
  private settle(): void {
    const target = this.target;
    if (!target || target.disposed) return;
    const { validated, refuted } = target.tokenPredictions;
    const accepted = validated - this.mark.validated;
    const drafted = accepted + refuted - this.mark.refuted;
    this.mark = { validated, refuted };
    if (drafted <= 0) return;
    this.counts.drafted += drafted;
    this.counts.accepted += accepted;
    this.onCounts?.({ drafted, accepted });
    if (accepted === 0) this.missed();
    else {
      this.misses = 0;
      this.window = accepted === drafted ? Math.min(this.maxWindow, this.window * 2) : Math.max(1, accepted + 1);
    }
  }
}

/**
 * A prompt-lookup guesser: the reply's last tokens found in the prompt, and the tokens that
 * followed. Two tokens at least must match: with one (node-llama-cpp's default), a guess followed
 * any earlier occurrence of the last token, and on the bench 21-30% of guesses were refuted, against
 * 1-23% with two, for the same accepted count (BENCHMARKS.md, "Speculative decoding").
 */
export function promptLookupPredictor(draftMax: number): InputLookupTokenPredictor {
  return new InputLookupTokenPredictor({ patternLength: { min: 2 }, predictionLength: { min: 1, max: draftMax } });
}

/** A draft-model guesser on `draftSequence` (a sequence of the draft model's context, one per target sequence). */
export function draftModelPredictor(
  draftSequence: LlamaContextSequence,
  draftMax: number,
): DraftSequenceTokenPredictor {
  return new DraftSequenceTokenPredictor(draftSequence, { minTokens: 1, maxTokens: draftMax });
}

/** The vocabulary facts a draft must share with its target. */
function vocabularyOf(model: LlamaModel): { type: unknown; tokens: readonly unknown[]; bos: unknown; eos: unknown } {
  const ggml = (model.fileInfo.metadata as { tokenizer?: { ggml?: { model?: unknown; tokens?: unknown } } }).tokenizer
    ?.ggml;
  return {
    type: ggml?.model,
    tokens: Array.isArray(ggml?.tokens) ? ggml.tokens : [],
    bos: model.tokens.bos,
    eos: model.tokens.eos,
  };
}

/**
 * Refuses a draft model whose guesses would be other tokens than the target's: the same tokenizer
 * type, BOS and EOS, and the same token at every id both have, at most 128 ids apart in size (the
 * rule of llama.cpp's common_speculative_are_compatible).
 */
export function assertSameVocabulary(target: LlamaModel, draft: LlamaModel, draftName: string): void {
  const a = vocabularyOf(target);
  const b = vocabularyOf(draft);
  const refuse = (why: string) => {
    throw new BadRequestError(
      `The draft model ${draftName} cannot draft for this model: ${why}. A draft model must share the model's vocabulary (usually a smaller model of the same family).`,
      { param: "draftModel", code: "draft_model_incompatible" },
    );
  };
  if (a.type !== b.type) refuse(`its tokenizer is ${String(b.type)}, the model's ${String(a.type)}`);
  if (a.tokens.length === 0 || b.tokens.length === 0) refuse("its vocabulary cannot be read");
  if (Math.abs(a.tokens.length - b.tokens.length) > 128)
    refuse(`it has ${b.tokens.length} tokens, the model ${a.tokens.length}`);
  if (a.bos !== b.bos || a.eos !== b.eos) refuse("its start and end tokens differ");
  const common = Math.min(a.tokens.length, b.tokens.length);
  for (let i = 0; i < common; i++) {
    if (a.tokens[i] !== b.tokens[i])
      refuse(`token ${i} is ${JSON.stringify(b.tokens[i])}, not ${JSON.stringify(a.tokens[i])}`);
  }
}

/** A loaded draft model: one context whose sequences draft for the target's, one each. */
export interface LoadedDraft {
  model: LlamaModel;
  context: LlamaContext;
  /** The file's name, as /health shows it. */
  name: string;
}

/**
 * Loads `file` as the draft model of `target`: refused before any context is made when its
 * vocabulary differs (assertSameVocabulary). Its context holds `sequences` sequences of the
 * target's `contextSize`, on the target's threads.
 */
export async function loadDraft(
  llama: Llama,
  file: string,
  target: LlamaModel,
  options: { contextSize: number; sequences: number; threads: number; gpuLayers?: "auto" | "max" | number },
): Promise<LoadedDraft> {
  const name = path.basename(file);
  const model = await llama.loadModel({ modelPath: file, gpuLayers: options.gpuLayers ?? "auto" });
  try {
    assertSameVocabulary(target, model, name);
    const context = await model.createContext({
      sequences: options.sequences,
      contextSize: options.contextSize,
      threads: { ideal: options.threads, min: 1 },
    });
    return { model, context, name };
  } catch (err) {
    await model.dispose();
    throw err;
  }
}
