/**
 * Prometheus metrics (prom-client), one registry per server so two servers in one process do not
 * share counters. Generation metrics are taken from the event stream, whatever the provider.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { FinishReason, GenerationEvent, GenerationStream } from "./core/types.js";

export interface MetricsOptions {
  /**
   * The `model` label for a generation: the model's id when it is one the server knows, else
   * "other". Model ids come from clients, and a label per unknown id would grow the registry
   * (and /metrics) without bound. Defaults to the id as given.
   */
  modelLabel?: (model: string) => string | Promise<string>;
}

/** The `model` label of generations for a model the server does not know. */
export const OTHER_MODEL = "other";

export class Metrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: "hearth_requests_total",
    help: "HTTP requests answered",
    labelNames: ["route", "status"],
    registers: [this.registry],
  });
  readonly errors = new Counter({
    name: "hearth_errors_total",
    help: "Requests that ended in an error",
    labelNames: ["route", "status"],
    registers: [this.registry],
  });
  readonly promptTokens = new Counter({
    name: "hearth_prompt_tokens_total",
    help: "Prompt tokens processed",
    labelNames: ["model"],
    registers: [this.registry],
  });
  readonly cachedTokens = new Counter({
    name: "hearth_cached_prompt_tokens_total",
    help: "Prompt tokens reused from the KV cache",
    labelNames: ["model"],
    registers: [this.registry],
  });
  readonly completionTokens = new Counter({
    name: "hearth_completion_tokens_total",
    help: "Tokens generated",
    labelNames: ["model"],
    registers: [this.registry],
  });
  readonly draftedTokens = new Counter({
    name: "hearth_speculative_drafted_tokens_total",
    help: "Tokens speculative decoding guessed and the model checked",
    labelNames: ["model"],
    registers: [this.registry],
  });
  readonly acceptedTokens = new Counter({
    name: "hearth_speculative_accepted_tokens_total",
    help: "Guessed tokens the model accepted (each saved a decode step)",
    labelNames: ["model"],
    registers: [this.registry],
  });
  readonly generations = new Counter({
    name: "hearth_generations_total",
    help: "Generations finished",
    labelNames: ["model", "finish_reason"],
    registers: [this.registry],
  });
  readonly timeToFirstToken = new Histogram({
    name: "hearth_time_to_first_token_seconds",
    help: "Time from admission request to the first generated token",
    labelNames: ["model"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly tokensPerSecond = new Histogram({
    name: "hearth_tokens_per_second",
    help: "Generation speed of each request after its first token",
    labelNames: ["model"],
    buckets: [1, 5, 10, 25, 50, 100, 200, 400, 800, 1600, 3200],
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: "hearth_queue_depth",
    help: "Requests waiting for a sequence",
    labelNames: ["model"],
    registers: [this.registry],
  });
  readonly busySequences = new Gauge({
    name: "hearth_busy_sequences",
    help: "Sequences generating",
    labelNames: ["model"],
    registers: [this.registry],
  });
  readonly totalSequences = new Gauge({
    name: "hearth_sequences",
    help: "Sequences (parallel slots) of the model",
    labelNames: ["model"],
    registers: [this.registry],
  });
  readonly engineInfo = new Gauge({
    name: "hearth_engine_info",
    help: "The engine binary in use (value is always 1)",
    labelNames: ["build", "variant", "gpu", "threads", "lanes"],
    registers: [this.registry],
  });
  readonly modelState = new Gauge({
    name: "hearth_model_loaded",
    help: "1 when the model is loaded",
    labelNames: ["model"],
    registers: [this.registry],
  });
  readonly modelStatus = new Gauge({
    name: "hearth_model_state",
    help: "1 for the state each local model is in",
    labelNames: ["model", "state"],
    registers: [this.registry],
  });
  readonly modelLoads = new Counter({
    name: "hearth_model_loads_total",
    help: "Times a local model finished loading",
    labelNames: ["model"],
    registers: [this.registry],
  });
  readonly modelMemory = new Gauge({
    name: "hearth_model_memory_bytes",
    help: "Estimated memory a loaded model takes (weights and context)",
    labelNames: ["model"],
    registers: [this.registry],
  });

  constructor(private readonly options: MetricsOptions = {}) {
    collectDefaultMetrics({ register: this.registry, prefix: "hearth_process_" });
  }

  /** Records a local model's state change (one-hot over the states) and its memory. */
  setModelState(model: string, state: string, memoryBytes: number): void {
    for (const s of ["unloaded", "loading", "loaded", "unloading", "error"])
      this.modelStatus.set({ model, state: s }, s === state ? 1 : 0);
    this.modelState.set({ model }, state === "loaded" ? 1 : 0);
    this.modelMemory.set({ model }, memoryBytes);
    if (state === "loaded") this.modelLoads.inc({ model });
  }

  /**
   * Passes events through unchanged while measuring time to first token, speed and token counts.
   * `startedAt` is when the request arrived, so queueing shows up in time to first token.
   */
  async *observe(stream: GenerationStream, requested: string, startedAt: number): GenerationStream {
    const model = (await this.options.modelLabel?.(requested)) ?? requested;
    let firstAt = 0;
    for await (const event of stream) {
      if (firstAt === 0 && event.type !== "finish") {
        firstAt = performance.now();
        this.timeToFirstToken.observe({ model }, (firstAt - startedAt) / 1000);
      }
      if (event.type === "finish") this.finish(model, event, firstAt);
      yield event;
    }
  }

  private finish(model: string, event: Extract<GenerationEvent, { type: "finish" }>, firstAt: number): void {
    const { usage } = event;
    this.promptTokens.inc({ model }, usage.promptTokens);
    this.cachedTokens.inc({ model }, usage.cachedTokens);
    this.completionTokens.inc({ model }, usage.completionTokens);
    if (usage.prediction) {
      this.draftedTokens.inc({ model }, usage.prediction.accepted + usage.prediction.rejected);
      this.acceptedTokens.inc({ model }, usage.prediction.accepted);
    }
    this.generations.inc({ model, finish_reason: event.reason satisfies FinishReason });
    const seconds = firstAt > 0 ? (performance.now() - firstAt) / 1000 : 0;
    if (seconds > 0 && usage.completionTokens > 1)
      this.tokensPerSecond.observe({ model }, (usage.completionTokens - 1) / seconds);
  }
}
