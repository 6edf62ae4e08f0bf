/**
 * A decode loop that reports each token's log-probability, for the requests that ask for logprobs.
 * LlamaChat and LlamaCompletion expose no probabilities (docs/ENGINE-NOTES.md §2.8), so these requests drive
 * the slot's sequence directly with `evaluateWithMetadata`; every other request keeps the normal,
 * faster path. Given up here: native function-call syntax and segment (thought) parsing.
 *
 * Generated tokens report the distribution they were drawn from: at temperature 0 the model's own
 * (after penalties and a grammar's mask), when sampling the one left after top-k/top-p/min-p and
 * temperature, so a top list can be shorter than asked when truncation leaves fewer tokens (what
 * llama.cpp's server calls post-sampling probabilities). Prompt tokens (echo) report the model's own.
 */
import {
  LlamaGrammarEvaluationState,
  type LlamaContextSequence,
  type LlamaGrammar,
  type LlamaModel,
  type LlamaText,
  type Token,
} from "node-llama-cpp";
import type { TokenLogprob } from "../core/types.js";

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
  const grammarState = options.grammar
    ? new LlamaGrammarEvaluationState({ model, grammar: options.grammar })
    : undefined;
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
    { confidence: true, probabilities: top > 0 },
    {
      temperature: options.sampling.temperature,
      topK: options.sampling.topK,
      topP: options.sampling.topP,
      minP: options.sampling.minP,
      seed: options.sampling.seed,
      grammarEvaluationState: grammarState,
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
    for await (const out of iterator) {
      if (signal.aborted) {
        result = "abort";
        break;
      }
      pending.push(
        entryOf(
          texts,
          generated.slice(-8),
          out.token,
          out.confidence,
          (out as { probabilities?: Map<Token, number> }).probabilities,
          top,
        ),
      );
      generated.push(out.token);

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

      undecoded.push(out.token);
      const before = generated.slice(0, generated.length - undecoded.length).slice(-8);
      const piece = model.detokenize(undecoded, false, before);
      // A multi-byte character split across tokens decodes to U+FFFD until its last byte arrives.
      if (piece.endsWith("\uFFFD") && undecoded.length < 4 && generated.length < options.maxTokens) continue;
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
