/**
 * /v1/messages (Anthropic's Messages API) over the same providers as /v1/chat/completions: the
 * request becomes a neutral ChatRequest (a remote provider then receives chat completions), the
 * events come back as a message or Anthropic's stream events. Errors, authentication and body
 * errors included, are written in Anthropic's shape (errors.ts). Recorded in history like other
 * /v1 chats when recordApi is on.
 */
import express from "express";
import type { ServerContext } from "../context.js";
import { toHearthError } from "../errors.js";
import { useErrorFormat } from "../http/error-handler.js";
import { SseWriter } from "../http/sse.js";
import { parseOrThrow } from "../http/validate.js";
import { generationSignal, providerFor, startGeneration } from "../openai/generation.js";
import { toMessagesChatRequest } from "./convert.js";
import { anthropicErrorBody, anthropicErrorFormat } from "./errors.js";
import { MessageAccumulator, collectMessage, newMessageMeta } from "./format.js";
import { BadRequestError } from "../errors.js";
import { CountTokensRequestSchema, MessagesRequestSchema, type CountTokensResponseSchema } from "./schemas.js";
import type { z } from "zod";

/** Mount before authentication, so that every error of /v1/messages is in Anthropic's shape. */
export const anthropicErrors = useErrorFormat(anthropicErrorFormat);

export function createMessagesRouter(ctx: ServerContext): express.Router {
  const router = express.Router();

  router.post("/", async (req, res) => {
    const body = parseOrThrow(MessagesRequestSchema, req.body);
    const request = toMessagesChatRequest(body);
    const started = performance.now();
    const gen = generationSignal(res, ctx.config.requestTimeout);
    const provider = await providerFor(ctx, request);
    let events = await startGeneration(ctx, provider, request, gen.signal, started);
    const requestId = String(res.getHeader("X-Request-ID") ?? "");
    if (ctx.observeApiChat)
      events = ctx.observeApiChat(request, events, { requestId, provider: provider.id, source: "api" });
    const meta = newMessageMeta(body.model, request.stop);
    if (!body.stream) {
      res.json(await gen.timeoutAware(collectMessage(events, meta)));
      return;
    }
    const sse = new SseWriter(res);
    const acc = new MessageAccumulator(meta, (event, data) => sse.sendEvent(event, data));
    try {
      await acc.start();
      await sse.sendEvent("ping", { type: "ping" });
      await gen.timeoutAware(
        (async () => {
          for await (const event of events) {
            if (!sse.isOpen) return;
            await acc.push(event);
          }
        })(),
      );
      sse.end();
    } catch (err) {
      if (gen.clientGone.aborted) return;
      await sse.sendEvent("error", anthropicErrorBody(toHearthError(err), requestId || null));
      sse.end();
    }
  });

  // Claude Code and the Anthropic SDK ask before long requests; the answer is exact for local models.
  router.post("/count_tokens", async (req, res) => {
    const body = parseOrThrow(CountTokensRequestSchema, req.body);
    const request = toMessagesChatRequest({ ...body, max_tokens: 1 });
    const provider = await providerFor(ctx, request);
    if (!provider.countTokens) {
      throw new BadRequestError(
        `Token counting needs the model's own tokenizer; '${body.model}' is served by the remote provider '${provider.id}', which offers none.`,
        {
          param: "model",
          code: "unsupported_model",
        },
      );
    }
    const answer: z.infer<typeof CountTokensResponseSchema> = {
      input_tokens: await provider.countTokens(request, generationSignal(res, ctx.config.requestTimeout).signal),
    };
    res.json(answer);
  });

  return router;
}
