/**
 * Structured JSON logs (pino) on stderr, so stdout stays free for the one "ready" line that
 * supervisors read. JSON encoding escapes CR/LF, so logged values cannot forge log lines.
 */
import { pino, type DestinationStream, type Logger as PinoLogger } from "pino";

export type Logger = PinoLogger;

/** `destination` defaults to stderr; tests pass a stream to read the lines back. */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { app: "hearth" },
      // Secrets must never reach a log line, whatever object a caller passes.
      redact: {
        paths: [
          "apiKey",
          "*.apiKey",
          "authorization",
          "*.authorization",
          "headers.authorization",
          "req.headers.authorization",
          "*.headers.authorization",
        ],
        censor: "[redacted]",
      },
    },
    destination ?? pino.destination({ fd: 2, sync: false }),
  );
}
