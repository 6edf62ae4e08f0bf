/**
 * The HTTP load generator, run as a separate process (forked with IPC) so that its own JSON
 * parsing does not share the server's JavaScript thread, as with any real client. Closed loop:
 * `concurrency` workers each send `requestsPerWorker` requests back to back.
 */
import { BENCH_SAMPLING, promptFor } from "./_bare.js";

export interface LoadPlan {
  url: string;
  model: string;
  endpoint: "completions" | "chat";
  stream: boolean;
  concurrency: number;
  requestsPerWorker: number;
  maxTokens: number;
  /** Numbers the prompts (see promptFor) so no request reuses another's cached prefix. */
  firstRequest: number;
  /** Sent as `Authorization: Bearer <key>` (a named key with limits: bench/server.ts HEARTH_BENCH_KEY). Defaults to none. */
  apiKey?: string;
}

export interface RequestTiming {
  /** Streaming: from sending the request to the first event with text. NaN when not streaming. */
  ttftMs: number;
  latencyMs: number;
  tokens: number;
  /** SSE events with text (several tokens may share one). */
  events: number;
}

export interface LoadResult {
  requests: RequestTiming[];
  wallMs: number;
  errors: string[];
}

function body(plan: LoadPlan, n: number): string {
  const sampling = {
    temperature: BENCH_SAMPLING.temperature,
    top_p: BENCH_SAMPLING.topP,
    top_k: BENCH_SAMPLING.topK,
    min_p: BENCH_SAMPLING.minP,
    seed: n,
  };
  const common = {
    model: plan.model,
    max_tokens: plan.maxTokens,
    stream: plan.stream,
    ...(plan.stream ? { stream_options: { include_usage: true } } : {}),
    ...sampling,
  };
  return JSON.stringify(
    plan.endpoint === "completions"
      ? { ...common, prompt: promptFor(n) }
      : { ...common, messages: [{ role: "user", content: promptFor(n) }] },
  );
}

interface Chunk {
  choices?: { text?: string; delta?: { content?: string | null } }[];
  usage?: { completion_tokens: number } | null;
  error?: { message: string };
}

/** The JSON of each `data:` event of a streamed response, up to `[DONE]`. */
export async function* sseData<T>(res: Response): AsyncGenerator<T> {
  let buffered = "";
  const decoder = new TextDecoder();
  for await (const bytes of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffered += decoder.decode(bytes, { stream: true });
    let end: number;
    while ((end = buffered.indexOf("\n\n")) >= 0) {
      const event = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      if (event.startsWith("data: ") && event !== "data: [DONE]") yield JSON.parse(event.slice(6)) as T;
    }
  }
}

async function one(plan: LoadPlan, n: number): Promise<RequestTiming> {
  const started = performance.now();
  const res = await fetch(`${plan.url}/v1/${plan.endpoint === "chat" ? "chat/completions" : "completions"}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...(plan.apiKey ? { Authorization: `Bearer ${plan.apiKey}` } : {}) },
    body: body(plan, n),
  });
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  if (!plan.stream) {
    const json = (await res.json()) as { usage?: { completion_tokens: number } };
    return {
      ttftMs: Number.NaN,
      latencyMs: performance.now() - started,
      tokens: json.usage?.completion_tokens ?? 0,
      events: 0,
    };
  }
  let first = 0;
  let tokens = 0;
  let events = 0;
  for await (const chunk of sseData<Chunk>(res)) {
    if (chunk.error) throw new Error(chunk.error.message);
    const choice = chunk.choices?.[0];
    const text = choice?.text ?? choice?.delta?.content ?? "";
    if (text) {
      events++;
      if (first === 0) first = performance.now();
    }
    if (chunk.usage) tokens = chunk.usage.completion_tokens;
  }
  // A server that sends no usage chunk (llama-server without include_usage support) streams one token per event.
  return {
    ttftMs: first > 0 ? first - started : Number.NaN,
    latencyMs: performance.now() - started,
    tokens: tokens || events,
    events,
  };
}

export async function runLoad(plan: LoadPlan): Promise<LoadResult> {
  const requests: RequestTiming[] = [];
  const errors: string[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: plan.concurrency }, async (_, worker) => {
      for (let i = 0; i < plan.requestsPerWorker; i++) {
        try {
          requests.push(await one(plan, plan.firstRequest + worker * plan.requestsPerWorker + i));
        } catch (err) {
          errors.push((err as Error).message);
        }
      }
    }),
  );
  return { requests, wallMs: performance.now() - started, errors };
}

// Forked by bench/server.ts: answer each plan on the IPC channel until disconnected.
if (process.send && process.argv[2] === "--serve") {
  process.on("message", (plan: LoadPlan) => {
    void runLoad(plan).then(
      (result) => process.send?.(result),
      (err: unknown) => process.send?.({ requests: [], wallMs: 0, errors: [String(err)] } satisfies LoadResult),
    );
  });
  process.on("disconnect", () => process.exit(0));
  process.send("ready");
}
