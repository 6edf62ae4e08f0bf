/**
 * OpenAPI description of Ollama's API, from the zod schemas that validate it (schemas.ts). It is
 * served on its own port (`--ollama-port`), so each path names that server; spread into the
 * document in server/openapi.ts.
 */
import {
  ChatRequestSchema,
  ChatResponseSchema,
  EmbedRequestSchema,
  EmbedResponseSchema,
  EmbeddingsRequestSchema,
  EmbeddingsResponseSchema,
  ErrorResponseSchema,
  GenerateRequestSchema,
  GenerateResponseSchema,
  PsResponseSchema,
  ShowRequestSchema,
  ShowResponseSchema,
  TagsResponseSchema,
  VersionResponseSchema,
} from "./schemas.js";
import type { z } from "zod";

const servers = [{ url: "http://127.0.0.1:11434", description: "The Ollama port (--ollama-port; off by default)" }];
const tags = ["Ollama API"];
const json = (schema: z.ZodType) => ({ content: { "application/json": { schema } } });
const errors = {
  "400": { description: "Invalid request", ...json(ErrorResponseSchema) },
  "401": { description: "Missing or wrong API key", ...json(ErrorResponseSchema) },
  "404": { description: "Unknown model", ...json(ErrorResponseSchema) },
};
const generation = (schema: z.ZodType) => ({
  "200": {
    description:
      "NDJSON lines (`application/x-ndjson`), the last with `done: true` and the counts; with `stream: false`, one reply",
    content: { "application/json": { schema }, "application/x-ndjson": { schema } },
  },
  ...errors,
});

export function ollamaOpenApiPaths() {
  return {
    "/api/chat": {
      servers,
      post: {
        tags,
        summary: "Chat (Ollama): messages, tools, format, think, options, keep_alive",
        requestBody: json(ChatRequestSchema),
        responses: generation(ChatResponseSchema),
      },
    },
    "/api/generate": {
      servers,
      post: {
        tags,
        summary: "Generate (Ollama): a prompt, through the chat template unless raw",
        requestBody: json(GenerateRequestSchema),
        responses: generation(GenerateResponseSchema),
      },
    },
    "/api/embed": {
      servers,
      post: {
        tags,
        summary: "Embed one or several texts (Ollama; unit-length vectors)",
        requestBody: json(EmbedRequestSchema),
        responses: { "200": { description: "The vectors", ...json(EmbedResponseSchema) }, ...errors },
      },
    },
    "/api/embeddings": {
      servers,
      post: {
        tags,
        summary: "Embed one text (Ollama's older endpoint)",
        requestBody: json(EmbeddingsRequestSchema),
        responses: { "200": { description: "The vector", ...json(EmbeddingsResponseSchema) }, ...errors },
      },
    },
    "/api/tags": {
      servers,
      get: {
        tags,
        summary: "List models (Ollama): the ids of /v1/models",
        responses: { "200": { description: "The models", ...json(TagsResponseSchema) } },
      },
    },
    "/api/show": {
      servers,
      post: {
        tags,
        summary: "A model's details, capabilities and header facts (Ollama)",
        requestBody: json(ShowRequestSchema),
        responses: { "200": { description: "The model", ...json(ShowResponseSchema) }, ...errors },
      },
    },
    "/api/ps": {
      servers,
      get: {
        tags,
        summary: "Loaded local models and when they unload (Ollama)",
        responses: { "200": { description: "The loaded models", ...json(PsResponseSchema) } },
      },
    },
    "/api/version": {
      servers,
      get: {
        tags,
        summary: "The Ollama API version followed, and Hearth's",
        responses: { "200": { description: "Versions", ...json(VersionResponseSchema) } },
      },
    },
  };
}
