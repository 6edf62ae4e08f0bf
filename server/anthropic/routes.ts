/**
 * /v1/messages (Anthropic's Messages API) over the same providers as /v1/chat/completions: the
 * request becomes a neutral ChatRequest (a remote provider then receives chat completions), the
 * events come back as a message or Anthropic's stream events. Errors, authentication and body
 * errors included, are written in Anthropic's shape (errors.ts). Recorded in history like other
 * /v1 chats when recordApi is on.
 */
import { meterOf } from "../access/guard.js";
import express from "express";
import type { z } from "zod";
import type { ServerContext } from "../context.js";
import { useErrorFormat } from "../http/error-handler.js";
import { respond } from "../http/respond.js";
import { clientGoneSignal } from "../http/sse.js";
import { parseOrThrow } from "../http/validate.js";
import { toMessagesChatRequest } from "./convert.js";
import { anthropicErrorFormat } from "./errors.js";
import { collectMessage, messageEventEncoder, newMessageMeta } from "./format.js";
import { CountTokensRequestSchema, MessagesRequestSchema, type CountTokensResponseSchema } from "./schemas.js";

/** Mount before authentication, so that every error of /v1/messages is in Anthropic's shape. */
export const anthropicErrors = useErrorFormat(anthropicErrorFormat);

export function createMessagesRouter(ctx: ServerContext): express.Router {
  const router = express.Router();

  router.post("/", async (req, res) => {
    const body = parseOrThrow(MessagesRequestSchema, req.body);
    const { request, paramName } = toMessagesChatRequest(body);
    const clientGone = clientGoneSignal(res);
    const run = await ctx.chat.start(request, {
      meter: meterOf(res),
      clientGone,
      record: { kind: "api" },
      paramName,
    });
    const meta = newMessageMeta(body.model, request.stop);
    const requestId = String(res.getHeader("X-Request-ID") ?? "") || null;
    await respond(res, run, clientGone, {
      stream: body.stream ?? false,
      encoder: (sse) => messageEventEncoder(sse, meta, requestId, run.admission),
      collect: (events) => collectMessage(events, meta),
    });
  });

  // Claude Code and the Anthropic SDK ask before long requests; the answer is exact for local models.
  router.post("/count_tokens", async (req, res) => {
    const body = parseOrThrow(CountTokensRequestSchema, req.body);
    const { request, paramName } = toMessagesChatRequest({ ...body, max_tokens: 1 });
    const inputTokens = await ctx.chat.countTokens(request, { clientGone: clientGoneSignal(res), paramName });
    const answer: z.infer<typeof CountTokensResponseSchema> = { input_tokens: inputTokens };
    res.json(answer);
  });

  return router;
}
