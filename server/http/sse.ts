/**
 * The one SSE writer: framing, heartbeat and `[DONE]` (the event that ends a failed stream is the
 * wire format's own, written by its encoder; http/respond.ts). Corking and backpressure are every
 * stream's (stream-writer.ts).
 */
import type { ServerResponse } from "node:http";
import { StreamWriter } from "./stream-writer.js";

export const SSE_HEADERS = {
  "Content-Type": "text/event-stream; charset=utf-8",
  "Cache-Control": "no-cache, no-transform",
  Connection: "keep-alive",
  "X-Accel-Buffering": "no",
} as const;

export class SseWriter extends StreamWriter {
  constructor(res: ServerResponse, heartbeatMs = 15_000) {
    super(res, SSE_HEADERS, { text: ": ping\n\n", everyMs: heartbeatMs });
  }

  /** Sends one `data:` event; resolves once the socket can take more (backpressure). */
  send(data: unknown): Promise<void> {
    return this.put(`data: ${JSON.stringify(data)}\n\n`);
  }

  /** Sends a named event (Anthropic and Responses APIs use `event:` lines). */
  sendEvent(event: string, data: unknown): Promise<void> {
    return this.put(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  /** Ends the stream the OpenAI way. */
  done(): void {
    this.write("data: [DONE]\n\n");
    this.end();
  }
}

/** An AbortSignal that fires when the client goes away before the response finished (docs/ENGINE-NOTES.md §0.4). */
export function clientGoneSignal(res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  res.once("close", () => {
    if (!res.writableFinished) controller.abort(new Error("client disconnected"));
  });
  return controller.signal;
}
