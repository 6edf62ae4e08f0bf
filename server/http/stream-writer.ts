/**
 * What every streamed response shares, whatever its framing (SSE in sse.ts, NDJSON in
 * ndjson.ts): the headers go out at once, writes made in one tick are corked into one socket write
 * (a burst of tokens costs one syscall instead of one each), a full socket makes the writer wait
 * for `drain` (backpressure), and a response the client closed takes no more writes.
 */
import { once } from "node:events";
import type { ServerResponse } from "node:http";

export abstract class StreamWriter {
  private corked = false;
  private heartbeat: NodeJS.Timeout | null = null;
  private closed = false;

  /** `heartbeat`: text written every `heartbeatMs` while the stream is open (SSE's comment line); none when omitted. */
  constructor(
    protected readonly res: ServerResponse,
    headers: Readonly<Record<string, string>>,
    heartbeat?: { text: string; everyMs: number },
  ) {
    res.statusCode = 200;
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    res.flushHeaders();
    if (heartbeat && heartbeat.everyMs > 0) {
      this.heartbeat = setInterval(() => this.write(heartbeat.text), heartbeat.everyMs);
      this.heartbeat.unref();
    }
    res.once("close", () => this.stop());
  }

  get isOpen(): boolean {
    return !this.closed && !this.res.writableEnded && !this.res.destroyed;
  }

  end(): void {
    this.stop();
    if (!this.res.writableEnded) this.res.end();
  }

  /** Writes one framed piece; resolves once the socket can take more. */
  protected async put(chunk: string): Promise<void> {
    if (!this.write(chunk)) {
      if (this.isOpen) await Promise.race([once(this.res, "drain"), once(this.res, "close")]);
    }
  }

  /** Writes without waiting; false when the socket's buffer is full. */
  protected write(chunk: string): boolean {
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
