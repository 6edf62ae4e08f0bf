/**
 * `n > 1`: each choice is its own generation. Locally each takes a sequence of the model's
 * context, so the choices decode in the same batches (one llama_decode per step for all of them);
 * a remote provider gets one request per choice. Admission is all or nothing: if one choice cannot
 * start (queue full, prompt too long), the ones already admitted are cancelled and the error is
 * the request's.
 */
import type { ChoiceEvent, ChoiceStream, GenerationRequest, GenerationStream } from "../core/types.js";

/** Choice `i` of a request: another seed for each, so sampled choices differ while a seed still reproduces them. */
export function choiceRequest<R extends GenerationRequest>(request: R, i: number): R {
  if (i === 0 || request.sampling.seed === undefined) return request;
  return { ...request, sampling: { ...request.sampling, seed: (request.sampling.seed + i) | 0 } };
}

/**
 * Starts `n` generations with `start(i, signal)` and resolves once all were admitted. The returned
 * `cancel` stops every choice (a failure of one ends them all).
 */
export async function admitChoices(
  n: number,
  signal: AbortSignal,
  start: (i: number, signal: AbortSignal) => Promise<GenerationStream>,
): Promise<{ streams: GenerationStream[]; cancel: (reason: unknown) => void }> {
  const controller = new AbortController();
  const choiceSignal = AbortSignal.any([signal, controller.signal]);
  const cancel = (reason: unknown) => {
    if (!controller.signal.aborted) controller.abort(reason);
  };
  const settled = await Promise.allSettled(Array.from({ length: n }, (_, i) => start(i, choiceSignal)));
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) {
    cancel(failed.reason);
    // Admitted choices were never read: make sure their generations see the abort and free their sequences.
    for (const r of settled) if (r.status === "fulfilled") void drain(r.value);
    throw failed.reason;
  }
  return { streams: settled.map((r) => (r as PromiseFulfilledResult<GenerationStream>).value), cancel };
}

async function drain(stream: GenerationStream): Promise<void> {
  try {
    for await (const _ of stream) {
      // discarded
    }
  } catch {
    // the abort, expected
  }
}

/**
 * Interleaves the choices' events as they come. If one choice fails, or the consumer stops
 * reading, every choice is cancelled. A failure is thrown as `explain` makes it (the pipeline
 * turns an abort by the timeout into the timeout error there, without another layer per event).
 */
export async function* mergeChoices(
  streams: readonly GenerationStream[],
  cancel: (reason: unknown) => void,
  explain: (error: unknown) => unknown = (error) => error,
): ChoiceStream {
  if (streams.length === 1) {
    try {
      for await (const event of streams[0]!) yield { choice: 0, event };
    } catch (error) {
      throw explain(error);
    }
    return;
  }
  type Step =
    { i: number; ok: true; result: IteratorResult<ChoiceEvent["event"]> } | { i: number; ok: false; error: unknown };
  const iterators = streams.map((s) => s[Symbol.asyncIterator]());
  const next = (i: number): Promise<Step> =>
    iterators[i]!.next().then(
      (result): Step => ({ i, ok: true, result }),
      (error: unknown): Step => ({ i, ok: false, error }),
    );
  const pending = new Map<number, Promise<Step>>(iterators.map((_, i) => [i, next(i)]));
  let finished = false;
  try {
    while (pending.size > 0) {
      const step = await Promise.race(pending.values());
      if (!step.ok) throw explain(step.error);
      if (step.result.done) {
        pending.delete(step.i);
        continue;
      }
      pending.set(step.i, next(step.i));
      yield { choice: step.i, event: step.result.value };
    }
    finished = true;
  } finally {
    if (!finished) {
      cancel(new Error("consumer stopped reading"));
      for (const it of iterators) void it.return?.().catch(() => undefined);
    }
  }
}

/** The events of choice 0, for wire formats without `n`. */
export async function* firstChoice(events: ChoiceStream): GenerationStream {
  for await (const { choice, event } of events) if (choice === 0) yield event;
}
