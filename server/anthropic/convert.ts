/**
 * Anthropic Messages requests to the neutral ChatRequest. Tool results, which Anthropic puts in
 * user turns as blocks, become tool messages after the assistant turn that called them; tool_use
 * blocks become that turn's tool calls. Extended thinking maps onto a thinking model's controls
 * (`disabled` turns its thoughts off, `budget_tokens` caps them); thinking blocks sent back become
 * the turn's reasoning, which the model's template keeps or drops as the family does.
 */
import { TracedMessages, paramNamer, type ParamNamer } from "../chat/params.js";
import { BadRequestError } from "../errors.js";
import { samplingOf } from "../openai/convert.js";
import { parseAt } from "../openai/parse-item.js";
import type { ChatRequest, ResponseFormat, ToolCall, ToolChoice, ToolDefinition } from "../core/types.js";
import { speculativeOf } from "../core/types.js";
import { ToolResultBlockSchema, ToolSchema, ToolUseBlockSchema, type MessagesRequestBody } from "./schemas.js";

type Block = { type: string } & Record<string, unknown>;

/** Blocks a local model cannot read (redacted thoughts are Anthropic's ciphertext); the rest that is unknown is refused. */
const IGNORED_BLOCKS = new Set(["thinking", "redacted_thinking"]);

function unsupported(type: string, param: string): BadRequestError {
  return new BadRequestError(
    `Content blocks of type '${type}' are not supported here; send text, tool_use and tool_result blocks.`,
    {
      param,
      code: "unsupported_content",
    },
  );
}

function blocksText(content: string | readonly Block[] | undefined, param: string): string {
  if (content === undefined) return "";
  if (typeof content === "string") return content;
  return content
    .map((block, i) => {
      if (block.type === "text" && typeof block.text === "string") return block.text;
      throw unsupported(block.type, `${param}.${i}.type`);
    })
    .join("");
}

/** The neutral messages, and for each the wire path it came from (for error names). */
function messagesOf(body: MessagesRequestBody): TracedMessages {
  const messages = new TracedMessages();
  messages.origin = "system";
  const system =
    typeof body.system === "string" ? body.system : body.system ? blocksText(body.system as Block[], "system") : "";
  if (system) messages.push({ role: "system", content: system });
  body.messages.forEach((m, i) => {
    messages.origin = `messages.${i}`;
    const at = `messages.${i}.content`;
    if (typeof m.content === "string") {
      messages.push(
        m.role === "assistant" ? { role: "assistant", content: m.content } : { role: m.role, content: m.content },
      );
      return;
    }
    if (m.role === "assistant") {
      let text = "";
      let reasoning = "";
      const calls: ToolCall[] = [];
      m.content.forEach((block, k) => {
        if (block.type === "text" && typeof block.text === "string") text += block.text;
        else if (block.type === "thinking" && typeof block.thinking === "string") reasoning += block.thinking;
        else if (block.type === "tool_use") {
          const use = parseAt(ToolUseBlockSchema, block, `${at}.${k}`);
          calls.push({ id: use.id, name: use.name, arguments: JSON.stringify(use.input ?? {}) });
        } else if (!IGNORED_BLOCKS.has(block.type)) throw unsupported(block.type, `${at}.${k}.type`);
      });
      messages.push({
        role: "assistant",
        content: text === "" && calls.length > 0 ? null : text,
        ...(calls.length > 0 ? { toolCalls: calls } : {}),
        ...(reasoning ? { reasoning } : {}),
      });
      return;
    }
    // A user (or system) turn: tool results answer the calls of the turn before; text follows them.
    let text = "";
    m.content.forEach((block, k) => {
      if (block.type === "text" && typeof block.text === "string") text += block.text;
      else if (block.type === "tool_result" && m.role === "user") {
        const result = parseAt(ToolResultBlockSchema, block, `${at}.${k}`);
        const content = blocksText(result.content as string | Block[] | undefined, `${at}.${k}.content`);
        messages.push({
          role: "tool",
          toolCallId: result.tool_use_id,
          content: result.is_error ? `Error: ${content}` : content,
        });
      } else if (!IGNORED_BLOCKS.has(block.type)) throw unsupported(block.type, `${at}.${k}.type`);
    });
    if (text) messages.push({ role: m.role, content: text });
  });
  return messages;
}

function toolsOf(body: MessagesRequestBody): ToolDefinition[] {
  return (body.tools ?? []).map((raw, i) => {
    if (raw.type !== undefined && raw.type !== "custom") {
      throw new BadRequestError(
        `Tools of type '${raw.type}' run on Anthropic's servers and are not available here; send custom tools with an input_schema.`,
        {
          param: `tools.${i}.type`,
          code: "unsupported_value",
        },
      );
    }
    const t = parseAt(ToolSchema, raw, `tools.${i}`);
    return { name: t.name, ...(t.description ? { description: t.description } : {}), parameters: t.input_schema };
  });
}

function toolChoiceOf(body: MessagesRequestBody): { toolChoice: ToolChoice; parallel: boolean } {
  const tc = body.tool_choice;
  if (!tc) return { toolChoice: "auto", parallel: true };
  const parallel = !("disable_parallel_tool_use" in tc && tc.disable_parallel_tool_use);
  switch (tc.type) {
    case "auto":
      return { toolChoice: "auto", parallel };
    case "any":
      return { toolChoice: "required", parallel };
    case "tool":
      return { toolChoice: { name: tc.name }, parallel };
    case "none":
      return { toolChoice: "none", parallel };
  }
}

/** The neutral request for a Messages request, and the Messages API's names for its fields. */
function reasoningOf(body: MessagesRequestBody): Pick<ChatRequest, "reasoning"> {
  const thinking = body.thinking;
  if (thinking?.type === "disabled") return { reasoning: { effort: "none" } };
  if (thinking?.type === "enabled") return { reasoning: { budgetTokens: thinking.budget_tokens } };
  return {};
}

export function toMessagesChatRequest(body: MessagesRequestBody): { request: ChatRequest; paramName: ParamNamer } {
  const tools = toolsOf(body);
  const { toolChoice, parallel } = toolChoiceOf(body);
  if (toolChoice !== "auto" && toolChoice !== "none" && tools.length === 0)
    throw new BadRequestError("tool_choice requires tools.", { param: "tool_choice" });
  const format = body.output_config?.format;
  const responseFormat: ResponseFormat = format
    ? { type: "json_schema", name: "output", schema: format.schema, strict: true }
    : { type: "text" };
  const user = body.metadata?.user_id ?? undefined;
  const { messages, origins } = messagesOf(body);
  const request: ChatRequest = {
    kind: "chat",
    model: body.model,
    messages,
    maxTokens: body.max_tokens,
    sampling: samplingOf(body),
    stop: (body.stop_sequences ?? []).filter((s) => s.length > 0),
    responseFormat,
    tools,
    toolChoice,
    ...(parallel ? {} : { parallelToolCalls: false }),
    ...(user ? { user } : {}),
    ...speculativeOf(body.speculative),
    ...reasoningOf(body),
  };
  const paramName = paramNamer(
    {
      "messages.*.toolCalls": "messages.*.content",
      "messages.*.toolCallId": "messages.*.content",
      toolChoice: "tool_choice",
      responseFormat: "output_config.format",
      "responseFormat.schema": "output_config.format.schema",
      "tools.*.parameters": "tools.*.input_schema",
      maxTokens: "max_tokens",
      stop: "stop_sequences",
      reasoning: "thinking",
    },
    origins,
  );
  return { request, paramName };
}
