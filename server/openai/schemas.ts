/**
 * The /v1 wire contract, as zod schemas: requests are parsed once here into typed values, and the
 * OpenAPI document is generated from these same schemas. Unknown fields are ignored (OpenAI
 * clients send many); known fields with values Hearth cannot honour get a 400 naming them.
 */
import { z } from "zod";
import { boundedJsonObject } from "../core/json-bounds.js";
import type { VllmExtra } from "../core/types.js";

const anyPart = z.looseObject({ type: z.string() });
/** Message content: a string or content parts. Non-text parts are refused at conversion with a clear 400. */
const content = z.union([z.string(), z.array(anyPart)]);

export const ToolCallSchema = z.object({
  id: z.string().min(1),
  type: z.literal("function").default("function"),
  function: z.object({ name: z.string().min(1), arguments: z.string() }),
});

export const ChatMessageSchema = z.discriminatedUnion(
  "role",
  [
    z.object({ role: z.literal("system"), content, name: z.string().optional() }),
    z.object({ role: z.literal("developer"), content, name: z.string().optional() }),
    z.object({ role: z.literal("user"), content, name: z.string().optional() }),
    z.object({
      role: z.literal("assistant"),
      content: content.nullish(),
      name: z.string().optional(),
      tool_calls: z.array(ToolCallSchema).nullish(),
      refusal: z.string().nullish(),
      /** The thoughts of an earlier reply, as this server (and vLLM, DeepSeek, llama-server) returned them. */
      reasoning_content: z.string().nullish(),
    }),
    z.object({ role: z.literal("tool"), content, tool_call_id: z.string().min(1) }),
  ],
  { error: "role must be one of system, developer, user, assistant, tool" },
);

const stop = z.union([z.string(), z.array(z.string()).max(16, "at most 16 stop sequences")]).nullish();
const maxTokens = z.number().int("must be a whole number").min(1, "must be at least 1").nullish();

/** Sampling fields shared by chat and completions. Defaults are applied at conversion. */
const sampling = {
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  top_k: z.number().int().min(0).nullish(),
  min_p: z.number().min(0).max(1).nullish(),
  seed: z.number().int().nullish(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  stop,
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
  user: z.string().nullish(),
  /** Hearth's own: false turns speculative decoding off for this request (README, "Speculative decoding"). */
  speculative: z.boolean().nullish(),
  n: z.number().int().min(1).max(128).nullish(),
  logit_bias: z.record(z.string(), z.number()).nullish(),
};

export const FunctionToolSchema = z.object({
  type: z.literal("function"),
  function: z.object({
    name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, "must be 1-64 letters, digits, _ or -"),
    description: z.string().optional(),
    parameters: boundedJsonObject().optional(),
    strict: z.boolean().nullish(),
  }),
});

export const ResponseFormatSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("text") }),
  z.object({ type: z.literal("json_object") }),
  z.object({
    type: z.literal("json_schema"),
    json_schema: z.object({
      name: z.string().min(1),
      description: z.string().optional(),
      schema: boundedJsonObject().optional(),
      strict: z.boolean().nullish(),
    }),
  }),
]);

/**
 * vLLM's own request fields (core/types.ts VLLM_EXTRAS), validated here; convert.ts passes the ones a
 * client set on as the neutral request's `extras`.
 */
const vllmExtras = {
  guided_json: z.union([boundedJsonObject(), z.string()]).nullish(),
  guided_regex: z.string().nullish(),
  guided_choice: z.array(z.string()).max(1024).nullish(),
  guided_grammar: z.string().nullish(),
  guided_decoding_backend: z.string().nullish(),
  guided_whitespace_pattern: z.string().nullish(),
  repetition_penalty: z.number().nullish(),
  length_penalty: z.number().nullish(),
  min_tokens: z.number().int().min(0).nullish(),
  ignore_eos: z.boolean().nullish(),
  skip_special_tokens: z.boolean().nullish(),
  spaces_between_special_tokens: z.boolean().nullish(),
  include_stop_str_in_output: z.boolean().nullish(),
} satisfies Record<VllmExtra, z.ZodType>;

export const ChatCompletionRequestSchema = z
  .object({
    model: z.string().min(1, "model is required"),
    messages: z.array(ChatMessageSchema).min(1, "messages must have at least one message").max(10_000),
    max_tokens: maxTokens,
    max_completion_tokens: maxTokens,
    ...sampling,
    response_format: ResponseFormatSchema.nullish(),
    tools: z.array(FunctionToolSchema).max(128).nullish(),
    tool_choice: z
      .union([
        z.enum(["none", "auto", "required"]),
        z.object({ type: z.literal("function"), function: z.object({ name: z.string() }) }),
      ])
      .nullish(),
    parallel_tool_calls: z.boolean().nullish(),
    logprobs: z.boolean().nullish(),
    top_logprobs: z.number().int().min(0).max(20).nullish(),
    /** OpenAI's levels; `minimal` is taken as `low`. A model that does not think ignores it. */
    reasoning_effort: z.enum(["none", "minimal", "low", "medium", "high"]).nullish(),
    /** llama-server's and vLLM's template switches; `enable_thinking: false` turns thinking off (Qwen3). */
    chat_template_kwargs: z.looseObject({ enable_thinking: z.boolean().nullish() }).nullish(),
    ...vllmExtras,
  })
  .meta({ id: "ChatCompletionRequest" });
export type ChatCompletionRequestBody = z.infer<typeof ChatCompletionRequestSchema>;

export const CompletionRequestSchema = z
  .object({
    model: z.string().min(1, "model is required"),
    prompt: z.union([z.string(), z.array(z.string()).min(1)]),
    max_tokens: maxTokens,
    ...sampling,
    echo: z.boolean().nullish(),
    /** Alternatives per token to return with each token's logprob; 0 returns only the chosen token's. */
    logprobs: z.number().int().min(0).max(20).nullish(),
    suffix: z.string().nullish(),
    best_of: z.number().int().min(1).nullish(),
    ...vllmExtras,
  })
  .meta({ id: "CompletionRequest" });
export type CompletionRequestBody = z.infer<typeof CompletionRequestSchema>;

export const EmbeddingRequestSchema = z
  .object({
    model: z.string().min(1, "model is required"),
    input: z.union([
      z.string(),
      z.array(z.string()).min(1).max(2048),
      z.array(z.number()),
      z.array(z.array(z.number())),
    ]),
    encoding_format: z.enum(["float", "base64"]).nullish(),
    dimensions: z.number().int().min(1).nullish(),
    user: z.string().nullish(),
  })
  .meta({ id: "EmbeddingRequest" });
export type EmbeddingRequestBody = z.infer<typeof EmbeddingRequestSchema>;

// ---- responses (documented in /openapi.json; the formatters build values of these types) ----

export const UsageSchema = z
  .object({
    prompt_tokens: z.number().int(),
    completion_tokens: z.number().int(),
    total_tokens: z.number().int(),
    prompt_tokens_details: z.object({ cached_tokens: z.number().int() }).optional(),
    /** For a model that thinks: the completion tokens spent on reasoning. */
    completion_tokens_details: z
      .object({
        reasoning_tokens: z.number().int().optional(),
        /** Speculative decoding's guesses the model accepted (OpenAI's name from Predicted Outputs). */
        accepted_prediction_tokens: z.number().int().optional(),
        /** ...and rejected: computed, then thrown away. */
        rejected_prediction_tokens: z.number().int().optional(),
      })
      .optional(),
  })
  .meta({ id: "Usage" });

const finishReason = z.enum(["stop", "length", "tool_calls", "content_filter"]);

const tokenLogprob = { token: z.string(), logprob: z.number(), bytes: z.array(z.number().int()).nullable() };

/** `choices[].logprobs` of chat completions: one entry per generated token, alternatives best first. */
export const ChatLogprobsSchema = z
  .object({
    content: z.array(z.object({ ...tokenLogprob, top_logprobs: z.array(z.object(tokenLogprob)) })).nullable(),
    refusal: z.null(),
  })
  .meta({ id: "ChatLogprobs" });
export type ChatLogprobs = z.infer<typeof ChatLogprobsSchema>;

/** `choices[].logprobs` of legacy completions; the first echoed prompt token has null values. */
export const CompletionLogprobsSchema = z
  .object({
    tokens: z.array(z.string()),
    token_logprobs: z.array(z.number().nullable()),
    top_logprobs: z.array(z.record(z.string(), z.number()).nullable()),
    text_offset: z.array(z.number().int()),
  })
  .meta({ id: "CompletionLogprobs" });
export type CompletionLogprobs = z.infer<typeof CompletionLogprobsSchema>;

export const ChatCompletionSchema = z
  .object({
    id: z.string(),
    object: z.literal("chat.completion"),
    created: z.number().int(),
    model: z.string(),
    system_fingerprint: z.string().nullable(),
    choices: z.array(
      z.object({
        index: z.number().int(),
        message: z.object({
          role: z.literal("assistant"),
          content: z.string().nullable(),
          refusal: z.null(),
          tool_calls: z.array(ToolCallSchema).optional(),
          /** The model's thoughts, kept out of `content` (vLLM's and DeepSeek's field). */
          reasoning_content: z.string().optional(),
        }),
        logprobs: ChatLogprobsSchema.nullable(),
        finish_reason: finishReason,
      }),
    ),
    usage: UsageSchema,
  })
  .meta({ id: "ChatCompletion" });
export type ChatCompletion = z.infer<typeof ChatCompletionSchema>;

export const ChatCompletionChunkSchema = z
  .object({
    id: z.string(),
    object: z.literal("chat.completion.chunk"),
    created: z.number().int(),
    model: z.string(),
    system_fingerprint: z.string().nullable(),
    choices: z.array(
      z.object({
        index: z.number().int(),
        delta: z.object({
          role: z.literal("assistant").optional(),
          content: z.string().nullable().optional(),
          reasoning_content: z.string().optional(),
          tool_calls: z
            .array(
              z.object({
                index: z.number().int(),
                id: z.string().optional(),
                type: z.literal("function").optional(),
                function: z.object({ name: z.string().optional(), arguments: z.string() }),
              }),
            )
            .optional(),
        }),
        logprobs: ChatLogprobsSchema.nullable(),
        finish_reason: finishReason.nullable(),
      }),
    ),
    usage: UsageSchema.nullable().optional(),
  })
  .meta({ id: "ChatCompletionChunk" });
export type ChatCompletionChunk = z.infer<typeof ChatCompletionChunkSchema>;

export const CompletionSchema = z
  .object({
    id: z.string(),
    object: z.literal("text_completion"),
    created: z.number().int(),
    model: z.string(),
    system_fingerprint: z.string().nullable(),
    choices: z.array(
      z.object({
        index: z.number().int(),
        text: z.string(),
        logprobs: CompletionLogprobsSchema.nullable(),
        finish_reason: finishReason.nullable(),
      }),
    ),
    usage: UsageSchema.nullable().optional(),
  })
  .meta({ id: "Completion" });
export type Completion = z.infer<typeof CompletionSchema>;

export const EmbeddingResponseSchema = z
  .object({
    object: z.literal("list"),
    data: z.array(
      z.object({
        object: z.literal("embedding"),
        index: z.number().int(),
        embedding: z.union([z.array(z.number()), z.string()]),
      }),
    ),
    model: z.string(),
    usage: z.object({ prompt_tokens: z.number().int(), total_tokens: z.number().int() }),
  })
  .meta({ id: "EmbeddingResponse" });
export type EmbeddingResponse = z.infer<typeof EmbeddingResponseSchema>;

export const ModelSchema = z
  .object({ id: z.string(), object: z.literal("model"), created: z.number().int(), owned_by: z.string() })
  .meta({ id: "Model" });
export const ModelListSchema = z
  .object({ object: z.literal("list"), data: z.array(ModelSchema) })
  .meta({ id: "ModelList" });
export type ModelList = z.infer<typeof ModelListSchema>;

export const ErrorSchema = z
  .object({
    error: z.object({
      message: z.string(),
      type: z.string(),
      param: z.string().nullable(),
      code: z.string().nullable(),
    }),
  })
  .meta({ id: "Error" });
