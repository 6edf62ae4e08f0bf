/**
 * `ignore_eos` (vLLM's and llama.cpp's extension, sent by serving benchmarks such as
 * `vllm bench serve`): every end-of-generation token biased off, as llama-server does
 * (`logit_bias` -inf for each token `llama_vocab_is_eog` names), so a reply runs to `max_tokens` or
 * a stop string. Greedy output is then the same as without it up to where the model would have
 * ended.
 */
import { TokenBias, type LlamaModel, type Token } from "node-llama-cpp";

const biases = new WeakMap<LlamaModel, TokenBias>();

/** The model's end-of-generation tokens: every id of its vocabulary llama.cpp counts as one. */
export function eogTokensOf(model: LlamaModel): Token[] {
  const vocabulary = (model.fileInfo.metadata as { tokenizer?: { ggml?: { tokens?: readonly unknown[] } } }).tokenizer
    ?.ggml?.tokens;
  const candidates: (Token | null)[] = vocabulary
    ? Array.from({ length: vocabulary.length }, (_, i) => i as Token)
    : [model.tokens.eos, model.tokens.eot];
  return [...new Set(candidates.filter((t): t is Token => t !== null && model.isEogToken(t)))];
}

/**
 * A token bias that keeps every end-of-generation token from being sampled (made once per model).
 * node-llama-cpp's `TokenBias.set` skips EOG tokens on purpose, so the biases go into its map
 * directly (`_biases`, node-llama-cpp 3.22, pinned; test/integration/openai-api.test.ts fails
 * when this stops working).
 */
export function ignoreEosBias(model: LlamaModel): TokenBias {
  let bias = biases.get(model);
  if (bias) return bias;
  bias = new TokenBias(model.tokenizer);
  const map = (bias as unknown as { _biases?: unknown })._biases;
  if (!(map instanceof Map)) throw new Error("node-llama-cpp's TokenBias has no _biases map: ignore_eos needs 3.22's");
  for (const token of eogTokensOf(model)) map.set(token, -Infinity);
  biases.set(model, bias);
  return bias;
}
