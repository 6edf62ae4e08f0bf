/**
 * Errors in Anthropic's shape, `{"type":"error","error":{"type","message"},"request_id"}`, and as
 * the `event: error` of a stream, which Anthropic's SDK turns into an APIError. Installed on the
 * /v1/messages routes through the one error handler's ErrorFormat.
 */
import type { HearthError } from "../errors.js";
import type { ErrorFormat } from "../http/error-handler.js";

/** Anthropic's error type for a status (its SDK picks the error class from the status, like OpenAI's). */
export function anthropicErrorType(err: HearthError): string {
  switch (err.status) {
    case 400:
    case 405:
    case 415:
      return "invalid_request_error";
    case 401:
      return "authentication_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 413:
      return "request_too_large";
    case 429:
      return "rate_limit_error";
    case 503:
      return "overloaded_error";
    case 504:
      return "timeout_error";
    default:
      return err.status >= 500 ? "api_error" : "invalid_request_error";
  }
}

export function anthropicErrorBody(err: HearthError, requestId: string | null) {
  return {
    type: "error" as const,
    error: { type: anthropicErrorType(err), message: err.message },
    request_id: requestId,
  };
}

export const anthropicErrorFormat: ErrorFormat = {
  body: anthropicErrorBody,
  streamEvent: (err, requestId) => `event: error\ndata: ${JSON.stringify(anthropicErrorBody(err, requestId))}\n\n`,
};
