/**
 * Ollama's API (`/api/*` on its own port, `--ollama-port`) over the one generation pipeline:
 * parse -> convert (convert.ts) -> `ctx.chat.start` -> respond (http/respond.ts) with an NDJSON
 * encoder (format.ts). Chats are recorded in history as /v1 chats are (source `api`).
 * `keep_alive` sets the model manager's idle time for a local model once the request is admitted;
 * a request with no prompt only loads the model, or with `keep_alive: 0` unloads it, as Ollama's do.
 */
import express, { type Response } from "express";
import { meterOf } from "../access/guard.js";
import type { ServerContext } from "../context.js";
import type { Admission, RequestWarning } from "../core/types.js";
import { BadRequestError } from "../errors.js";
import { useErrorFormat } from "../http/error-handler.js";
import { NdjsonWriter } from "../http/ndjson.js";
import { respond } from "../http/respond.js";
import { clientGoneSignal } from "../http/sse.js";
import { parseOrThrow } from "../http/validate.js";
import { LOCAL_PROVIDER_ID } from "../providers/local.js";
import { VERSION } from "../version.js";
import { keepAliveMs, toChatRequest, toGenerateRequest } from "./convert.js";
import { ollamaErrorFormat } from "./errors.js";
import { collectReply, replyEncoder, type ReplyShape } from "./format.js";
import { ps, resolveModel, show, tags } from "./models.js";
import {
  ChatRequestSchema,
  EmbedRequestSchema,
  EmbeddingsRequestSchema,
  GenerateRequestSchema,
  ShowRequestSchema,
  type ChatResponse,
  type GenerateResponse,
} from "./schemas.js";

/** The Ollama release whose API this follows (`/api/version`: some clients gate features on it). */
export const OLLAMA_API_VERSION = "0.12.0";

/** Mount before authentication, so that every error on the Ollama port is in Ollama's shape. */
export const ollamaErrors = useErrorFormat(ollamaErrorFormat);

export function createOllamaRouter(ctx: ServerContext): express.Router {
  const router = express.Router();

  router.post("/chat", async (req, res) => {
    const body = parseOrThrow(ChatRequestSchema, req.body);
    const converted = toChatRequest(body);
    await generate(ctx, res, {
      ...converted,
      shape: "chat",
      stream: body.stream,
      keepAlive: body.keep_alive,
      loadOnly: body.messages.length === 0,
    });
  });

  router.post("/generate", async (req, res) => {
    const body = parseOrThrow(GenerateRequestSchema, req.body);
    const converted = toGenerateRequest(body);
    await generate(ctx, res, {
      ...converted,
      shape: "generate",
      stream: body.stream,
      keepAlive: body.keep_alive,
      loadOnly: body.prompt === "" && body.system === undefined,
    });
  });

  router.post("/embed", async (req, res) => {
    const startedAt = performance.now();
    const body = parseOrThrow(EmbedRequestSchema, req.body);
    const input = typeof body.input === "string" ? [body.input] : body.input;
    const result = await embed(ctx, res, body.model, input, body.keep_alive);
    const width = result.vectors[0]?.length ?? 0;
    if (body.dimensions !== undefined && body.dimensions !== width) {
      throw new BadRequestError(`This model's embeddings have ${width} dimensions; other sizes are not supported.`, {
        param: "dimensions",
        code: "unsupported_value",
      });
    }
    res.json({
      model: body.model,
      embeddings: result.vectors.map((v) => Array.from(v)),
      total_duration: Math.round((performance.now() - startedAt) * 1e6),
      load_duration: 0,
      prompt_eval_count: result.promptTokens,
    });
  });

  router.post("/embeddings", async (req, res) => {
    const body = parseOrThrow(EmbeddingsRequestSchema, req.body);
    const result = await embed(ctx, res, body.model, [body.prompt], body.keep_alive);
    res.json({ embedding: Array.from(result.vectors[0] ?? []) });
  });

  router.get("/tags", async (_req, res) => {
    res.json(await tags(ctx));
  });

  router.post("/show", async (req, res) => {
    const body = parseOrThrow(ShowRequestSchema, req.body);
    res.json(await show(ctx, (body.model ?? body.name)!));
  });

  router.get("/ps", (_req, res) => {
    res.json(ps(ctx));
  });

  router.get("/version", (_req, res) => {
    res.json({ version: OLLAMA_API_VERSION, hearth: VERSION });
  });

  return router;
}

interface GenerateOptions {
  request: Parameters<ServerContext["chat"]["start"]>[0];
  paramName: (neutral: string) => string;
  warnings: RequestWarning[];
  shape: ReplyShape;
  stream: boolean;
  keepAlive: number | string | null | undefined;
  /** No prompt: Ollama's way to load (or, with keep_alive 0, unload) a model. */
  loadOnly: boolean;
}

async function generate(ctx: ServerContext, res: Response, options: GenerateOptions): Promise<void> {
  const startedAt = performance.now();
  const keepAlive = keepAliveMs(options.keepAlive);
  const named = options.request.model;
  const { model, provider } = await resolveModel(ctx, named);
  const local = provider.id === LOCAL_PROVIDER_ID;
  if (options.loadOnly) {
    let reason: "load" | "unload" = "load";
    if (local && keepAlive === 0) {
      await ctx.models.unload(model);
      reason = "unload";
    } else if (local) {
      await ctx.models.loadById(model, { signal: clientGoneSignal(res) });
      await ctx.models.keepAlive(model, keepAlive);
    }
    const created_at = new Date().toISOString();
    const line: ChatResponse | GenerateResponse =
      options.shape === "chat"
        ? { model: named, created_at, message: { role: "assistant", content: "" }, done: true, done_reason: reason }
        : { model: named, created_at, response: "", done: true, done_reason: reason };
    res.json(line);
    return;
  }
  const clientGone = clientGoneSignal(res);
  const request = { ...options.request, model };
  const run = await ctx.chat.start(request, {
    meter: meterOf(res),
    clientGone,
    provider,
    record: { kind: "api" },
    paramName: options.paramName,
    startedAt,
  });
  // Admitted: the model is busy, so an idle time of 0 unloads it once this request is done.
  if (local) await ctx.models.keepAlive(model, keepAlive);
  const admission: Admission = { ...run.admission, warnings: [...options.warnings, ...run.admission.warnings] };
  const meta = { shape: options.shape, model: named, startedAt, logprobs: request.topLogprobs !== undefined };
  await respond(res, { events: run.events, admission }, clientGone, {
    stream: options.stream,
    writer: (r) => new NdjsonWriter(r),
    encoder: (out) => replyEncoder(out, meta),
    collect: (events) => collectReply(events, meta),
  });
}

async function embed(
  ctx: ServerContext,
  res: Response,
  named: string,
  input: string[],
  keepAliveValue: number | string | null | undefined,
) {
  const keepAlive = keepAliveMs(keepAliveValue);
  const { model, provider } = await resolveModel(ctx, named);
  const timeout = AbortSignal.timeout(ctx.config.requestTimeout * 1000);
  const result = await provider.embed({ model, input }, AbortSignal.any([clientGoneSignal(res), timeout]));
  meterOf(res)?.finished(model, { promptTokens: result.promptTokens, completionTokens: 0, cachedTokens: 0 });
  if (provider.id === LOCAL_PROVIDER_ID) await ctx.models.keepAlive(model, keepAlive);
  return result;
}
