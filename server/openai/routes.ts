/**
 * /v1 in OpenAI's format: parse -> convert -> run on the generation pipeline (chat/service.ts) ->
 * encode (http/respond.ts). Errors thrown before the first byte become JSON errors in the one
 * error handler; errors after a stream started become the encoder's final error event.
 */
import { meterOf } from "../access/guard.js";
import express, { type Request } from "express";
import type { ServerContext } from "../context.js";
import type { GenerationRequest } from "../core/types.js";
import { NotFoundError } from "../errors.js";
import { respond } from "../http/respond.js";
import { clientGoneSignal } from "../http/sse.js";
import { parseOrThrow } from "../http/validate.js";
import { assertSafeModelName } from "../models/names.js";
import {
  chatParamNames,
  choicesOf,
  completionParamNames,
  toChatRequest,
  toCompletionRequest,
  toEmbeddingRequest,
} from "./convert.js";
import {
  chatChunkEncoder,
  collectChatChoices,
  collectCompletionChoices,
  completionChunkEncoder,
  newMeta,
  type WireMeta,
} from "./format.js";
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

  router.post("/chat/completions", async (req: Request, res) => {
    const body = parseOrThrow(ChatCompletionRequestSchema, req.body);
    const request = toChatRequest(body);
    const n = choicesOf(body, ctx.config.maxN);
    const clientGone = clientGoneSignal(res);
    const run = await ctx.chat.start(request, {
      meter: meterOf(res),
      clientGone,
      n,
      record: { kind: "api" },
      paramName: chatParamNames(request),
    });
    const meta = wireMeta("chatcmpl", request, body.stream_options?.include_usage ?? false);
    await respond(res, run, clientGone, {
      stream: body.stream ?? false,
      encoder: (sse) => chatChunkEncoder(sse, meta),
      collect: (events) => collectChatChoices(events, meta, n),
    });
  });

  router.post("/completions", async (req: Request, res) => {
    const body = parseOrThrow(CompletionRequestSchema, req.body);
    const request = toCompletionRequest(body);
    const n = choicesOf(body, ctx.config.maxN);
    const clientGone = clientGoneSignal(res);
    const run = await ctx.chat.start(request, {
      meter: meterOf(res),
      clientGone,
      n,
      paramName: completionParamNames,
    });
    const meta = wireMeta("cmpl", request, body.stream_options?.include_usage ?? false);
    await respond(res, run, clientGone, {
      stream: body.stream ?? false,
      encoder: (sse) => completionChunkEncoder(sse, meta, n),
      collect: (events) => collectCompletionChoices(events, meta, n),
    });
  });

  router.use("/responses", createResponsesRouter(ctx));

  router.post("/embeddings", async (req, res) => {
    const body = parseOrThrow(EmbeddingRequestSchema, req.body);
    const request = toEmbeddingRequest(body);
    const timeout = AbortSignal.timeout(ctx.config.requestTimeout * 1000);
    const result = await ctx.router.embed(request, AbortSignal.any([clientGoneSignal(res), timeout]));
    meterOf(res)?.finished(request.model, { promptTokens: result.promptTokens, completionTokens: 0, cachedTokens: 0 });
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

function wireMeta(prefix: "chatcmpl" | "cmpl", request: GenerationRequest, includeUsage: boolean): WireMeta {
  return { ...newMeta(prefix, request.model, includeUsage), logprobs: request.topLogprobs !== undefined };
}
