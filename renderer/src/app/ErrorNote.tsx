import { describeError } from "../api/errors.js";
import { Icon } from "./Icon.js";

/** A server or network error in plain words, with what to do next and an optional retry. */
export function ErrorNote({
  error,
  onRetry,
  compact = false,
}: {
  error: unknown;
  onRetry?: () => void;
  compact?: boolean;
}) {
  if (!error) return null;
  const { message, hint } = describeError(error);
  return (
    <div className={compact ? "error-note compact" : "error-note"} role="alert">
      <Icon name="alert" />
      <div>
        <p className="error-message">{message}</p>
        {hint ? <p className="error-hint">{hint}</p> : null}
      </div>
      {onRetry ? (
        <button type="button" className="button small" onClick={onRetry}>
          Try again
        </button>
      ) : null}
    </div>
  );
}
