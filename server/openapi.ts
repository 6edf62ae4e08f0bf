/** /openapi.json, generated from the same zod schemas that validate requests (zod-openapi). */
import { createDocument } from "zod-openapi";
import {
  ChatCompletionChunkSchema,
  ChatCompletionRequestSchema,
  ChatCompletionSchema,
  CompletionRequestSchema,
  CompletionSchema,
  EmbeddingRequestSchema,
  EmbeddingResponseSchema,
  ErrorSchema,
  ModelListSchema,
} from "./openai/schemas.js";

const errors = {
  "400": { description: "Invalid request", content: { "application/json": { schema: ErrorSchema } } },
  "401": { description: "Missing or wrong API key", content: { "application/json": { schema: ErrorSchema } } },
  "404": { description: "Unknown model", content: { "application/json": { schema: ErrorSchema } } },
  "429": { description: "Queue full; see Retry-After", content: { "application/json": { schema: ErrorSchema } } },
  "503": { description: "Not ready or shutting down", content: { "application/json": { schema: ErrorSchema } } },
};

export function openApiDocument(version: string): object {
  return createDocument({
    openapi: "3.1.0",
    info: { title: "Hearth API", version, description: "OpenAI-compatible local inference (/v1) and Hearth management (/api)." },
    components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
    security: [{ bearer: [] }],
    paths: {
      "/v1/models": { get: { summary: "List models", responses: { "200": { description: "Models", content: { "application/json": { schema: ModelListSchema } } } } } },
      "/v1/chat/completions": {
        post: {
          summary: "Create a chat completion (stream with `stream: true`)",
          requestBody: { content: { "application/json": { schema: ChatCompletionRequestSchema } } },
          responses: {
            "200": {
              description: "A completion, or an SSE stream of chunks ending with `data: [DONE]`",
              content: { "application/json": { schema: ChatCompletionSchema }, "text/event-stream": { schema: ChatCompletionChunkSchema } },
            },
            ...errors,
          },
        },
      },
      "/v1/completions": {
        post: {
          summary: "Create a text completion",
          requestBody: { content: { "application/json": { schema: CompletionRequestSchema } } },
          responses: { "200": { description: "A completion or an SSE stream", content: { "application/json": { schema: CompletionSchema } } }, ...errors },
        },
      },
      "/v1/embeddings": {
        post: {
          summary: "Create embeddings (unit length; float or base64)",
          requestBody: { content: { "application/json": { schema: EmbeddingRequestSchema } } },
          responses: { "200": { description: "Embeddings", content: { "application/json": { schema: EmbeddingResponseSchema } } }, ...errors },
        },
      },
    },
  });
}
