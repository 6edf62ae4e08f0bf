/**
 * Remote providers: the list with each one's state and models, and a form to add or edit one.
 * The API key field is write-only: the server says only whether a key is set, and the field
 * starts empty; typing a key replaces it, "Remove the key" deletes it. Moving a provider to
 * another server clears its saved key and headers (the server does it); the form says so first.
 */
import { useState } from "react";
import { describeError } from "../api/errors.js";
import {
  PROVIDER_KINDS,
  providers as api,
  type ProviderInput,
  type ProviderTestResult,
  type ProviderUpdate,
  type ProviderView,
} from "../api/providers.js";
import { ConfirmDialog } from "../app/ConfirmDialog.js";
import { Dialog } from "../app/Dialog.js";
import { ErrorNote } from "../app/ErrorNote.js";
import { Field } from "../app/Field.js";
import { emit } from "../app/events.js";
import { Icon } from "../app/Icon.js";
import { showToast } from "../app/toast.js";
import { useAsync } from "../app/useAsync.js";

export default function ProvidersView() {
  const list = useAsync((signal) => api.list({ signal }), []);
  const [editing, setEditing] = useState<ProviderView | "new" | null>(null);
  const [removing, setRemoving] = useState<ProviderView | null>(null);
  const items = list.data?.data ?? [];
  const changed = () => {
    list.reload();
    emit("providers");
  };

  return (
    <div className="page">
      <div className="page-inner">
        <header className="page-header">
          <div>
            <h1>Providers</h1>
            <p>
              Send chats to a bigger engine — a vLLM cluster, OpenAI, or any OpenAI-compatible server. Their models
              appear next to yours as provider/model.
            </p>
          </div>
          <div className="page-actions">
            <button type="button" className="button primary" onClick={() => setEditing("new")}>
              <Icon name="plus" /> Add provider
            </button>
          </div>
        </header>
        {list.error ? <ErrorNote error={list.error} onRetry={list.reload} /> : null}
        {list.data && items.length === 0 ? (
          <div className="card">
            <p className="muted" style={{ margin: 0 }}>
              No providers yet. Everything runs on this computer until you add one.
            </p>
          </div>
        ) : null}
        {items.map((p) => (
          <ProviderCard
            key={p.id}
            provider={p}
            onEdit={() => setEditing(p)}
            onRemove={() => setRemoving(p)}
            onChanged={changed}
          />
        ))}
      </div>
      {editing ? (
        <ProviderForm
          provider={editing === "new" ? null : editing}
          onClose={() => setEditing(null)}
          onSaved={(p) => {
            setEditing(null);
            changed();
            showToast({ message: `Saved “${p.name}”.` });
          }}
        />
      ) : null}
      {removing ? (
        <ConfirmDialog
          title={`Remove ${removing.name}?`}
          confirmLabel="Remove"
          onClose={() => setRemoving(null)}
          onConfirm={async () => {
            try {
              await api.remove(removing.id);
              changed();
            } catch (err) {
              showToast({ message: `Could not remove ${removing.name}: ${describeError(err).message}` });
            }
          }}
        >
          Its models disappear from the model list. Conversations held with them stay in your history.
        </ConfirmDialog>
      ) : null}
    </div>
  );
}

function statusOf(p: ProviderView): { dot: string; label: string } {
  if (p.status.state === "ok") return { dot: "ok", label: "Connected" };
  if (p.status.state === "error") return { dot: "danger", label: "Not reachable" };
  return { dot: "", label: "Not checked yet" };
}

function ProviderCard({
  provider: p,
  onEdit,
  onRemove,
  onChanged,
}: {
  provider: ProviderView;
  onEdit: () => void;
  onRemove: () => void;
  onChanged: () => void;
}) {
  const [busy, setBusy] = useState<"test" | "refresh" | null>(null);
  const [result, setResult] = useState<ProviderTestResult | null>(null);
  const status = statusOf(p);
  const kind = PROVIDER_KINDS.find((k) => k.value === p.kind)?.label ?? p.kind;
  return (
    <article className="card" aria-label={`Provider ${p.name}`}>
      <div className="card-row">
        <div className="card-main">
          <h2 className="card-title">
            <span className={`state-dot ${status.dot}`} aria-hidden="true" />
            {p.name}
            <span className="badge">{kind}</span>
          </h2>
          <ul className="card-meta">
            <li>
              <code>{p.baseUrl}</code>
            </li>
            <li>id {p.id}</li>
            <li>{p.hasApiKey ? "API key set" : "No API key"}</li>
            {p.headers.length > 0 ? <li>Headers: {p.headers.join(", ")}</li> : null}
            <li aria-label="Connection state">{status.label}</li>
          </ul>
        </div>
        <div className="card-actions">
          <button
            type="button"
            className="button small"
            disabled={busy !== null}
            onClick={async () => {
              setBusy("test");
              try {
                setResult(await api.test(p.id));
                onChanged();
              } catch (err) {
                setResult({
                  ok: false,
                  latencyMs: 0,
                  models: [],
                  error: { message: describeError(err).message, type: "", code: null, status: 0 },
                });
              } finally {
                setBusy(null);
              }
            }}
          >
            {busy === "test" ? "Testing…" : "Test"}
          </button>
          <button
            type="button"
            className="button small"
            disabled={busy !== null}
            onClick={async () => {
              setBusy("refresh");
              try {
                await api.refresh(p.id);
                onChanged();
              } catch (err) {
                showToast({ message: describeError(err).message });
              } finally {
                setBusy(null);
              }
            }}
          >
            {busy === "refresh" ? "Refreshing…" : "Refresh models"}
          </button>
          <button type="button" className="icon-button" aria-label={`Edit ${p.name}`} onClick={onEdit}>
            <Icon name="edit" />
          </button>
          <button type="button" className="icon-button" aria-label={`Remove ${p.name}`} onClick={onRemove}>
            <Icon name="trash" />
          </button>
        </div>
      </div>
      {p.status.state === "error" && p.status.message ? <p className="error-hint">{p.status.message}</p> : null}
      {result ? <TestResult result={result} /> : null}
      <p className="muted" style={{ margin: "10px 0 0", fontSize: 12.5 }}>
        {p.availableModels.length > 0
          ? `Models: ${p.availableModels.join(", ")}`
          : "No models available from this provider right now."}
      </p>
    </article>
  );
}

function TestResult({ result }: { result: ProviderTestResult }) {
  return result.ok ? (
    <p className="notice" role="status" style={{ margin: "10px 0 0" }}>
      Connection works ({Math.round(result.latencyMs)} ms). {result.models.length} model
      {result.models.length === 1 ? "" : "s"} found
      {result.models.length > 0
        ? `: ${result.models.slice(0, 8).join(", ")}${result.models.length > 8 ? "…" : ""}`
        : ""}
      .
    </p>
  ) : (
    <ErrorNote error={new Error(result.error?.message ?? "The test failed.")} compact />
  );
}

const slug = (name: string) =>
  name
    .toLowerCase()
    .normalize("NFKD")
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 48);

/**
 * True when `typed` is on another origin (scheme, host or port) than `saved`: saving it clears the
 * provider's saved API key and extra headers unless they are entered again. False while `typed`
 * is not a URL yet.
 */
export function movesToAnotherOrigin(saved: string, typed: string): boolean {
  try {
    return new URL(saved).origin !== new URL(typed.trim()).origin;
  } catch {
    return false;
  }
}

function parseHeaders(text: string): Record<string, string> | string {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const colon = line.indexOf(":");
    if (colon <= 0) return `“${line.trim()}” is not in the form Name: value.`;
    out[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  return out;
}

function ProviderForm({
  provider,
  onClose,
  onSaved,
}: {
  provider: ProviderView | null;
  onClose: () => void;
  onSaved: (p: ProviderView) => void;
}) {
  const editing = provider !== null;
  const [name, setName] = useState(provider?.name ?? "");
  const [id, setId] = useState(provider?.id ?? "");
  const [idTouched, setIdTouched] = useState(editing);
  const [kind, setKind] = useState<ProviderInput["kind"]>(provider?.kind ?? "openai-compatible");
  const [baseUrl, setBaseUrl] = useState(provider?.baseUrl ?? "");
  const [apiKey, setApiKey] = useState("");
  const [removeKey, setRemoveKey] = useState(false);
  const [timeout, setTimeoutSeconds] = useState(String(provider?.timeoutSeconds ?? 120));
  const [discover, setDiscover] = useState(provider?.discover ?? true);
  const [models, setModels] = useState((provider?.models ?? []).join("\n"));
  const [headers, setHeaders] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState<"save" | "test" | null>(null);
  const [test, setTest] = useState<ProviderTestResult | null>(null);
  const effectiveId = idTouched ? id : slug(name);
  const hasSecrets = provider !== null && (provider.hasApiKey || provider.headers.length > 0);
  const moving = hasSecrets && movesToAnotherOrigin(provider.baseUrl, baseUrl);

  const build = (): ProviderInput | null => {
    const h = parseHeaders(headers);
    if (typeof h === "string") {
      setError(new Error(h));
      return null;
    }
    return {
      id: effectiveId,
      name: name.trim(),
      kind,
      baseUrl: baseUrl.trim(),
      timeoutSeconds: Number(timeout) || 120,
      discover,
      models: models
        .split(/[\n,]/)
        .map((m) => m.trim())
        .filter(Boolean),
      ...(apiKey ? { apiKey } : {}),
      ...(Object.keys(h).length > 0 ? { headers: h } : {}),
    };
  };

  const save = async () => {
    const body = build();
    if (!body) return;
    setBusy("save");
    setError(null);
    try {
      if (!provider) onSaved(await api.add(body));
      else {
        const patch: ProviderUpdate = {
          name: body.name,
          kind: body.kind,
          baseUrl: body.baseUrl,
          timeoutSeconds: body.timeoutSeconds,
          discover: body.discover,
          models: body.models,
        };
        if (apiKey) patch.apiKey = apiKey;
        else if (removeKey) patch.apiKey = null;
        if (headers.trim()) patch.headers = body.headers ?? null;
        onSaved(await api.update(provider.id, patch));
      }
    } catch (err) {
      setError(err);
    } finally {
      setBusy(null);
    }
  };

  const runTest = async () => {
    const body = build();
    if (!body) return;
    setBusy("test");
    setError(null);
    setTest(null);
    try {
      setTest(await api.testUnsaved(body));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(null);
    }
  };

  const kindHint = PROVIDER_KINDS.find((k) => k.value === kind)?.hint;
  return (
    <Dialog title={editing ? `Edit ${provider.name}` : "Add a provider"} onClose={onClose} className="wide">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        <div className="form-grid">
          <label className="field">
            <span>Name</span>
            <input value={name} required autoFocus onChange={(e) => setName(e.target.value)} placeholder="GPU server" />
          </label>
          <label className="field">
            <span>ID (prefix of its model names)</span>
            <input
              value={effectiveId}
              required
              disabled={editing}
              pattern="[a-z0-9][a-z0-9_\-]{0,47}"
              onChange={(e) => {
                setIdTouched(true);
                setId(e.target.value);
              }}
            />
          </label>
          <Field label="Kind" help={kindHint}>
            {(p) => (
              <select {...p} value={kind} onChange={(e) => setKind(e.target.value as ProviderInput["kind"])}>
                {PROVIDER_KINDS.map((k) => (
                  <option key={k.value} value={k.value}>
                    {k.label}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <label className="field">
            <span>Timeout (seconds)</span>
            <input
              type="number"
              min={1}
              max={86400}
              value={timeout}
              onChange={(e) => setTimeoutSeconds(e.target.value)}
            />
          </label>
          <label className="field wide">
            <span>Base URL</span>
            <input
              type="url"
              value={baseUrl}
              required
              placeholder="http://gpu-box:8000/v1"
              onChange={(e) => setBaseUrl(e.target.value)}
            />
          </label>
          {moving ? (
            <p className="notice wide" role="status" aria-label="Saved credentials">
              This address is on another server, so saving clears the saved API key
              {provider.headers.length > 0 ? " and extra headers" : ""}: they are never sent to a new server. Enter them
              again below to use them there.
            </p>
          ) : null}
          <Field
            label="API key"
            help="Stored on this computer and sent only to this provider. It is never shown again."
            className="field wide"
          >
            {(p) => (
              <input
                {...p}
                type="password"
                autoComplete="off"
                value={apiKey}
                placeholder={
                  provider?.hasApiKey && !moving ? "A key is set — type a new one to replace it" : "Optional"
                }
                onChange={(e) => {
                  setApiKey(e.target.value);
                  if (e.target.value) setRemoveKey(false);
                }}
              />
            )}
          </Field>
          {provider?.hasApiKey && !moving ? (
            <label className="checkbox wide">
              <input
                type="checkbox"
                checked={removeKey}
                disabled={apiKey !== ""}
                onChange={(e) => setRemoveKey(e.target.checked)}
              />
              <span>Remove the saved key</span>
            </label>
          ) : null}
          <label className="checkbox wide">
            <input type="checkbox" checked={discover} onChange={(e) => setDiscover(e.target.checked)} />
            <span>Discover models from the provider</span>
          </label>
          <label className="field wide">
            <span>
              {discover ? "Only expose these models (one per line; empty exposes all)" : "Models (one per line)"}
            </span>
            <textarea rows={2} value={models} onChange={(e) => setModels(e.target.value)} />
          </label>
          <label className="field wide">
            <span>
              Extra headers (Name: value, one per line)
              {provider && provider.headers.length > 0 && !moving
                ? ` — set now: ${provider.headers.join(", ")}; typing replaces them`
                : ""}
            </span>
            <textarea rows={2} value={headers} onChange={(e) => setHeaders(e.target.value)} autoComplete="off" />
          </label>
        </div>
        {error ? <ErrorNote error={error} compact /> : null}
        {test ? <TestResult result={test} /> : null}
        <div className="dialog-actions">
          <button
            type="button"
            className="button"
            onClick={() => void runTest()}
            disabled={busy !== null || !baseUrl || (editing && provider.hasApiKey && !apiKey && !removeKey && !moving)}
            title={
              editing && provider.hasApiKey && !apiKey && !moving
                ? "Save, then use Test on the provider: the saved key is not sent back to this page"
                : undefined
            }
          >
            {busy === "test" ? "Testing…" : "Test connection"}
          </button>
          <span style={{ flex: 1 }} />
          <button type="button" className="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="button primary" disabled={busy !== null}>
            {busy === "save" ? "Saving…" : "Save"}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
