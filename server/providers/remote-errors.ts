/**
 * Failures of a remote provider as clear OpenAI-shaped errors that name the provider and never
 * carry a secret: upstream 401/403 -> 502 "key refused", no HTTP answer -> 502 (one message
 * whatever the cause: noAnswerMessage), timeouts -> 504,
 * 429 -> 429 with the upstream's Retry-After (as seconds), other upstream 4xx keep their status.
 */
import { UpstreamError } from "../errors.js";

/** The start of every message about a provider. */
export const providerLabel = (id: string) => `The provider '${id}'`;

/** Errors a request could not have caused on the upstream: nothing was sent, so retrying is safe. */
const CONNECT_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EADDRNOTAVAIL",
  "UND_ERR_CONNECT_TIMEOUT",
]);
const TIMEOUT_CODES = new Set([
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_CONNECT_TIMEOUT",
  "ETIMEDOUT",
]);

function codeOf(err: unknown): string | undefined {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | null;
  if (typeof e?.code === "string") return e.code;
  if (typeof e?.cause?.code === "string") return e.cause.code;
  return undefined;
}

/** True for failures to connect at all (refused, DNS, no route): the request never reached the upstream. */
export function isConnectError(err: unknown): boolean {
  const code = codeOf(err);
  return code !== undefined && CONNECT_CODES.has(code);
}

/** Upstream statuses worth another try when no body was read yet (a gateway or a server starting). */
export const RETRYABLE_STATUSES = new Set([502, 503, 504]);
/** Upstream statuses that say the provider's settings are wrong (key refused, a loop back here), not a passing failure. */
export const UNUSABLE_STATUSES = new Set([401, 403, 508]);

/** A failure without an HTTP answer (refused, no route, no name, not HTTP, silent): the cause is the network error. */
export class NoAnswerError extends UpstreamError {}

/** The network error's code (`ECONNREFUSED`, `UND_ERR_CONNECT_TIMEOUT`...), for the log. */
export const networkCodeOf = (err: unknown): string | undefined => codeOf(err);

/**
 * The one answer for a provider that gave no HTTP answer, whatever the cause: the provider test,
 * a saved provider's status and requests sent through it all say this. Through /api anyone may
 * point a provider at any address, and "refused", "does not resolve", "unreachable" and "dropped"
 * told which ports of which hosts listen (issue 22, item 9). The cause goes to the server's log
 * (`networkCodeOf`). `within`: the seconds waited, when the answer is given after a fixed wait.
 */
export function noAnswerMessage(id: string, host: string, within?: number): string {
  return (
    `${providerLabel(id)} (${host}) gave no HTTP answer${within === undefined ? "" : ` within ${within} s`}: ` +
    "nothing listens there, it is not reachable from this machine, it is not an HTTP server, or it is too slow. " +
    "The server's log says which."
  );
}

/**
 * A network-level failure (no HTTP status) as a 502/504 naming the provider and its host. Every
 * failure before an HTTP answer is the one `noAnswerMessage`; a timeout after the upstream began
 * answering (its headers came, then nothing for `timeoutSeconds`) is a 504 that says so.
 */
export function networkError(err: unknown, id: string, host: string, timeoutSeconds: number): NoAnswerError {
  const code = codeOf(err);
  if (code === "UND_ERR_BODY_TIMEOUT") {
    return new NoAnswerError(
      504,
      "server_error",
      `${providerLabel(id)} (${host}) stopped sending for more than ${timeoutSeconds} s.`,
      { code: "provider_timeout", cause: err },
    );
  }
  // A request waiting for its answer's headers is a timeout for the client (504), said the one way.
  if (code !== undefined && TIMEOUT_CODES.has(code) && code !== "UND_ERR_CONNECT_TIMEOUT")
    return new NoAnswerError(504, "server_error", noAnswerMessage(id, host, timeoutSeconds), {
      code: "provider_timeout",
      cause: err,
    });
  return new NoAnswerError(502, "server_error", noAnswerMessage(id, host), {
    code: "provider_unreachable",
    cause: err,
  });
}

/**
 * The message an upstream error body carries: OpenAI's `{error: {message}}`, vLLM's `{message}`,
 * FastAPI's `{detail}`. Any other body (an HTML page, another service's reply) is not passed on:
 * echoing it would let a provider pointed at an internal address read that service.
 */
export function upstreamMessage(text: string): string | undefined {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof body !== "object" || body === null) return undefined;
  const b = body as { error?: { message?: unknown } | string | null; message?: unknown; detail?: unknown };
  if (typeof b.error === "string") return b.error;
  if (typeof b.error?.message === "string") return b.error.message;
  if (typeof b.message === "string") return b.message;
  if (typeof b.detail === "string") return b.detail;
  return undefined;
}

/** Longest wait a provider's `Retry-After` may ask for, in seconds; longer is passed on as this. */
const MAX_RETRY_AFTER = 86_400;

/**
 * An upstream `Retry-After` (delta-seconds or an HTTP date, RFC 9110) as whole seconds from now,
 * or undefined when it is neither: the raw header is never passed on, so an upstream cannot put
 * arbitrary text (or the key it was sent) into a client's headers or the log.
 */
export function retryAfterSeconds(
  headers: Record<string, string | string[] | undefined>,
  now = Date.now(),
): number | undefined {
  const raw = headers["retry-after"];
  const value = (Array.isArray(raw) ? raw[0] : raw)?.trim();
  if (!value || value.length > 64) return undefined;
  if (/^\d+$/.test(value)) return Math.min(Number(value), MAX_RETRY_AFTER);
  // IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") and the two obsolete forms RFC 9110 still accepts.
  if (!/^[A-Za-z]{3,9},? [\dA-Za-z :-]+ GMT$|^[A-Za-z]{3} [A-Za-z]{3} [ \d]\d \d\d:\d\d:\d\d \d{4}$/.test(value))
    return undefined;
  const at = Date.parse(value);
  if (!Number.isFinite(at)) return undefined;
  return Math.min(Math.max(0, Math.ceil((at - now) / 1000)), MAX_RETRY_AFTER);
}

/**
 * An upstream answer with an error status. `scrub` removes secrets from the upstream's own text,
 * which is passed on only where it helps the client (never for 401/403).
 */
export function statusError(
  status: number,
  headers: Record<string, string | string[] | undefined>,
  bodyText: string,
  id: string,
  scrub: (text: string) => string,
): UpstreamError {
  const label = providerLabel(id);
  const detail = upstreamMessage(bodyText);
  const said = detail ? `: ${scrub(detail)}` : ".";
  if (status === 401 || status === 403) {
    return new UpstreamError(
      502,
      "server_error",
      `${label} refused its API key (HTTP ${status}). Check the key in the provider's settings.`,
      {
        code: "provider_auth_failed",
      },
    );
  }
  const retryAfter = retryAfterSeconds(headers);
  const retryHeaders = retryAfter !== undefined ? { headers: { "Retry-After": String(retryAfter) } } : {};
  if (status === 429) {
    return new UpstreamError(
      429,
      "requests",
      `${label} is rate limiting requests${retryAfter !== undefined ? `; retry after ${retryAfter} s` : ""}${said}`,
      { code: "rate_limit_exceeded", ...retryHeaders },
    );
  }
  if (status === 508) {
    return new UpstreamError(
      502,
      "server_error",
      `${label} leads back to this Hearth server (HTTP 508): its base URL is this server, or a server that forwards here. Point it at another server.`,
      { code: "provider_loop" },
    );
  }
  if (status >= 300 && status < 400) {
    return new UpstreamError(
      502,
      "server_error",
      `${label} answered with a redirect (HTTP ${status}). Hearth does not follow redirects, so credentials never go to another address: set the provider's base URL to where it points.`,
      { code: "provider_redirect" },
    );
  }
  if (status === 404) {
    return new UpstreamError(404, "invalid_request_error", `${label} does not know this model or path${said}`, {
      code: "model_not_found",
      param: "model",
    });
  }
  if (status >= 400 && status < 500) {
    return new UpstreamError(status, "invalid_request_error", `${label} rejected the request (HTTP ${status})${said}`, {
      code: "provider_rejected",
    });
  }
  if (status === 503) {
    return new UpstreamError(503, "server_error", `${label} is unavailable (HTTP 503)${said}`, {
      code: "provider_unavailable",
      ...retryHeaders,
    });
  }
  if (status === 504)
    return new UpstreamError(504, "server_error", `${label} timed out (HTTP 504)${said}`, { code: "provider_timeout" });
  return new UpstreamError(502, "server_error", `${label} failed (HTTP ${status})${said}`, { code: "provider_error" });
}
