/**
 * A long prompt's prefill in batch-sized pieces, with the request's signal checked between them.
 *
 * node-llama-cpp queues a sequence's whole prompt as one decode item and its context works through
 * it batch after batch while holding its lock, never looking at the signal (LlamaContext.js
 * `dispatchPendingBatch`: the `while (shouldHaveAnotherLoop)` loop; LlamaChat checks the signal only
 * before and after): a client that left 200 ms into a 4,096-token prompt kept its sequence for the
 * whole prefill, and the next request waited for it (docs/ENGINE-NOTES.md §2.16). Evaluating the
 * prompt here first, one batch per call, lets an abort free the sequence after the batch in flight.
 * The generator (LlamaChat, LlamaCompletion, the logprobs decode) then finds all but the prompt's
 * last token in the sequence and evaluates only that one, for its logits, as it does for any cached
 * prefix (§2.3). Tokens already evaluated stay: the same prompt sent again resumes there.
 */
import type { LlamaContextSequence, Token } from "node-llama-cpp";

/**
 * Evaluates `prompt` but its last token into `sequence`, keeping the prefix the sequence already
 * holds, `chunk` tokens per decode, and throws the signal's reason between decodes once it fires.
 * Does nothing when what is left fits in one decode: the generator's own decode is then the only
 * step, and cancelling cannot come sooner than its end.
 */
export async function prefillInChunks(
  sequence: LlamaContextSequence,
  prompt: readonly Token[],
  chunk: number,
  signal: AbortSignal,
): Promise<void> {
  const head = prompt.slice(0, -1);
  const size = Math.max(1, Math.floor(chunk));
  const cached = Math.min(sequence.compareContextTokens(head).firstDifferentIndex, head.length);
  if (head.length - cached <= size) return;
  signal.throwIfAborted();
  // Drops what follows the shared prefix (another conversation's tokens), as the generator would.
  await sequence.adaptStateToTokens(head, false);
  for (let start = sequence.nextTokenIndex; start < head.length; start += size) {
    signal.throwIfAborted();
    await sequence.evaluateWithoutGeneratingNewTokens(head.slice(start, start + size));
  }
}
