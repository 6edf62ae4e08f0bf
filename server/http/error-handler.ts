/**
 * The one place errors become responses: OpenAI's `{"error": {...}}` with the right status, or —
 * when a stream already started — a final SSE error event and a clean end. Routes that speak
 * another wire format (Anthropic's /v1/messages) set `res.locals.errorFormat` to an ErrorFormat,
 * and the same handler writes their shape.
 */
import type { ErrorRequestHandler, Request, RequestHandler, Response } from "express";
import { HearthError, NotFoundError, PayloadTooLargeError, toHearthError, BadRequestError } from "../errors.js";
import type { Logger } from "../logger.js";

/** body-parser's errors carry `type`; map the ones a client can cause. */
function fromBodyParser(
  err: { type?: string; status?: number; limit?: number; message?: string; expose?: boolean },
  req: Request,
): HearthError | null {
  switch (err.type) {
    case "entity.parse.failed":
      return new BadRequestError(
        `We could not parse the JSON body of your request: ${err.message ?? "invalid JSON"}.`,
        { code: "invalid_json" },
      );
    case "entity.too.large":
      return new PayloadTooLargeError(err.limit ?? 0);
    case "encoding.unsupported":
    case "charset.unsupported":
      return new HearthError(415, "invalid_request_error", err.message ?? "Unsupported encoding.", {
        code: "unsupported_encoding",
      });
    case "request.aborted":
      return new BadRequestError("The request was aborted while its body was being read.", { code: "request_aborted" });
    case "request.size.invalid":
      return new BadRequestError("The request body size did not match its Content-Length.", { code: "invalid_body" });
    default:
      break;
  }
  // A body that does not decode as its Content-Encoding says (not gzip at all, cut short): body-parser
  // passes zlib's own error on, marked 400 by http-errors but with no `type`.
  const encoding = req.headers["content-encoding"];
  if (err.status === 400 && err.expose === true && encoding !== undefined && encoding !== "identity") {
    return new BadRequestError(
      `The request body could not be decoded as its Content-Encoding '${encoding}' says: ${err.message ?? "invalid data"}.`,
      { code: "invalid_content_encoding" },
    );
  }
  return null;
}

/** Express's router marks a path parameter it cannot percent-decode (`/api/x/%E0%A4%A`) as a 400 URIError. */
function fromRouter(err: unknown): HearthError | null {
  if (err instanceof URIError && (err as { status?: number }).status === 400) {
    return new BadRequestError("A part of the URL path is not valid percent-encoded UTF-8.", { code: "invalid_path" });
  }
  return null;
}

/** How errors are written for a family of routes. */
export interface ErrorFormat {
  /** The JSON body of an error answered before anything else was sent. */
  body(err: HearthError, requestId: string | null): unknown;
  /** The final SSE event of a stream that already started. */
  streamEvent(err: HearthError, requestId: string | null): string;
}

export const openAIErrorFormat: ErrorFormat = {
  body: (err) => err.toJSON(),
  streamEvent: (err) => `data: ${JSON.stringify(err.toJSON())}\n\n`,
};

/** The format a router chose with `res.locals.errorFormat`, or OpenAI's. */
export function errorFormatOf(res: Response): ErrorFormat {
  return (res.locals.errorFormat as ErrorFormat | undefined) ?? openAIErrorFormat;
}

/** Middleware that makes every error of the routes below it use `format` (auth and body errors included). */
export function useErrorFormat(format: ErrorFormat): RequestHandler {
  return (_req, res, next) => {
    res.locals.errorFormat = format;
    next();
  };
}

export function createErrorHandler(logger: Logger): ErrorRequestHandler {
  return (rawErr, req, res, _next) => {
    const err = fromBodyParser(rawErr as never, req) ?? fromRouter(rawErr) ?? toHearthError(rawErr);
    const log = (req as { log?: Logger }).log ?? logger;
    if (err.status >= 500) log.error({ err: rawErr }, err.message);
    // V8's JSON.parse message quotes the body ('"{"api_key": "sk-..." is not valid JSON'): the client
    // gets it back (it is their own text), the log never does.
    else
      log.debug(
        { status: err.status, code: err.code },
        err.code === "invalid_json" ? "request body is not valid JSON" : err.message,
      );
    const format = errorFormatOf(res);
    const requestId =
      typeof res.getHeader("X-Request-ID") === "string" ? (res.getHeader("X-Request-ID") as string) : null;
    if (res.headersSent) {
      // A stream already started: finish it with a final error event (docs/STYLE.md #3).
      if (!res.writableEnded) {
        res.write(format.streamEvent(err, requestId));
        res.end();
      }
      return;
    }
    for (const [k, v] of Object.entries(err.headers)) res.setHeader(k, v);
    res.status(err.status).json(format.body(err, requestId));
  };
}

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new NotFoundError(`Unknown path: ${req.method} ${req.path}`, { code: "unknown_url" }));
};
