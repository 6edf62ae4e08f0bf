/**
 * HistoryRecorder: the one writer of conversation turns (docs/ARCHITECTURE.md, "History has one
 * writer"). It wraps a generation's event stream and yields the same events unchanged, writing
 * on the side:
 * - the request's new messages before the first event is read (routes write nothing themselves);
 * - an assistant row at once, status `partial`, so a crash at any later point leaves it there
 *   marked `partial` (WAL: committed rows survive kill -9);
 * - the reply text as soon as its first text arrives, then whenever `flushIntervalMs` passed or
 *   `flushChars` characters (an eighth of the reply, when that is more) arrived since the last
 *   write, never per token. A thinking model's thoughts (`reasoning` events) are written the same
 *   way beside the text, never into it, with the time from the first thought to the last. Each write happens before the event that triggered it reaches the
 *   client, so a crash or kill -9 loses less than that much of what the client has received;
 * - at the end: content, thoughts, token counts, finish reason, tokens/s, time to first token, `complete`.
 *   A stop or client disconnect leaves it `partial`; a failure marks it `error` with the message.
 * A failing write is logged and recording of that stream stops; generation is never affected.
 */
import { ShuttingDownError, StorageFullError, isStorageFull } from "../errors.js";
import type { Logger } from "../logger.js";
import type { ChatMessage, ChatRequest, GenerationEvent, GenerationStream, Usage } from "../core/types.js";
import type { HistoryStore } from "./store.js";
import { hashableOf, pathHash, pathHashes, pathHashesAsync } from "./threads.js";
import type { GenerationParams, StoredToolCall } from "./types.js";
import { WriterThreadUnavailableError, type HistoryWriterThread } from "./writer-thread.js";

/** The defaults of the durability bound stated in README.md ("History"). */
export const FLUSH_INTERVAL_MS = 500;
export const FLUSH_CHARS = 2000;

export interface RecorderOptions {
  /** A streaming reply is written once this long has passed since its last write. Defaults to FLUSH_INTERVAL_MS. */
  flushIntervalMs?: number;
  /**
   * ...or once this many characters arrived since its last write (an eighth of the reply when
   * that is more, so a very long reply is rewritten a bounded number of times). Defaults to FLUSH_CHARS.
   */
  flushChars?: number;
  logger?: Pick<Logger, "warn">;
  /**
   * Where /v1 requests of OFF_THREAD_CHARS or more are filed (history/writer-thread.ts). Defaults
   * to none: everything is written on this thread.
   */
  writerThread?: HistoryWriterThread;
}

/**
 * A /v1 request whose messages hold this many characters or more is filed on the writer thread:
 * below it a write takes a few milliseconds; a 19 MB one held the HTTP thread for 90–250 ms
 * (BENCHMARKS.md, "Large messages").
 */
export const OFF_THREAD_CHARS = 1024 * 1024;

/** What filing a /v1 request reads of it: plain data, so it can cross to the writer thread. */
export type ApiRequestRecord = Pick<ChatRequest, "model" | "messages" | "sampling" | "maxTokens" | "reasoning">;

/** Where a filed /v1 request's reply goes. */
export type ApiFiling = Pick<ReplyTarget, "conversationId" | "parentId" | "model"> & { parentPathHash: string };

/** Characters a request's messages hold (what its write costs). */
function charsOf(messages: readonly ChatMessage[]): number {
  let n = 0;
  for (const m of messages) {
    n += m.content?.length ?? 0;
    if (m.role === "assistant") {
      n += m.reasoning?.length ?? 0;
      for (const c of m.toolCalls ?? []) n += c.arguments.length;
    }
  }
  return n;
}

/** Where a reply goes: under `parentId` in `conversationId`. */
export interface ReplyTarget {
  conversationId: string;
  parentId: number;
  model: string;
  /** When the request started (performance.now()), for time to first token. Defaults to when recording starts. */
  startedAt?: number;
  /** For /v1 replies: the path hash of the parent, so the reply gets its own once complete. */
  parentPathHash?: string | null;
  /** The generation's signal, so an abort is told from a failure. */
  signal?: AbortSignal;
  /**
   * End the stream with the error when a write fails (the app's own chats: the user must learn
   * the reply is not being saved). Defaults to false: /v1 traffic is served whether or not it
   * can be recorded.
   */
  failOnWriteError?: boolean;
}

/** Outcome of a recorded reply, for callers that want the stored message id. */
export interface RecordedReply {
  messageId: number;
}

function isAbort(err: unknown, signal?: AbortSignal): boolean {
  if (signal?.aborted) return true;
  if (err instanceof ShuttingDownError) return true;
  if (!(err instanceof Error)) return false;
  return (
    err.name === "AbortError" ||
    err.name === "TimeoutError" ||
    /client disconnected|consumer stopped reading/.test(err.message)
  );
}

function paramsOf(request: ApiRequestRecord): GenerationParams {
  const s = request.sampling;
  return {
    temperature: s.temperature,
    topP: s.topP,
    topK: s.topK,
    minP: s.minP,
    ...(s.seed !== undefined ? { seed: s.seed } : {}),
    ...(request.maxTokens !== undefined ? { maxTokens: request.maxTokens } : {}),
    ...(s.presencePenalty ? { presencePenalty: s.presencePenalty } : {}),
    ...(s.frequencyPenalty ? { frequencyPenalty: s.frequencyPenalty } : {}),
    ...(request.reasoning?.effort ? { reasoningEffort: request.reasoning.effort } : {}),
  };
}

function storedFields(m: ChatMessage): {
  content: string;
  reasoning: string | null;
  toolCalls: StoredToolCall[] | null;
  toolCallId: string | null;
} {
  return {
    content: m.content ?? "",
    reasoning: m.role === "assistant" && m.reasoning ? m.reasoning : null,
    toolCalls: m.role === "assistant" && m.toolCalls && m.toolCalls.length > 0 ? m.toolCalls : null,
    toolCallId: m.role === "tool" ? m.toolCallId : null,
  };
}

export class HistoryRecorder {
  private readonly flushIntervalMs: number;
  private readonly flushChars: number;
  private readonly logger: Pick<Logger, "warn"> | undefined;
  private readonly writerThread: HistoryWriterThread | undefined;

  constructor(
    private readonly store: HistoryStore,
    options: RecorderOptions = {},
  ) {
    this.flushIntervalMs = options.flushIntervalMs ?? FLUSH_INTERVAL_MS;
    this.flushChars = options.flushChars ?? FLUSH_CHARS;
    this.logger = options.logger;
    this.writerThread = options.writerThread;
  }

  /**
   * For /v1 chats when --record-api is on (chat/service.ts): files the request's messages in the
   * `api` conversation it continues (or a new one), then records the reply.
   */
  async observeApi(
    request: ChatRequest,
    stream: GenerationStream,
    provider: string,
    startedAt: number,
    hashes?: readonly string[],
  ): Promise<GenerationStream> {
    let target: ReplyTarget;
    try {
      target = await this.fileApiRequest(request, provider, hashes);
    } catch (err) {
      this.logger?.warn({ err }, "history: could not record a /v1 request; it is served unrecorded");
      return stream;
    }
    return this.recordReply(stream, { ...target, startedAt });
  }

  /**
   * The path hashes of a request's messages (threads.ts), made without holding the event loop for
   * long: for `fileApiRequest` and `observeApi`, which otherwise hash in one go.
   */
  apiHashes(request: Pick<ChatRequest, "messages">): Promise<string[]> {
    return pathHashesAsync(request.messages.map(hashableOf));
  }

  /**
   * Writes the messages of a /v1 request that are not recorded yet; returns where the reply goes.
   * `hashes` are the request's path hashes when already made (`apiHashes`). A request of
   * OFF_THREAD_CHARS or more is written by the writer thread, when there is one.
   */
  async fileApiRequest(request: ApiRequestRecord, provider: string, given?: readonly string[]): Promise<ApiFiling> {
    const hashes = given ?? (await this.apiHashes(request));
    if (this.writerThread && charsOf(request.messages) >= OFF_THREAD_CHARS) {
      try {
        return await this.writerThread.fileApiRequest(request, provider, hashes);
      } catch (err) {
        if (!(err instanceof WriterThreadUnavailableError)) throw err;
        // Recorded late rather than not at all (a platform where the worker cannot start).
        this.logger?.warn({ err }, "history: no writer thread; a large /v1 request is written on the server's thread");
      }
    }
    return this.fileApiRequestNow(request, provider, hashes);
  }

  /**
   * `fileApiRequest`'s write, on the thread that calls it: the server's for ordinary requests, the
   * writer thread's (writer-thread-worker.ts) for large ones.
   */
  fileApiRequestNow(request: ApiRequestRecord, provider: string, given?: readonly string[]): ApiFiling {
    const messages = request.messages;
    if (messages.length === 0) throw new Error("a chat request without messages");
    const hashes = given ?? pathHashes(messages.map(hashableOf));
    return this.store.db.transaction(() => {
      let known = -1;
      let found: { id: number; conversationId: string } | undefined;
      for (let i = hashes.length - 1; i >= 0 && !found; i--) {
        found = this.store.findApiMessageByPathHash(hashes[i]!);
        if (found) known = i;
      }
      let conversationId: string;
      let parentId: number | null;
      if (found) {
        conversationId = found.conversationId;
        parentId = found.id;
        this.store.setActiveBranch(found.id);
      } else {
        const system = messages.find((m) => m.role === "system");
        conversationId = this.store.createConversation({
          source: "api",
          model: request.model,
          provider,
          systemPrompt: system?.content ?? null,
          params: paramsOf(request),
        }).id;
        parentId = null;
      }
      for (let i = known + 1; i < messages.length; i++) {
        const m = messages[i]!;
        parentId = this.store.appendMessage(conversationId, {
          parentId,
          role: m.role,
          ...storedFields(m),
          pathHash: hashes[i]!,
        }).id;
      }
      return { conversationId, parentId: parentId!, model: request.model, parentPathHash: hashes.at(-1)! };
    })();
  }

  /**
   * Records the reply of `stream` under `target.parentId` and returns a stream of the same events.
   * The assistant row exists (as `partial`) before this returns.
   */
  recordReply(
    stream: GenerationStream,
    target: ReplyTarget,
    onCreated?: (reply: RecordedReply) => void,
  ): GenerationStream {
    let messageId: number;
    try {
      messageId = this.store.appendMessage(target.conversationId, {
        parentId: target.parentId,
        role: "assistant",
        content: "",
        model: target.model,
        status: "partial",
      }).id;
    } catch (err) {
      if (target.failOnWriteError) throw isStorageFull(err) ? new StorageFullError("this conversation") : err;
      this.logger?.warn({ err }, "history: could not create the reply row; the reply is served unrecorded");
      return stream;
    }
    onCreated?.({ messageId });
    return this.wrap(stream, target, messageId);
  }

  private async *wrap(
    stream: GenerationStream,
    target: ReplyTarget,
    messageId: number,
  ): AsyncGenerator<GenerationEvent> {
    const startedAt = target.startedAt ?? performance.now();
    const parts: string[] = [];
    const thoughts: string[] = [];
    let firstThoughtAt: number | null = null;
    let lastThoughtAt = 0;
    const calls = new Map<number, StoredToolCall>();
    let firstTokenAt: number | null = null;
    let lastFlush = performance.now();
    let flushedLength = 0;
    let length = 0;
    let settled = false;
    let broken = false;
    let writeError: unknown = null;

    const write = (patch: Parameters<HistoryStore["updateMessage"]>[1]) => {
      if (broken) return;
      try {
        this.store.updateMessage(messageId, patch);
      } catch (err) {
        broken = true;
        writeError = err;
        this.logger?.warn({ err, messageId }, "history: a write failed; the rest of this reply is not recorded");
      }
    };
    /** For failOnWriteError: the failure, as the error the client is sent. */
    const failure = () => (isStorageFull(writeError) ? new StorageFullError("this conversation") : writeError);
    const text = () => parts.join("");
    const reasoning = () => (thoughts.length > 0 ? thoughts.join("") : null);
    const toolCalls = () => (calls.size > 0 ? [...calls.entries()].sort(([a], [b]) => a - b).map(([, c]) => c) : null);
    const finishAs = (
      status: "complete" | "partial" | "error",
      extra: { usage?: Usage; reason?: string; error?: string },
    ) => {
      settled = true;
      const now = performance.now();
      const content = text();
      const calls = toolCalls();
      const completion = extra.usage?.completionTokens ?? null;
      const decodeSeconds = firstTokenAt === null ? 0 : (now - firstTokenAt) / 1000;
      write({
        content,
        reasoning: reasoning(),
        reasoningMs: firstThoughtAt === null ? null : Math.round(lastThoughtAt - firstThoughtAt),
        toolCalls: calls,
        status,
        finishReason: extra.reason ?? null,
        error: extra.error ?? null,
        promptTokens: extra.usage?.promptTokens ?? null,
        completionTokens: completion,
        tokensPerSecond:
          completion !== null && decodeSeconds > 0 ? Math.round((completion / decodeSeconds) * 100) / 100 : null,
        ttftMs: firstTokenAt === null ? null : Math.round(firstTokenAt - startedAt),
        ...(target.parentPathHash !== undefined
          ? { pathHash: pathHash(target.parentPathHash ?? null, { role: "assistant", content, toolCalls: calls }) }
          : {}),
      });
    };

    try {
      for await (const event of stream) {
        if (event.type === "text") {
          firstTokenAt ??= performance.now();
          parts.push(event.text);
          length += event.text.length;
        } else if (event.type === "tool_call") {
          firstTokenAt ??= performance.now();
          const call = calls.get(event.index) ?? { id: event.id, name: event.name, arguments: "" };
          call.arguments += event.argumentsDelta;
          calls.set(event.index, call);
          length += event.argumentsDelta.length;
        } else if (event.type === "reasoning") {
          lastThoughtAt = performance.now();
          firstTokenAt ??= lastThoughtAt;
          firstThoughtAt ??= lastThoughtAt;
          thoughts.push(event.text);
          length += event.text.length;
        } else {
          // Written before the client sees the end, so a client that then stops reading still leaves it complete.
          finishAs("complete", { usage: event.usage, reason: event.reason });
        }
        // The first text at once (a reply cut right after it would otherwise be stored empty), then
        // by time or by size. Each write stores the whole reply so far, so the size step grows with
        // the reply: a reply of L characters is written O(log L) times by size, not L / flushChars.
        const unflushed = length - flushedLength;
        if (
          !settled &&
          unflushed > 0 &&
          (flushedLength === 0 ||
            performance.now() - lastFlush >= this.flushIntervalMs ||
            unflushed >= Math.max(this.flushChars, flushedLength / 8))
        ) {
          write({ content: text(), reasoning: reasoning(), toolCalls: toolCalls() });
          lastFlush = performance.now();
          flushedLength = length;
        }
        if (writeError !== null && target.failOnWriteError) throw failure();
        yield event;
      }
    } catch (err) {
      if (!settled) {
        if (isAbort(err, target.signal)) finishAs("partial", {});
        else finishAs("error", { error: err instanceof Error ? err.message : String(err) });
      }
      throw err;
    } finally {
      // The consumer stopped reading (client gone) or the stream ended without a finish event.
      if (!settled) finishAs("partial", {});
    }
  }
}
