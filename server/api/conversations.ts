/**
 * /api/conversations: the app's chats. Handlers validate, call the history store, and format;
 * replies stream in the /v1 chunk format through the shared SSE writer and formatter. Every turn
 * is written by the history recorder (routes write only the user's own message and settings).
 * Shapes and examples: server/api/README.md.
 */
import express, { type Response } from "express";
import { z } from "zod";
import type { ServerContext } from "../context.js";
import { BadRequestError, NotFoundError } from "../errors.js";
import { toChatMessages, toChatRequest } from "../history/prompt.js";
import { startToolLoop, ToolApprovals, type ToolLoopEvent } from "../chat/tool-loop.js";
import { toHearthError } from "../errors.js";
import { SseWriter } from "../http/sse.js";
import {
  ConversationSchema,
  ConversationToolSchema,
  GenerationParamsSchema,
  SOURCES,
  type Conversation,
  type GenerationParams,
} from "../history/types.js";
import { SAMPLING_DEFAULTS } from "../core/types.js";
import { respond, WARNINGS_HEADER, warningsHeader } from "../http/respond.js";
import { clientGoneSignal } from "../http/sse.js";
import { parseOrThrow } from "../http/validate.js";
import { chatChunkEncoder, collectChatChoices, newMeta } from "../openai/format.js";

/** Query booleans: `true`/`false`/`1`/`0`. */
export const queryBool = z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1");
/** A time as milliseconds since the epoch or an ISO 8601 date/time. */
export const queryTime = z.union([
  z.coerce.number().int().nonnegative(),
  z.iso
    .datetime({ offset: true })
    .or(z.iso.date())
    .transform((s) => Date.parse(s)),
]);

export const HistoryFilterQuery = z.object({
  source: z.enum(SOURCES).optional(),
  model: z.string().min(1).optional(),
  pinned: queryBool.optional(),
  from: queryTime.optional(),
  to: queryTime.optional(),
  cursor: z.string().min(1).max(1000).optional(),
});

export const ListConversationsQuery = HistoryFilterQuery.extend({
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

export const ConversationPageSchema = z.object({
  items: z.array(ConversationSchema),
  nextCursor: z.string().nullable(),
});

export const CreateConversationBody = z.object({
  title: z.string().max(500).optional(),
  model: z.string().min(1).nullish(),
  provider: z.string().min(1).nullish(),
  systemPrompt: z.string().max(100_000).nullish(),
  params: GenerationParamsSchema.optional(),
  /** The MCP tools the conversation offers its model (`approval: "always"` runs without asking). */
  tools: z.array(ConversationToolSchema).max(500).optional(),
  pinned: z.boolean().optional(),
});

export const UpdateConversationBody = CreateConversationBody.extend({ title: z.string().max(500).optional() });

const generationFields = {
  /** Defaults to the conversation's model, else the first model the server has. */
  model: z.string().min(1).optional(),
  /** Overrides the conversation's params for this reply only. */
  params: GenerationParamsSchema.optional(),
  /** Defaults to true (SSE). */
  stream: z.boolean().default(true),
};

export const SendMessageBody = z.object({
  content: z.string().min(1, "must not be empty").max(1_000_000),
  /** The message this one follows; defaults to the last message of the shown branch, null = a new first message. */
  parentId: z.number().int().positive().nullish(),
  ...generationFields,
});
export const EditMessageBody = z.object({
  content: z.string().min(1, "must not be empty").max(1_000_000),
  ...generationFields,
});
export const RegenerateBody = z.object(generationFields);

/** The person's decision on a tool call the model made (a `hearth.tool_call` event with `state: "pending"`). */
export const ToolCallDecisionBody = z.object({
  /** The assistant message that made the call. */
  messageId: z.number().int().positive(),
  callId: z.string().min(1).max(500),
  /** `once`: run it; `always`: run it and every later call of this tool in this chat; `deny`: do not run it. */
  decision: z.enum(["once", "always", "deny"]),
});

export const idParam = z.object({ id: z.string().min(1).max(100) });
export const messageParam = idParam.extend({ messageId: z.coerce.number().int().positive() });
export const atQuery = z.object({ at: z.coerce.number().int().positive().optional() });

export function createConversationsRouter(ctx: ServerContext): express.Router {
  const router = express.Router();
  const store = ctx.history.store;
  const approvals = new ToolApprovals();

  router.get("/conversations", (req, res) => {
    res.json(store.listConversations(parseOrThrow(ListConversationsQuery, req.query)));
  });

  router.post("/conversations", (req, res) => {
    const body = parseOrThrow(CreateConversationBody, req.body ?? {});
    res.status(201).json(store.createConversation({ ...body, source: "ui" }));
  });

  router.delete("/conversations", (req, res) => {
    if (req.query.confirm !== "true") {
      throw new BadRequestError("Deleting every conversation needs ?confirm=true.", {
        param: "confirm",
        code: "confirmation_required",
      });
    }
    res.json({ deleted: store.deleteAll() });
  });

  router.get("/conversations/:id", (req, res) => {
    const { id } = parseOrThrow(idParam, req.params);
    const { at } = parseOrThrow(atQuery, req.query);
    if (at !== undefined) store.requireMessage(at, id);
    const detail = store.getConversation(id, { at });
    if (!detail) store.requireConversation(id);
    res.json(detail);
  });

  router.patch("/conversations/:id", (req, res) => {
    const { id } = parseOrThrow(idParam, req.params);
    res.json(store.updateConversation(id, parseOrThrow(UpdateConversationBody, req.body ?? {})));
  });

  router.delete("/conversations/:id", async (req, res) => {
    const { id } = parseOrThrow(idParam, req.params);
    store.requireConversation(id);
    await store.deleteConversationInSteps(id);
    res.status(204).end();
  });

  router.post("/conversations/:id/messages", async (req, res) => {
    const { id } = parseOrThrow(idParam, req.params);
    const body = parseOrThrow(SendMessageBody, req.body);
    const conversation = store.requireConversation(id);
    const parentId = body.parentId === undefined ? store.leafId(id) : body.parentId;
    if (parentId !== null) store.requireMessage(parentId, id);
    await reply(
      res,
      conversation,
      body,
      () => store.appendMessage(id, { role: "user", content: body.content, parentId }).id,
    );
  });

  router.post("/conversations/:id/messages/:messageId/edit", async (req, res) => {
    const { id, messageId } = parseOrThrow(messageParam, req.params);
    const body = parseOrThrow(EditMessageBody, req.body);
    const conversation = store.requireConversation(id);
    const original = store.requireMessage(messageId, id);
    if (original.role !== "user")
      throw new BadRequestError("Only user messages can be edited.", { param: "messageId" });
    await reply(
      res,
      conversation,
      body,
      () => store.appendMessage(id, { role: "user", content: body.content, parentId: original.parentId }).id,
    );
  });

  router.post("/conversations/:id/messages/:messageId/regenerate", async (req, res) => {
    const { id, messageId } = parseOrThrow(messageParam, req.params);
    const body = parseOrThrow(RegenerateBody, req.body ?? {});
    const conversation = store.requireConversation(id);
    const message = store.requireMessage(messageId, id);
    // Regenerating a reply answers its parent again; "regenerating" a user message answers it.
    const parentId = message.role === "assistant" ? message.parentId : message.id;
    if (parentId === null) throw new BadRequestError("This message has nothing to answer.", { param: "messageId" });
    await reply(res, conversation, body, () => parentId);
  });

  router.post("/conversations/:id/tool-calls", (req, res) => {
    const { id } = parseOrThrow(idParam, req.params);
    const body = parseOrThrow(ToolCallDecisionBody, req.body);
    store.requireConversation(id);
    if (!approvals.decide(ToolApprovals.key(id, body.messageId, body.callId), body.decision))
      throw new NotFoundError("No call with this id waits for a decision in this conversation.", {
        param: "callId",
        code: "tool_call_not_pending",
      });
    res.json({ decided: true });
  });

  router.post("/conversations/:id/messages/:messageId/activate", (req, res) => {
    const { id, messageId } = parseOrThrow(messageParam, req.params);
    store.requireMessage(messageId, id);
    store.setActiveBranch(messageId);
    res.json(store.getConversation(id));
  });

  /**
   * Generates the reply to the message `prepare` returns (it writes the user message, if any,
   * before generation starts), streamed as /v1 chunks or returned as one chat.completion, on the
   * same pipeline as /v1 (request timeout, metrics, the final error event included).
   */
  async function reply(
    res: Response,
    conversation: Conversation,
    body: { model?: string | undefined; params?: GenerationParams | undefined; stream: boolean },
    prepare: () => number,
  ): Promise<void> {
    const startedAt = performance.now();
    const model = body.model ?? conversation.model ?? (await ctx.router.listModels())[0]?.id;
    if (!model)
      throw new BadRequestError("No model is loaded and the conversation has none; pass 'model'.", {
        param: "model",
        code: "model_required",
      });
    const provider = await ctx.chat.resolve(model);
    const parentId = prepare();
    if (conversation.model !== model || conversation.provider !== provider.id) {
      store.updateConversation(conversation.id, { model, provider: provider.id });
    }
    const clientGone = clientGoneSignal(res);
    if (conversation.tools.length > 0 && body.stream) {
      await replyWithTools(res, conversation, model, provider, parentId, body.params, clientGone, startedAt);
      return;
    }
    const request = toChatRequest(
      model,
      toChatMessages(conversation, store.pathTo(parentId)),
      { ...conversation.params, ...body.params },
      SAMPLING_DEFAULTS,
    );
    let messageId = 0;
    const run = await ctx.chat.start(request, {
      clientGone,
      provider,
      startedAt,
      record: { kind: "reply", conversationId: conversation.id, parentId, onStored: (id) => (messageId = id) },
    });
    res.setHeader("X-Hearth-Conversation-Id", conversation.id);
    res.setHeader("X-Hearth-Parent-Id", String(parentId));
    res.setHeader("X-Hearth-Message-Id", String(messageId));
    const meta = newMeta("chatcmpl", model, true);
    await respond(res, run, clientGone, {
      stream: body.stream,
      encoder: (sse) => chatChunkEncoder(sse, meta),
      collect: (events) => collectChatChoices(events, meta, 1),
    });
  }

  /**
   * A reply with the conversation's tools (chat/tool-loop.ts), streamed: each model turn in /v1
   * chunks (a new chunk id per turn), and between them Hearth's own named events:
   * `hearth.step` (a turn's message id), `hearth.tool_call` (a call, `pending` a decision or
   * `running`), `hearth.tool_result` (its stored result) and `hearth.end` (why the loop ended),
   * then the last turn's usage chunk and `data: [DONE]`.
   */
  async function replyWithTools(
    res: Response,
    conversation: Conversation,
    model: string,
    provider: Awaited<ReturnType<typeof ctx.chat.resolve>>,
    parentId: number,
    params: GenerationParams | undefined,
    clientGone: AbortSignal,
    startedAt: number,
  ): Promise<void> {
    const loop = await startToolLoop(
      {
        chat: ctx.chat,
        store,
        host: ctx.mcp,
        approvals,
        limits: {
          maxSteps: ctx.config.toolMaxSteps,
          timeoutMs: ctx.config.toolTimeout * 1000,
          maxChars: ctx.config.toolResultLimit,
        },
        logger: ctx.logger,
      },
      {
        conversation,
        model,
        provider,
        parentId,
        params: { ...conversation.params, ...params },
        defaults: SAMPLING_DEFAULTS,
        signal: clientGone,
        startedAt,
      },
    );
    res.setHeader("X-Hearth-Conversation-Id", conversation.id);
    res.setHeader("X-Hearth-Parent-Id", String(parentId));
    res.setHeader("X-Hearth-Message-Id", String(loop.messageId));
    const warnings = warningsHeader(loop.run.admission);
    if (warnings !== null) res.setHeader(WARNINGS_HEADER, warnings);
    const sse = new SseWriter(res);
    let encoder = chatChunkEncoder(sse, newMeta("chatcmpl", model, true));
    try {
      for await (const event of loop.events) {
        if (!sse.isOpen) return;
        if (event.type === "generation") await encoder.push(event.event);
        else {
          if (event.type === "step" && event.step > 1)
            encoder = chatChunkEncoder(sse, newMeta("chatcmpl", model, true));
          await sse.sendEvent(`hearth.${event.type}`, toolEventBody(event));
        }
      }
      await encoder.end();
    } catch (err) {
      if (clientGone.aborted) return;
      await encoder.fail(toHearthError(err));
    } finally {
      sse.end();
    }
  }

  return router;
}

/** A tool loop event as its SSE data (server/api/README.md, "Tools in a reply"). */
function toolEventBody(event: Exclude<ToolLoopEvent, { type: "generation" }>): unknown {
  switch (event.type) {
    case "step":
      return { step: event.step, messageId: event.messageId, parentId: event.parentId };
    case "tool_call":
      return { state: event.state, ...event.call };
    case "tool_result":
      return { ...event.call, toolMessageId: event.messageId, ...event.run, content: event.text };
    case "end":
      return { reason: event.reason };
  }
}
