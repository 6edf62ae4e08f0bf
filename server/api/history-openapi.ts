/** OpenAPI description of the history routes, from the zod schemas that validate them. */
import { z } from "zod";
import { ConversationDetailSchema, ConversationSchema, ExportFileSchema, SearchPageSchema } from "../history/types.js";
import {
  atQuery,
  ConversationPageSchema,
  CreateConversationBody,
  EditMessageBody,
  idParam,
  ListConversationsQuery,
  messageParam,
  RegenerateBody,
  SendMessageBody,
  ToolCallDecisionBody,
  UpdateConversationBody,
} from "./conversations.js";
import { SearchQuerySchema } from "./search.js";

const json = (schema: z.ZodType, description: string) => ({ description, content: { "application/json": { schema } } });
const sse = {
  description:
    "SSE stream of chat.completion.chunk events ending with `data: [DONE]` (or a chat.completion with stream: false)",
};

/**
 * OpenAPI paths of the history routes (conversations, search, export/import), from the same zod
 * schemas that validate them; spread into the document in server/openapi.ts.
 */
export function historyOpenApiPaths() {
  const conversationPath = { path: idParam };
  const messagePath = { path: messageParam };
  return {
    "/api/conversations": {
      get: {
        summary: "List conversations (pinned first, newest first)",
        requestParams: { query: ListConversationsQuery },
        responses: { "200": json(ConversationPageSchema, "A page") },
      },
      post: {
        summary: "Create a conversation",
        requestBody: { content: { "application/json": { schema: CreateConversationBody } } },
        responses: { "201": json(ConversationSchema, "Created") },
      },
      delete: {
        summary: "Delete every conversation (needs ?confirm=true)",
        responses: { "200": json(z.object({ deleted: z.number().int() }), "Deleted") },
      },
    },
    "/api/conversations/{id}": {
      get: {
        summary: "A conversation with its shown branch",
        requestParams: { ...conversationPath, query: atQuery },
        responses: { "200": json(ConversationDetailSchema, "The conversation") },
      },
      patch: {
        summary: "Rename, pin, change settings",
        requestParams: conversationPath,
        requestBody: { content: { "application/json": { schema: UpdateConversationBody } } },
        responses: { "200": json(ConversationSchema, "Updated") },
      },
      delete: {
        summary: "Delete a conversation",
        requestParams: conversationPath,
        responses: { "204": { description: "Deleted" } },
      },
    },
    "/api/conversations/{id}/messages": {
      post: {
        summary: "Send a user message and stream the reply",
        requestParams: conversationPath,
        requestBody: { content: { "application/json": { schema: SendMessageBody } } },
        responses: { "200": sse },
      },
    },
    "/api/conversations/{id}/messages/{messageId}/edit": {
      post: {
        summary: "Edit a user message (a new branch) and stream the reply",
        requestParams: messagePath,
        requestBody: { content: { "application/json": { schema: EditMessageBody } } },
        responses: { "200": sse },
      },
    },
    "/api/conversations/{id}/messages/{messageId}/regenerate": {
      post: {
        summary: "Regenerate a reply (a new branch)",
        requestParams: messagePath,
        requestBody: { content: { "application/json": { schema: RegenerateBody } } },
        responses: { "200": sse },
      },
    },
    "/api/conversations/{id}/messages/{messageId}/activate": {
      post: {
        summary: "Show the branch through a message",
        requestParams: messagePath,
        responses: { "200": json(ConversationDetailSchema, "The conversation") },
      },
    },
    "/api/conversations/{id}/tool-calls": {
      post: {
        summary:
          "Decide on a tool call that waits for approval (a `hearth.tool_call` event with state `pending`): once, always (this tool in this chat) or deny",
        requestParams: conversationPath,
        requestBody: { content: { "application/json": { schema: ToolCallDecisionBody } } },
        responses: {
          "200": json(z.object({ decided: z.literal(true) }), "Decided"),
          "404": { description: "No such call waits (`tool_call_not_pending`)" },
        },
      },
    },
    "/api/search": {
      get: {
        summary: "Search messages and titles",
        description:
          "Only the first 65,536 characters of each message are searched; snippets are about 180 characters around the best match.",
        requestParams: { query: SearchQuerySchema },
        responses: { "200": json(SearchPageSchema, "Ranked hits") },
      },
    },
    "/api/export": {
      get: { summary: "Export history (JSON or Markdown)", responses: { "200": json(ExportFileSchema, "A download") } },
    },
    "/api/conversations/{id}/export": {
      get: {
        summary: "Export one conversation",
        requestParams: conversationPath,
        responses: { "200": json(ExportFileSchema, "A download") },
      },
    },
    "/api/import": {
      post: {
        summary: "Import a JSON export",
        requestBody: { content: { "application/json": { schema: ExportFileSchema } } },
        responses: {
          "200": json(z.object({ imported: z.array(z.string()), skipped: z.array(z.string()) }), "Imported"),
        },
      },
    },
  };
}
