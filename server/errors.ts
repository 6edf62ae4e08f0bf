/**
 * The one error family of the server. Every failure that reaches a client is one of these,
 * and exactly one place (`http/error-handler.ts`) turns them into OpenAI's error JSON or a
 * final SSE event. Anything else that escapes is reported as a 500 without its internals.
 */
export type OpenAIErrorType =
  | "invalid_request_error"
  | "authentication_error"
  | "permission_error"
  | "not_found_error"
  | "requests"
  | "server_error";

export interface HearthErrorOptions {
  /** The request field the error is about, dotted (`messages.0.role`). Defaults to null. */
  param?: string | null;
  /** A stable machine-readable code (`model_not_found`, `context_length_exceeded`...). Defaults to null. */
  code?: string | null;
  /** Extra response headers, e.g. `Retry-After` for 429/503. */
  headers?: Record<string, string>;
  cause?: unknown;
}

export class HearthError extends Error {
  readonly status: number;
  readonly type: OpenAIErrorType;
  readonly param: string | null;
  readonly code: string | null;
  readonly headers: Record<string, string>;

  constructor(status: number, type: OpenAIErrorType, message: string, options: HearthErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.status = status;
    this.type = type;
    this.param = options.param ?? null;
    this.code = options.code ?? null;
    this.headers = options.headers ?? {};
  }

  /**
   * The same error naming another request field: the generation pipeline turns the neutral field
   * paths that providers name (`responseFormat.schema`) into the route's wire names.
   */
  withParam(param: string | null): HearthError {
    const copy = Object.create(Object.getPrototypeOf(this) as object) as HearthError;
    Object.assign(copy, this, { param });
    Object.defineProperty(copy, "message", { value: this.message, writable: true, configurable: true });
    Object.defineProperty(copy, "stack", { value: this.stack, writable: true, configurable: true });
    return copy;
  }

  toJSON(): { error: { message: string; type: OpenAIErrorType; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export class BadRequestError extends HearthError {
  constructor(message: string, options: HearthErrorOptions = {}) {
    super(400, "invalid_request_error", message, options);
  }
}

export class AuthenticationError extends HearthError {
  constructor(message = "Missing or invalid API key. Send it as 'Authorization: Bearer <key>'.") {
    super(401, "authentication_error", message, { code: "invalid_api_key" });
  }
}

export class ForbiddenError extends HearthError {
  constructor(message: string, options: HearthErrorOptions = {}) {
    super(403, "permission_error", message, options);
  }
}

export class NotFoundError extends HearthError {
  constructor(message: string, options: HearthErrorOptions = {}) {
    super(404, "not_found_error", message, options);
  }
}

export class ModelNotFoundError extends HearthError {
  constructor(model: string, available: readonly string[] = []) {
    const hint = available.length > 0 ? ` Available models: ${available.slice(0, 10).join(", ")}.` : "";
    super(404, "invalid_request_error", `The model '${model}' does not exist.${hint}`, {
      param: "model",
      code: "model_not_found",
    });
  }
}

export class MethodNotAllowedError extends HearthError {
  constructor(method: string, path: string, allowed: readonly string[]) {
    super(405, "invalid_request_error", `${method} is not allowed on ${path}. Allowed: ${allowed.join(", ")}.`, {
      code: "method_not_allowed",
      headers: { Allow: allowed.join(", ") },
    });
  }
}

export class PayloadTooLargeError extends HearthError {
  constructor(limitBytes: number) {
    super(413, "invalid_request_error", `Request body is larger than the limit of ${limitBytes} bytes.`, {
      code: "request_too_large",
    });
  }
}

export class UnsupportedMediaTypeError extends HearthError {
  constructor(got: string | undefined) {
    super(415, "invalid_request_error", `Content-Type must be application/json (got ${got ?? "none"}).`, {
      code: "unsupported_media_type",
    });
  }
}

export class QueueFullError extends HearthError {
  constructor(retryAfterSeconds: number) {
    super(429, "requests", "The server is busy: every sequence is in use and the queue is full. Retry shortly.", {
      code: "rate_limit_exceeded",
      headers: { "Retry-After": String(retryAfterSeconds) },
    });
  }
}

export class NotReadyError extends HearthError {
  constructor(message = "The server is not ready: no model is loaded yet.", retryAfterSeconds = 1) {
    super(503, "server_error", message, { code: "not_ready", headers: { "Retry-After": String(retryAfterSeconds) } });
  }
}

export class ShuttingDownError extends HearthError {
  constructor() {
    super(503, "server_error", "The server is shutting down.", { code: "shutting_down" });
  }
}

/** The disk is full (or over quota): history or settings could not be written. Nothing was half-written. */
export class StorageFullError extends HearthError {
  constructor(what = "Hearth's data") {
    super(
      507,
      "server_error",
      `The disk is full: ${what} could not be saved. Free some disk space and try again; nothing was lost or damaged.`,
      {
        code: "disk_full",
      },
    );
  }
}

/** True for the errors a full disk raises: SQLite's SQLITE_FULL and the file system's ENOSPC / EDQUOT. */
export function isStorageFull(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === "SQLITE_FULL" || code === "ENOSPC" || code === "EDQUOT";
}

export class UpstreamError extends HearthError {}

/** Errors with no HearthError shape become a 500 whose message hides internals. */
export function toHearthError(err: unknown): HearthError {
  if (err instanceof HearthError) return err;
  if (isStorageFull(err)) return new StorageFullError();
  return new HearthError(500, "server_error", "The server had an internal error while processing the request.", {
    cause: err,
  });
}
