/**
 * Server-sent events decoding for fetch streams (EventSource cannot send an Authorization header).
 * Events routinely span network chunks, and a chunk may end inside a multi-byte UTF-8 character or
 * between the CR and LF of a line break, so bytes are decoded with a streaming TextDecoder and
 * lines are only acted on once complete (https://html.spec.whatwg.org/#event-stream-interpretation).
 */

/** One dispatched event. Comments (`: ping`) and empty events are never dispatched. */
export interface SseEvent {
  /** The `event:` field. Defaults to "message". */
  event: string;
  /** The `data:` lines joined with "\n". */
  data: string;
  /** The last `id:` seen, if any. */
  id?: string;
}

/** Incremental parser: feed it text in arbitrary pieces, it returns the events completed so far. */
export class SseParser {
  private buffer = "";
  private pendingCR = false;
  private data: string[] = [];
  private event = "";
  private lastId: string | undefined;

  push(text: string): SseEvent[] {
    const out: SseEvent[] = [];
    let start = 0;
    let i = 0;
    // A CR at the end of the previous piece and an LF at the start of this one are one line break.
    if (this.pendingCR && text.startsWith("\n")) start = i = 1;
    this.pendingCR = false;
    for (; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      const line = this.buffer + text.slice(start, i);
      this.buffer = "";
      this.line(line, out);
      if (c === 13) {
        if (i + 1 === text.length) this.pendingCR = true;
        else if (text.charCodeAt(i + 1) === 10) i++;
      }
      start = i + 1;
    }
    this.buffer += text.slice(start);
    return out;
  }

  /** Call at end of stream: per the spec an unterminated last event is discarded. */
  end(): SseEvent[] {
    this.buffer = "";
    this.data = [];
    this.event = "";
    return [];
  }

  private line(line: string, out: SseEvent[]): void {
    if (line === "") {
      if (this.data.length > 0)
        out.push({
          event: this.event || "message",
          data: this.data.join("\n"),
          ...(this.lastId !== undefined ? { id: this.lastId } : {}),
        });
      this.data = [];
      this.event = "";
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "event") this.event = value;
    else if (field === "id" && !value.includes("\0")) this.lastId = value;
  }
}

/** Decodes a byte stream into SSE events; cancelling the iteration cancels the stream. */
export async function* readSse(body: ReadableStream<Uint8Array>, signal?: AbortSignal): AsyncGenerator<SseEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder("utf-8");
  const parser = new SseParser();
  try {
    while (true) {
      if (signal?.aborted) return;
      const { done, value } = await reader.read();
      if (done) {
        yield* parser.push(decoder.decode());
        parser.end();
        return;
      }
      yield* parser.push(decoder.decode(value, { stream: true }));
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}
