/**
 * The /v1/responses wire contract (OpenAI's Responses API), as zod schemas. Input items are
 * checked one by one at conversion (responses.ts) so an error names the item (`input.2.call_id`);
 * unknown fields are ignored, known ones Hearth cannot honour get a 400.
 */
import { z } from "zod";
import { boundedJsonObject } from "../core/json-bounds.js";

const anyPart = z.looseObject({ type: z.string() });

/** A message item; `type` may be left out ("easy" input messages). */
export const InputMessageSchema = z.object({
  type: z.literal("message").optional(),
  role: z.enum(["user", "system", "developer", "assistant"], {
    error: "role must be one of user, system, developer, assistant",
  }),
  content: z.union([z.string(), z.array(anyPart)]),
});

export const FunctionCallItemSchema = z.object({
  type: z.literal("function_call"),
  call_id: z.string().min(1),
  name: z.string().min(1),
  arguments: z.string(),
  /** The namespace tool the function belongs to (`{"type": "namespace", ...}` in `tools`). */
  namespace: z.string().min(1).nullish(),
});

/** A call of a freeform (`custom`) tool: its input is free text, not JSON arguments. */
export const CustomToolCallItemSchema = z.object({
  type: z.literal("custom_tool_call"),
  call_id: z.string().min(1),
  name: z.string().min(1),
  input: z.string(),
  namespace: z.string().min(1).nullish(),
});

export const CustomToolCallOutputItemSchema = z.object({
  type: z.literal("custom_tool_call_output"),
  call_id: z.string().min(1),
  output: z.union([z.string(), z.array(anyPart)]),
});

export const FunctionCallOutputItemSchema = z.object({
  type: z.literal("function_call_output"),
  call_id: z.string().min(1),
  output: z.union([z.string(), z.array(anyPart)]),
});

/** A reasoning item sent back: its text (open-weight models) or summary parts; encrypted content is OpenAI's own. */
export const ReasoningItemSchema = z.object({
  type: z.literal("reasoning"),
  content: z.array(z.looseObject({ type: z.string(), text: z.string().optional() })).nullish(),
  summary: z.array(z.looseObject({ type: z.string(), text: z.string().optional() })).nullish(),
});

const toolName = z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, "must be 1-64 letters, digits, _ or -");

export const FunctionToolSchema = z.object({
  type: z.literal("function"),
  name: toolName,
  description: z.string().nullish(),
  parameters: boundedJsonObject().nullish(),
  strict: z.boolean().nullish(),
});

/** A freeform tool: the model writes its input as text, in a grammar (`lark` or `regex`) when `format` gives one. */
export const CustomToolSchema = z.object({
  type: z.literal("custom"),
  name: toolName,
  description: z.string().nullish(),
  format: z
    .discriminatedUnion("type", [
      z.object({ type: z.literal("text") }),
      z.object({ type: z.literal("grammar"), syntax: z.string().min(1), definition: z.string() }),
    ])
    .nullish(),
});

/** Client functions (and freeform tools) grouped under a name; their calls carry it as `namespace`. */
export const NamespaceToolSchema = z.object({
  type: z.literal("namespace"),
  name: toolName,
  description: z.string().nullish(),
  tools: z
    .array(z.looseObject({ type: z.string() }))
    .min(1)
    .max(128),
});

const TextFormatSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("text") }),
  z.object({ type: z.literal("json_object") }),
  z.object({
    type: z.literal("json_schema"),
    name: z.string().min(1),
    description: z.string().nullish(),
    schema: boundedJsonObject(),
    strict: z.boolean().nullish(),
  }),
]);

export const ResponseCreateRequestSchema = z
  .object({
    model: z.string().min(1, "model is required"),
    /** Text, or a list of items (messages, function calls and their outputs). */
    input: z.union([z.string(), z.array(z.looseObject({ type: z.string().optional() })).max(10_000)]).optional(),
    instructions: z.string().nullish(),
    previous_response_id: z.string().min(1).nullish(),
    /** Keep the response in history for `previous_response_id` and GET. Defaults to true. */
    store: z.boolean().nullish(),
    stream: z.boolean().nullish(),
    max_output_tokens: z.number().int("must be a whole number").min(1, "must be at least 1").nullish(),
    temperature: z.number().min(0).max(2).nullish(),
    top_p: z.number().min(0).max(1).nullish(),
    /** Hearth extensions, as on chat completions. */
    top_k: z.number().int().min(0).nullish(),
    min_p: z.number().min(0).max(1).nullish(),
    seed: z.number().int().nullish(),
    tools: z
      .array(z.looseObject({ type: z.string() }))
      .max(128)
      .nullish(),
    /** A mode, or `{type: "function" | "custom", name, namespace?}`; forcing a hosted tool (`{type: "web_search"}`) is refused. */
    tool_choice: z
      .union([
        z.enum(["none", "auto", "required"]),
        z.looseObject({
          type: z.string(),
          name: z.string().min(1).optional(),
          namespace: z.string().min(1).optional(),
        }),
      ])
      .nullish(),
    parallel_tool_calls: z.boolean().nullish(),
    text: z.object({ format: TextFormatSchema.optional() }).nullish(),
    include: z.array(z.string()).nullish(),
    top_logprobs: z.number().int().min(0).max(20).nullish(),
    /** `effort` for a thinking model (`minimal` is taken as `low`); summaries are not made. */
    reasoning: z
      .looseObject({
        effort: z.enum(["none", "minimal", "low", "medium", "high"]).nullish(),
        summary: z.string().nullish(),
      })
      .nullish(),
    metadata: z.record(z.string(), z.string()).nullish(),
    user: z.string().nullish(),
    /** Hearth's own: false turns speculative decoding off for this request (README, "Speculative decoding"). */
    speculative: z.boolean().nullish(),
    background: z.boolean().nullish(),
    truncation: z.enum(["auto", "disabled"]).nullish(),
    conversation: z.unknown().optional(),
    prompt: z.unknown().optional(),
  })
  .meta({ id: "ResponseCreateRequest" });
export type ResponseCreateRequestBody = z.infer<typeof ResponseCreateRequestSchema>;

// ---- what Hearth answers ----

const logprob = { token: z.string(), logprob: z.number(), bytes: z.array(z.number().int()) };

export const OutputTextSchema = z.object({
  type: z.literal("output_text"),
  text: z.string(),
  annotations: z.array(z.unknown()),
  logprobs: z.array(z.object({ ...logprob, top_logprobs: z.array(z.object(logprob)) })).optional(),
});
export type OutputText = z.infer<typeof OutputTextSchema>;

export const OutputMessageSchema = z.object({
  type: z.literal("message"),
  id: z.string(),
  status: z.enum(["in_progress", "completed", "incomplete"]),
  role: z.literal("assistant"),
  content: z.array(OutputTextSchema),
});
export type OutputMessage = z.infer<typeof OutputMessageSchema>;

export const OutputFunctionCallSchema = z.object({
  type: z.literal("function_call"),
  id: z.string(),
  call_id: z.string(),
  name: z.string(),
  /** For a function of a namespace tool: its name, as OpenAI sends it (`name` is the function's own). */
  namespace: z.string().optional(),
  arguments: z.string(),
  status: z.enum(["in_progress", "completed", "incomplete"]),
});
export type OutputFunctionCall = z.infer<typeof OutputFunctionCallSchema>;

export const OutputCustomToolCallSchema = z.object({
  type: z.literal("custom_tool_call"),
  id: z.string(),
  call_id: z.string(),
  name: z.string(),
  namespace: z.string().optional(),
  input: z.string(),
  status: z.enum(["in_progress", "completed", "incomplete"]),
});
export type OutputCustomToolCall = z.infer<typeof OutputCustomToolCallSchema>;

/** The model's thoughts, as OpenAI returns an open-weight model's: the raw text, no summary. */
export const OutputReasoningSchema = z.object({
  type: z.literal("reasoning"),
  id: z.string(),
  status: z.enum(["in_progress", "completed", "incomplete"]),
  summary: z.array(z.object({ type: z.literal("summary_text"), text: z.string() })),
  content: z.array(z.object({ type: z.literal("reasoning_text"), text: z.string() })),
});
export type OutputReasoning = z.infer<typeof OutputReasoningSchema>;

export type OutputItem = OutputReasoning | OutputMessage | OutputFunctionCall | OutputCustomToolCall;

/**
 * A Hearth extension: what the request asked for that this response did without (a hosted tool
 * the model was not offered). Present only when there is something to say.
 */
export const ResponseWarningSchema = z.object({
  code: z.literal("tool_not_available"),
  param: z.string(),
  message: z.string(),
});
export type ResponseWarning = z.infer<typeof ResponseWarningSchema>;

export const ResponseUsageSchema = z.object({
  input_tokens: z.number().int(),
  input_tokens_details: z.object({ cached_tokens: z.number().int() }),
  output_tokens: z.number().int(),
  output_tokens_details: z.object({ reasoning_tokens: z.number().int() }),
  total_tokens: z.number().int(),
});

export const ResponseObjectSchema = z
  .object({
    id: z.string(),
    object: z.literal("response"),
    created_at: z.number().int(),
    completed_at: z.number().int().nullable(),
    status: z.enum(["in_progress", "completed", "incomplete", "failed"]),
    error: z.object({ code: z.string(), message: z.string() }).nullable(),
    incomplete_details: z.object({ reason: z.string() }).nullable(),
    instructions: z.string().nullable(),
    max_output_tokens: z.number().int().nullable(),
    model: z.string(),
    output: z.array(
      z.union([OutputReasoningSchema, OutputMessageSchema, OutputFunctionCallSchema, OutputCustomToolCallSchema]),
    ),
    parallel_tool_calls: z.boolean(),
    previous_response_id: z.string().nullable(),
    reasoning: z.object({ effort: z.string().nullable(), summary: z.string().nullable() }),
    store: z.boolean(),
    temperature: z.number().nullable(),
    top_p: z.number().nullable(),
    text: z.object({ format: z.record(z.string(), z.unknown()) }),
    tool_choice: z.union([z.string(), z.record(z.string(), z.unknown())]),
    tools: z.array(z.record(z.string(), z.unknown())),
    truncation: z.string(),
    usage: ResponseUsageSchema.nullable(),
    user: z.string().nullable(),
    metadata: z.record(z.string(), z.string()),
    warnings: z.array(ResponseWarningSchema).optional(),
  })
  .meta({ id: "Response" });
export type ResponseObject = z.infer<typeof ResponseObjectSchema>;

export const ResponseDeletedSchema = z
  .object({ id: z.string(), object: z.literal("response.deleted"), deleted: z.literal(true) })
  .meta({ id: "ResponseDeleted" });
