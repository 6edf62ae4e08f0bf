/**
 * The one place errors become responses: OpenAI's `{"error": {...}}` with the right status, or —
 * when a stream already started — a final SSE error event and a clean end.
 */
import type { ErrorRequestHandler, RequestHandler } from "express";
import { HearthError, NotFoundError, PayloadTooLargeError, toHearthError, BadRequestError } from "../errors.js";
import type { Logger } from "../logger.js";

/** body-parser's errors carry `type`; map the ones a client can cause. */
function fromBodyParser(err: { type?: string; status?: number; limit?: number; message?: string }): HearthError | null {
  switch (err.type) {
    case "entity.parse.failed":
      return new BadRequestError(`We could not parse the JSON body of your request: ${err.message ?? "invalid JSON"}.`, { code: "invalid_json" });
    case "entity.too.large":
      return new PayloadTooLargeError(err.limit ?? 0);
    case "encoding.unsupported":
    case "charset.unsupported":
      return new HearthError(415, "invalid_request_error", err.message ?? "Unsupported encoding.", { code: "unsupported_encoding" });
    case "request.aborted":
      return new BadRequestError("The request was aborted while its body was being read.", { code: "request_aborted" });
    case "request.size.invalid":
      return new BadRequestError("The request body size did not match its Content-Length.", { code: "invalid_body" });
    default:
      return null;
  }
}

export function createErrorHandler(logger: Logger): ErrorRequestHandler {
  return (rawErr, req, res, _next) => {
    const err = fromBodyParser(rawErr as never) ?? toHearthError(rawErr);
    const log = (req as { log?: Logger }).log ?? logger;
    if (err.status >= 500) log.error({ err: rawErr }, err.message);
    else log.debug({ status: err.status, code: err.code }, err.message);
    if (res.headersSent) {
      // A stream already started: finish it with a final error event (STYLE.md #3).
      if (!res.writableEnded) {
        res.write(`data: ${JSON.stringify(err.toJSON())}\n\n`);
        res.end();
      }
      return;
    }
    for (const [k, v] of Object.entries(err.headers)) res.setHeader(k, v);
    res.status(err.status).json(err.toJSON());
  };
}

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new NotFoundError(`Unknown path: ${req.method} ${req.path}`, { code: "unknown_url" }));
};
