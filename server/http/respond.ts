/**
 * The one place a started generation (chat/service.ts `Run`) becomes an HTTP response, whatever
 * the wire format: collected into one JSON body, or pumped event by event through the route's
 * encoder over SSE. The pump owns the stream's end: after the encoder's last events, or, when
 * the generation fails after the headers went out, the encoder's own error event (OpenAI's
 * `data: {"error": …}`, Anthropic's `event: error`, the Responses API's `error` event). A client
 * that left gets nothing more. Errors before the first byte are thrown to the error handler.
 */
import type { ServerResponse } from "node:http";
import type { ChoiceEvent, ChoiceStream } from "../core/types.js";
import { toHearthError, type HearthError } from "../errors.js";
import { SseWriter } from "./sse.js";

/** A wire format's stream: what it sends before, for and after the events, and how it reports a failure. */
export interface StreamEncoder {
  start(): Promise<void>;
  push(event: ChoiceEvent): Promise<void>;
  /** After the last event (usage chunk, `[DONE]`); the pump then ends the response. */
  end(): Promise<void>;
  /** The error that ends the stream, in the wire format's shape. */
  fail(error: HearthError): Promise<void>;
}

export interface WireResponse<T> {
  stream: boolean;
  /** The streamed form: an encoder writing to `sse`. */
  encoder: (sse: SseWriter) => StreamEncoder;
  /** The collected form: one body. */
  collect: (events: ChoiceStream) => Promise<T>;
}

/** Sends `events` as the route's wire format; resolves once the response is complete. */
export async function respond<T>(
  res: ServerResponse & { json(body: unknown): unknown },
  events: ChoiceStream,
  clientGone: AbortSignal,
  wire: WireResponse<T>,
): Promise<void> {
  if (!wire.stream) {
    res.json(await wire.collect(events));
    return;
  }
  const sse = new SseWriter(res);
  const encoder = wire.encoder(sse);
  try {
    await encoder.start();
    for await (const event of events) {
      if (!sse.isOpen) return;
      await encoder.push(event);
    }
    await encoder.end();
  } catch (err) {
    if (clientGone.aborted) return;
    await encoder.fail(toHearthError(err));
  } finally {
    sse.end();
  }
}
