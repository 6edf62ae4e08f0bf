/**
 * HistoryStore: the one connection that reads and writes conversations and messages. Writes go
 * through prepared statements in short transactions; better-sqlite3 is synchronous, so one store
 * per process is the single writer docs/ARCHITECTURE.md asks for.
 */
import { randomBytes } from "node:crypto";
import { z } from "zod";
import { BadRequestError, NotFoundError } from "../errors.js";
import { closeHistoryDatabase, openHistoryDatabase, type Db, type OpenHistoryDatabaseOptions } from "./db.js";
import { filterConditions } from "./filters.js";
import { INDEXED_CHARS } from "./migrations/004-bounded-search.js";
import { exportMarkdown } from "./markdown.js";
import { HistorySearch, type SearchPage, type SearchQuery } from "./search.js";
import {
  EXPORT_FORMAT,
  ConversationToolSchema,
  ExportFileSchema,
  GenerationParamsSchema,
  ToolRunSchema,
  type Conversation,
  type ConversationDetail,
  type ConversationTool,
  type ExportConversation,
  type ExportFile,
  type GenerationParams,
  type HistoryFilters,
  type Message,
  type MessageStatus,
  type Role,
  type Source,
  type StoredToolCall,
  type ThreadMessage,
  type ToolRun,
} from "./types.js";

export interface NewConversation {
  /** Defaults to a new random `conv_...` id. */
  id?: string;
  /** Defaults to empty; the first user message then names the conversation. */
  title?: string;
  source: Source;
  model?: string | null;
  provider?: string | null;
  systemPrompt?: string | null;
  params?: GenerationParams;
  tools?: ConversationTool[];
  pinned?: boolean;
  /** Defaults to now. */
  createdAt?: number;
}

export interface ConversationPatch {
  title?: string;
  pinned?: boolean;
  model?: string | null;
  provider?: string | null;
  systemPrompt?: string | null;
  params?: GenerationParams;
  tools?: ConversationTool[];
}

export interface NewMessage {
  /**
   * The message this one answers or follows. Undefined appends to the end of the shown branch;
   * null starts a new root (editing the first message). A parent that already has children gets
   * a new branch, which becomes the shown one.
   */
  parentId?: number | null;
  role: Role;
  content: string;
  /** A thinking model's thoughts, apart from `content`. */
  reasoning?: string | null;
  reasoningMs?: number | null;
  toolCalls?: StoredToolCall[] | null;
  toolCallId?: string | null;
  toolRun?: ToolRun | null;
  model?: string | null;
  promptTokens?: number | null;
  completionTokens?: number | null;
  finishReason?: string | null;
  /** Defaults to complete. A reply being streamed is `partial` until it completes. */
  status?: MessageStatus;
  error?: string | null;
  tokensPerSecond?: number | null;
  ttftMs?: number | null;
  pathHash?: string | null;
  /** Defaults to now. */
  createdAt?: number;
}

export type MessagePatch = Partial<
  Pick<
    Message,
    | "content"
    | "reasoning"
    | "reasoningMs"
    | "toolCalls"
    | "model"
    | "promptTokens"
    | "completionTokens"
    | "finishReason"
    | "status"
    | "error"
    | "tokensPerSecond"
    | "ttftMs"
  >
> & { pathHash?: string | null };

export interface ListConversationsQuery extends HistoryFilters {
  /** Page size, 1..200. Defaults to 50. */
  limit?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
}

export interface ConversationPage {
  /** Pinned first, then most recently updated first. */
  items: Conversation[];
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

export type ImportConflict = "skip" | "replace" | "copy";

export interface ImportResult {
  /** Ids of the conversations written (new ids for copies). */
  imported: string[];
  /** Ids already present and left alone (`onConflict: "skip"`). */
  skipped: string[];
}

export interface HistoryStoreOptions {
  /** Clock, for tests. Defaults to Date.now. */
  now?: () => number;
}

interface ConversationRow {
  rid: number;
  id: string;
  title: string;
  source: Source;
  model: string | null;
  provider: string | null;
  system_prompt: string | null;
  params: string;
  tools: string;
  pinned: 0 | 1;
  created_at: number;
  updated_at: number;
  message_count?: number;
}

interface MessageRow {
  id: number;
  conversation_rid: number;
  parent_id: number | null;
  active: 0 | 1;
  role: Role;
  content: string;
  reasoning: string | null;
  reasoning_ms: number | null;
  tool_calls: string | null;
  tool_call_id: string | null;
  tool_run: string | null;
  model: string | null;
  prompt_tokens: number | null;
  completion_tokens: number | null;
  finish_reason: string | null;
  status: MessageStatus;
  error: string | null;
  tokens_per_second: number | null;
  ttft_ms: number | null;
  path_hash: string | null;
  created_at: number;
  updated_at: number;
}

type MessagePlace = Pick<MessageRow, "id" | "conversation_rid" | "parent_id" | "active">;

/** A new public conversation id. Random, so an export imported elsewhere does not collide. */
export function newConversationId(): string {
  return `conv_${randomBytes(12).toString("base64url")}`;
}

/** A title from the first line of a user message. */
export function titleFrom(content: string, max = 80): string {
  // Only the start is read: splitting a 19 MB message into its lines, or into characters when it
  // is one line, held the event loop for 0.1 s and more (BENCHMARKS.md, "Large messages").
  const head = content.trimStart().slice(0, max * 4);
  const end = head.search(/\r?\n/u);
  const line = (end < 0 ? head : head.slice(0, end)).trim();
  const chars = [...line];
  return chars.length <= max
    ? line
    : `${chars
        .slice(0, max - 1)
        .join("")
        .trimEnd()}…`;
}

function parseTools(json: string): ConversationTool[] {
  const parsed = z.array(ConversationToolSchema).safeParse(JSON.parse(json));
  return parsed.success ? parsed.data : [];
}

function parseToolRun(json: string | null): ToolRun | null {
  if (json === null) return null;
  const parsed = ToolRunSchema.safeParse(JSON.parse(json));
  return parsed.success ? parsed.data : null;
}

function parseParams(json: string): GenerationParams {
  const parsed = GenerationParamsSchema.safeParse(JSON.parse(json));
  return parsed.success ? parsed.data : {};
}

function toConversation(row: ConversationRow): Conversation {
  return {
    id: row.id,
    title: row.title,
    source: row.source,
    model: row.model,
    provider: row.provider,
    systemPrompt: row.system_prompt,
    params: parseParams(row.params),
    tools: parseTools(row.tools),
    pinned: row.pinned === 1,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    messageCount: row.message_count ?? 0,
  };
}

function toMessage(row: MessageRow, conversationId: string): Message {
  return {
    id: row.id,
    conversationId,
    parentId: row.parent_id,
    active: row.active === 1,
    role: row.role,
    content: row.content,
    reasoning: row.reasoning,
    reasoningMs: row.reasoning_ms,
    toolCalls: row.tool_calls === null ? null : (JSON.parse(row.tool_calls) as StoredToolCall[]),
    toolCallId: row.tool_call_id,
    toolRun: parseToolRun(row.tool_run),
    model: row.model,
    promptTokens: row.prompt_tokens,
    completionTokens: row.completion_tokens,
    finishReason: row.finish_reason,
    status: row.status,
    error: row.error,
    tokensPerSecond: row.tokens_per_second,
    ttftMs: row.ttft_ms,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function encodeCursor(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

/** Decodes a cursor made by `encodeCursor`, or throws a 400 naming `cursor`. */
export function decodeCursor<T>(cursor: string, valid: (v: unknown) => v is T): T {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    value = undefined;
  }
  if (!valid(value))
    throw new BadRequestError("Invalid cursor: pass the nextCursor of a previous page.", { param: "cursor" });
  return value;
}

/**
 * Indexed characters an import writes per transaction (about 40 ms of indexing here); between
 * transactions the server answers other requests.
 */
const IMPORT_CHUNK_CHARS = 128 * 1024;

/** Checks a whole export file (schema, message ids, parents before children): 400 naming what is wrong. */
function parseExportFile(file: unknown): ExportConversation[] {
  const parsed = ExportFileSchema.safeParse(file);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new BadRequestError(
      `Not a Hearth history export: ${issue?.message ?? "invalid"} at ${issue?.path.join(".") ?? "?"}.`,
      { param: issue ? issue.path.join(".") : null, code: "invalid_value" },
    );
  }
  parsed.data.conversations.forEach((conv, c) => {
    const seen = new Set<number>();
    conv.messages.forEach((m, i) => {
      const param = `conversations.${c}.messages.${i}`;
      if (seen.has(m.id))
        throw new BadRequestError(`Conversation '${conv.id}' has message id ${m.id} twice.`, {
          param: `${param}.id`,
          code: "invalid_value",
        });
      if (m.parentId !== null && !seen.has(m.parentId))
        throw new BadRequestError(
          `Message ${m.id} of conversation '${conv.id}' comes before its parent ${m.parentId}.`,
          { param: `${param}.parentId`, code: "invalid_value" },
        );
      seen.add(m.id);
    });
  });
  return parsed.data.conversations;
}

const isListCursor = (v: unknown): v is [number, number, number] =>
  Array.isArray(v) && v.length === 3 && v.every((x) => Number.isSafeInteger(x));

const MESSAGE_COLUMNS = `id, conversation_rid, parent_id, active, role, content, reasoning, reasoning_ms, tool_calls, tool_call_id, tool_run, model,
  prompt_tokens, completion_tokens, finish_reason, status, error, tokens_per_second, ttft_ms, path_hash, created_at, updated_at`;

/** What one step of `deleteConversationInSteps` deletes at most (one message, whatever its size, at least). */
const DELETE_STEP = { messages: 16, bytes: 4 * 1024 * 1024 };

export class HistoryStore {
  readonly search: HistorySearch;
  private readonly now: () => number;
  private readonly stmt;

  constructor(
    readonly db: Db,
    options: HistoryStoreOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.search = new HistorySearch(db);
    this.stmt = {
      insertConversation: db.prepare<[Record<string, unknown>]>(
        `INSERT INTO conversations (id, title, source, model, provider, system_prompt, params, tools, pinned, created_at, updated_at)
         VALUES (@id, @title, @source, @model, @provider, @system_prompt, @params, @tools, @pinned, @created_at, @updated_at)
         RETURNING rid`,
      ),
      conversationById: db.prepare<[string], ConversationRow>(
        `SELECT c.*, (SELECT count(*) FROM messages m WHERE m.conversation_rid = c.rid) AS message_count
         FROM conversations c WHERE c.id = ?`,
      ),
      conversationIdByRid: db.prepare<[number], string>("SELECT id FROM conversations WHERE rid = ?").pluck(),
      touchConversation: db.prepare<[number, number]>(
        "UPDATE conversations SET updated_at = max(updated_at, ?) WHERE rid = ?",
      ),
      setTitleIfEmpty: db.prepare<[string, number]>("UPDATE conversations SET title = ? WHERE rid = ? AND title = ''"),
      deleteConversation: db.prepare<[string]>("DELETE FROM conversations WHERE id = ?"),
      renameConversation: db.prepare<[string, string]>("UPDATE conversations SET id = ? WHERE id = ?"),
      messagesOf: db.prepare<[number], MessageRow>(
        `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE conversation_rid = ? ORDER BY id`,
      ),
      messageById: db.prepare<[number], MessageRow>(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE id = ?`),
      // Where a message sits, without its text: reading a 19 MB message to check a reply's parent
      // took 40 ms and more on the server's thread (BENCHMARKS.md, "Large messages").
      placeById: db.prepare<[number], MessagePlace>(
        "SELECT id, conversation_rid, parent_id, active FROM messages WHERE id = ?",
      ),
      activeChild: db
        .prepare<[number, number], number>(
          "SELECT id FROM messages WHERE conversation_rid = ? AND ifnull(parent_id, 0) = ? AND active = 1",
        )
        .pluck(),
      deactivateSiblings: db.prepare<[number, number]>(
        "UPDATE messages SET active = 0 WHERE conversation_rid = ? AND ifnull(parent_id, 0) = ? AND active = 1",
      ),
      activate: db.prepare<[number]>("UPDATE messages SET active = 1 WHERE id = ?"),
      insertMessage: db.prepare<[Record<string, unknown>]>(
        `INSERT INTO messages (conversation_rid, parent_id, active, role, content, reasoning, reasoning_ms, tool_calls, tool_call_id, tool_run, model,
           prompt_tokens, completion_tokens, finish_reason, status, error, tokens_per_second, ttft_ms, path_hash, created_at, updated_at)
         VALUES (@conversation_rid, @parent_id, @active, @role, @content, @reasoning, @reasoning_ms, @tool_calls, @tool_call_id, @tool_run, @model,
           @prompt_tokens, @completion_tokens, @finish_reason, @status, @error, @tokens_per_second, @ttft_ms, @path_hash, @created_at, @updated_at)
         RETURNING id`,
      ),
      messageByPathHash: db.prepare<[string], { id: number; conversation_id: string }>(
        `SELECT m.id, c.id AS conversation_id FROM messages m JOIN conversations c ON c.rid = m.conversation_rid
           WHERE m.path_hash = ? AND c.source = 'api' ORDER BY m.id DESC LIMIT 1`,
      ),
      pruneApi: db.prepare<[number]>(
        "DELETE FROM conversations WHERE source = 'api' AND pinned = 0 AND updated_at < ?",
      ),
      allConversationIds: db.prepare<[], string>("SELECT id FROM conversations ORDER BY created_at, rid").pluck(),
      putStoredResponse: db.prepare<[number, string]>(
        "INSERT INTO stored_responses (message_id, response) VALUES (?, ?) ON CONFLICT (message_id) DO UPDATE SET response = excluded.response",
      ),
      storedResponse: db
        .prepare<[number], string>("SELECT response FROM stored_responses WHERE message_id = ?")
        .pluck(),
    };
  }

  /** Opens (creating and migrating as needed) the database at `file`. */
  static open(file: string, options: HistoryStoreOptions & OpenHistoryDatabaseOptions = {}): HistoryStore {
    return new HistoryStore(openHistoryDatabase(file, options), options);
  }

  close(): void {
    closeHistoryDatabase(this.db);
  }

  // ---- conversations ----

  createConversation(input: NewConversation): Conversation {
    const now = input.createdAt ?? this.now();
    const id = input.id ?? newConversationId();
    this.stmt.insertConversation.run({
      id,
      title: input.title ?? "",
      source: input.source,
      model: input.model ?? null,
      provider: input.provider ?? null,
      system_prompt: input.systemPrompt ?? null,
      params: JSON.stringify(GenerationParamsSchema.parse(input.params ?? {})),
      tools: JSON.stringify(z.array(ConversationToolSchema).parse(input.tools ?? [])),
      pinned: input.pinned ? 1 : 0,
      created_at: now,
      updated_at: now,
    });
    return this.requireConversation(id);
  }

  getConversationInfo(id: string): Conversation | undefined {
    const row = this.stmt.conversationById.get(id);
    return row ? toConversation(row) : undefined;
  }

  requireConversation(id: string): Conversation {
    const c = this.getConversationInfo(id);
    if (!c)
      throw new NotFoundError(`No conversation with id '${id}'.`, { param: "id", code: "conversation_not_found" });
    return c;
  }

  /**
   * The conversation with the shown branch of messages, root first. With `at`, the branch through
   * that message instead (its ancestors, then the shown children below it), e.g. for a search hit
   * in a branch that is not shown; that does not change which branch is shown.
   */
  getConversation(id: string, options: { at?: number } = {}): ConversationDetail | undefined {
    const row = this.stmt.conversationById.get(id);
    if (!row) return undefined;
    const rows = this.stmt.messagesOf.all(row.rid);
    return { ...toConversation(row), messages: threadOf(rows, row.id, options.at) };
  }

  listConversations(query: ListConversationsQuery = {}): ConversationPage {
    const limit = Math.min(Math.max(query.limit ?? 50, 1), 200);
    const params: Record<string, unknown> = { limit: limit + 1 };
    const where = filterConditions(query, params, { dateColumn: "c.updated_at" });
    if (query.cursor !== undefined) {
      const [pinned, updatedAt, rid] = decodeCursor(query.cursor, isListCursor);
      where.push("(c.pinned, c.updated_at, c.rid) < (@cPinned, @cUpdated, @cRid)");
      Object.assign(params, { cPinned: pinned, cUpdated: updatedAt, cRid: rid });
    }
    const rows = this.db
      .prepare<[Record<string, unknown>], ConversationRow>(
        `SELECT c.*, (SELECT count(*) FROM messages m WHERE m.conversation_rid = c.rid) AS message_count
         FROM conversations c ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""}
         ORDER BY c.pinned DESC, c.updated_at DESC, c.rid DESC LIMIT @limit`,
      )
      .all(params);
    const more = rows.length > limit;
    const page = more ? rows.slice(0, limit) : rows;
    const last = page.at(-1);
    return {
      items: page.map(toConversation),
      nextCursor: more && last ? encodeCursor([last.pinned, last.updated_at, last.rid]) : null,
    };
  }

  /** Renames, pins or changes the settings of a conversation. Pinning does not change `updatedAt`. */
  updateConversation(id: string, patch: ConversationPatch): Conversation {
    const sets: string[] = [];
    const params: Record<string, unknown> = { id };
    const put = (column: string, value: unknown) => {
      sets.push(`${column} = @${column}`);
      params[column] = value;
    };
    if (patch.title !== undefined) put("title", patch.title);
    if (patch.pinned !== undefined) put("pinned", patch.pinned ? 1 : 0);
    if (patch.model !== undefined) put("model", patch.model);
    if (patch.provider !== undefined) put("provider", patch.provider);
    if (patch.systemPrompt !== undefined) put("system_prompt", patch.systemPrompt);
    if (patch.params !== undefined) put("params", JSON.stringify(GenerationParamsSchema.parse(patch.params)));
    if (patch.tools !== undefined) put("tools", JSON.stringify(z.array(ConversationToolSchema).parse(patch.tools)));
    if (sets.length > 0) {
      const info = this.db.prepare(`UPDATE conversations SET ${sets.join(", ")} WHERE id = @id`).run(params);
      if (info.changes === 0) this.requireConversation(id);
    }
    return this.requireConversation(id);
  }

  /** Deletes a conversation, its messages and their search entries. Returns false when there was none. */
  deleteConversation(id: string): boolean {
    return this.stmt.deleteConversation.run(id).changes > 0;
  }

  /**
   * `deleteConversation` in steps, with a turn of the event loop between them: each message's
   * search entries go with it (~1.2 ms per 60 KB message), so a conversation of a few hundred long
   * messages held the loop, and every request, for a quarter of a second in one statement
   * (BENCHMARKS.md, "Large messages"). A step deletes up to `DELETE_STEP.messages` messages or
   * `DELETE_STEP.bytes` of text, newest first, in its own transaction: a conversation cut off half
   * way (a crash) is still whole, each remaining message's parent still there, and the next delete
   * finishes it. Returns false when there was no such conversation.
   */
  async deleteConversationInSteps(id: string): Promise<boolean> {
    const rid = this.db.prepare<[string], number>("SELECT rid FROM conversations WHERE id = ?").pluck().get(id);
    if (rid === undefined) return false;
    const newest = this.db.prepare<[number, number], { id: number; bytes: number }>(
      `SELECT id, octet_length(content) + ifnull(octet_length(reasoning), 0) + ifnull(octet_length(tool_calls), 0) AS bytes
         FROM messages WHERE conversation_rid = ? ORDER BY id DESC LIMIT ?`,
    );
    const remove = this.db.prepare<[number]>("DELETE FROM messages WHERE id = ?");
    const step = this.db.transaction((ids: number[]) => {
      for (const m of ids) remove.run(m);
    });
    for (;;) {
      const rows = newest.all(rid, DELETE_STEP.messages);
      if (rows.length === 0) break;
      const ids: number[] = [];
      let bytes = 0;
      for (const row of rows) {
        if (ids.length > 0 && bytes + row.bytes > DELETE_STEP.bytes) break;
        ids.push(row.id);
        bytes += row.bytes;
      }
      step(ids);
      await new Promise((resolve) => setImmediate(resolve));
    }
    return this.deleteConversation(id);
  }

  /**
   * Deletes every conversation. Per-row FTS triggers would take minutes on a million messages, so
   * the delete triggers are dropped for the statement and the indexes emptied in one go, all in
   * one transaction (a crash leaves everything as it was).
   */
  deleteAll(): number {
    return this.db.transaction(() => {
      const triggers = this.db
        .prepare<[], { name: string; sql: string }>(
          "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name IN ('messages_fts_delete', 'reasoning_fts_delete', 'conversations_fts_delete')",
        )
        .all();
      for (const t of triggers) this.db.exec(`DROP TRIGGER ${t.name}`);
      this.db.exec("DELETE FROM messages");
      const count = this.db.prepare("DELETE FROM conversations").run().changes;
      this.db.exec(`
        INSERT INTO messages_fts (messages_fts) VALUES ('delete-all');
        INSERT INTO messages_trigram (messages_trigram) VALUES ('delete-all');
        INSERT INTO reasoning_fts (reasoning_fts) VALUES ('delete-all');
        INSERT INTO reasoning_trigram (reasoning_trigram) VALUES ('delete-all');
        INSERT INTO conversations_fts (conversations_fts) VALUES ('delete-all');`);
      for (const t of triggers) this.db.exec(t.sql);
      return count;
    })();
  }

  /** Deletes `api` conversations not updated for `days` days (pinned ones stay). Returns how many went. */
  pruneApiConversations(days: number): number {
    if (days <= 0) return 0;
    return this.stmt.pruneApi.run(this.now() - days * 86_400_000).changes;
  }

  // ---- messages ----

  getMessage(id: number): Message | undefined {
    const row = this.stmt.messageById.get(id);
    if (!row) return undefined;
    return toMessage(row, this.stmt.conversationIdByRid.get(row.conversation_rid) ?? "");
  }

  requireMessage(id: number, conversationId?: string): Message {
    const m = this.getMessage(id);
    if (!m || (conversationId !== undefined && m.conversationId !== conversationId)) {
      throw new NotFoundError(
        `No message with id ${id}${conversationId ? ` in conversation '${conversationId}'` : ""}.`,
        {
          param: "messageId",
          code: "message_not_found",
        },
      );
    }
    return m;
  }

  /** The id of the last message on the shown branch, or null for an empty conversation. */
  leafId(conversationId: string): number | null {
    const rid = this.ridOf(conversationId);
    return this.leafOf(rid);
  }

  /** The messages from the root down to `messageId`, inclusive. */
  pathTo(messageId: number): Message[] {
    const path: Message[] = [];
    let current = this.getMessage(messageId);
    while (current) {
      path.push(current);
      current = current.parentId === null ? undefined : this.getMessage(current.parentId);
    }
    return path.reverse();
  }

  /** Adds a message (see NewMessage.parentId for where it goes); it becomes the shown branch. */
  appendMessage(conversationId: string, input: NewMessage): Message {
    return this.db.transaction(() => {
      const rid = this.ridOf(conversationId);
      const now = input.createdAt ?? this.now();
      const parentId = input.parentId === undefined ? this.leafOf(rid) : input.parentId;
      if (parentId !== null) {
        const parent = this.stmt.placeById.get(parentId);
        if (!parent || parent.conversation_rid !== rid) {
          throw new BadRequestError(`Message ${parentId} is not in conversation '${conversationId}'.`, {
            param: "parentId",
          });
        }
      }
      this.stmt.deactivateSiblings.run(rid, parentId ?? 0);
      const row: Omit<MessageRow, "id"> = {
        conversation_rid: rid,
        parent_id: parentId,
        active: 1,
        role: input.role,
        content: input.content,
        reasoning: input.reasoning ?? null,
        reasoning_ms: input.reasoningMs ?? null,
        tool_calls: input.toolCalls ? JSON.stringify(input.toolCalls) : null,
        tool_call_id: input.toolCallId ?? null,
        tool_run: input.toolRun ? JSON.stringify(input.toolRun) : null,
        model: input.model ?? null,
        prompt_tokens: input.promptTokens ?? null,
        completion_tokens: input.completionTokens ?? null,
        finish_reason: input.finishReason ?? null,
        status: input.status ?? "complete",
        error: input.error ?? null,
        tokens_per_second: input.tokensPerSecond ?? null,
        ttft_ms: input.ttftMs ?? null,
        path_hash: input.pathHash ?? null,
        created_at: now,
        updated_at: now,
      };
      const { id } = this.stmt.insertMessage.get(row) as { id: number };
      this.stmt.touchConversation.run(now, rid);
      if (input.role === "user") this.stmt.setTitleIfEmpty.run(titleFrom(input.content), rid);
      return toMessage({ ...row, id }, conversationId);
    })();
  }

  /**
   * Deletes a message and every reply under it (its subtree, with their search entries). When it
   * was on the shown branch, the newest remaining sibling is shown instead. False when there was none.
   */
  deleteMessage(id: number): boolean {
    return this.db.transaction(() => {
      const row = this.stmt.placeById.get(id);
      if (!row) return false;
      this.db.prepare<[number]>("DELETE FROM messages WHERE id = ?").run(id);
      if (row.active === 1) {
        this.db
          .prepare<[number, number]>(
            "UPDATE messages SET active = 1 WHERE id = (SELECT id FROM messages WHERE conversation_rid = ? AND ifnull(parent_id, 0) = ? ORDER BY id DESC LIMIT 1)",
          )
          .run(row.conversation_rid, row.parent_id ?? 0);
      }
      this.stmt.touchConversation.run(this.now(), row.conversation_rid);
      return true;
    })();
  }

  /** Updates a message in place (a streamed reply as it grows, then complete). */
  updateMessage(id: number, patch: MessagePatch): Message {
    const columns: Record<string, unknown> = {};
    if (patch.content !== undefined) columns.content = patch.content;
    if (patch.reasoning !== undefined) columns.reasoning = patch.reasoning;
    if (patch.reasoningMs !== undefined) columns.reasoning_ms = patch.reasoningMs;
    if (patch.toolCalls !== undefined) columns.tool_calls = patch.toolCalls ? JSON.stringify(patch.toolCalls) : null;
    if (patch.model !== undefined) columns.model = patch.model;
    if (patch.promptTokens !== undefined) columns.prompt_tokens = patch.promptTokens;
    if (patch.completionTokens !== undefined) columns.completion_tokens = patch.completionTokens;
    if (patch.finishReason !== undefined) columns.finish_reason = patch.finishReason;
    if (patch.status !== undefined) columns.status = patch.status;
    if (patch.error !== undefined) columns.error = patch.error;
    if (patch.tokensPerSecond !== undefined) columns.tokens_per_second = patch.tokensPerSecond;
    if (patch.ttftMs !== undefined) columns.ttft_ms = patch.ttftMs;
    if (patch.pathHash !== undefined) columns.path_hash = patch.pathHash;
    const now = this.now();
    columns.updated_at = now;
    const sets = Object.keys(columns).map((c) => `${c} = @${c}`);
    return this.db.transaction(() => {
      const row = this.db
        .prepare<[Record<string, unknown>], { conversation_rid: number }>(
          `UPDATE messages SET ${sets.join(", ")} WHERE id = @id RETURNING conversation_rid`,
        )
        .get({ ...columns, id });
      if (!row) throw new NotFoundError(`No message with id ${id}.`, { param: "messageId", code: "message_not_found" });
      this.stmt.touchConversation.run(now, row.conversation_rid);
      return this.getMessage(id)!;
    })();
  }

  /** Shows the branch through `messageId`: it and each of its ancestors become the active child of their parent. */
  setActiveBranch(messageId: number): void {
    this.db.transaction(() => {
      let row = this.stmt.placeById.get(messageId);
      if (!row)
        throw new NotFoundError(`No message with id ${messageId}.`, { param: "messageId", code: "message_not_found" });
      while (row) {
        if (row.active === 0) {
          this.stmt.deactivateSiblings.run(row.conversation_rid, row.parent_id ?? 0);
          this.stmt.activate.run(row.id);
        }
        row = row.parent_id === null ? undefined : this.stmt.placeById.get(row.parent_id);
      }
    })();
  }

  /**
   * Keeps `json` (a Responses API response object, as openai/responses-store.ts writes it) with the
   * message it was recorded as, replacing what was kept before; it goes when the message goes.
   */
  putStoredResponse(messageId: number, json: string): void {
    this.stmt.putStoredResponse.run(messageId, json);
  }

  /** What `putStoredResponse` kept for `messageId`, if anything. */
  getStoredResponse(messageId: number): string | undefined {
    return this.stmt.storedResponse.get(messageId);
  }

  /** The newest message of an `api` conversation whose path hash is `hash` (see recorder threads). */
  findApiMessageByPathHash(hash: string): { id: number; conversationId: string } | undefined {
    const row = this.stmt.messageByPathHash.get(hash);
    return row ? { id: row.id, conversationId: row.conversation_id } : undefined;
  }

  runSearch(query: SearchQuery): SearchPage {
    return this.search.search(query);
  }

  // ---- export / import ----

  /** Conversations with every message of every branch, oldest conversation first; one at a time, for streaming. */
  *exportConversations(ids?: readonly string[]): Generator<ExportConversation> {
    for (const id of ids ?? this.stmt.allConversationIds.all()) {
      const row = this.stmt.conversationById.get(id);
      if (!row)
        throw new NotFoundError(`No conversation with id '${id}'.`, { param: "id", code: "conversation_not_found" });
      const { messageCount: _count, ...conversation } = toConversation(row);
      const messages = this.stmt.messagesOf.all(row.rid).map((m) => {
        const { conversationId: _c, ...rest } = toMessage(m, row.id);
        return rest;
      });
      yield { ...conversation, messages };
    }
  }

  exportJson(ids?: readonly string[]): ExportFile {
    return {
      format: EXPORT_FORMAT,
      version: 1,
      exportedAt: this.now(),
      conversations: [...this.exportConversations(ids)],
    };
  }

  /** The shown branch of each conversation as Markdown, for reading (import takes JSON only). */
  exportMarkdown(ids?: readonly string[]): string {
    const parts: string[] = [];
    for (const id of ids ?? this.stmt.allConversationIds.all()) {
      const detail = this.getConversation(id);
      if (!detail)
        throw new NotFoundError(`No conversation with id '${id}'.`, { param: "id", code: "conversation_not_found" });
      parts.push(exportMarkdown(detail));
    }
    return parts.join("\n\n---\n\n");
  }

  /**
   * Imports an export file (validated here). Conversations keep their ids, times and branches;
   * message ids are assigned anew. An id that already exists is skipped, replaced, or imported
   * as a copy with a new id.
   *
   * The whole file is checked before anything is written, so a bad one writes nothing. It is then
   * written in short transactions (IMPORT_CHUNK_CHARS of indexed text each), yielding to the event
   * loop between them, so a large import does not stall the server (12 MB took 5.6 s in one
   * transaction). Replacements are written under a new id and swapped in by one last transaction;
   * a failure part-way (a full disk) removes what this import wrote, so the history is as it was.
   * A crash part-way keeps the conversations written so far. Imports run one at a time.
   */
  async importJson(file: unknown, options: { onConflict?: ImportConflict } = {}): Promise<ImportResult> {
    const conversations = parseExportFile(file);
    const run = this.importing.then(() => this.writeImport(conversations, options.onConflict ?? "skip"));
    this.importing = run.catch(() => undefined);
    return run;
  }

  private importing: Promise<unknown> = Promise.resolve();

  private async writeImport(conversations: ExportConversation[], onConflict: ImportConflict): Promise<ImportResult> {
    const result: ImportResult = { imported: [], skipped: [] };
    const written: string[] = [];
    const swaps: { temporary: string; id: string }[] = [];
    try {
      for (const conv of conversations) {
        let id = conv.id;
        const taken = this.stmt.conversationById.get(id) !== undefined || swaps.some((s) => s.id === id);
        if (taken && onConflict === "skip") {
          result.skipped.push(id);
          continue;
        }
        if (taken && onConflict === "copy") id = newConversationId();
        const writeAs = taken && onConflict === "replace" ? newConversationId() : id;
        if (writeAs !== id) swaps.push({ temporary: writeAs, id });
        written.push(writeAs);
        await this.importConversation({ ...conv, id: writeAs });
        result.imported.push(id);
      }
      this.db.transaction(() => {
        for (const { temporary, id } of swaps) {
          this.stmt.deleteConversation.run(id);
          this.stmt.renameConversation.run(id, temporary);
        }
      })();
    } catch (err) {
      try {
        this.db.transaction(() => {
          for (const id of written) this.stmt.deleteConversation.run(id);
        })();
      } catch {
        // The original failure is the one to report; what is left is listed like any conversation.
      }
      throw err;
    }
    return result;
  }

  /** Writes one conversation (checked by parseExportFile), IMPORT_CHUNK_CHARS of indexed text per transaction. */
  private async importConversation(conv: ExportConversation): Promise<void> {
    const newIds = new Map<number, number>();
    const activeSeen = new Set<number>();
    let rid = 0;
    let next = 0;
    do {
      if (next > 0) await new Promise((resolve) => setImmediate(resolve));
      this.db.transaction(() => {
        if (rid === 0) {
          rid = (
            this.stmt.insertConversation.get({
              id: conv.id,
              title: conv.title,
              source: conv.source,
              model: conv.model,
              provider: conv.provider,
              system_prompt: conv.systemPrompt,
              params: JSON.stringify(conv.params),
              tools: JSON.stringify(conv.tools),
              pinned: conv.pinned ? 1 : 0,
              created_at: conv.createdAt,
              updated_at: conv.updatedAt,
            }) as { rid: number }
          ).rid;
        }
        for (let budget = 0; next < conv.messages.length && budget < IMPORT_CHUNK_CHARS; next++) {
          const m = conv.messages[next]!;
          const parent = m.parentId === null ? null : newIds.get(m.parentId)!;
          // A file with two shown branches at one point would break the one-active-child index; keep the first.
          const active = m.active && !activeSeen.has(parent ?? 0);
          if (active) activeSeen.add(parent ?? 0);
          const { id } = this.stmt.insertMessage.get({
            conversation_rid: rid,
            parent_id: parent,
            active: active ? 1 : 0,
            role: m.role,
            content: m.content,
            reasoning: m.reasoning,
            reasoning_ms: m.reasoningMs,
            tool_calls: m.toolCalls ? JSON.stringify(m.toolCalls) : null,
            tool_call_id: m.toolCallId,
            tool_run: m.toolRun ? JSON.stringify(m.toolRun) : null,
            model: m.model,
            prompt_tokens: m.promptTokens,
            completion_tokens: m.completionTokens,
            finish_reason: m.finishReason,
            status: m.status,
            error: m.error,
            tokens_per_second: m.tokensPerSecond,
            ttft_ms: m.ttftMs,
            path_hash: null,
            created_at: m.createdAt,
            updated_at: m.updatedAt,
          }) as { id: number };
          newIds.set(m.id, id);
          budget += Math.min(m.content.length, INDEXED_CHARS) + Math.min(m.reasoning?.length ?? 0, INDEXED_CHARS) + 256;
        }
      })();
    } while (next < conv.messages.length);
  }

  // ---- helpers ----

  private ridOf(conversationId: string): number {
    const row = this.db
      .prepare<[string], { rid: number }>("SELECT rid FROM conversations WHERE id = ?")
      .get(conversationId);
    if (!row) {
      throw new NotFoundError(`No conversation with id '${conversationId}'.`, {
        param: "id",
        code: "conversation_not_found",
      });
    }
    return row.rid;
  }

  private leafOf(rid: number): number | null {
    let leaf: number | null = null;
    for (;;) {
      const next = this.stmt.activeChild.get(rid, leaf ?? 0);
      if (next === undefined) return leaf;
      leaf = next;
    }
  }
}

/** Builds the shown branch from every message of a conversation (ordered by id). */
function threadOf(rows: readonly MessageRow[], conversationId: string, at?: number): ThreadMessage[] {
  const children = new Map<number, MessageRow[]>();
  const byId = new Map<number, MessageRow>();
  for (const r of rows) {
    byId.set(r.id, r);
    const key = r.parent_id ?? 0;
    const list = children.get(key);
    if (list) list.push(r);
    else children.set(key, [r]);
  }
  const pick = (key: number): MessageRow | undefined => {
    const list = children.get(key);
    return list?.find((r) => r.active === 1) ?? list?.at(-1);
  };
  const path: MessageRow[] = [];
  const target = at === undefined ? undefined : byId.get(at);
  if (target) {
    for (let r: MessageRow | undefined = target; r; r = r.parent_id === null ? undefined : byId.get(r.parent_id))
      path.unshift(r);
  } else {
    const root = pick(0);
    if (root) path.push(root);
  }
  for (let last = path.at(-1); last; last = path.at(-1)) {
    const next = pick(last.id);
    if (!next) break;
    path.push(next);
  }
  return path.map((r) => ({
    ...toMessage(r, conversationId),
    siblingIds: (children.get(r.parent_id ?? 0) ?? []).map((s) => s.id),
  }));
}

export type { SearchPage, SearchQuery } from "./search.js";
