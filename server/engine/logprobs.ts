/**
 * A decode loop that reports each token's log-probability, for the requests that ask for logprobs.
 * LlamaChat and LlamaCompletion expose no probabilities (docs/ENGINE-NOTES.md §2.8), so these requests drive
 * the slot's sequence directly with `evaluateWithMetadata`; every other request keeps the normal,
 * faster path. Given up here: native function-call syntax and segment (thought) parsing.
 *
 * Generated tokens report the model's whole distribution, as OpenAI's do: the softmax of the logits
 * over the full vocabulary (after penalties, token biases and a grammar's mask), never the few tokens
 * top-k/top-p/min-p leave or the temperature's reshaping, so a top list has as many entries as asked
 * wherever the vocabulary allows. To read that distribution and still sample from the truncated
 * one, node-llama-cpp's sampler runs greedy (which truncates nothing and hands back every token's
 * probability) and the token is drawn here (`sampleFrom`, llama.cpp's chain order), then fed back
 * as the next input. Prompt tokens (echo) report the model's own distribution.
 */
import {
  LlamaGrammarEvaluationState,
  type TokenBias,
  type LlamaContextSequence,
  type LlamaGrammar,
  type LlamaModel,
  type LlamaText,
  type Token,
} from "node-llama-cpp";
import type { TokenLogprob } from "../core/types.js";
import { seededRandom } from "../util/seeded-random.js";

/** What ends a generation: text (excluded from the output) or exact token runs (special tokens). */
export interface StopTriggers {
  strings: string[];
  tokens: Token[][];
}

type TriggerInput = LlamaText | string | readonly (string | Token)[];

/** Splits node-llama-cpp triggers into text and token runs; a text trigger with special tokens becomes its tokens. */
export function stopTriggersOf(model: LlamaModel, triggers: readonly TriggerInput[]): StopTriggers {
  const out: StopTriggers = { strings: [], tokens: [] };
  for (const trigger of triggers) {
    if (typeof trigger === "string") {
      if (trigger) out.strings.push(trigger);
    } else if (Array.isArray(trigger)) {
      const parts = trigger as readonly (string | Token)[];
      if (parts.every((p) => typeof p === "string")) out.strings.push(parts.join(""));
      else out.tokens.push(parts.flatMap((p) => (typeof p === "string" ? model.tokenize(p, false) : [p])));
    } else {
      const text = trigger as LlamaText;
      if (text.values.every((v) => typeof v === "string")) {
        const s = text.toString();
        if (s) out.strings.push(s);
      } else {
        const tokens = text.tokenize(model.tokenizer);
        if (tokens.length > 0) out.tokens.push(tokens);
      }
    }
  }
  return out;
}

export interface LogprobSampling {
  temperature: number;
  topK: number;
  topP: number;
  minP: number;
  seed: number;
  repeatPenalty: false | { frequencyPenalty: number; presencePenalty: number; penalty: number; lastTokens: number };
}

export interface DecodeWithLogprobsOptions {
  model: LlamaModel;
  sequence: LlamaContextSequence;
  /** The whole prompt; what the sequence already holds of it is reused. */
  prompt: Token[];
  maxTokens: number;
  /** Alternatives per token, 0..20. */
  topLogprobs: number;
  stop: StopTriggers;
  sampling: LogprobSampling;
  grammar?: LlamaGrammar;
  /** Biases applied before anything else (`ignore_eos`): a token biased off has probability 0. */
  tokenBias?: TokenBias;
  /** Also score the prompt's tokens (completions `echo`); the first one without context gets a null logprob. */
  promptLogprobs?: boolean;
  signal: AbortSignal;
  /** Called with the prompt's token logprobs before any text, when `promptLogprobs` is set. */
  onPromptLogprobs?: (logprobs: TokenLogprob[]) => void;
  /** Text as it becomes final (never part of a stop trigger), with the logprobs of the tokens that made it. */
  onText: (text: string, logprobs: TokenLogprob[]) => void;
}

export interface DecodeWithLogprobsResult {
  stopReason: "eogToken" | "stopTrigger" | "maxTokens" | "abort";
  /** The stop string that ended the text, when one did. */
  stopString?: string;
  completionTokens: number;
}

/** Logprob of a probability, finite for JSON: OpenAI uses -9999 for "practically impossible". */
function logOf(p: number): number {
  return p > 0 ? Math.max(-9999, Math.log(p)) : -9999;
}

/**
 * Token text and UTF-8 bytes. A token's text depends on what precedes it (SentencePiece drops a
 * word's leading space at the start of a text), so it is decoded after the same tokens as the
 * text it belongs to, and the tokens of a reply concatenate to its text.
 */
class TokenTexts {
  private readonly first = new Map<Token, { token: string; bytes: number[] }>();
  constructor(private readonly model: LlamaModel) {}

  get(token: Token, before: readonly Token[]): { token: string; bytes: number[] } {
    if (before.length === 0) {
      let hit = this.first.get(token);
      if (!hit) this.first.set(token, (hit = this.of(this.model.detokenize([token], true))));
      return hit;
    }
    return this.of(this.model.detokenize([token], true, before));
  }

  private of(text: string): { token: string; bytes: number[] } {
    return { token: text, bytes: [...Buffer.from(text, "utf8")] };
  }
}

const tokenTextCaches = new WeakMap<LlamaModel, TokenTexts>();
function textsOf(model: LlamaModel): TokenTexts {
  let t = tokenTextCaches.get(model);
  if (!t) tokenTextCaches.set(model, (t = new TokenTexts(model)));
  return t;
}

function entryOf(
  texts: TokenTexts,
  before: readonly Token[],
  token: Token,
  p: number,
  probabilities: Map<Token, number> | undefined,
  top: number,
): TokenLogprob {
  const alternatives: TokenLogprob["top"] = [];
  if (probabilities && top > 0) {
    for (const [t, q] of probabilities) {
      if (alternatives.length >= top || q <= 0) break;
      alternatives.push({ ...texts.get(t, before), logprob: logOf(q) });
    }
  }
  return { ...texts.get(token, before), logprob: logOf(p), top: alternatives };
}

/**
 * Draws a token from `probabilities` (the whole vocabulary's, best first, as node-llama-cpp's greedy
 * sampler returns them) the way llama.cpp's sampler chain does: top-k, then top-p over what is
 * left, then min-p, then the temperature, then a draw. `random` returns [0, 1).
 */
export function sampleFrom(
  probabilities: ReadonlyMap<Token, number>,
  sampling: Pick<LogprobSampling, "temperature" | "topK" | "topP" | "minP">,
  random: () => number,
): Token {
  const tokens: Token[] = [];
  const ps: number[] = [];
  for (const [token, p] of probabilities) {
    // Sorted best first: what follows a zero is masked by a grammar or biased off.
    if (p <= 0 || (sampling.topK > 0 && tokens.length >= sampling.topK)) break;
    tokens.push(token);
    ps.push(p);
  }
  if (tokens.length === 0) return probabilities.keys().next().value as Token;
  let keep = tokens.length;
  if (sampling.topP < 1) {
    const total = ps.reduce((a, b) => a + b, 0);
    let cumulative = 0;
    for (let i = 0; i < keep; i++) {
      cumulative += ps[i]! / total;
      if (cumulative >= sampling.topP) {
        keep = i + 1;
        break;
      }
    }
  }
  if (sampling.minP > 0) {
    const floor = ps[0]! * sampling.minP;
    let n = 1;
    while (n < keep && ps[n]! >= floor) n++;
    keep = n;
  }
  // softmax(logit / T) over the kept tokens is (p / p_max)^(1/T), normalized.
  const weights = ps.slice(0, keep).map((p) => Math.pow(p / ps[0]!, 1 / sampling.temperature));
  let r = random() * weights.reduce((a, b) => a + b, 0);
  for (let i = 0; i < keep; i++) {
    r -= weights[i]!;
    if (r < 0) return tokens[i]!;
  }
  return tokens[keep - 1]!;
}

/**
 * Feeds a token drawn here to a grammar state. node-llama-cpp 3.22 feeds a state only the token its
 * own sampler picked; this is its internal `LlamaSampler._acceptTokenOnGrammarEvaluationState`
 * (the version is pinned in package.json; a change fails test/integration/logprobs-choices.test.ts).
 */
function acceptGrammarToken(state: LlamaGrammarEvaluationState, token: Token): void {
  const internal = state as unknown as {
    _llama?: { _bindings?: { AddonSampler?: { acceptGrammarEvaluationStateToken?: (s: unknown, t: Token) => void } } };
    _state?: unknown;
  };
  const accept = internal._llama?._bindings?.AddonSampler?.acceptGrammarEvaluationStateToken;
  if (!accept || internal._state === undefined)
    throw new Error(
      "node-llama-cpp has no acceptGrammarEvaluationStateToken: logprobs under a grammar need 3.22's internals",
    );
  accept(internal._state, token);
}

/** The longest suffix of `text` that is a proper prefix of a stop string (held back until it resolves). */
function partialStopLength(text: string, stops: readonly string[]): number {
  let longest = 0;
  for (const stop of stops) {
    for (let n = Math.min(stop.length - 1, text.length); n > longest; n--) {
      if (text.endsWith(stop.slice(0, n))) {
        longest = n;
        break;
      }
    }
  }
  return longest;
}

function endsWithRun(tokens: readonly Token[], run: readonly Token[]): boolean {
  if (run.length === 0 || tokens.length < run.length) return false;
  for (let i = 1; i <= run.length; i++) if (tokens[tokens.length - i] !== run[run.length - i]) return false;
  return true;
}

/**
 * Aligns the sequence with `prompt` (keeping the shared prefix), scores the prompt when asked, then
 * generates until EOG, a stop trigger, `maxTokens` or the signal.
 */
export async function decodeWithLogprobs(options: DecodeWithLogprobsOptions): Promise<DecodeWithLogprobsResult> {
  const { model, sequence, prompt, stop, signal } = options;
  const texts = textsOf(model);
  const top = Math.max(0, Math.min(20, options.topLogprobs));

  // At least the last prompt token is evaluated again: its logits give the first generated token.
  let keep = Math.min(sequence.compareContextTokens(prompt).firstDifferentIndex, prompt.length - 1);
  if (options.promptLogprobs) keep = 0;
  if (sequence.nextTokenIndex > keep)
    await sequence.eraseContextTokenRanges([{ start: keep, end: sequence.nextTokenIndex }]);

  if (options.promptLogprobs) {
    options.onPromptLogprobs?.(await scorePrompt(sequence, texts, prompt, top, model.tokens.bos));
    keep = prompt.length - 1;
  }

  const generated: Token[] = [];
  const penalty = options.sampling.repeatPenalty;
  const sampling = options.sampling;
  // At a temperature the token is drawn here, from the whole distribution the native sampler reads.
  const random = sampling.temperature > 0 ? seededRandom(sampling.seed) : undefined;
  let grammarState = options.grammar ? new LlamaGrammarEvaluationState({ model, grammar: options.grammar }) : undefined;
  // The native sampler feeds its greedy pick to the grammar state it is given: when drawing here,
  // it gets a copy, and the state takes the drawn token instead (acceptGrammarToken).
  let scratch: LlamaGrammarEvaluationState | undefined;
  const trimWhitespace = options.grammar?.trimWhitespaceSuffix ?? false;
  const maxStop = Math.max(0, ...stop.strings.map((s) => s.length));

  let text = "";
  let emitted = 0;
  let undecoded: Token[] = [];
  let pending: TokenLogprob[] = [];
  let result: DecodeWithLogprobsResult["stopReason"] = "eogToken";
  let stopString: string | undefined;

  const release = (upTo: number) => {
    if (upTo <= emitted && pending.length === 0) return;
    const piece = text.slice(emitted, Math.max(emitted, upTo));
    if (piece === "" && pending.length === 0) return;
    emitted = Math.max(emitted, upTo);
    options.onText(piece, pending);
    pending = [];
  };

  const iterator = sequence.evaluateWithMetadata(
    prompt.slice(keep),
    { confidence: true, probabilities: top > 0 || random !== undefined },
    {
      // Greedy truncates nothing: the probabilities are the whole vocabulary's (module header).
      temperature: 0,
      seed: sampling.seed,
      // A drawn token may not be the greedy one, which ends the native loop when it is an EOG token.
      yieldEogToken: true,
      tokenBias: options.tokenBias,
      grammarEvaluationState: grammarState
        ? () => (random ? (scratch = grammarState!.clone()) : grammarState)
        : undefined,
      repeatPenalty: penalty
        ? {
            punishTokens: () => generated.slice(-penalty.lastTokens),
            penalty: penalty.penalty,
            frequencyPenalty: penalty.frequencyPenalty,
            presencePenalty: penalty.presencePenalty,
          }
        : undefined,
    },
  );
  try {
    let step = await iterator.next();
    while (!step.done) {
      if (signal.aborted) {
        result = "abort";
        break;
      }
      const out = step.value;
      const probabilities = (out as { probabilities?: Map<Token, number> }).probabilities;
      let token = out.token;
      let p = out.confidence;
      if (random && probabilities) {
        token = sampleFrom(probabilities, sampling, random);
        p = probabilities.get(token) ?? 0;
        if (grammarState && scratch) {
          if (token === out.token) grammarState = scratch;
          else acceptGrammarToken(grammarState, token);
        }
      }
      if (model.isEogToken(token)) break;
      pending.push(entryOf(texts, generated.slice(-8), token, p, probabilities, top));
      generated.push(token);

      const run = stop.tokens.find((r) => endsWithRun(generated, r));
      if (run) {
        // The trigger's own tokens are not text; anything decoded before them is.
        undecoded = undecoded.slice(0, Math.max(0, undecoded.length - run.length + 1));
        text += model.detokenize(
          undecoded,
          false,
          generated.slice(0, generated.length - run.length - undecoded.length).slice(-8),
        );
        pending.splice(Math.max(0, pending.length - run.length));
        release(text.length);
        result = "stopTrigger";
        break;
      }

      undecoded.push(token);
      const before = generated.slice(0, generated.length - undecoded.length).slice(-8);
      const piece = model.detokenize(undecoded, false, before);
      // A multi-byte character split across tokens decodes to U+FFFD until its last byte arrives.
      if (piece.endsWith("\uFFFD") && undecoded.length < 4 && generated.length < options.maxTokens) {
        step = await iterator.next(token);
        continue;
      }
      text += piece;
      undecoded = [];

      if (stop.strings.length > 0) {
        const from = Math.max(0, emitted - maxStop);
        let at = -1;
        for (const s of stop.strings) {
          const i = text.indexOf(s, from);
          if (i >= 0 && (at < 0 || i < at)) {
            at = i;
            stopString = s;
          }
        }
        if (at >= 0) {
          text = text.slice(0, at);
          release(text.length);
          result = "stopTrigger";
          break;
        }
      }
      if (generated.length >= options.maxTokens) {
        result = "maxTokens";
        break;
      }
      let hold = partialStopLength(text, stop.strings);
      if (trimWhitespace) hold = Math.max(hold, text.length - text.trimEnd().length);
      release(text.length - hold);
      step = await iterator.next(token);
    }
  } finally {
    await iterator.return(undefined);
  }
  if (result === "abort") return { stopReason: "abort", completionTokens: generated.length };
  if (result !== "stopTrigger") {
    if (undecoded.length > 0)
      text += model.detokenize(undecoded, false, generated.slice(0, generated.length - undecoded.length).slice(-8));
    if (trimWhitespace) text = text.trimEnd();
    release(text.length);
  }
  return {
    stopReason: result,
    ...(stopString !== undefined ? { stopString } : {}),
    completionTokens: generated.length,
  };
}

/**
 * Evaluates the prompt but its last token, asking at each position for the next token's raw logit
 * and the top alternatives: logprob = logit - maxLogit - ln(sum exp(logit - maxLogit)). Only the
 * logits asked for cross into JavaScript, not the whole vocabulary per position.
 */
async function scorePrompt(
  sequence: LlamaContextSequence,
  texts: TokenTexts,
  prompt: Token[],
  top: number,
  bos: Token | null,
): Promise<TokenLogprob[]> {
  const head = prompt.slice(0, -1);
  // The text before a token, as the client wrote it: without the BOS the server adds.
  const before = (i: number) => prompt.slice(Math.max(0, i - 8), i).filter((t) => t !== bos);
  const entries: TokenLogprob[] = [{ ...texts.get(prompt[0]!, []), logprob: null, top: [] }];
  if (head.length === 0) return entries;
  const results = await sequence.controlledEvaluate(
    head.map((token, i) => [
      token,
      {
        generateNext: {
          logits: { filter: { tokens: [prompt[i + 1]!], includeTop: Math.max(1, top) } },
          totalLogitWeight: true,
          options: { temperature: 0 },
        },
      },
    ]),
  );
  for (let i = 0; i < head.length; i++) {
    const next = results[i]?.next;
    const target = prompt[i + 1]!;
    if (!next?.logits || next.totalLogitWeight === undefined) {
      entries.push({ ...texts.get(target, before(i + 1)), logprob: null, top: [] });
      continue;
    }
    const logits = next.logits;
    const max = Math.max(...logits.values());
    const logZ = max + Math.log(next.totalLogitWeight);
    const alternatives = [...logits.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([t, l]) => ({ ...texts.get(t, before(i + 1)), logprob: Math.max(-9999, l - logZ) }));
    const own = logits.get(target);
    entries.push({
      ...texts.get(target, before(i + 1)),
      logprob: own === undefined ? null : Math.max(-9999, own - logZ),
      top: alternatives,
    });
  }
  return entries;
}
