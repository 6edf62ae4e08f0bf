/**
 * /v1/responses (OpenAI's Responses API) over the same providers as chat completions: the request
 * becomes a neutral ChatRequest (a remote provider then receives chat completions), and the events
 * come back as Responses objects or its stream events. Stateful: with `store` (the default) the
 * exchange is recorded in history, so `previous_response_id` continues it without resending it,
 * and GET/DELETE /v1/responses/{id} read and remove it (responses-store.ts).
 */
import crypto from "node:crypto";
import express from "express";
import { TracedMessages, paramNamer, type ParamNamer } from "../chat/params.js";
import type { ServerContext } from "../context.js";
import type {
  ChatMessage,
  ChatRequest,
  ReasoningEffort,
  ResponseFormat,
  ToolChoice,
  ToolDefinition,
} from "../core/types.js";
import { BadRequestError } from "../errors.js";
import { respond } from "../http/respond.js";
import { clientGoneSignal } from "../http/sse.js";
import { parseOrThrow } from "../http/validate.js";
import { samplingOf } from "./convert.js";
import { parseAt } from "./parse-item.js";
import { collectResponse, responseEventEncoder, type ResponseBase } from "./responses-format.js";
import {
  FunctionCallItemSchema,
  FunctionCallOutputItemSchema,
  FunctionToolSchema,
  InputMessageSchema,
  ReasoningItemSchema,
  ResponseCreateRequestSchema,
  type ResponseCreateRequestBody,
} from "./responses-schemas.js";
import { ResponsesStore, refOf, storedResponseId } from "./responses-store.js";

const LOGPROBS_INCLUDE = "message.output_text.logprobs";

function partsText(content: string | { type: string; text?: unknown }[], param: string): string {
  if (typeof content === "string") return content;
  return content
    .map((part, i) => {
      if (
        (part.type === "input_text" || part.type === "output_text" || part.type === "text") &&
        typeof part.text === "string"
      )
        return part.text;
      if (part.type === "refusal") return "";
      throw new BadRequestError(
        `Content parts of type '${part.type}' are not supported by this server; send text parts only.`,
        {
          param: `${param}.${i}.type`,
          code: "unsupported_content",
        },
      );
    })
    .join("");
}

/**
 * Input items to chat messages, and for each message the item it came from (for error names);
 * function calls join the assistant turn before them, as chat completions has it.
 */
function messagesOf(input: ResponseCreateRequestBody["input"]): TracedMessages {
  const messages = new TracedMessages();
  messages.origin = "input";
  if (input === undefined) return messages;
  if (typeof input === "string") {
    messages.push({ role: "user", content: input });
    return messages;
  }
  /** A reasoning item's text, for the assistant turn that follows it. */
  let reasoning = "";
  const takeReasoning = () => {
    const taken = reasoning;
    reasoning = "";
    return taken ? { reasoning: taken } : {};
  };
  input.forEach((raw, i) => {
    const at = `input.${i}`;
    messages.origin = at;
    const type = raw.type ?? ("role" in raw ? "message" : undefined);
    switch (type) {
      case "message": {
        const item = parseAt(InputMessageSchema, raw, at);
        const text = partsText(item.content, `${at}.content`);
        if (item.role === "assistant") messages.push({ role: "assistant", content: text, ...takeReasoning() });
        else messages.push({ role: item.role === "developer" ? "system" : item.role, content: text });
        return;
      }
      case "function_call": {
        const item = parseAt(FunctionCallItemSchema, raw, at);
        const call = { id: item.call_id, name: item.name, arguments: item.arguments };
        const last = messages.at(-1);
        if (last?.role === "assistant" && !reasoning) last.toolCalls = [...(last.toolCalls ?? []), call];
        else messages.push({ role: "assistant", content: null, toolCalls: [call], ...takeReasoning() });
        return;
      }
      case "function_call_output": {
        const item = parseAt(FunctionCallOutputItemSchema, raw, at);
        messages.push({ role: "tool", toolCallId: item.call_id, content: partsText(item.output, `${at}.output`) });
        return;
      }
      case "reasoning": {
        // The text of an open-weight model's thoughts goes back to its template (which keeps or
        // drops it as the family does); OpenAI's encrypted reasoning has no text and is skipped.
        const item = parseAt(ReasoningItemSchema, raw, at);
        const parts = item.content?.length ? item.content : (item.summary ?? []);
        reasoning += parts.map((p) => p.text ?? "").join("");
        return;
      }
      default:
        throw new BadRequestError(
          `Input items of type '${String(type)}' are not supported; send messages, function_call and function_call_output items.`,
          {
            param: `${at}.type`,
            code: "unsupported_value",
          },
        );
    }
  });
  return messages;
}

function toolsOf(body: ResponseCreateRequestBody): ToolDefinition[] {
  return (body.tools ?? []).map((raw, i) => {
    if (raw.type !== "function") {
      throw new BadRequestError(
        `Tools of type '${raw.type}' are hosted by OpenAI and not available here; send function tools.`,
        {
          param: `tools.${i}.type`,
          code: "unsupported_value",
        },
      );
    }
    const t = parseAt(FunctionToolSchema, raw, `tools.${i}`);
    return {
      name: t.name,
      ...(t.description ? { description: t.description } : {}),
      ...(t.parameters ? { parameters: t.parameters } : {}),
    };
  });
}

function responseFormatOf(body: ResponseCreateRequestBody): ResponseFormat {
  const f = body.text?.format;
  if (!f || f.type === "text") return { type: "text" };
  if (f.type === "json_object") return { type: "json_object" };
  return { type: "json_schema", name: f.name, schema: f.schema, strict: f.strict ?? false };
}

function refuseUnsupported(body: ResponseCreateRequestBody): void {
  if (body.background)
    throw new BadRequestError("background responses are not supported; stream instead.", {
      param: "background",
      code: "unsupported_value",
    });
  if (body.conversation !== undefined && body.conversation !== null) {
    throw new BadRequestError("conversation objects are not supported; continue with previous_response_id.", {
      param: "conversation",
      code: "unsupported_value",
    });
  }
  if (body.prompt !== undefined && body.prompt !== null)
    throw new BadRequestError("prompt templates are not supported.", { param: "prompt", code: "unsupported_value" });
}

/**
 * The neutral chat request for a Responses request that continues `previous` (stored messages),
 * and the Responses API's names for its fields.
 */
export function toResponsesChatRequest(
  body: ResponseCreateRequestBody,
  previous: ChatMessage[],
): { request: ChatRequest; paramName: ParamNamer } {
  refuseUnsupported(body);
  const { messages: input, origins } = messagesOf(body.input);
  if (input.length === 0 && previous.length === 0)
    throw new BadRequestError("Missing required parameter: 'input'.", {
      param: "input",
      code: "missing_required_parameter",
    });
  const messages: ChatMessage[] = [
    ...(body.instructions ? [{ role: "system" as const, content: body.instructions }] : []),
    ...previous,
    ...input,
  ];
  const tools = toolsOf(body);
  const tc = body.tool_choice;
  const toolChoice: ToolChoice =
    tc === null || tc === undefined ? "auto" : typeof tc === "string" ? tc : { name: tc.name };
  if (toolChoice !== "auto" && toolChoice !== "none" && tools.length === 0)
    throw new BadRequestError("tool_choice requires tools.", { param: "tool_choice" });
  const wantsLogprobs = (body.include ?? []).includes(LOGPROBS_INCLUDE) || (body.top_logprobs ?? 0) > 0;
  const request: ChatRequest = {
    kind: "chat",
    model: body.model,
    messages,
    ...(body.max_output_tokens ? { maxTokens: body.max_output_tokens } : {}),
    sampling: samplingOf(body),
    stop: [],
    responseFormat: responseFormatOf(body),
    tools,
    toolChoice,
    ...(body.parallel_tool_calls !== null && body.parallel_tool_calls !== undefined
      ? { parallelToolCalls: body.parallel_tool_calls }
      : {}),
    ...(wantsLogprobs ? { topLogprobs: body.top_logprobs ?? 0 } : {}),
    ...(body.user ? { user: body.user } : {}),
    ...(effortOf(body) ? { reasoning: { effort: effortOf(body)! } } : {}),
  };
  const paramName = paramNamer(
    {
      "messages.*.toolCalls": "messages.*.call_id",
      "messages.*.toolCallId": "messages.*.call_id",
      toolChoice: "tool_choice",
      responseFormat: "text.format",
      "responseFormat.schema": "text.format.schema",
      "tools.*.parameters": "tools.*.parameters",
      topLogprobs: "top_logprobs",
      maxTokens: "max_output_tokens",
      messages: "input",
      reasoning: "reasoning.effort",
    },
    [...(body.instructions ? ["instructions"] : []), ...previous.map(() => "previous_response_id"), ...origins],
  );
  return { request, paramName };
}

function effortOf(body: ResponseCreateRequestBody): ReasoningEffort | undefined {
  const effort = body.reasoning?.effort;
  return effort === "minimal" ? "low" : (effort ?? undefined);
}

function baseOf(body: ResponseCreateRequestBody, id: string, store: boolean): ResponseBase {
  return {
    id,
    object: "response",
    created_at: Math.floor(Date.now() / 1000),
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    model: body.model,
    parallel_tool_calls: body.parallel_tool_calls ?? true,
    previous_response_id: body.previous_response_id ?? null,
    reasoning: { effort: body.reasoning?.effort ?? null, summary: null },
    store,
    temperature: body.temperature ?? null,
    top_p: body.top_p ?? null,
    text: { format: body.text?.format ?? { type: "text" } },
    tool_choice: body.tool_choice ?? "auto",
    tools: (body.tools ?? []).map((t) => ({ ...t })),
    truncation: body.truncation ?? "disabled",
    user: body.user ?? null,
    metadata: body.metadata ?? {},
  };
}

export function createResponsesRouter(ctx: ServerContext): express.Router {
  const router = express.Router();
  const responses = new ResponsesStore(ctx.history);

  router.post("/", async (req, res) => {
    const body = parseOrThrow(ResponseCreateRequestSchema, req.body);
    const store = body.store ?? true;
    const previous = body.previous_response_id ? responses.continuation(body.previous_response_id) : [];
    const { request, paramName } = toResponsesChatRequest(body, previous);
    const clientGone = clientGoneSignal(res);
    let id = `resp_${crypto.randomBytes(24).toString("hex")}`;
    const continued = body.previous_response_id ? refOf(body.previous_response_id) : null;
    const onStored = (messageId: number, conversationId: string) => {
      id = storedResponseId({
        messageId,
        conversationId,
        instructions: !!body.instructions,
        ...(continued
          ? {
              previous: {
                messageId: continued.messageId,
                conversationId: continued.conversationId,
                instructions: continued.instructions,
              },
            }
          : {}),
      });
    };
    const run = await ctx.chat.start(request, {
      clientGone,
      record: store ? { kind: "stored", onStored } : { kind: "none" },
      paramName,
    });
    const base = baseOf(body, id, store);
    const logprobs = request.topLogprobs !== undefined;
    const work = respond(res, run, clientGone, {
      stream: body.stream ?? false,
      encoder: (sse) => responseEventEncoder(sse, base, logprobs),
      collect: (events) => collectResponse(events, base, logprobs),
    });
    if (store) responses.track(id, work);
    await work;
  });

  router.get("/:id", (req, res) => {
    res.json(responses.get(req.params.id));
  });

  router.get("/:id/input_items", (req, res) => {
    const items = responses.inputItems(req.params.id);
    const data = req.query.order === "asc" ? [...items].reverse() : items;
    res.json({
      object: "list",
      data,
      first_id: (data[0]?.id as string | undefined) ?? null,
      last_id: (data.at(-1)?.id as string | undefined) ?? null,
      has_more: false,
    });
  });

  router.delete("/:id", (req, res) => {
    responses.delete(req.params.id);
    res.json({ id: req.params.id, object: "response.deleted", deleted: true });
  });

  return router;
}
