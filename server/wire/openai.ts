/**
 * The OpenAI-compatible shapes the UI speaks on /v1 (and on the /api conversation streams, which
 * send chat completion chunks). Only server/openai/ defines OpenAI's wire format
 * (openai/schemas.ts, which imports only zod and server/core types); this names what the UI reads.
 */
export type { ChatCompletionChunk, ChatCompletionRequestBody, ModelList } from "../openai/schemas.js";
