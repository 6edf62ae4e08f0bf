/**
 * /openapi.json, generated from the same zod schemas that validate requests (zod-openapi), and
 * rendered for people at /docs (http/api-docs.ts). Every route of the server is here, the Ollama
 * port's included (test/integration/openapi-coverage.test.ts walks the routers to check).
 */
import { z } from "zod";
import { createDocument } from "zod-openapi";
import { accessOpenApiPaths, rateLimitHeaders } from "./api/access-openapi.js";
import { historyOpenApiPaths } from "./api/history-openapi.js";
import { managementOpenApiPaths } from "./api/management-openapi.js";
import { ollamaOpenApiPaths } from "./ollama/openapi.js";
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
  ModelSchema,
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
  "403": {
    description: "Foreign Host or Origin, or a key whose scope does not cover the route",
    content: { "application/json": { schema: ErrorSchema } },
  },
  "429": {
    description: "The key's rate limit, or the queue is full; see Retry-After",
    headers: rateLimitHeaders,
    content: { "application/json": { schema: ErrorSchema } },
  },
  "503": { description: "Not ready or shutting down", content: { "application/json": { schema: ErrorSchema } } },
};

/**
 * The section each path is listed under at /docs (Swagger UI groups operations by their first
 * tag), by the longest prefix that matches; paths that name their own tags (Ollama's) keep them.
 */
const SECTIONS: [prefix: string, tag: string][] = [
  ["/v1/messages", "Anthropic Messages API"],
  ["/v1/responses", "OpenAI Responses API"],
  ["/v1", "OpenAI API"],
  ["/api/conversations", "History"],
  ["/api/search", "History"],
  ["/api/export", "History"],
  ["/api/import", "History"],
  ["/api/models", "Models"],
  ["/api/providers", "Remote providers"],
  ["/api/settings", "Settings"],
  ["/api/keys", "Keys, usage and network"],
  ["/api/usage", "Keys, usage and network"],
  ["/api/network", "Keys, usage and network"],
  ["/mcp", "History as MCP"],
  ["/", "Server"],
];
const METHODS = ["get", "post", "put", "patch", "delete"] as const;

function withSections<D extends { paths?: object }>(doc: D): D {
  for (const [path, item] of Object.entries((doc.paths ?? {}) as Record<string, Record<string, unknown>>)) {
    const tag = SECTIONS.find(
      ([prefix]) => path === prefix || path.startsWith(prefix === "/" ? "/" : `${prefix}/`),
    )?.[1];
    for (const method of METHODS) {
      const op = item[method] as { tags?: string[] } | undefined;
      if (op && !op.tags && tag) op.tags = [tag];
    }
  }
  return doc;
}

export function openApiDocument(version: string): object {
  return withSections(
    createDocument({
      openapi: "3.1.0",
      info: {
        title: "Hearth API",
        version,
        description:
          'OpenAI- and Anthropic-compatible local inference (/v1), Hearth management (/api), the chat history as an MCP server (/mcp), and Ollama\'s API on its own port when it is on (`--ollama-port`; the paths tagged "Ollama API").',
      },
      components: {
        securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
        // An entry of a Responses request's `tools` (which are checked one by one, so not in its schema).
        schemas: { McpTool: McpToolSchema },
      },
      security: [{ bearer: [] }],
      paths: {
        ...historyOpenApiPaths(),
        ...accessOpenApiPaths(),
        ...mcpOpenApiPaths(),
        ...managementOpenApiPaths(),
        ...ollamaOpenApiPaths(),
        "/health": {
          get: {
            summary: "Status, version, engine and loaded models (no key needed)",
            security: [],
            responses: { "200": { description: "The status" } },
          },
        },
        "/health/live": {
          get: {
            summary: "The process answers (no key needed)",
            security: [],
            responses: { "200": { description: "ok" } },
          },
        },
        "/health/ready": {
          get: {
            summary: "Ready to serve: 200 once started, 503 while starting or shutting down (no key needed)",
            security: [],
            responses: { "200": { description: "Ready" }, "503": { description: "Starting or shutting down" } },
          },
        },
        "/metrics": {
          get: {
            summary: "Prometheus metrics",
            responses: {
              "200": { description: "The metrics, in Prometheus' text format", content: { "text/plain": {} } },
            },
          },
        },
        "/openapi.json": {
          get: {
            summary: "This document (no key needed)",
            security: [],
            responses: { "200": { description: "OpenAPI 3.1" } },
          },
        },
        "/docs": {
          get: {
            summary: "This document as a page to read (Swagger UI, served by Hearth; no key needed)",
            security: [],
            responses: { "200": { description: "The page", content: { "text/html": {} } } },
          },
        },
        "/v1/models": {
          get: {
            summary: "List models",
            responses: {
              "200": { description: "Models", content: { "application/json": { schema: ModelListSchema } } },
            },
          },
        },
        "/v1/models/{id}": {
          get: {
            summary: "One model (ids of remote models hold a slash)",
            requestParams: { path: z.object({ id: z.string() }) },
            responses: {
              "200": { description: "The model", content: { "application/json": { schema: ModelSchema } } },
              ...errors,
            },
          },
        },
        "/v1/responses/{id}/input_items": {
          get: {
            summary: "The input items of a stored response (newest first; `order=asc` for oldest first)",
            requestParams: {
              path: z.object({ id: z.string() }),
              query: z.object({ order: z.enum(["asc", "desc"]).optional() }),
            },
            responses: { "200": { description: "A list of items" }, ...errors },
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
              "200": {
                description: "Embeddings",
                content: { "application/json": { schema: EmbeddingResponseSchema } },
              },
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
            summary:
              "Create a message (Anthropic Messages API; `x-api-key` works for auth; errors in Anthropic's shape)",
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
              "404": {
                description: "Unknown model",
                content: { "application/json": { schema: AnthropicErrorSchema } },
              },
              "429": {
                description: "The key's rate limit (`rate_limit_error`), or the queue is full; see Retry-After",
                headers: rateLimitHeaders,
                content: { "application/json": { schema: AnthropicErrorSchema } },
              },
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
              "403": {
                description: "Foreign Host or Origin",
                content: { "application/json": { schema: ErrorSchema } },
              },
            },
          },
        },
        "/v1/messages/count_tokens": {
          post: {
            summary:
              "Count the tokens a Messages request's prompt takes (local models: their own tokenizer and chat template)",
            requestBody: { content: { "application/json": { schema: CountTokensRequestSchema } } },
            responses: {
              "200": {
                description: "The count",
                content: { "application/json": { schema: CountTokensResponseSchema } },
              },
              "400": {
                description: "Invalid request, or a remote model (no tokenizer to count with)",
                content: { "application/json": { schema: AnthropicErrorSchema } },
              },
              "404": {
                description: "Unknown model",
                content: { "application/json": { schema: AnthropicErrorSchema } },
              },
            },
          },
        },
      },
    }),
  );
}
