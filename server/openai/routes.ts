/**
 * /v1: validate, convert, route to a provider, format. Handlers stay short (docs/STYLE.md #6):
 * errors thrown before the first byte become JSON errors in the one error handler; errors after
 * a stream started become a final SSE error event.
 */
import express, { type Request, type Response } from "express";
import type { ServerContext } from "../context.js";
import { NotFoundError } from "../errors.js";
import { SseWriter } from "../http/sse.js";
import { assertSafeModelName } from "../models/names.js";
import { parseOrThrow } from "../http/validate.js";
import type { GenerationRequest, GenerationStream } from "../providers/types.js";
import { admitChoices, choiceRequest, mergeChoices } from "./choices.js";
import { choicesOf, toChatRequest, toCompletionRequest, toEmbeddingRequest } from "./convert.js";
import {
  collectChatChoices,
  collectCompletionChoices,
  newMeta,
  writeChatChoices,
  writeCompletionChoices,
} from "./format.js";
import { generationSignal, providerFor, startGeneration } from "./generation.js";
import { createResponsesRouter } from "./responses.js";
import {
  ChatCompletionRequestSchema,
  CompletionRequestSchema,
  EmbeddingRequestSchema,
  type ModelList,
} from "./schemas.js";

export function createOpenAIRouter(ctx: ServerContext): express.Router {
  const router = express.Router();

  router.get("/models", async (_req, res) => {
    const models = await ctx.router.listModels();
    const body: ModelList = {
      object: "list",
      data: models.map((m) => ({ id: m.id, object: "model", created: m.created, owned_by: m.ownedBy })),
    };
    res.json(body);
  });

  router.get("/models/*id", async (req, res) => {
    const id = ([] as string[]).concat((req.params as { id: string | string[] }).id).join("/");
    assertSafeModelName(id);
    const model = (await ctx.router.listModels()).find((m) => m.id === id);
    if (!model)
      throw new NotFoundError(`The model '${id}' does not exist.`, { param: "model", code: "model_not_found" });
    res.json({ id: model.id, object: "model", created: model.created, owned_by: model.ownedBy });
  });

  /** `n` choices, each its own generation; only the first is recorded in history. */
  async function generate(
    res: Response,
    request: GenerationRequest,
    n: number,
    stream: boolean,
    includeUsage: boolean,
  ) {
    const started = performance.now();
    const { signal, clientGone, timeoutAware } = generationSignal(res, ctx.config.requestTimeout);
    const provider = await providerFor(ctx, request);
    const { streams, cancel } = await admitChoices(n, signal, async (i, choiceSignal) => {
      const events = await startGeneration(ctx, provider, choiceRequest(request, i), choiceSignal, started);
      if (i > 0 || request.kind !== "chat" || !ctx.observeApiChat) return events;
      return ctx.observeApiChat(request, events, {
        requestId: String(res.getHeader("X-Request-ID") ?? ""),
        provider: provider.id,
        source: "api",
      });
    });
    const events = mergeChoices(streams as GenerationStream[], cancel);
    const meta = {
      ...newMeta(request.kind === "chat" ? "chatcmpl" : "cmpl", request.model, includeUsage),
      logprobs: request.topLogprobs !== undefined,
    };
    if (!stream) {
      res.json(
        await timeoutAware<unknown>(
          request.kind === "chat" ? collectChatChoices(events, meta, n) : collectCompletionChoices(events, meta, n),
        ),
      );
      return;
    }
    const sse = new SseWriter(res);
    try {
      await timeoutAware<void>(
        request.kind === "chat" ? writeChatChoices(sse, events, meta, n) : writeCompletionChoices(sse, events, meta, n),
      );
    } catch (err) {
      if (clientGone.aborted) return;
      sse.fail(err);
    }
  }

  router.post("/chat/completions", async (req: Request, res) => {
    const body = parseOrThrow(ChatCompletionRequestSchema, req.body);
    await generate(
      res,
      toChatRequest(body),
      choicesOf(body, ctx.config.maxN),
      body.stream ?? false,
      body.stream_options?.include_usage ?? false,
    );
  });

  router.post("/completions", async (req: Request, res) => {
    const body = parseOrThrow(CompletionRequestSchema, req.body);
    await generate(
      res,
      toCompletionRequest(body),
      choicesOf(body, ctx.config.maxN),
      body.stream ?? false,
      body.stream_options?.include_usage ?? false,
    );
  });

  router.use("/responses", createResponsesRouter(ctx));

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
