/**
 * The model library: what is on this computer (with what each file's header says), load and
 * unload, downloads with live progress, and the recommended models for a first start.
 */
import { useState } from "react";
import { bridge } from "../api/auth.js";
import { describeError } from "../api/errors.js";
import {
  downloads as downloadsApi,
  models as api,
  type DownloadSnapshot,
  type LibraryModelView,
  type RecommendedView,
} from "../api/models.js";
import { ConfirmDialog } from "../app/ConfirmDialog.js";
import { Dialog } from "../app/Dialog.js";
import { ErrorNote } from "../app/ErrorNote.js";
import { emit } from "../app/events.js";
import { formatBytes, formatCount, formatDuration } from "../app/format.js";
import { Icon } from "../app/Icon.js";
import { navigate } from "../app/route.js";
import { showToast } from "../app/toast.js";
import { useAsync } from "../app/useAsync.js";
import { useDownloads } from "./useDownloads.js";

export default function ModelsView() {
  const library = useAsync((signal) => api.list({ signal }), []);
  const recommended = useAsync((signal) => api.recommended({ signal }), []);
  const [importing, setImporting] = useState(false);
  const [deleting, setDeleting] = useState<LibraryModelView | null>(null);
  const refresh = () => {
    library.reload();
    recommended.reload();
    emit("models");
  };
  const dl = useDownloads((d) => {
    showToast({ message: `Downloaded ${d.modelId}.` });
    refresh();
  });
  const items = library.data?.models ?? [];
  const usable = items.filter((m) => m.status === "ok" && m.facts?.kind !== "projector");
  const firstRun = library.data !== undefined && usable.length === 0;
  const active = dl.list.filter((d) => d.state !== "completed" && d.state !== "cancelled");
  const mem = library.data?.memory;

  return (
    <div className="page">
      <div className="page-inner">
        <header className="page-header">
          <div>
            <h1>Models</h1>
            <p>Models on this computer run privately, without a network.</p>
          </div>
          <div className="page-actions">
            <button type="button" className="button" onClick={() => setImporting(true)}>
              <Icon name="upload" /> Import file
            </button>
            <button
              type="button"
              className="button"
              onClick={async () => {
                try {
                  await api.rescan();
                  refresh();
                } catch (err) {
                  showToast({ message: describeError(err).message });
                }
              }}
            >
              <Icon name="refresh" /> Rescan
            </button>
          </div>
        </header>

        {library.error ? <ErrorNote error={library.error} onRetry={library.reload} /> : null}

        {firstRun ? (
          <div className="notice" role="note">
            <strong>No model yet.</strong> Pick one of the recommended models below to download — it takes a few minutes
            and then works offline.
          </div>
        ) : null}

        {firstRun ? <Recommended state={recommended} onStarted={dl.upsert} /> : null}

        <section className="section" aria-labelledby="downloads-title">
          <h2 id="downloads-title">Download a model</h2>
          <DownloadForm onStarted={dl.upsert} />
          {dl.error && active.length > 0 ? <ErrorNote error={dl.error} compact /> : null}
          {dl.list
            .filter((d) => d.state !== "completed" || Date.now() - d.updatedAt < 60_000)
            .map((d) => (
              <DownloadCard key={d.id} download={d} onChange={dl.upsert} />
            ))}
        </section>

        <section className="section" aria-labelledby="library-title">
          <h2 id="library-title">On this computer</h2>
          {mem && mem.budgetBytes > 0 ? (
            <p className="muted" style={{ fontSize: 12.5 }}>
              Memory for models: {formatBytes(mem.usedBytes)} used of {formatBytes(mem.budgetBytes)}. The least recently
              used model is unloaded when a new one needs room.
            </p>
          ) : null}
          {library.data && items.length === 0 ? (
            <p className="muted">
              No model files found in {library.data.folders.map((f) => f.path).join(", ") || "the models folder"}.
            </p>
          ) : null}
          {items.map((m) => (
            <ModelCard
              key={m.id}
              model={m}
              others={items
                .filter((o) => o.id !== m.id && o.status === "ok" && o.facts?.kind === "llm")
                .map((o) => o.id)}
              onChanged={refresh}
              onDelete={() => setDeleting(m)}
            />
          ))}
        </section>

        {!firstRun ? <Recommended state={recommended} onStarted={dl.upsert} /> : null}
      </div>

      {importing ? (
        <ImportDialog
          onClose={() => setImporting(false)}
          onImported={(m) => {
            setImporting(false);
            showToast({ message: `Imported ${m.id}.` });
            refresh();
          }}
        />
      ) : null}
      {deleting ? (
        <ConfirmDialog
          title={`Delete ${deleting.id}?`}
          confirmLabel="Delete"
          onClose={() => setDeleting(null)}
          onConfirm={async () => {
            try {
              await api.remove(deleting.id);
              refresh();
            } catch (err) {
              showToast({ message: `Could not delete ${deleting.id}: ${describeError(err).message}` });
            }
          }}
        >
          The file ({formatBytes(deleting.sizeBytes)}) is removed from the models folder. Conversations held with it
          stay in your history.
        </ConfirmDialog>
      ) : null}
    </div>
  );
}

const STATE_LABEL = {
  loaded: "Loaded",
  loading: "Loading",
  unloaded: "Not loaded",
  unloading: "Unloading",
  error: "Failed to load",
} as const;
const STATE_DOT = { loaded: "ok", loading: "warn", unloaded: "", unloading: "warn", error: "danger" } as const;

/**
 * Speculative decoding for one model (README, "Speculative decoding"): the server's setting, prompt
 * lookup on or off, or a draft model of the library. Applies at the model's next load.
 */
function SpeculationSetting({
  model: m,
  others,
  onChanged,
}: {
  model: LibraryModelView;
  others: string[];
  onChanged: () => void;
}) {
  const { promptLookup, draftModel, ...rest } = m.settings;
  const value =
    draftModel !== undefined ? `draft:${draftModel}` : promptLookup === undefined ? "server" : String(promptLookup);
  const save = async (choice: string) => {
    const next = {
      ...rest,
      ...(choice === "true" || choice === "false" ? { promptLookup: choice === "true" } : {}),
      ...(choice.startsWith("draft:") ? { draftModel: choice.slice("draft:".length) } : {}),
    };
    try {
      const saved = await api.saveSettings(m.id, next);
      if (saved.reloadRequired) showToast({ message: `Saved. Unload and load ${m.id} to apply it.` });
      onChanged();
    } catch (err) {
      showToast({ message: describeError(err).message });
    }
  };
  const drafts = draftModel !== undefined && !others.includes(draftModel) ? [...others, draftModel] : others;
  return (
    <label className="model-picker" style={{ marginTop: 6 }}>
      <span className="muted" style={{ fontSize: 12.5, marginRight: 6 }}>
        Speculative decoding
      </span>
      <select aria-label={`Speculative decoding for ${m.id}`} value={value} onChange={(e) => void save(e.target.value)}>
        <option value="server">Server setting</option>
        <option value="true">Prompt lookup</option>
        <option value="false">Off</option>
        {drafts.map((id) => (
          <option key={id} value={`draft:${id}`}>
            Draft model: {id}
          </option>
        ))}
      </select>
    </label>
  );
}

function ModelCard({
  model: m,
  others,
  onChanged,
  onDelete,
}: {
  model: LibraryModelView;
  /** Models of the library that could draft for this one (the server checks the vocabulary at load). */
  others: string[];
  onChanged: () => void;
  onDelete: () => void;
}) {
  const [busy, setBusy] = useState(false);
  const f = m.facts;
  const act = async (run: () => Promise<unknown>) => {
    setBusy(true);
    try {
      await run();
      onChanged();
    } catch (err) {
      showToast({ message: describeError(err).message });
    } finally {
      setBusy(false);
    }
  };
  const invalid = m.status !== "ok";
  return (
    <article className="card" aria-label={`Model ${m.id}`}>
      <div className="card-row">
        <div className="card-main">
          <h3 className="card-title">
            <span className={`state-dot ${invalid ? "danger" : STATE_DOT[m.state]}`} aria-hidden="true" />
            {m.id}
            {f?.kind === "embedding" ? <span className="badge">Embeddings</span> : null}
            {m.location !== "managed" ? (
              <span className="badge">{m.location === "external" ? "Started with --model" : "Extra folder"}</span>
            ) : null}
          </h3>
          <ul className="card-meta">
            {f ? (
              <>
                <li>{f.architecture}</li>
                <li>{formatCount(f.parameters)} parameters</li>
                {f.quantization ? <li>{f.quantization}</li> : null}
                {f.trainContextSize ? <li>{formatCount(f.trainContextSize)} context</li> : null}
                <li>{f.hasChatTemplate ? "Chat template" : "No chat template"}</li>
              </>
            ) : null}
            <li>{formatBytes(m.sizeBytes)}</li>
            <li aria-label="Load state">
              {invalid
                ? "Unusable"
                : m.state === "loading" && m.loadProgress !== null
                  ? `Loading ${Math.round(m.loadProgress * 100)}%`
                  : STATE_LABEL[m.state]}
            </li>
            {m.loaded ? (
              <li>
                {m.loaded.parallel} sequences × {formatCount(m.loaded.contextSize)} tokens
                {m.loaded.lanes > 1 ? ` in ${m.loaded.lanes} decode lanes` : ""}
                {m.loaded.gpuLayers > 0 ? `, ${m.loaded.gpuLayers} GPU layers` : ""}
              </li>
            ) : null}
            {m.loaded?.speculative ? (
              <li>
                {m.loaded.speculative.draftModel ? `Drafted by ${m.loaded.speculative.draftModel}` : "Prompt lookup"}
              </li>
            ) : null}
          </ul>
          {!invalid && f?.kind !== "projector" && f?.kind !== "embedding" ? (
            <SpeculationSetting model={m} others={others} onChanged={onChanged} />
          ) : null}
          {invalid ? <p className="error-hint">{m.error ?? "This file is not a usable GGUF model."}</p> : null}
          {m.loadError ? <p className="error-hint">{m.loadError}</p> : null}
        </div>
        <div className="card-actions">
          {!invalid && f?.kind !== "projector" && f?.kind !== "embedding" ? (
            <button
              type="button"
              className="button small"
              onClick={() => {
                try {
                  localStorage.setItem("hearth.lastModel", m.id);
                } catch {
                  // Only a convenience.
                }
                navigate({ name: "chat", conversationId: null, messageId: null });
              }}
            >
              Chat
            </button>
          ) : null}
          {!invalid ? (
            m.state === "loaded" || m.state === "loading" ? (
              <button
                type="button"
                className="button small"
                disabled={busy || m.state === "loading"}
                onClick={() => void act(() => api.unload(m.id))}
              >
                Unload
              </button>
            ) : (
              <button
                type="button"
                className="button small"
                disabled={busy || m.state === "unloading"}
                onClick={() => void act(() => api.load(m.id))}
              >
                {busy ? "Loading…" : "Load"}
              </button>
            )
          ) : null}
          {m.location === "managed" ? (
            <button type="button" className="icon-button" aria-label={`Delete ${m.id}`} onClick={onDelete}>
              <Icon name="trash" />
            </button>
          ) : null}
        </div>
      </div>
    </article>
  );
}

function DownloadForm({ onStarted }: { onStarted: (d: DownloadSnapshot) => void }) {
  const [source, setSource] = useState("");
  const [quantization, setQuantization] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const isRepo = /^[\w.-]+\/[\w.-]+$/.test(source.trim());
  return (
    <form
      className="card"
      aria-label="Download a model"
      onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        setError(null);
        try {
          onStarted(
            await downloadsApi.start({
              source: source.trim(),
              ...(isRepo && quantization.trim() ? { quantization: quantization.trim() } : {}),
            }),
          );
          setSource("");
        } catch (err) {
          setError(err);
        } finally {
          setBusy(false);
        }
      }}
    >
      <div className="card-row" style={{ alignItems: "flex-end" }}>
        <label className="field card-main" style={{ marginBottom: 0 }}>
          <span>Hugging Face reference or URL</span>
          <input
            value={source}
            onChange={(e) => setSource(e.target.value)}
            placeholder="hf:owner/repo/file.gguf, owner/repo, or https://…/model.gguf"
            aria-describedby="download-help"
          />
        </label>
        {isRepo ? (
          <label className="field" style={{ marginBottom: 0, width: 130 }}>
            <span>Quantization</span>
            <input value={quantization} onChange={(e) => setQuantization(e.target.value)} placeholder="Q4_K_M" />
          </label>
        ) : null}
        <button type="submit" className="button primary" disabled={busy || !source.trim()}>
          <Icon name="download" /> Download
        </button>
      </div>
      <p id="download-help" className="field-help" style={{ margin: "6px 0 0", fontSize: 12, color: "var(--faint)" }}>
        The model appears in the library once the file is complete and verified.
      </p>
      {error ? <ErrorNote error={error} compact /> : null}
    </form>
  );
}

const DL_STATE: Record<DownloadSnapshot["state"], string> = {
  queued: "Waiting",
  downloading: "Downloading",
  paused: "Paused",
  verifying: "Verifying",
  completed: "Done",
  failed: "Failed",
  cancelled: "Cancelled",
};

function DownloadCard({
  download: d,
  onChange,
}: {
  download: DownloadSnapshot;
  onChange: (d: DownloadSnapshot) => void;
}) {
  const pct = d.total ? Math.min(100, (d.bytes / d.total) * 100) : null;
  const act = async (run: () => Promise<DownloadSnapshot>) => {
    try {
      onChange(await run());
    } catch (err) {
      showToast({ message: describeError(err).message });
    }
  };
  const live = d.state === "downloading" || d.state === "queued" || d.state === "verifying";
  return (
    <article className="card" aria-label={`Download ${d.modelId}`} data-state={d.state}>
      <div className="card-row">
        <div className="card-main">
          <h3 className="card-title">
            {d.modelId}
            <span className={`badge ${d.state === "failed" ? "danger" : d.state === "completed" ? "ok" : ""}`}>
              {DL_STATE[d.state]}
            </span>
          </h3>
          <div
            className="progress"
            role="progressbar"
            aria-label={`Downloading ${d.modelId}`}
            aria-valuemin={0}
            aria-valuemax={100}
            aria-valuenow={pct === null ? undefined : Math.round(pct)}
            aria-valuetext={pct === null ? `${formatBytes(d.bytes)} so far` : `${Math.round(pct)}%`}
          >
            <div style={{ width: `${pct ?? 0}%` }} />
          </div>
          <div className="progress-meta">
            <span>
              {formatBytes(d.bytes)}
              {d.total ? ` of ${formatBytes(d.total)}` : ""}
            </span>
            {d.state === "downloading" ? (
              <span>
                {formatBytes(d.speed)}/s · {d.eta !== null ? `${formatDuration(d.eta)} left` : "estimating…"}
              </span>
            ) : null}
          </div>
          {d.error ? <p className="error-hint">{d.error}</p> : null}
        </div>
        <div className="card-actions">
          {d.state === "downloading" || d.state === "queued" ? (
            <button type="button" className="button small" onClick={() => void act(() => downloadsApi.pause(d.id))}>
              Pause
            </button>
          ) : null}
          {d.state === "paused" || d.state === "failed" ? (
            <button type="button" className="button small" onClick={() => void act(() => downloadsApi.resume(d.id))}>
              {d.state === "failed" ? "Retry" : "Resume"}
            </button>
          ) : null}
          {live || d.state === "paused" || d.state === "failed" ? (
            <button
              type="button"
              className="button small danger"
              onClick={() => void act(() => downloadsApi.cancel(d.id))}
            >
              Cancel
            </button>
          ) : null}
        </div>
      </div>
    </article>
  );
}

function Recommended({
  state,
  onStarted,
}: {
  state: ReturnType<typeof useAsync<{ models: RecommendedView[] }>>;
  onStarted: (d: DownloadSnapshot) => void;
}) {
  const [starting, setStarting] = useState<string | null>(null);
  if (state.error) return <ErrorNote error={state.error} onRetry={state.reload} compact />;
  if (!state.data) return null;
  return (
    <section className="section" aria-labelledby="recommended-title">
      <h2 id="recommended-title">Recommended models</h2>
      <p className="muted">Small, openly licensed chat models that run well on ordinary computers.</p>
      <div className="grid-2">
        {state.data.models.map((r) => (
          <article key={r.id} className="card" aria-label={`Recommended ${r.name}`}>
            <h3 className="card-title">{r.name}</h3>
            <p className="muted" style={{ margin: "6px 0", fontSize: 13 }}>
              {r.description}
            </p>
            <ul className="card-meta">
              <li>{r.parameters} parameters</li>
              <li>{r.quantization}</li>
              <li>{formatBytes(r.downloadBytes)} download</li>
              <li>needs {formatBytes(r.memoryBytes)} memory</li>
              <li>{r.license}</li>
            </ul>
            {!r.fitsMemory ? (
              <p className="error-hint" style={{ color: "var(--warn)" }}>
                May not fit in this computer's memory.
              </p>
            ) : null}
            <div style={{ marginTop: 10 }}>
              {r.installed ? (
                <span className="badge ok">Installed</span>
              ) : r.downloadId ? (
                <span className="badge accent">Downloading</span>
              ) : (
                <button
                  type="button"
                  className="button small primary"
                  disabled={starting !== null}
                  onClick={async () => {
                    setStarting(r.id);
                    try {
                      onStarted(await downloadsApi.start({ source: r.source }));
                      state.reload();
                    } catch (err) {
                      showToast({ message: describeError(err).message });
                    } finally {
                      setStarting(null);
                    }
                  }}
                >
                  <Icon name="download" /> {starting === r.id ? "Starting…" : "Download"}
                </button>
              )}
            </div>
          </article>
        ))}
      </div>
    </section>
  );
}

function ImportDialog({ onClose, onImported }: { onClose: () => void; onImported: (m: LibraryModelView) => void }) {
  const [path, setPath] = useState("");
  const [mode, setMode] = useState<"copy" | "link">("copy");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const shell = bridge();
  return (
    <Dialog title="Import a model file" onClose={onClose}>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setError(null);
          try {
            onImported(await api.import({ path: path.trim(), mode }));
          } catch (err) {
            setError(err);
          } finally {
            setBusy(false);
          }
        }}
      >
        <label className="field">
          <span>Path of a .gguf file on the server's computer</span>
          <div className="copy-field">
            <input
              value={path}
              onChange={(e) => setPath(e.target.value)}
              placeholder="/home/me/models/model.gguf"
              required
              autoFocus
            />
            {shell ? (
              <button
                type="button"
                className="button"
                onClick={async () => {
                  const picked = await shell.pickModelFile();
                  if (picked) setPath(picked);
                }}
              >
                Choose…
              </button>
            ) : null}
          </div>
        </label>
        <fieldset className="field" style={{ border: 0, padding: 0 }}>
          <legend className="visually-hidden">How to import</legend>
          <label className="checkbox" style={{ marginBottom: 4 }}>
            <input type="radio" name="mode" checked={mode === "copy"} onChange={() => setMode("copy")} /> Copy it into
            the models folder
          </label>
          <label className="checkbox">
            <input type="radio" name="mode" checked={mode === "link"} onChange={() => setMode("link")} /> Link to it
            where it is (saves disk space)
          </label>
        </fieldset>
        {error ? <ErrorNote error={error} compact /> : null}
        <div className="dialog-actions">
          <button type="button" className="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="button primary" disabled={busy || !path.trim()}>
            {busy ? "Importing…" : "Import"}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
