/**
 * /v1/responses (OpenAI's Responses API) over the same providers as chat completions: the request
 * becomes a neutral ChatRequest (a remote provider then receives chat completions), and the events
 * come back as Responses objects or its stream events. Stateful: with `store` (the default) the
 * exchange is recorded in history, so `previous_response_id` continues it without resending it,
 * and GET/DELETE /v1/responses/{id} read and remove it (responses-store.ts). Tools other than
 * functions (namespaces, freeform tools, OpenAI's hosted ones) are mapped in responses-tools.ts.
 */
import crypto from "node:crypto";
import express from "express";
import { TracedMessages, paramNamer, type ParamNamer } from "../chat/params.js";
import type { ServerContext } from "../context.js";
import type { ChatMessage, ChatRequest, ReasoningEffort, ResponseFormat } from "../core/types.js";
import { speculativeOf } from "../core/types.js";
import { BadRequestError } from "../errors.js";
import { respond } from "../http/respond.js";
import { clientGoneSignal } from "../http/sse.js";
import { parseOrThrow } from "../http/validate.js";
import { samplingOf } from "./convert.js";
import { parseAt } from "./parse-item.js";
import { collectResponse, responseEventEncoder, responseObject, type ResponseBase } from "./responses-format.js";
import {
  CustomToolCallItemSchema,
  CustomToolCallOutputItemSchema,
  FunctionCallItemSchema,
  FunctionCallOutputItemSchema,
  InputMessageSchema,
  ReasoningItemSchema,
  ResponseCreateRequestSchema,
  type ResponseCreateRequestBody,
  type ResponseObject,
} from "./responses-schemas.js";
import { ResponsesStore, refOf, storedResponseId } from "./responses-store.js";
import {
  customArguments,
  neutralToolName,
  requestToolsOf,
  toolChoiceOf,
  type RequestTools,
} from "./responses-tools.js";

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

/** Input items as chat messages, where each came from, and the item that made each tool call. */
interface InputMessages extends TracedMessages {
  /** Call id -> the item that made the call (`input.3`): calls join one assistant turn, so its origin is not theirs. */
  callOrigins: Map<string, string>;
}

/**
 * Input items to chat messages, and for each message the item it came from (for error names);
 * function calls join the assistant turn before them, as chat completions has it.
 */
function messagesOf(input: ResponseCreateRequestBody["input"]): InputMessages {
  const messages = Object.assign(new TracedMessages(), { callOrigins: new Map<string, string>() });
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
      case "function_call":
      case "custom_tool_call": {
        const call =
          type === "function_call"
            ? ((item) => ({
                id: item.call_id,
                name: neutralToolName(item.name, item.namespace),
                arguments: item.arguments,
              }))(parseAt(FunctionCallItemSchema, raw, at))
            : ((item) => ({
                id: item.call_id,
                name: neutralToolName(item.name, item.namespace),
                arguments: customArguments(item.input),
              }))(parseAt(CustomToolCallItemSchema, raw, at));
        messages.callOrigins.set(call.id, at);
        const last = messages.at(-1);
        if (last?.role === "assistant" && !reasoning) last.toolCalls = [...(last.toolCalls ?? []), call];
        else messages.push({ role: "assistant", content: null, toolCalls: [call], ...takeReasoning() });
        return;
      }
      case "function_call_output":
      case "custom_tool_call_output": {
        const item = parseAt(
          type === "function_call_output" ? FunctionCallOutputItemSchema : CustomToolCallOutputItemSchema,
          raw,
          at,
        );
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
          `Input items of type '${String(type)}' are not supported; send messages, reasoning, function_call, custom_tool_call and their outputs.`,
          {
            param: `${at}.type`,
            code: "unsupported_value",
          },
        );
    }
  });
  return messages;
}

/**
 * Every tool call answered before the next user message, every output answering an earlier call:
 * checked here, where each call is still its own item (the engine sees calls merged into one
 * assistant turn, and a remote upstream names its own fields), so the 400 names the item at fault.
 */
function checkToolOutputs(previous: readonly ChatMessage[], input: InputMessages): void {
  /** Calls not answered yet -> where they were made. */
  const open = new Map<string, string>();
  for (const m of previous) {
    if (m.role === "assistant") for (const call of m.toolCalls ?? []) open.set(call.id, "previous_response_id");
    else if (m.role === "tool") open.delete(m.toolCallId);
    else if (m.role === "user") open.clear();
  }
  const unanswered = () => {
    const [id, at] = open.entries().next().value ?? [];
    if (id === undefined) return;
    throw new BadRequestError(
      at === "previous_response_id"
        ? `No output was sent for the previous response's call '${id}'; send a function_call_output item for it.`
        : `No output was sent for the call '${id}'; send a function_call_output (or custom_tool_call_output) item for it after the call.`,
      { param: at === "previous_response_id" ? "input" : `${at}.call_id` },
    );
  };
  input.messages.forEach((m, i) => {
    const at = input.origins[i]!;
    if (m.role === "assistant") {
      for (const call of m.toolCalls ?? []) open.set(call.id, input.callOrigins.get(call.id) ?? at);
    } else if (m.role === "tool") {
      if (!open.delete(m.toolCallId))
        throw new BadRequestError(`No call with call_id '${m.toolCallId}' comes before this output.`, {
          param: `${at}.call_id`,
        });
    } else if (m.role === "user") unanswered();
  });
  unanswered();
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
): { request: ChatRequest; paramName: ParamNamer; tools: RequestTools } {
  refuseUnsupported(body);
  const traced = messagesOf(body.input);
  checkToolOutputs(previous, traced);
  const { messages: input, origins } = traced;
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
  const tools = requestToolsOf(body);
  const toolChoice = toolChoiceOf(body, tools);
  const wantsLogprobs = (body.include ?? []).includes(LOGPROBS_INCLUDE) || (body.top_logprobs ?? 0) > 0;
  const request: ChatRequest = {
    kind: "chat",
    model: body.model,
    messages,
    ...(body.max_output_tokens ? { maxTokens: body.max_output_tokens } : {}),
    sampling: samplingOf(body),
    stop: [],
    responseFormat: responseFormatOf(body),
    tools: tools.definitions,
    toolChoice,
    ...(body.parallel_tool_calls !== null && body.parallel_tool_calls !== undefined
      ? { parallelToolCalls: body.parallel_tool_calls }
      : {}),
    ...(wantsLogprobs ? { topLogprobs: body.top_logprobs ?? 0 } : {}),
    ...(body.user ? { user: body.user } : {}),
    ...speculativeOf(body.speculative),
    ...(effortOf(body) ? { reasoning: { effort: effortOf(body)! } } : {}),
  };
  const named = paramNamer(
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
  // A neutral tool is where the request had it (a namespace's function is `tools.2.tools.0`).
  const paramName: ParamNamer = (neutral) => {
    const tool = /^tools\.(\d+)(\..*)?$/.exec(neutral);
    const path = tool ? tools.paths[Number(tool[1])] : undefined;
    return path !== undefined ? `${path}${tool![2] ?? ""}` : named(neutral);
  };
  return { request, paramName, tools };
}

function effortOf(body: ResponseCreateRequestBody): ReasoningEffort | undefined {
  const effort = body.reasoning?.effort;
  return effort === "minimal" ? "low" : (effort ?? undefined);
}

function baseOf(body: ResponseCreateRequestBody, id: string, store: boolean, tools: RequestTools): ResponseBase {
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
    ...(tools.warnings.length > 0 ? { warnings: tools.warnings } : {}),
  };
}

export function createResponsesRouter(ctx: ServerContext): express.Router {
  const router = express.Router();
  const responses = new ResponsesStore(ctx.history, ctx.logger);

  router.post("/", async (req, res) => {
    const body = parseOrThrow(ResponseCreateRequestSchema, req.body);
    const store = body.store ?? true;
    const previous = body.previous_response_id ? responses.continuation(body.previous_response_id) : [];
    const { request, paramName, tools } = toResponsesChatRequest(body, previous);
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
    const base = baseOf(body, id, store, tools);
    const logprobs = request.topLogprobs !== undefined;
    // GET returns what this returns: the settings now, the final object before the client has it.
    const keep = store ? (response: ResponseObject) => responses.keep(response) : null;
    keep?.(responseObject(base, { status: "in_progress", output: [], usage: null }));
    const work = respond(res, run, clientGone, {
      stream: body.stream ?? false,
      encoder: (sse) => responseEventEncoder(sse, base, logprobs, keep),
      collect: (events) => collectResponse(events, base, logprobs, keep),
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
