/**
 * What every generating route shares, whatever wire format it speaks (/v1/chat/completions,
 * /v1/responses, /v1/messages): the cancellation signal (client gone or request timeout) and
 * admission through the provider router with metrics on the event stream.
 */
import type { Response } from "express";
import type { ServerContext } from "../context.js";
import { HearthError } from "../errors.js";
import { clientGoneSignal } from "../http/sse.js";
import type { GenerationRequest, GenerationStream, Provider } from "../core/types.js";

export class TimeoutError extends HearthError {
  constructor(seconds: number) {
    super(504, "server_error", `The generation took longer than the request timeout (${seconds} s) and was stopped.`, {
      code: "timeout",
    });
  }
}

export interface GenerationSignal {
  signal: AbortSignal;
  clientGone: AbortSignal;
  timeout: AbortSignal;
  /** Runs `work`, reporting a timeout (rather than the abort it causes) as a 504. */
  timeoutAware<T>(work: Promise<T>): Promise<T>;
}

/** Cancels on client disconnect or after the configured timeout, and says which happened. */
export function generationSignal(res: Response, timeoutSeconds: number): GenerationSignal {
  const clientGone = clientGoneSignal(res);
  const timeout = AbortSignal.timeout(timeoutSeconds * 1000);
  return {
    signal: AbortSignal.any([clientGone, timeout]),
    clientGone,
    timeout,
    async timeoutAware<T>(work: Promise<T>): Promise<T> {
      try {
        return await work;
      } catch (err) {
        throw timeout.aborted && !clientGone.aborted ? new TimeoutError(timeoutSeconds) : err;
      }
    },
  };
}

/** The provider that serves the request's model. Remote providers forward logprobs upstream. */
export async function providerFor(ctx: ServerContext, request: GenerationRequest): Promise<Provider> {
  return ctx.router.resolve(request.model);
}

/** Admits one generation on `provider`; its events are counted in the metrics. */
export async function startGeneration(
  ctx: ServerContext,
  provider: Provider,
  request: GenerationRequest,
  signal: AbortSignal,
  started: number,
): Promise<GenerationStream> {
  const raw = await provider.generate(request, signal);
  return ctx.metrics.observe(raw, request.model, started);
}
