/** /openapi.json, generated from the same zod schemas that validate requests (zod-openapi). */
import { z } from "zod";
import { createDocument } from "zod-openapi";
import { historyOpenApiPaths } from "./api/history-openapi.js";
import { mcpOpenApiPaths } from "./api/mcp.js";
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
import {
  McpToolSchema,
  ResponseCreateRequestSchema,
  ResponseDeletedSchema,
  ResponseObjectSchema,
} from "./openai/responses-schemas.js";
import {
  AnthropicErrorSchema,
  CountTokensRequestSchema,
  CountTokensResponseSchema,
  MessageSchema,
  MessagesRequestSchema,
} from "./anthropic/schemas.js";

/** The envelope MCP's Streamable HTTP transport carries; the MCP SDK validates what is inside. */
const JsonRpcMessageSchema = z
  .object({
    jsonrpc: z.literal("2.0"),
    id: z.union([z.string(), z.number()]).optional(),
    method: z.string().optional(),
    params: z.record(z.string(), z.unknown()).optional(),
    result: z.unknown().optional(),
    error: z.object({ code: z.number(), message: z.string() }).optional(),
  })
  .meta({ id: "JsonRpcMessage" });

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
    info: {
      title: "Hearth API",
      version,
      description:
        "OpenAI-compatible local inference (/v1), Hearth management (/api) and the chat history as an MCP server (/mcp).",
    },
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
      // An entry of a Responses request's `tools` (which are checked one by one, so not in its schema).
      schemas: { McpTool: McpToolSchema },
    },
    security: [{ bearer: [] }],
    paths: {
      ...historyOpenApiPaths(),
      ...mcpOpenApiPaths(),
      "/v1/models": {
        get: {
          summary: "List models",
          responses: { "200": { description: "Models", content: { "application/json": { schema: ModelListSchema } } } },
        },
      },
      "/v1/chat/completions": {
        post: {
          summary: "Create a chat completion (stream with `stream: true`)",
          requestBody: { content: { "application/json": { schema: ChatCompletionRequestSchema } } },
          responses: {
            "200": {
              description: "A completion, or an SSE stream of chunks ending with `data: [DONE]`",
              content: {
                "application/json": { schema: ChatCompletionSchema },
                "text/event-stream": { schema: ChatCompletionChunkSchema },
              },
            },
            ...errors,
          },
        },
      },
      "/v1/completions": {
        post: {
          summary: "Create a text completion",
          requestBody: { content: { "application/json": { schema: CompletionRequestSchema } } },
          responses: {
            "200": {
              description: "A completion or an SSE stream",
              content: { "application/json": { schema: CompletionSchema } },
            },
            ...errors,
          },
        },
      },
      "/v1/embeddings": {
        post: {
          summary: "Create embeddings (unit length; float or base64)",
          requestBody: { content: { "application/json": { schema: EmbeddingRequestSchema } } },
          responses: {
            "200": { description: "Embeddings", content: { "application/json": { schema: EmbeddingResponseSchema } } },
            ...errors,
          },
        },
      },
      "/v1/responses": {
        post: {
          summary:
            "Create a response (OpenAI Responses API; stream with `stream: true`; stored unless `store: false`; `mcp` tools (McpTool) run by Hearth on the MCP servers configured in it)",
          requestBody: { content: { "application/json": { schema: ResponseCreateRequestSchema } } },
          responses: {
            "200": {
              description:
                "A response, or an SSE stream of named events from `response.created` to `response.completed`",
              content: { "application/json": { schema: ResponseObjectSchema } },
            },
            ...errors,
            "424": {
              description: "An `mcp` tool's server could not list its tools",
              content: { "application/json": { schema: ErrorSchema } },
            },
          },
        },
      },
      "/v1/responses/{id}": {
        get: {
          summary: "A stored response",
          requestParams: { path: z.object({ id: z.string() }) },
          responses: {
            "200": { description: "The response", content: { "application/json": { schema: ResponseObjectSchema } } },
            ...errors,
          },
        },
        delete: {
          summary: "Delete a stored response (and the responses that continued it)",
          requestParams: { path: z.object({ id: z.string() }) },
          responses: {
            "200": { description: "Deleted", content: { "application/json": { schema: ResponseDeletedSchema } } },
            ...errors,
          },
        },
      },
      "/v1/messages": {
        post: {
          summary: "Create a message (Anthropic Messages API; `x-api-key` works for auth; errors in Anthropic's shape)",
          requestBody: { content: { "application/json": { schema: MessagesRequestSchema } } },
          responses: {
            "200": {
              description: "A message, or an SSE stream from `message_start` to `message_stop`",
              content: { "application/json": { schema: MessageSchema } },
            },
            "400": {
              description: "Invalid request",
              content: { "application/json": { schema: AnthropicErrorSchema } },
            },
            "401": {
              description: "Missing or wrong API key",
              content: { "application/json": { schema: AnthropicErrorSchema } },
            },
            "404": { description: "Unknown model", content: { "application/json": { schema: AnthropicErrorSchema } } },
          },
        },
      },
      "/mcp": {
        post: {
          summary:
            "Hearth's chat history as an MCP server (Streamable HTTP, stateless, read-only): one JSON-RPC message per request, answered as JSON. " +
            "Tools: search_history, list_recent_conversations, get_conversation, get_message (README.md). GET and DELETE answer 405.",
          requestBody: { content: { "application/json": { schema: JsonRpcMessageSchema } } },
          responses: {
            "200": {
              description: "The JSON-RPC answer",
              content: { "application/json": { schema: JsonRpcMessageSchema } },
            },
            "202": { description: "A notification or a response was accepted (no body)" },
            "401": errors["401"],
            "403": { description: "Foreign Host or Origin", content: { "application/json": { schema: ErrorSchema } } },
          },
        },
      },
      "/v1/messages/count_tokens": {
        post: {
          summary:
            "Count the tokens a Messages request's prompt takes (local models: their own tokenizer and chat template)",
          requestBody: { content: { "application/json": { schema: CountTokensRequestSchema } } },
          responses: {
            "200": { description: "The count", content: { "application/json": { schema: CountTokensResponseSchema } } },
            "400": {
              description: "Invalid request, or a remote model (no tokenizer to count with)",
              content: { "application/json": { schema: AnthropicErrorSchema } },
            },
            "404": { description: "Unknown model", content: { "application/json": { schema: AnthropicErrorSchema } } },
          },
        },
      },
    },
  });
}
