/**
 * Ollama's API (https://github.com/ollama/ollama/blob/main/docs/api.md) as zod schemas: the
 * requests parsed once here (unknown fields ignored, as Ollama does), the responses typed, and
 * the OpenAPI document generated from both (openapi.ts).
 */
import { z } from "zod";
import { boundedJsonObject } from "../core/json-bounds.js";

/**
 * `keep_alive`: seconds as a number, or a duration as Go writes it ("5m", "1h30m", "-1"); a
 * negative value keeps the model loaded, 0 unloads it once the request is done.
 */
export const KeepAliveSchema = z.union([z.number(), z.string().max(64)]);

/**
 * `options`: the Modelfile parameters. Sampling ones are followed; the ones that say how a model is
 * loaded are the server's to decide and are ignored with a warning (convert.ts `OptionsPolicy`).
 * Unknown keys are ignored, as Ollama ignores them.
 */
export const OptionsSchema = z.looseObject({
  temperature: z.number().min(0).max(2).optional(),
  top_p: z.number().min(0).max(1).optional(),
  top_k: z.number().int().min(0).optional(),
  min_p: z.number().min(0).max(1).optional(),
  seed: z.number().int().optional(),
  /** Most tokens to generate; -1 (no limit) and -2 (fill the context) mean the server's default. */
  num_predict: z.number().int().min(-2).optional(),
  stop: z.array(z.string()).max(16, "at most 16 stop sequences").optional(),
  repeat_penalty: z.number().optional(),
  presence_penalty: z.number().min(-2).max(2).optional(),
  frequency_penalty: z.number().min(-2).max(2).optional(),
  repeat_last_n: z.number().int().optional(),
  mirostat: z.number().int().optional(),
  mirostat_tau: z.number().optional(),
  mirostat_eta: z.number().optional(),
  tfs_z: z.number().optional(),
  typical_p: z.number().optional(),
  penalize_newline: z.boolean().optional(),
  num_ctx: z.number().int().optional(),
  num_batch: z.number().int().optional(),
  num_gpu: z.number().int().optional(),
  main_gpu: z.number().int().optional(),
  num_thread: z.number().int().optional(),
  num_keep: z.number().int().optional(),
  numa: z.boolean().optional(),
  low_vram: z.boolean().optional(),
  use_mmap: z.boolean().optional(),
  use_mlock: z.boolean().optional(),
  vocab_only: z.boolean().optional(),
  logits_all: z.boolean().optional(),
  embedding_only: z.boolean().optional(),
});
export type OllamaOptions = z.infer<typeof OptionsSchema>;

/** `format`: "json" for any JSON object, or a JSON schema the reply must match; "" is plain text. */
const format = z.union([z.literal("json"), z.literal(""), boundedJsonObject()]);

/** `think`: whether (and how hard) a thinking model thinks; its thoughts come back in `thinking`. */
const think = z.union([z.boolean(), z.enum(["low", "medium", "high"])]);

const images = z.array(z.string()).max(0, "images are not supported: Hearth's local models read text only").nullish();

export const ToolCallSchema = z.object({
  function: z.object({
    name: z.string().min(1),
    /** The arguments as an object (Ollama's shape), or JSON text of one. */
    arguments: z.union([boundedJsonObject(), z.string()]).default({}),
  }),
});

export const MessageSchema = z.object({
  role: z.enum(["system", "user", "assistant", "tool"], { error: "role must be one of system, user, assistant, tool" }),
  content: z.string().default(""),
  /** An assistant message's thoughts, sent back. */
  thinking: z.string().optional(),
  images,
  tool_calls: z.array(ToolCallSchema).nullish(),
  /** A tool message: the function whose call it answers. */
  tool_name: z.string().optional(),
});

export const ToolSchema = z.object({
  type: z.literal("function").default("function"),
  function: z.object({
    name: z.string().min(1),
    description: z.string().optional(),
    parameters: boundedJsonObject().optional(),
  }),
});

/** What /api/chat and /api/generate both take beside their input. */
const generation = {
  format: format.nullish(),
  options: OptionsSchema.nullish(),
  stream: z.boolean().default(true),
  keep_alive: KeepAliveSchema.nullish(),
  think: think.nullish(),
  logprobs: z.boolean().optional(),
  top_logprobs: z.number().int().min(0).max(20).optional(),
};

export const ChatRequestSchema = z.object({
  model: z.string().min(1),
  messages: z.array(MessageSchema).default([]),
  tools: z.array(ToolSchema).max(128).nullish(),
  ...generation,
});
export type ChatRequestBody = z.infer<typeof ChatRequestSchema>;

export const GenerateRequestSchema = z.object({
  model: z.string().min(1),
  prompt: z.string().default(""),
  system: z.string().optional(),
  /** Fill-in-the-middle: refused (convert.ts). */
  suffix: z.string().optional(),
  /** A prompt template of Go's text/template: refused; the model's own chat template is used. */
  template: z.string().optional(),
  /** The prompt sent as is, without the chat template. */
  raw: z.boolean().optional(),
  /** The token context of an earlier reply (deprecated by Ollama): refused; send the text instead. */
  context: z.array(z.number()).optional(),
  images,
  ...generation,
});
export type GenerateRequestBody = z.infer<typeof GenerateRequestSchema>;

export const EmbedRequestSchema = z.object({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(z.string()).min(1).max(2048)]),
  /** Ollama cuts inputs to the context by default; Hearth refuses an input that does not fit, either way. */
  truncate: z.boolean().optional(),
  dimensions: z.number().int().positive().optional(),
  keep_alive: KeepAliveSchema.nullish(),
  options: OptionsSchema.nullish(),
});

/** The older single-text endpoint. */
export const EmbeddingsRequestSchema = z.object({
  model: z.string().min(1),
  prompt: z.string(),
  keep_alive: KeepAliveSchema.nullish(),
  options: OptionsSchema.nullish(),
});

/** `model`, or `name` as older clients send it. */
export const ShowRequestSchema = z
  .object({ model: z.string().min(1).optional(), name: z.string().min(1).optional(), verbose: z.boolean().optional() })
  .refine((b) => b.model !== undefined || b.name !== undefined, { error: "model is required", path: ["model"] });

// --- responses ----------------------------------------------------------------------------------

const timings = {
  total_duration: z.number().int().describe("nanoseconds from the request to the end"),
  load_duration: z.number().int().describe("nanoseconds spent loading the model (0: Hearth does not say)"),
  prompt_eval_count: z.number().int(),
  prompt_eval_duration: z.number().int(),
  eval_count: z.number().int(),
  eval_duration: z.number().int(),
};

const LogprobSchema = z.object({
  token: z.string(),
  logprob: z.number(),
  bytes: z.array(z.number().int()).optional(),
  top_logprobs: z
    .array(z.object({ token: z.string(), logprob: z.number(), bytes: z.array(z.number().int()).optional() }))
    .optional(),
});

export const ResponseMessageSchema = z.object({
  role: z.literal("assistant"),
  content: z.string(),
  thinking: z.string().optional(),
  tool_calls: z
    .array(z.object({ function: z.object({ name: z.string(), arguments: z.record(z.string(), z.unknown()) }) }))
    .optional(),
});

/** One NDJSON line of /api/chat, or the whole reply with `stream: false`; the last has `done: true`. */
export const ChatResponseSchema = z.object({
  model: z.string(),
  created_at: z.string(),
  message: ResponseMessageSchema,
  done: z.boolean(),
  done_reason: z.enum(["stop", "length", "load", "unload"]).optional(),
  logprobs: z.array(LogprobSchema).optional(),
  ...z.object(timings).partial().shape,
});
export type ChatResponse = z.infer<typeof ChatResponseSchema>;

/** One NDJSON line of /api/generate, or the whole reply with `stream: false`. */
export const GenerateResponseSchema = z.object({
  model: z.string(),
  created_at: z.string(),
  response: z.string(),
  thinking: z.string().optional(),
  done: z.boolean(),
  done_reason: z.enum(["stop", "length", "load", "unload"]).optional(),
  logprobs: z.array(LogprobSchema).optional(),
  ...z.object(timings).partial().shape,
});
export type GenerateResponse = z.infer<typeof GenerateResponseSchema>;

export const EmbedResponseSchema = z.object({
  model: z.string(),
  embeddings: z.array(z.array(z.number())),
  total_duration: z.number().int(),
  load_duration: z.number().int(),
  prompt_eval_count: z.number().int(),
});

export const EmbeddingsResponseSchema = z.object({ embedding: z.array(z.number()) });

export const ModelDetailsSchema = z.object({
  parent_model: z.string(),
  format: z.string(),
  family: z.string(),
  families: z.array(z.string()).nullable(),
  parameter_size: z.string(),
  quantization_level: z.string(),
});

export const TagsResponseSchema = z.object({
  models: z.array(
    z.object({
      name: z.string(),
      model: z.string(),
      modified_at: z.string(),
      size: z.number().int(),
      digest: z.string().describe("sha256 of the model's id, size and modification time (not of its bytes)"),
      details: ModelDetailsSchema,
    }),
  ),
});

export const PsResponseSchema = z.object({
  models: z.array(
    z.object({
      name: z.string(),
      model: z.string(),
      size: z.number().int(),
      digest: z.string(),
      details: ModelDetailsSchema,
      expires_at: z.string(),
      size_vram: z.number().int(),
      context_length: z.number().int(),
    }),
  ),
});

export const ShowResponseSchema = z.object({
  modelfile: z.string(),
  parameters: z.string(),
  template: z.string(),
  details: ModelDetailsSchema,
  model_info: z.record(z.string(), z.unknown()),
  capabilities: z.array(z.string()),
  modified_at: z.string(),
});

export const VersionResponseSchema = z.object({
  version: z.string().describe("the Ollama API version this server follows"),
  hearth: z.string().describe("Hearth's own version"),
});

export const ErrorResponseSchema = z.object({ error: z.string() });
