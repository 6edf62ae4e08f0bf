import { useState } from "react";
import { saveApiKey } from "../api/auth.js";
import { request } from "../api/http.js";
import { describeError } from "../api/errors.js";
import { Dialog } from "./Dialog.js";

/** Shown when the server answered 401: asks for its API key and checks it before keeping it. */
export function ApiKeyPrompt({ onSaved }: { onSaved: () => void }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <Dialog title="This server needs an API key">
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setError(null);
          saveApiKey(key.trim());
          try {
            await request("GET", "/v1/models");
            onSaved();
          } catch (err) {
            saveApiKey(null);
            setError(describeError(err).message);
          } finally {
            setBusy(false);
          }
        }}
      >
        <p className="muted">
          Hearth was started with an API key. Enter it to use this page; it is kept in this browser only.
        </p>
        <label className="field">
          <span>API key</span>
          <input
            type="password"
            autoComplete="current-password"
            value={key}
            onChange={(e) => setKey(e.target.value)}
            autoFocus
            required
          />
        </label>
        {error ? (
          <p className="error-message" role="alert">
            {error}
          </p>
        ) : null}
        <div className="dialog-actions">
          <button type="submit" className="button primary" disabled={busy || key.trim() === ""}>
            {busy ? "Checking…" : "Continue"}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
