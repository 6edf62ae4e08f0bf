/**
 * The one generation pipeline every wire format runs on (/v1/chat/completions, /v1/completions,
 * /v1/responses, /v1/messages and the app's own chats under /api/conversations). A route parses
 * and converts its wire body into a neutral request, hands it here, and encodes what comes back:
 *
 *   parse -> convert -> ChatService.start -> respond (chat/pump.ts) with the route's encoder
 *
 * Here, once for all of them: the provider is resolved, the request timeout joins the client's
 * signal, `n` choices are admitted all or nothing, each choice's events are measured (metrics),
 * choice 0 is recorded in history the way the route asks, and errors come out as HearthErrors
 * that name the route's own fields (a timeout as the 504 `timeout` error, never a bare abort).
 */
import type { Config } from "../config.js";
import type {
  Admission,
  ChatRequest,
  ChoiceStream,
  GenerationRequest,
  GenerationStream,
  Provider,
  UsageMeter,
} from "../core/types.js";
import { BadRequestError, HearthError } from "../errors.js";
import type { History } from "../history/index.js";
import type { Logger } from "../logger.js";
import type { Metrics } from "../metrics.js";
import type { ProviderRouter } from "../providers/router.js";
import { admitChoices, choiceRequest, mergeChoices } from "./choices.js";
import type { ParamNamer } from "./params.js";

export class TimeoutError extends HearthError {
  constructor(seconds: number) {
    super(504, "server_error", `The generation took longer than the request timeout (${seconds} s) and was stopped.`, {
      code: "timeout",
    });
  }
}

/** How choice 0 of a run goes into history. */
export type Recording =
  /** Not recorded (completions, `store: false`). */
  | { kind: "none" }
  /** /v1 chat traffic: filed in the `api` conversation it continues, when --record-api is on. */
  | { kind: "api" }
  /** A stored Responses API exchange: always filed; `onStored` learns where. */
  | { kind: "stored"; onStored: (messageId: number, conversationId: string) => void }
  /** The app's own chat: the reply to `parentId`; a failing write ends the stream (the user must know). */
  | { kind: "reply"; conversationId: string; parentId: number; onStored: (messageId: number) => void };

export interface RunOptions {
  /** Fires when the client went away; the service adds the request timeout. */
  clientGone: AbortSignal;
  /** Choices to generate (chat/completions `n`). Defaults to 1. Only choice 0 is recorded. */
  n?: number;
  /** Defaults to `{ kind: "none" }`. */
  record?: Recording;
  /** The provider, when the route needed it before starting (the app's chats store it). */
  provider?: Provider;
  /** The route's names for the neutral request's fields, for errors. Defaults to the neutral names. */
  paramName?: ParamNamer;
  /** When the request arrived (performance.now()), for time to first token. Defaults to now. */
  startedAt?: number;
  /** Told each choice's usage when it ends: the caller's key limits and usage (`meterOf` in access/guard.ts). Defaults to none. */
  meter?: UsageMeter;
}

/** A started generation: admitted, its events not read yet. */
export interface Run {
  readonly provider: Provider;
  /** Every choice's events, interleaved (chat/choices.ts `firstChoice` for one). Errors are HearthErrors in the route's names. */
  readonly events: ChoiceStream;
  /** What the provider said on admitting choice 0, its warnings' params in the route's names. */
  readonly admission: Admission;
}

interface ServiceDeps {
  config: Pick<Config, "requestTimeout" | "recordApi">;
  router: ProviderRouter;
  metrics: Metrics;
  history: History;
  logger: Pick<Logger, "warn">;
}

export class ChatService {
  /** Record /v1 chats in history (`{ kind: "api" }`); starts as --record-api says. */
  recordApi: boolean;

  constructor(private readonly deps: ServiceDeps) {
    this.recordApi = deps.config.recordApi;
  }

  /** The provider that serves `model`; 404 `model_not_found` when none does. */
  resolve(model: string): Promise<Provider> {
    return this.deps.router.resolve(model);
  }

  /**
   * Admits `request` (every choice, or none) and returns its events. Rejects before any event when
   * it cannot start: unknown model, queue full, prompt too long, timeout while waiting.
   */
  async start(request: GenerationRequest, options: RunOptions): Promise<Run> {
    const startedAt = options.startedAt ?? performance.now();
    const { signal, rename } = this.guard(options);
    const n = options.n ?? 1;
    try {
      const provider = options.provider ?? (await this.resolve(request.model));
      let admission: Admission = { warnings: [] };
      const { streams, cancel } = await admitChoices(n, signal, async (i, choiceSignal) => {
        const raw = await provider.generate(choiceRequest(request, i), choiceSignal);
        if (i === 0 && raw.admission) admission = raw.admission;
        const observed = this.deps.metrics.observe(raw, request.model, startedAt);
        const measured = options.meter
          ? metered(observed, request.model, options.meter, raw.admission, choiceSignal)
          : observed;
        return i === 0
          ? await this.record(request, measured, provider, options.record, choiceSignal, startedAt)
          : measured;
      });
      const warnings = admission.warnings.map((w) => ({ ...w, param: options.paramName?.(w.param) ?? w.param }));
      return { provider, events: mergeChoices(streams, cancel, rename), admission: { ...admission, warnings } };
    } catch (err) {
      throw rename(err);
    }
  }

  /** Prompt tokens of `request` with the model's own tokenizer and template (providers that can know it). */
  async countTokens(request: ChatRequest, options: Pick<RunOptions, "clientGone" | "paramName">): Promise<number> {
    const { signal, rename } = this.guard(options);
    try {
      const provider = await this.resolve(request.model);
      if (!provider.countTokens) {
        throw new BadRequestError(
          `Token counting needs the model's own tokenizer; '${request.model}' is served by the remote provider '${provider.id}', which offers none.`,
          { param: "model", code: "unsupported_model" },
        );
      }
      return await provider.countTokens(request, signal);
    } catch (err) {
      throw rename(err);
    }
  }

  /** The request's signal (client gone or timeout) and the translation of what it throws. */
  private guard(options: Pick<RunOptions, "clientGone" | "paramName">) {
    const seconds = this.deps.config.requestTimeout;
    const timeout = AbortSignal.timeout(seconds * 1000);
    const signal = AbortSignal.any([options.clientGone, timeout]);
    const rename = (err: unknown): unknown => {
      if (timeout.aborted && !options.clientGone.aborted) return new TimeoutError(seconds);
      if (err instanceof HearthError && err.param !== null && options.paramName)
        return err.withParam(options.paramName(err.param));
      return err;
    };
    return { signal, rename };
  }

  private async record(
    request: GenerationRequest,
    events: GenerationStream,
    provider: Provider,
    recording: Recording | undefined,
    signal: AbortSignal,
    startedAt: number,
  ): Promise<GenerationStream> {
    if (!recording || recording.kind === "none" || request.kind !== "chat") return events;
    const recorder = this.deps.history.recorder;
    switch (recording.kind) {
      case "api":
        // Hashed in turns of the event loop: a 19 MB message held it for a third of a second (BENCHMARKS.md, "Large messages").
        return this.recordApi
          ? await recorder.observeApi(request, events, provider.id, startedAt, await recorder.apiHashes(request))
          : events;
      case "stored":
        try {
          const target = await recorder.fileApiRequest(request, provider.id, await recorder.apiHashes(request));
          return recorder.recordReply(events, { ...target, startedAt, signal }, ({ messageId }) =>
            recording.onStored(messageId, target.conversationId),
          );
        } catch (err) {
          this.deps.logger.warn({ err }, "history: could not store a response; it is served unstored");
          return events;
        }
      case "reply":
        return recorder.recordReply(
          events,
          {
            conversationId: recording.conversationId,
            parentId: recording.parentId,
            model: request.model,
            startedAt,
            signal,
            failOnWriteError: true,
          },
          ({ messageId }) => recording.onStored(messageId),
        );
    }
  }
}

/**
 * Passes events through unchanged, telling `meter` the usage at the finish, or that the choice
 * failed. A choice that ends early (its client went away, Stop, a timeout, an error mid-stream)
 * still counts against the key's limits and usage: the prompt as admitted and one token for each
 * event it sent, a lower bound (an event carries at least one token), so dropping a stream is no
 * way around a limit.
 */
function metered(
  stream: GenerationStream,
  model: string,
  meter: UsageMeter,
  admission: Admission | undefined,
  signal: AbortSignal,
): GenerationStream {
  meter.began?.();
  return (async function* () {
    let ended = false;
    let sent = 0;
    const partial = () => ({
      promptTokens: admission?.usage?.promptTokens ?? 0,
      completionTokens: sent,
      cachedTokens: admission?.usage?.cachedTokens ?? 0,
    });
    try {
      for await (const event of stream) {
        if (event.type === "finish") {
          ended = true;
          meter.finished(model, event.usage);
        } else sent++;
        yield event;
      }
    } catch (err) {
      if (!ended) {
        ended = true;
        if (signal.aborted) meter.finished(model, partial());
        else meter.failed(model, partial());
      }
      throw err;
    } finally {
      // The consumer stopped reading before the finish.
      if (!ended) meter.finished(model, partial());
    }
  })();
}
