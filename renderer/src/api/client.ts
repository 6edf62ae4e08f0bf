/**
 * The typed client for everything the UI asks of the server: `/v1` (OpenAI-compatible inference)
 * and `/api` (management). Shapes come from the server's own schemas through type-only imports
 * of server/wire/, so nothing of the server is bundled and a changed shape fails the typecheck here.
 */
import type { ChatCompletionChunk, ChatCompletionRequestBody, ModelList } from "../../../server/wire/openai.js";
import { request, requestText, streamJson, type RequestOptions } from "./http.js";

export type ChatChunk = ChatCompletionChunk & Record<string, unknown>;

export interface Health {
  status: string;
  version: string;
  engine: { build: string; gpu: string | false; threads: number } | null;
  models: {
    id: string;
    /** How the model speculates (null: it does not). */
    speculative?: { promptLookup: boolean; draftModel: string | null; draftMax: number } | null;
    [k: string]: unknown;
  }[];
}

export const v1 = {
  models: (opts?: RequestOptions) => request<ModelList>("GET", "/v1/models", undefined, opts),
  /** Streams a chat completion; leave the loop (or abort the signal) to stop generation at once. */
  chat: (body: Omit<ChatCompletionRequestBody, "stream">, opts?: RequestOptions) =>
    streamJson<ChatChunk>(
      "POST",
      "/v1/chat/completions",
      { ...body, stream: true, stream_options: { include_usage: true } },
      opts,
    ),
};

export const server = {
  health: (opts?: RequestOptions) => request<Health>("GET", "/health", undefined, opts),
  /** Prometheus text exposition. */
  metrics: (opts?: RequestOptions) => requestText("/metrics", opts),
};
