/**
 * Refusing text that cannot fit before it is tokenized. Tokenizing runs on the event loop (a
 * 15 MB prompt held it for ~30 s, measured), so a prompt far larger than the context could stall
 * every other request, health checks included. A token never stands for more characters than the
 * longest entry of the vocabulary (byte-level vocabularies spell each byte as one character, and
 * UTF-16 never needs more units than UTF-8 bytes), so text longer than `contextSize` times that
 * cannot fit and is refused without tokenizing it.
 */
import { BadRequestError } from "../errors.js";

/** Used when the file's vocabulary is not at hand: longer than any real token. */
const FALLBACK_TOKEN_CHARS = 1024;
/** Slack for tokenizers that normalize text before splitting it. */
const SLACK = 2;

/** The most UTF-16 units one token of `vocabulary` (GGUF `tokenizer.ggml.tokens`) stands for. */
export function longestTokenChars(vocabulary: unknown): number {
  if (!Array.isArray(vocabulary) || vocabulary.length === 0) return FALLBACK_TOKEN_CHARS;
  let longest = 1;
  for (const token of vocabulary) if (typeof token === "string" && token.length > longest) longest = token.length;
  return longest;
}

/** The longest text (in UTF-16 units) that could still fit `contextSize` tokens. */
export function maxFittingChars(contextSize: number, tokenChars: number): number {
  return contextSize * tokenChars * SLACK;
}

/** Throws the same 400 as an over-long prompt when `chars` cannot possibly fit. */
export function assertTextCanFit(chars: number, contextSize: number, tokenChars: number, param: string): void {
  const limit = maxFittingChars(contextSize, tokenChars);
  if (chars > limit) {
    throw new BadRequestError(
      `This model's context is ${contextSize} tokens per sequence, but the text of '${param}' is ${chars} characters, far more than that can hold. Shorten it, or start the server with a larger --ctx-size.`,
      { param, code: "context_length_exceeded" },
    );
  }
}

/** Refuses stop strings longer than any text the model could generate in its context. */
export function assertStopsCanMatch(stops: readonly string[], contextSize: number, tokenChars: number): void {
  const limit = maxFittingChars(contextSize, tokenChars);
  const i = stops.findIndex((s) => s.length > limit);
  if (i >= 0) {
    throw new BadRequestError(
      `Stop sequence ${i} is ${stops[i]!.length} characters, longer than anything this model can generate in its context.`,
      {
        param: "stop",
        code: "invalid_value",
      },
    );
  }
}
