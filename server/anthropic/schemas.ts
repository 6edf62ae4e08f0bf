/**
 * The /v1/messages wire contract (Anthropic's Messages API), as zod schemas. Content blocks are
 * checked one by one at conversion (convert.ts) so that an error names the block
 * (`messages.1.content.0.tool_use_id`); unknown fields are ignored.
 */
import { z } from "zod";
import { boundedJsonObject, boundedJsonValue } from "../core/json-bounds.js";

const anyBlock = z.looseObject({ type: z.string() });

export const TextBlockSchema = z.object({ type: z.literal("text"), text: z.string() });

export const ToolUseBlockSchema = z.object({
  type: z.literal("tool_use"),
  id: z.string().min(1),
  name: z.string().min(1),
  input: boundedJsonValue(),
});

export const ToolResultBlockSchema = z.object({
  type: z.literal("tool_result"),
  tool_use_id: z.string().min(1),
  content: z.union([z.string(), z.array(anyBlock)]).optional(),
  is_error: z.boolean().optional(),
});

export const MessageParamSchema = z.object({
  role: z.enum(["user", "assistant", "system"], { error: "role must be user or assistant" }),
  content: z.union([z.string(), z.array(anyBlock)]),
});

export const ToolSchema = z.object({
  name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, "must be 1-64 letters, digits, _ or -"),
  description: z.string().optional(),
  input_schema: boundedJsonObject(),
  type: z.literal("custom").optional(),
});

export const MessagesRequestSchema = z
  .object({
    model: z.string().min(1, "model is required"),
    /** Required by Anthropic; the most tokens to generate. */
    max_tokens: z
      .number({ error: "max_tokens is required" })
      .int("must be a whole number")
      .min(1, "must be at least 1"),
    messages: z.array(MessageParamSchema).min(1, "messages must have at least one message").max(10_000),
    system: z.union([z.string(), z.array(z.looseObject({ type: z.string(), text: z.string().optional() }))]).optional(),
    stop_sequences: z.array(z.string()).max(16, "at most 16 stop sequences").optional(),
    stream: z.boolean().optional(),
    temperature: z.number().min(0).max(1).optional(),
    top_p: z.number().min(0).max(1).optional(),
    top_k: z.number().int().min(0).optional(),
    tools: z
      .array(z.looseObject({ name: z.string().optional(), type: z.string().optional() }))
      .max(128)
      .optional(),
    tool_choice: z
      .discriminatedUnion("type", [
        z.object({ type: z.literal("auto"), disable_parallel_tool_use: z.boolean().optional() }),
        z.object({ type: z.literal("any"), disable_parallel_tool_use: z.boolean().optional() }),
        z.object({
          type: z.literal("tool"),
          name: z.string().min(1),
          disable_parallel_tool_use: z.boolean().optional(),
        }),
        z.object({ type: z.literal("none") }),
      ])
      .optional(),
    output_config: z
      .object({
        format: z.object({ type: z.literal("json_schema"), schema: boundedJsonObject() }).nullish(),
      })
      .optional(),
    metadata: z.object({ user_id: z.string().nullish() }).optional(),
    /** Hearth's own: false turns speculative decoding off for this request (README, "Speculative decoding"). */
    speculative: z.boolean().optional(),
    /** Extended thinking: `disabled` turns a thinking model's thoughts off, `budget_tokens` caps them. */
    thinking: z
      .discriminatedUnion("type", [
        z.looseObject({ type: z.literal("enabled"), budget_tokens: z.number().int().min(0) }),
        z.object({ type: z.literal("disabled") }),
        z.looseObject({ type: z.literal("adaptive") }),
      ])
      .optional(),
  })
  .meta({ id: "MessagesRequest" });
export type MessagesRequestBody = z.infer<typeof MessagesRequestSchema>;

/** `/v1/messages/count_tokens`: a Messages request without the generation settings. */
export const CountTokensRequestSchema = MessagesRequestSchema.omit({
  max_tokens: true,
  stream: true,
  stop_sequences: true,
  temperature: true,
  top_p: true,
  top_k: true,
  metadata: true,
  speculative: true,
}).meta({ id: "CountTokensRequest" });

export const CountTokensResponseSchema = z
  .object({ input_tokens: z.number().int() })
  .meta({ id: "CountTokensResponse" });

// ---- what Hearth answers ----

export const StopReasonSchema = z.enum(["end_turn", "max_tokens", "stop_sequence", "tool_use"]);
export type StopReason = z.infer<typeof StopReasonSchema>;

export const AnthropicUsageSchema = z.object({
  input_tokens: z.number().int(),
  output_tokens: z.number().int(),
  cache_read_input_tokens: z.number().int(),
  cache_creation_input_tokens: z.number().int(),
});

export const ContentBlockSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("text"), text: z.string() }),
  z.object({ type: z.literal("tool_use"), id: z.string(), name: z.string(), input: z.unknown() }),
  /** The model's thoughts, before its answer; `signature` is empty (local thoughts are not signed). */
  z.object({ type: z.literal("thinking"), thinking: z.string(), signature: z.string() }),
]);
export type ContentBlock = z.infer<typeof ContentBlockSchema>;

export const MessageSchema = z
  .object({
    id: z.string(),
    type: z.literal("message"),
    role: z.literal("assistant"),
    model: z.string(),
    content: z.array(ContentBlockSchema),
    stop_reason: StopReasonSchema.nullable(),
    stop_sequence: z.string().nullable(),
    usage: AnthropicUsageSchema,
  })
  .meta({ id: "AnthropicMessage" });
export type AnthropicMessage = z.infer<typeof MessageSchema>;

export const AnthropicErrorSchema = z
  .object({
    type: z.literal("error"),
    error: z.object({ type: z.string(), message: z.string() }),
    request_id: z.string().nullable(),
  })
  .meta({ id: "AnthropicError" });
