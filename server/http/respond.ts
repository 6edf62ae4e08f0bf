/**
 * The one place a started generation (chat/service.ts `Run`) becomes an HTTP response, whatever
 * the wire format: collected into one JSON body, or pumped event by event through the route's
 * encoder over SSE (or NDJSON, Ollama's framing: http/ndjson.ts). The pump owns the stream's end: after the encoder's last events, or, when
 * the generation fails after the headers went out, the encoder's own error event (OpenAI's
 * `data: {"error": …}`, Anthropic's `event: error`, the Responses API's `error` event). A client
 * that left gets nothing more. Errors before the first byte are thrown to the error handler.
 */
import type { ServerResponse } from "node:http";
import type { Admission, ChoiceEvent } from "../core/types.js";
import { toHearthError, type HearthError } from "../errors.js";
import { SseWriter } from "./sse.js";
import type { StreamWriter } from "./stream-writer.js";

/** A wire format's stream: what it sends before, for and after the events, and how it reports a failure. */
export interface StreamEncoder<E = ChoiceEvent> {
  start(): Promise<void>;
  push(event: E): Promise<void>;
  /** After the last event (usage chunk, `[DONE]`); the pump then ends the response. */
  end(): Promise<void>;
  /** The error that ends the stream, in the wire format's shape. */
  fail(error: HearthError): Promise<void>;
}

/**
 * `E`: the events of the stream, a generation's own unless the route adds its own (the Responses
 * API's MCP items); `W`: the streamed form's framing, SSE unless the route gives a `writer`.
 */
export interface WireResponse<T, E = ChoiceEvent, W extends StreamWriter = SseWriter> {
  stream: boolean;
  /** The streamed form's framing. Defaults to SSE. */
  writer?: (res: ServerResponse) => W;
  /** The streamed form: an encoder writing to the stream. */
  encoder: (stream: W) => StreamEncoder<E>;
  /** The collected form: one body. */
  collect: (events: AsyncIterable<E>) => Promise<T>;
}

/** The response header that says, once, what the provider accepted but does not enforce (a JSON array of strings). */
export const WARNINGS_HEADER = "X-Hearth-Warnings";

/**
 * The warnings as a header value: a JSON array of `"<param>: <message>"`, non-ASCII escaped
 * (`\uXXXX`), so a property name from the client's schema can neither break nor inject a header.
 */
export function warningsHeader(admission: Admission | undefined): string | null {
  if (!admission || admission.warnings.length === 0) return null;
  const text = JSON.stringify(admission.warnings.map((w) => `${w.param}: ${w.message}`));
  return text.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** Sends a started run's events as the route's wire format; resolves once the response is complete. */
export async function respond<T, E = ChoiceEvent, W extends StreamWriter = SseWriter>(
  res: ServerResponse & { json(body: unknown): unknown },
  run: { events: AsyncIterable<E>; admission?: Admission },
  clientGone: AbortSignal,
  wire: WireResponse<T, E, W>,
): Promise<void> {
  const { events } = run;
  const warnings = warningsHeader(run.admission);
  if (warnings !== null) res.setHeader(WARNINGS_HEADER, warnings);
  if (!wire.stream) {
    res.json(await wire.collect(events));
    return;
  }
  // W defaults to SseWriter exactly when no `writer` is given.
  const stream = wire.writer ? wire.writer(res) : (new SseWriter(res) as StreamWriter as W);
  const encoder = wire.encoder(stream);
  try {
    await encoder.start();
    for await (const event of events) {
      if (!stream.isOpen) return;
      await encoder.push(event);
    }
    await encoder.end();
  } catch (err) {
    if (clientGone.aborted) return;
    await encoder.fail(toHearthError(err));
  } finally {
    stream.end();
  }
}
