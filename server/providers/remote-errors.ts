/**
 * Failures of a remote provider as clear OpenAI-shaped errors that name the provider and never
 * carry a secret: upstream 401/403 -> 502 "key refused", unreachable -> 502, timeouts -> 504,
 * 429 -> 429 with the upstream's Retry-After, other upstream 4xx keep their status.
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

/** A network-level failure (no HTTP status) as a 502/504 naming the provider and its host. */
export function networkError(err: unknown, id: string, host: string, timeoutSeconds: number): UpstreamError {
  const code = codeOf(err);
  const who = `${providerLabel(id)} (${host})`;
  if (code !== undefined && TIMEOUT_CODES.has(code)) {
    const what =
      code === "UND_ERR_BODY_TIMEOUT"
        ? `stopped sending for more than ${timeoutSeconds} s`
        : code === "UND_ERR_CONNECT_TIMEOUT"
          ? "could not be connected to in time"
          : `did not answer within ${timeoutSeconds} s`;
    return new UpstreamError(504, "server_error", `${who} ${what}.`, { code: "provider_timeout" });
  }
  const why: Record<string, string> = {
    ECONNREFUSED: "refused the connection (is it running?)",
    ENOTFOUND: "could not be found: its host name does not resolve",
    EAI_AGAIN: "could not be found: name resolution failed",
    EHOSTUNREACH: "is unreachable from this machine",
    ENETUNREACH: "is unreachable from this machine",
    ECONNRESET: "dropped the connection",
    UND_ERR_SOCKET: "dropped the connection",
  };
  return new UpstreamError(502, "server_error", `${who} ${(code && why[code]) ?? "could not be reached"}.`, {
    code: "provider_unreachable",
  });
}

/** The message an upstream error body carries: OpenAI's `{error: {message}}`, vLLM's `{message}`, FastAPI's `{detail}`. */
export function upstreamMessage(text: string): string | undefined {
  try {
    const body = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown; detail?: unknown };
    if (typeof body.error === "string") return body.error;
    if (typeof body.error?.message === "string") return body.error.message;
    if (typeof body.message === "string") return body.message;
    if (typeof body.detail === "string") return body.detail;
  } catch {
    // Not JSON: fall through to the raw text.
  }
  const raw = text.trim();
  return raw.length > 0 ? raw : undefined;
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
  if (status === 429) {
    const retryAfter = headers["retry-after"];
    const value = Array.isArray(retryAfter) ? retryAfter[0] : retryAfter;
    return new UpstreamError(
      429,
      "requests",
      `${label} is rate limiting requests${value ? `; retry after ${value} s` : ""}${said}`,
      {
        code: "rate_limit_exceeded",
        ...(value ? { headers: { "Retry-After": value } } : {}),
      },
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
      ...(typeof headers["retry-after"] === "string" ? { headers: { "Retry-After": headers["retry-after"] } } : {}),
    });
  }
  if (status === 504)
    return new UpstreamError(504, "server_error", `${label} timed out (HTTP 504)${said}`, { code: "provider_timeout" });
  return new UpstreamError(502, "server_error", `${label} failed (HTTP ${status})${said}`, { code: "provider_error" });
}
