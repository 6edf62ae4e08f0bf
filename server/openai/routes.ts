/**
 * /v1: validate, convert, route to a provider, format. Handlers stay short (STYLE.md #6):
 * errors thrown before the first byte become JSON errors in the one error handler; errors after
 * a stream started become a final SSE error event.
 */
import express, { type Request, type Response } from "express";
import type { ServerContext } from "../context.js";
import { HearthError, NotFoundError } from "../errors.js";
import { SseWriter, clientGoneSignal } from "../http/sse.js";
import { assertSafeModelName } from "../models/names.js";
import { parseOrThrow } from "../http/validate.js";
import type { GenerationRequest, GenerationStream } from "../providers/types.js";
import { toChatRequest, toCompletionRequest, toEmbeddingRequest } from "./convert.js";
import { collectChat, collectCompletion, newMeta, writeChatStream, writeCompletionStream } from "./format.js";
import { ChatCompletionRequestSchema, CompletionRequestSchema, EmbeddingRequestSchema, type ModelList } from "./schemas.js";

class TimeoutError extends HearthError {
  constructor(seconds: number) {
    super(504, "server_error", `The generation took longer than the request timeout (${seconds} s) and was stopped.`, { code: "timeout" });
  }
}

/** Cancels on client disconnect or after the configured timeout, and says which happened. */
function generationSignal(res: Response, timeoutSeconds: number) {
  const clientGone = clientGoneSignal(res);
  const timeout = AbortSignal.timeout(timeoutSeconds * 1000);
  return { signal: AbortSignal.any([clientGone, timeout]), clientGone, timeout };
}

export function createOpenAIRouter(ctx: ServerContext): express.Router {
  const router = express.Router();

  router.get("/models", async (_req, res) => {
    const models = await ctx.router.listModels();
    const body: ModelList = { object: "list", data: models.map((m) => ({ id: m.id, object: "model", created: m.created, owned_by: m.ownedBy })) };
    res.json(body);
  });

  router.get("/models/*id", async (req, res) => {
    const id = ([] as string[]).concat((req.params as { id: string | string[] }).id).join("/");
    assertSafeModelName(id);
    const model = (await ctx.router.listModels()).find((m) => m.id === id);
    if (!model) throw new NotFoundError(`The model '${id}' does not exist.`, { param: "model", code: "model_not_found" });
    res.json({ id: model.id, object: "model", created: model.created, owned_by: model.ownedBy });
  });

  async function generate(req: Request, res: Response, request: GenerationRequest, stream: boolean, includeUsage: boolean) {
    const started = performance.now();
    const { signal, clientGone, timeout } = generationSignal(res, ctx.config.requestTimeout);
    const { provider, stream: raw } = await ctx.router.generate(request, signal);
    let events: GenerationStream = ctx.metrics.observe(raw, request.model, started);
    if (request.kind === "chat" && ctx.observeApiChat) {
      events = ctx.observeApiChat(request, events, { requestId: String(res.getHeader("X-Request-ID") ?? ""), provider: provider.id, source: "api" });
    }
    const meta = newMeta(request.kind === "chat" ? "chatcmpl" : "cmpl", request.model, includeUsage);
    const timeoutAware = async (work: Promise<unknown>): Promise<unknown> => {
      try {
        return await work;
      } catch (err) {
        throw timeout.aborted && !clientGone.aborted ? new TimeoutError(ctx.config.requestTimeout) : err;
      }
    };
    if (!stream) {
      res.json(await timeoutAware(request.kind === "chat" ? collectChat(events, meta) : collectCompletion(events, meta)));
      return;
    }
    const sse = new SseWriter(res);
    try {
      await timeoutAware(request.kind === "chat" ? writeChatStream(sse, events, meta) : writeCompletionStream(sse, events, meta));
    } catch (err) {
      if (clientGone.aborted) return;
      sse.fail(err);
    }
  }

  router.post("/chat/completions", async (req, res) => {
    const body = parseOrThrow(ChatCompletionRequestSchema, req.body);
    await generate(req, res, toChatRequest(body), body.stream ?? false, body.stream_options?.include_usage ?? false);
  });

  router.post("/completions", async (req, res) => {
    const body = parseOrThrow(CompletionRequestSchema, req.body);
    await generate(req, res, toCompletionRequest(body), body.stream ?? false, body.stream_options?.include_usage ?? false);
  });

  router.post("/embeddings", async (req, res) => {
    const body = parseOrThrow(EmbeddingRequestSchema, req.body);
    const request = toEmbeddingRequest(body);
    const { signal } = generationSignal(res, ctx.config.requestTimeout);
    const result = await ctx.router.embed(request, signal);
    const base64 = body.encoding_format === "base64";
    res.json({
      object: "list",
      data: result.vectors.map((v, index) => ({
        object: "embedding",
        index,
        embedding: base64 ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64") : Array.from(v),
      })),
      model: request.model,
      usage: { prompt_tokens: result.promptTokens, total_tokens: result.promptTokens },
    });
  });

  return router;
}
