/**
 * Structured JSON logs (pino) on stderr, so stdout stays free for the one "ready" line that
 * supervisors read. JSON encoding escapes CR/LF, so logged values cannot forge log lines.
 */
import { pino, type Logger as PinoLogger } from "pino";

export type Logger = PinoLogger;

export function createLogger(level: string): Logger {
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
    pino.destination({ fd: 2, sync: false }),
  );
}
