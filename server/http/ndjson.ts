/**
 * The NDJSON writer (`application/x-ndjson`): one JSON object a line, as Ollama's API streams.
 * No heartbeat: a blank line is not JSON, and Ollama's clients warn on every line they cannot parse.
 */
import type { ServerResponse } from "node:http";
import { StreamWriter } from "./stream-writer.js";

export const NDJSON_HEADERS = {
  "Content-Type": "application/x-ndjson",
  "Cache-Control": "no-cache, no-transform",
  Connection: "keep-alive",
  "X-Accel-Buffering": "no",
} as const;

export class NdjsonWriter extends StreamWriter {
  constructor(res: ServerResponse) {
    super(res, NDJSON_HEADERS);
  }

  /** Sends one line; resolves once the socket can take more (backpressure). */
  send(data: unknown): Promise<void> {
    return this.put(`${JSON.stringify(data)}\n`);
  }
}
