/**
 * Errors in Ollama's shape, `{"error": "..."}`, with the status of the error (Ollama's clients
 * read the message and the status); in a stream, the same object as the last NDJSON line, which
 * Ollama's clients throw. Installed on the Ollama port through the one error handler's ErrorFormat.
 */
import type { HearthError } from "../errors.js";
import type { ErrorFormat } from "../http/error-handler.js";

export function errorBody(err: HearthError): { error: string } {
  return { error: err.message };
}

export const ollamaErrorFormat: ErrorFormat = {
  body: errorBody,
  streamEvent: (err) => `${JSON.stringify(errorBody(err))}\n`,
};
