/**
 * Errors from the server, in words a person understands. The server speaks OpenAI's error shape
 * (`{"error": {message, type, param, code}}`); the UI adds what to do next.
 */

/** A failed request: HTTP status (0 when the server could not be reached) and the server's fields. */
export class ApiError extends Error {
  readonly status: number;
  readonly type: string | null;
  readonly code: string | null;
  readonly param: string | null;
  readonly requestId: string | null;

  constructor(
    status: number,
    message: string,
    fields: { type?: string | null; code?: string | null; param?: string | null; requestId?: string | null } = {},
  ) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.type = fields.type ?? null;
    this.code = fields.code ?? null;
    this.param = fields.param ?? null;
    this.requestId = fields.requestId ?? null;
  }

  /** What the person can do about it, or null when the message says it all. */
  get hint(): string | null {
    return hintFor(this);
  }
}

function hintFor(err: ApiError): string | null {
  if (err.status === 0) return "Check that the Hearth server is running, then try again.";
  if (err.status === 401) return "Enter the server's API key to continue.";
  if (err.code === "model_not_found") return "Pick another model, or load or download this one on the Models page.";
  if (err.code === "not_ready") return "A model may still be loading. Wait a moment, or load one on the Models page.";
  if (err.code === "context_length_exceeded")
    return "Start a new chat, or shorten the conversation or the system prompt.";
  if (err.status === 429) return "The server is busy with other requests. Try again in a few seconds.";
  if (err.status === 404 && err.code === "unknown_url")
    return "This server does not offer that feature yet; update Hearth.";
  if (err.status === 502 || err.status === 504)
    return "The remote provider did not answer properly. Check its address and key on the Providers page.";
  if (err.status >= 500)
    return "Something went wrong on the server. Try again; if it keeps happening, check the server's log.";
  return null;
}

/** Builds an ApiError from a non-OK response, whatever its body. */
export async function errorFromResponse(res: Response): Promise<ApiError> {
  const requestId = res.headers.get("x-request-id");
  let body: unknown = null;
  const text = await res.text().catch(() => "");
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON (a proxy's HTML page, say): fall back to the status text below.
  }
  const e = (body as { error?: { message?: unknown; type?: unknown; code?: unknown; param?: unknown } } | null)?.error;
  if (e && typeof e.message === "string") {
    return new ApiError(res.status, e.message, {
      type: str(e.type),
      code: str(e.code),
      param: str(e.param),
      requestId,
    });
  }
  const fallback =
    res.status === 404 ? "Not found." : `The server answered ${res.status} ${res.statusText}.`.replace(" .", ".");
  return new ApiError(res.status, fallback, { requestId });
}

/** An error event sent inside an SSE stream after it started. */
export function errorFromEvent(payload: unknown): ApiError | null {
  const e = (payload as { error?: { message?: unknown; type?: unknown; code?: unknown; param?: unknown } } | null)
    ?.error;
  if (!e || typeof e !== "object") return null;
  const status = e.type === "requests" ? 429 : e.type === "invalid_request_error" ? 400 : 500;
  return new ApiError(status, typeof e.message === "string" ? e.message : "The generation failed.", {
    type: str(e.type),
    code: str(e.code),
    param: str(e.param),
  });
}

export function networkError(cause: unknown): ApiError {
  const err = new ApiError(0, "Cannot reach the Hearth server.");
  (err as { cause?: unknown }).cause = cause;
  return err;
}

/** A readable one-liner for any thrown value. */
export function describeError(err: unknown): { message: string; hint: string | null } {
  if (err instanceof ApiError) return { message: err.message, hint: err.hint };
  if (err instanceof Error) return { message: err.message, hint: null };
  return { message: String(err), hint: null };
}

const str = (v: unknown): string | null => (typeof v === "string" ? v : null);
