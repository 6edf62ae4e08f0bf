/**
 * The one SSE writer: framing, backpressure, coalescing, heartbeat and `[DONE]` (the event that
 * ends a failed stream is the wire format's own, written by its encoder; http/respond.ts). Writes made in the same tick are corked into one socket write, so a burst of tokens
 * costs one syscall instead of one each.
 */
import { once } from "node:events";
import type { ServerResponse } from "node:http";

export const SSE_HEADERS = {
  "Content-Type": "text/event-stream; charset=utf-8",
  "Cache-Control": "no-cache, no-transform",
  Connection: "keep-alive",
  "X-Accel-Buffering": "no",
} as const;

export class SseWriter {
  private corked = false;
  private heartbeat: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly res: ServerResponse,
    heartbeatMs = 15_000,
  ) {
    res.statusCode = 200;
    for (const [k, v] of Object.entries(SSE_HEADERS)) res.setHeader(k, v);
    res.flushHeaders();
    if (heartbeatMs > 0) {
      this.heartbeat = setInterval(() => this.write(": ping\n\n"), heartbeatMs);
      this.heartbeat.unref();
    }
    res.once("close", () => this.stop());
  }

  get isOpen(): boolean {
    return !this.closed && !this.res.writableEnded && !this.res.destroyed;
  }

  /** Sends one `data:` event; resolves once the socket can take more (backpressure). */
  async send(data: unknown): Promise<void> {
    if (!this.write(`data: ${JSON.stringify(data)}\n\n`)) {
      if (this.isOpen) await Promise.race([once(this.res, "drain"), once(this.res, "close")]);
    }
  }

  /** Sends a named event (Anthropic and Responses APIs use `event:` lines). */
  async sendEvent(event: string, data: unknown): Promise<void> {
    if (!this.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)) {
      if (this.isOpen) await Promise.race([once(this.res, "drain"), once(this.res, "close")]);
    }
  }

  /** Ends the stream the OpenAI way. */
  done(): void {
    this.write("data: [DONE]\n\n");
    this.end();
  }

  end(): void {
    this.stop();
    if (!this.res.writableEnded) this.res.end();
  }

  private write(chunk: string): boolean {
    if (!this.isOpen) return true;
    if (!this.corked) {
      this.corked = true;
      this.res.cork();
      process.nextTick(() => {
        this.corked = false;
        this.res.uncork();
      });
    }
    return this.res.write(chunk);
  }

  private stop(): void {
    this.closed = this.closed || this.res.writableEnded || this.res.destroyed;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
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
