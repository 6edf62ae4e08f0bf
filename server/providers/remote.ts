/**
 * A remote OpenAI-compatible provider (vLLM, OpenAI, llama.cpp's server, another Hearth...). It
 * speaks the upstream's wire format only at this edge: neutral requests go out as OpenAI bodies
 * (remote-wire.ts), the upstream's SSE comes back as neutral events, parsed with a real SSE parser
 * as the bytes arrive and passed on at once. Requests always stream upstream, so a client that
 * disconnects (the signal) or stops reading closes the upstream request and frees its sequence.
 *
 * Credentials go only to the configured origin: undici's request() follows no redirects, and a
 * redirect is reported as an error. Secrets are kept in memory here and never logged or echoed.
 */
import { setImmediate, setTimeout as sleep } from "node:timers/promises";
import { Agent, request, type Dispatcher } from "undici";
import { HearthError, ModelNotFoundError, UpstreamError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { ProviderConfig, ProviderStatus, ProviderTestResult } from "./provider-config.js";
import { VIA_HEADER, outboundVia } from "./hops.js";
import {
  NoAnswerError,
  RETRYABLE_STATUSES,
  UNUSABLE_STATUSES,
  isConnectError,
  networkCodeOf,
  networkError,
  noAnswerMessage,
  providerLabel,
  statusError,
} from "./remote-errors.js";
import { UpstreamChunkDecoder, UpstreamSseDecoder, chatBody, completionBody, embeddingBody } from "./remote-wire.js";
import { secretScrubber } from "./scrub.js";
import type {
  EmbeddingRequest,
  EmbeddingResult,
  GenerationRequest,
  GenerationStream,
  ModelInfo,
  Provider,
} from "../core/types.js";

/** A provider's secrets, as read from the SecretStore. */
export interface RemoteCredentials {
  /** Sent as `Authorization: Bearer <apiKey>`. Defaults to none. */
  apiKey?: string;
  /** Extra headers sent with every request (e.g. an organization id). Defaults to none. */
  headers: Record<string, string>;
}

export interface RemoteProviderOptions {
  config: ProviderConfig;
  credentials: RemoteCredentials;
  logger: Logger;
  /** Further attempts after an idempotent failure (connect error, 502/503/504). Defaults to 2. */
  retries?: number;
  /** Wait before the first retry in ms, doubled for each next one (with jitter). Defaults to 150. */
  backoffMs?: number;
  /** Sent as User-Agent. Defaults to "Hearth". */
  userAgent?: string;
  /** This server's id, sent in `X-Hearth-Via` so a provider that leads back here is refused (hops.ts). */
  instanceId?: string;
}

/**
 * How long a provider test (`test()`) waits for an HTTP answer; every test that gets none answers
 * after exactly this long. Through /api anyone may point a test at any address, and a closed port
 * (refused at once), a filtered one, a service that is not HTTP and a name that does not resolve
 * each failed differently and at its own speed: a scanner of what listens where. Now they are one
 * answer at one time, and the cause goes only to the log.
 */
export const PROVIDER_TEST_MS = 10_000;

/** While a provider is failing, re-check it at most this often when models are listed. */
const RECHECK_MS = 30_000;
/** Error bodies are read up to this size: enough for any message, bounded against a hostile server. */
const MAX_ERROR_BODY = 64 * 1024;
/** Non-streamed JSON answers (model lists, embeddings) up to this size. */
const MAX_JSON_BODY = 256 * 1024 * 1024;
/** Most characters of an upstream's own message passed on: enough to explain, too few to read a service through. */
const MAX_ECHO = 200;

const isObject = (value: unknown): value is object => typeof value === "object" && value !== null;

const UNKNOWN_STATUS: ProviderStatus = { state: "unknown", message: null, code: null, checkedAt: null };

/**
 * Drops a response body without reading it. undici errors a body destroyed before its end, and an
 * 'error' with no listener would crash the process, so one is attached first.
 */
function discard(body: Dispatcher.ResponseData["body"]): void {
  body.on("error", () => undefined);
  body.destroy();
}

/** Reads a body as text, up to `limit` bytes: beyond it, the start (`truncate`) or an error. */
async function readText(
  body: Dispatcher.ResponseData["body"],
  limit: number,
  overflow: "truncate" | "throw",
): Promise<string> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limit) {
      discard(body);
      if (overflow === "throw") throw new Error(`response larger than ${limit} bytes`);
      parts.push(buf);
      break;
    }
    parts.push(buf);
  }
  return Buffer.concat(parts).subarray(0, limit).toString("utf8");
}

export class RemoteProvider implements Provider {
  readonly id: string;
  private config: ProviderConfig;
  private credentials!: RemoteCredentials;
  /** Removes the secret values from upstream text before it reaches a client or a log, and bounds it. */
  private scrub!: (text: string) => string;
  private agent: Agent;
  private status: ProviderStatus = UNKNOWN_STATUS;
  private discovered: string[] | null = null;
  /** `created` of each discovered model, as the upstream reported it. */
  private created = new Map<string, number>();
  private discovering: Promise<string[]> | null = null;
  private lastCheck = 0;
  private closed = false;

  constructor(private readonly options: RemoteProviderOptions) {
    this.id = options.config.id;
    this.config = options.config;
    this.setCredentials(options.credentials);
    this.agent = this.makeAgent();
  }

  private setCredentials(credentials: RemoteCredentials): void {
    this.credentials = credentials;
    this.scrub = secretScrubber([credentials.apiKey ?? "", ...Object.values(credentials.headers)], {
      maxLength: MAX_ECHO,
    });
  }

  private makeAgent(): Agent {
    const timeout = this.timeoutMs;
    return new Agent({ connectTimeout: Math.min(timeout, 10_000), headersTimeout: timeout, bodyTimeout: timeout });
  }

  private get timeoutMs(): number {
    return Math.max(1, Math.round(this.config.timeoutSeconds * 1000));
  }

  getConfig(): ProviderConfig {
    return this.config;
  }

  getStatus(): ProviderStatus {
    return this.status;
  }

  get hasApiKey(): boolean {
    return this.credentials.apiKey !== undefined;
  }

  get headerNames(): string[] {
    return Object.keys(this.credentials.headers);
  }

  /** Upstream names from the last successful discovery, or null. */
  getDiscovered(): string[] | null {
    return this.discovered;
  }

  /** Upstream names this provider exposes; null when unknown (discovery has not worked yet). */
  exposedModels(): string[] | null {
    const { discover, models } = this.config;
    if (!discover) return models;
    if (this.discovered === null) return models.length > 0 ? models : null;
    return models.length > 0 ? this.discovered.filter((m) => models.includes(m)) : this.discovered;
  }

  /** True for `<id>/<name>` when `name` is a model this provider is known to expose (not merely any name, as while discovery fails). */
  knowsModel(model: string): boolean {
    if (!model.startsWith(`${this.id}/`)) return false;
    return this.exposedModels()?.includes(model.slice(this.id.length + 1)) ?? false;
  }

  /** Applies an edited config and credentials; in-flight requests finish on the old connection pool. */
  update(config: ProviderConfig, credentials: RemoteCredentials): void {
    const reconnect = config.baseUrl !== this.config.baseUrl || config.timeoutSeconds !== this.config.timeoutSeconds;
    if (config.baseUrl !== this.config.baseUrl || config.kind !== this.config.kind) this.discovered = null;
    // Whatever failed may be fixed by the change (a new key, a new address): find out afresh.
    this.status = UNKNOWN_STATUS;
    this.lastCheck = 0;
    this.config = config;
    this.setCredentials(credentials);
    if (reconnect) {
      const old = this.agent;
      this.agent = this.makeAgent();
      void old.close().catch(() => undefined);
    }
  }

  // ---- Provider ----

  async listModels(): Promise<ModelInfo[]> {
    if (this.status.state !== "ok" && Date.now() - this.lastCheck > RECHECK_MS && this.config.discover)
      void this.refresh();
    if (this.status.state === "error") return [];
    return (this.exposedModels() ?? []).map((m) => ({
      id: `${this.id}/${m}`,
      ownedBy: this.id,
      created: this.created.get(m) ?? 0,
      provider: this.id,
    }));
  }

  async hasModel(model: string): Promise<boolean> {
    return model.length > this.id.length + 1 && model.startsWith(`${this.id}/`);
  }

  async generate(request: GenerationRequest, signal: AbortSignal): Promise<GenerationStream> {
    const upstream = this.upstreamModel(request.model);
    const body =
      request.kind === "chat"
        ? chatBody(request, upstream, this.config.kind)
        : completionBody(request, upstream, this.config.kind);
    const res = await this.send(
      "POST",
      request.kind === "chat" ? "/chat/completions" : "/completions",
      body,
      signal,
      "text/event-stream",
    );
    return this.events(res, signal);
  }

  async embed(request: EmbeddingRequest, signal: AbortSignal): Promise<EmbeddingResult> {
    const res = await this.send(
      "POST",
      "/embeddings",
      embeddingBody(request, this.upstreamModel(request.model)),
      signal,
      "application/json",
    );
    const json = await this.readJson(res, signal);
    const data = (json as { data?: { index?: number; embedding?: unknown }[] }).data;
    if (!Array.isArray(data) || data.length !== request.input.length || !data.every(isObject))
      throw this.badResponse("an embeddings answer without one vector per input");
    const vectors = [...data]
      .sort((a, b) => (a.index ?? 0) - (b.index ?? 0))
      .map((d) => {
        if (Array.isArray(d.embedding)) return Float32Array.from(d.embedding as number[]);
        if (typeof d.embedding === "string") {
          const bytes = Buffer.from(d.embedding, "base64");
          return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
        }
        throw this.badResponse("an embedding that is neither numbers nor base64");
      });
    const usage = (json as { usage?: { prompt_tokens?: number } }).usage;
    return { vectors, promptTokens: usage?.prompt_tokens ?? 0 };
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.agent.destroy().catch(() => undefined);
  }

  // ---- discovery and tests ----

  /** Asks the upstream's `GET /models`; updates the status either way. */
  discover(): Promise<string[]> {
    this.discovering ??= (async () => {
      this.lastCheck = Date.now();
      try {
        const res = await this.send("GET", "/models", undefined, undefined, "application/json");
        const json = await this.readJson(res, undefined);
        const listed = (json as { data?: unknown }).data;
        if (!Array.isArray(listed)) throw this.badResponse("a model list without `data`");
        const data = listed.filter(isObject) as { id?: unknown; created?: unknown }[];
        const ids = data.flatMap((m) => (typeof m.id === "string" && m.id.length > 0 ? [m.id] : []));
        this.created = new Map(
          data.flatMap((m) =>
            typeof m.id === "string" && typeof m.created === "number" ? [[m.id, m.created] as const] : [],
          ),
        );
        this.discovered = ids;
        this.markOk();
        return ids;
      } finally {
        this.discovering = null;
      }
    })();
    return this.discovering;
  }

  /** Re-discovers models (when configured to) and never throws: failures show in the status. */
  async refresh(): Promise<void> {
    if (!this.config.discover || this.closed) return;
    try {
      await this.discover();
    } catch (err) {
      this.options.logger.warn(
        { provider: this.id, code: (err as HearthError).code ?? null },
        `model discovery failed: ${(err as Error).message}`,
      );
    }
  }

  /**
   * A connection test for the UI: `GET /models` with the stored credentials, timed. An HTTP answer
   * (models, or an error status) comes back as soon as it arrives; no HTTP answer within
   * PROVIDER_TEST_MS, for whatever reason, is one generic failure after exactly that long.
   */
  async test(): Promise<ProviderTestResult> {
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), PROVIDER_TEST_MS)));
    try {
      const outcome = await Promise.race([
        this.discover().then(
          (models) => ({ models }),
          (err: unknown) => ({ err }),
        ),
        deadline,
      ]);
      if (outcome !== "late" && "models" in outcome)
        return { ok: true, latencyMs: Math.round(performance.now() - started), models: outcome.models, error: null };
      const err = outcome === "late" ? null : outcome.err;
      if (err instanceof HearthError && !(err instanceof NoAnswerError)) {
        return {
          ok: false,
          latencyMs: Math.round(performance.now() - started),
          models: [],
          error: { message: err.message, type: err.type, code: err.code, status: err.status },
        };
      }
      this.options.logger.warn(
        {
          provider: this.id,
          cause:
            err === null
              ? "no answer in time"
              : (networkCodeOf(err instanceof Error && err.cause ? err.cause : err) ?? "unknown"),
        },
        "provider test got no HTTP answer",
      );
      await deadline;
      return {
        ok: false,
        latencyMs: PROVIDER_TEST_MS,
        models: [],
        error: {
          message: noAnswerMessage(this.id, this.host, PROVIDER_TEST_MS / 1000),
          type: "server_error",
          code: "provider_unreachable",
          status: 502,
        },
      };
    } finally {
      clearTimeout(timer);
    }
  }

  // ---- the HTTP edge ----

  private get host(): string {
    return new URL(this.config.baseUrl).host;
  }

  private upstreamModel(model: string): string {
    const name = model.slice(this.id.length + 1);
    const exposed = this.exposedModels();
    if (exposed !== null && !exposed.includes(name))
      throw new ModelNotFoundError(
        model,
        exposed.map((m) => `${this.id}/${m}`),
      );
    return name;
  }

  private headers(accept: string, hasBody: boolean): Record<string, string> {
    return {
      ...this.credentials.headers,
      ...(this.credentials.apiKey !== undefined ? { authorization: `Bearer ${this.credentials.apiKey}` } : {}),
      accept,
      ...(hasBody ? { "content-type": "application/json" } : {}),
      "user-agent": this.options.userAgent ?? "Hearth",
      ...(this.options.instanceId !== undefined ? { [VIA_HEADER]: outboundVia(this.options.instanceId) } : {}),
    };
  }

  /**
   * One upstream request with retries: only for failures that cannot have started work upstream
   * (connect errors) or that a gateway reports before any body (502/503/504). This runs before
   * `generate` returns, so no byte has gone to the client yet.
   */
  private async send(
    method: "GET" | "POST",
    path: string,
    body: unknown,
    signal: AbortSignal | undefined,
    accept: string,
  ): Promise<Dispatcher.ResponseData> {
    const url = `${this.config.baseUrl}${path}`;
    const payload = body === undefined ? undefined : await serialize(body);
    const retries = this.options.retries ?? 2;
    for (let attempt = 0; ; attempt++) {
      let res: Dispatcher.ResponseData;
      try {
        res = await request(url, {
          method,
          headers: this.headers(accept, payload !== undefined),
          body: payload,
          signal,
          dispatcher: this.agent,
        });
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        if (isConnectError(err) && attempt < retries) {
          await this.backoff(attempt, signal);
          continue;
        }
        throw this.markError(networkError(err, this.id, this.host, this.config.timeoutSeconds));
      }
      if (res.statusCode >= 200 && res.statusCode < 300) {
        // If the signal fires before anyone reads the body, undici errors it: that must not crash the process.
        res.body.on("error", () => undefined);
        this.markOk();
        return res;
      }
      if (RETRYABLE_STATUSES.has(res.statusCode) && attempt < retries) {
        // Reading the short error body to its end keeps the connection for the retry.
        await res.body.dump().catch(() => undefined);
        await this.backoff(attempt, signal);
        continue;
      }
      let text = "";
      try {
        text = await readText(res.body, MAX_ERROR_BODY, "truncate");
      } catch {
        // The status says enough.
      }
      const error = statusError(res.statusCode, res.headers, text, this.id, this.scrub);
      this.options.logger.warn(
        { provider: this.id, path, status: res.statusCode, code: error.code },
        "provider answered with an error",
      );
      // A provider that answers is up, even with an error; only a refused key, a redirect or a
      // loop back to this server (a wrong base URL) make it unusable until its settings change.
      throw res.statusCode < 400 || UNUSABLE_STATUSES.has(res.statusCode) ? this.markError(error) : error;
    }
  }

  private async backoff(attempt: number, signal: AbortSignal | undefined): Promise<void> {
    const base = (this.options.backoffMs ?? 150) * 2 ** attempt;
    await sleep(base * (0.5 + Math.random()), undefined, signal ? { signal } : undefined).catch(() => {
      throw signal?.reason;
    });
  }

  private async readJson(res: Dispatcher.ResponseData, signal: AbortSignal | undefined): Promise<object> {
    let text: string;
    try {
      text = await readText(res.body, MAX_JSON_BODY, "throw");
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      throw this.markError(networkError(err, this.id, this.host, this.config.timeoutSeconds));
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw this.badResponse("an answer that is not JSON");
    }
    if (typeof json !== "object" || json === null || Array.isArray(json))
      throw this.badResponse("an answer that is not a JSON object");
    return json;
  }

  /**
   * The upstream's reply as neutral events, each yielded as soon as its bytes arrived. Leaving
   * early (client gone, consumer stopped) destroys the response, which closes the upstream
   * connection: the upstream sees its client leave and frees the sequence.
   */
  private async *events(res: Dispatcher.ResponseData, signal: AbortSignal): GenerationStream {
    const decoder = new UpstreamSseDecoder(providerLabel(this.id), this.scrub);
    let complete = false;
    try {
      const type = String(res.headers["content-type"] ?? "");
      if (!type.includes("text/event-stream")) {
        const whole = new UpstreamChunkDecoder(providerLabel(this.id), this.scrub);
        yield* whole.whole(await this.readJson(res, signal));
        complete = true;
        return;
      }
      // Reading on after [DONE] until the body ends keeps the connection alive for the next request.
      for await (const chunk of res.body) {
        for (const event of decoder.feed(chunk as Buffer)) yield event;
      }
      yield* decoder.end();
      complete = true;
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      // A server that errs or stalls after its last event has still answered in full.
      if (decoder.finished) return;
      if (err instanceof HearthError) throw err;
      throw this.markError(networkError(err, this.id, this.host, this.config.timeoutSeconds));
    } finally {
      if (!complete) discard(res.body);
    }
  }

  private badResponse(what: string): UpstreamError {
    return this.markError(
      new UpstreamError(502, "server_error", `${providerLabel(this.id)} sent ${what}.`, {
        code: "provider_bad_response",
      }),
    );
  }

  private markOk(): void {
    this.lastCheck = Date.now();
    if (this.status.state !== "ok") this.options.logger.info({ provider: this.id }, "provider is reachable");
    this.status = { state: "ok", message: null, code: null, checkedAt: new Date().toISOString() };
  }

  /**
   * Records a failure in the status. Without an HTTP answer the status is the provider test's one
   * answer (noAnswerMessage, `provider_unreachable`), a timeout included: anyone on /api can save a
   * provider at any address and read its status, so it must not tell a refused port from a silent
   * one. The cause goes to the log.
   */
  private markError<E extends HearthError>(error: E): E {
    this.lastCheck = Date.now();
    const noAnswer = error instanceof NoAnswerError;
    if (this.status.state !== "error")
      this.options.logger.warn(
        {
          provider: this.id,
          code: error.code,
          ...(noAnswer ? { cause: networkCodeOf(error.cause) ?? "unknown" } : {}),
        },
        error.message,
      );
    this.status = {
      state: "error",
      message: noAnswer ? noAnswerMessage(this.id, this.host) : error.message,
      code: noAnswer ? "provider_unreachable" : error.code,
      checkedAt: new Date().toISOString(),
    };
    return error;
  }
}

/** Serialized characters past which `serialize` takes turns of the event loop. */
const LARGE_BODY_CHARS = 1024 * 1024;

/**
 * A request body as JSON bytes. A large one (a 19 MB prompt) takes tens of milliseconds to
 * serialize and as long again to encode, right after the client's body was parsed: each in a turn
 * of the event loop of its own, so other requests are answered between them (BENCHMARKS.md,
 * "Large messages").
 */
async function serialize(body: unknown): Promise<string | Buffer> {
  const text = JSON.stringify(body);
  if (text.length < LARGE_BODY_CHARS) return text;
  await setImmediate();
  const bytes = Buffer.from(text);
  await setImmediate();
  return bytes;
}
