/**
 * Settings: appearance, the server (address, API key, CORS), performance, models, the local
 * network and named API keys (AccessSettings.tsx), and history.
 * Server settings are saved to the server's settings file and apply at its next start; the
 * screen says which ones are waiting for a restart. The API key is write-only.
 */
import { useEffect, useMemo, useState } from "react";
import { conversations } from "../api/history.js";
import { describeError } from "../api/errors.js";
import {
  canChangeProtected,
  downloadFile,
  historyIo,
  settings as api,
  type EditableKey,
  type SettingsPatch,
  type SettingsView as View,
} from "../api/settings.js";
import { ConfirmDialog } from "../app/ConfirmDialog.js";
import { CopyButton } from "../app/CopyButton.js";
import { ErrorNote } from "../app/ErrorNote.js";
import { Field as LabelledField } from "../app/Field.js";
import { emit } from "../app/events.js";
import { showToast } from "../app/toast.js";
import type { ThemeChoice } from "../app/theme.js";
import { useAsync } from "../app/useAsync.js";
import { AccessSettings } from "./AccessSettings.js";
import { McpServersSection } from "./McpServersSection.js";

type Kind = "text" | "number" | "list" | "bool" | "select";

interface FieldDef {
  key: Exclude<EditableKey, "apiKey">;
  label: string;
  kind: Kind;
  help: string;
  options?: readonly string[];
}

const SECTIONS: { title: string; fields: FieldDef[] }[] = [
  {
    title: "Server",
    fields: [
      {
        key: "host",
        label: "Host",
        kind: "text",
        help: "127.0.0.1 keeps Hearth on this computer. Another address exposes it to the network and needs an API key.",
      },
      { key: "port", label: "Port", kind: "number", help: "0 picks a free port at each start." },
      {
        key: "ollamaPort",
        label: "Ollama API port",
        kind: "number",
        help: "Also serve Ollama's API on this port, for tools that speak only that (they expect 11434). Empty turns it off.",
      },
      {
        key: "corsOrigins",
        label: "CORS origins",
        kind: "list",
        help: "Web pages allowed to call Hearth from a browser, one origin per line (e.g. http://localhost:5173).",
      },
      {
        key: "allowedHosts",
        label: "Allowed host names",
        kind: "list",
        help: "Names besides localhost that may reach Hearth (a guard against DNS rebinding).",
      },
      {
        key: "localRpm",
        label: "Requests per minute without a key",
        kind: "number",
        help: "For tools on this computer that call without a key; named keys have their own limits. The desktop app's window is never limited, a browser tab of this page is. 0: no limit.",
      },
      {
        key: "localTpm",
        label: "Tokens per minute without a key",
        kind: "number",
        help: "Prompt and reply tokens, for the same callers. 0: no limit.",
      },
    ],
  },
  {
    title: "Performance",
    fields: [
      { key: "threads", label: "CPU threads", kind: "number", help: "0 chooses from this machine." },
      {
        key: "batchThreads",
        label: "Threads for batched steps",
        kind: "number",
        help: "For steps that decode several requests or a prompt at once; 0 chooses (every core with a local llama.cpp build).",
      },
      {
        key: "lanes",
        label: "Decode lanes",
        kind: "number",
        help: "Contexts that decode side by side, each on its own threads; 0 chooses (one per free core on CPU, one with a GPU).",
      },
      {
        key: "parallel",
        label: "Parallel sequences",
        kind: "number",
        help: "Requests decoded together; 0 chooses from the model and memory.",
      },
      {
        key: "ctxSize",
        label: "Context size per sequence",
        kind: "number",
        help: "Tokens; 0 chooses from the model (up to 4096).",
      },
      {
        key: "gpu",
        label: "GPU",
        kind: "select",
        options: ["auto", "cpu", "cuda", "vulkan", "metal"],
        help: "auto uses a GPU when there is one.",
      },
      {
        key: "engineBinary",
        label: "llama.cpp build",
        kind: "select",
        options: ["auto", "prebuilt", "local"],
        help: "auto uses a build made on this computer (npm run build:engine) when there is one; prebuilt always uses the one that came with Hearth.",
      },
      {
        key: "maxQueue",
        label: "Queue length",
        kind: "number",
        help: "Requests that may wait for a free sequence before the server answers busy.",
      },
      {
        key: "defaultMaxTokens",
        label: "Default max tokens",
        kind: "number",
        help: "Longest reply when a request sets no limit.",
      },
      {
        key: "requestTimeout",
        label: "Request timeout (seconds)",
        kind: "number",
        help: "A generation running longer is stopped.",
      },
      {
        key: "promptLookup",
        label: "Speculative decoding by prompt lookup",
        kind: "bool",
        help: "Guesses the tokens a reply copies from its prompt (edits, quotes); the model checks them as it goes, so replies do not change. A model's own choice on the Models screen wins.",
      },
      {
        key: "draftModel",
        label: "Draft model",
        kind: "text",
        help: "A smaller model with the same vocabulary (a name from the Models screen or a GGUF path) that drafts tokens for every model. Empty: none.",
      },
      {
        key: "draftMax",
        label: "Guessed tokens per step",
        kind: "number",
        help: "At most this many guesses per request in one decode step, so one request cannot swell the others' steps; 0 turns guessing off.",
      },
    ],
  },
  {
    title: "Models",
    fields: [
      {
        key: "modelDirs",
        label: "Extra model folders",
        kind: "list",
        help: "Folders whose GGUF files are listed besides the models folder, one per line.",
      },
      { key: "modelIdleTimeout", label: "Unload after idle (seconds)", kind: "number", help: "0 keeps models loaded." },
      { key: "modelMemoryMb", label: "Memory for models (MiB)", kind: "number", help: "0 chooses from this machine." },
      {
        key: "hfEndpoint",
        label: "Hugging Face address",
        kind: "text",
        help: "For a mirror; downloads come from here.",
      },
    ],
  },
  {
    title: "History",
    fields: [
      {
        key: "recordApi",
        label: "Record API chats",
        kind: "bool",
        help: "Keep /v1 chat traffic from other tools in history, as API conversations.",
      },
      {
        key: "apiRetentionDays",
        label: "Keep API chats for (days)",
        kind: "number",
        help: "0 keeps them forever. Pinned chats are always kept.",
      },
    ],
  },
  {
    title: "Tools in the chat",
    fields: [
      {
        key: "toolTimeout",
        label: "Tool call timeout (seconds)",
        kind: "number",
        help: "A tool call taking longer is cancelled; the model is told it timed out.",
      },
      {
        key: "toolResultLimit",
        label: "Longest tool result (characters)",
        kind: "number",
        help: "A longer result is cut, with a note, before the model and the history see it.",
      },
      {
        key: "toolMaxSteps",
        label: "Most model turns per reply",
        kind: "number",
        help: "A reply that keeps calling tools stops after this many turns.",
      },
    ],
  },
];

const ALL_FIELDS = SECTIONS.flatMap((s) => s.fields);

function toDraft(value: unknown, kind: Kind): string {
  if (kind === "list") return Array.isArray(value) ? value.join("\n") : "";
  if (kind === "bool") return value ? "true" : "false";
  return value === undefined || value === null ? "" : String(value);
}

function fromDraft(draft: string, kind: Kind): unknown {
  if (kind === "list")
    return draft
      .split("\n")
      .map((s) => s.trim())
      .filter(Boolean);
  if (kind === "bool") return draft === "true";
  if (kind === "number") return draft.trim() === "" ? null : Number(draft);
  return draft.trim() === "" ? null : draft.trim();
}

export default function SettingsView({ theme, onTheme }: { theme: ThemeChoice; onTheme: (t: ThemeChoice) => void }) {
  const state = useAsync((signal) => api.get({ signal }), []);
  const [view, setView] = useState<View | null>(null);
  const [draft, setDraft] = useState<Record<string, string>>({});
  const [apiKey, setApiKey] = useState("");
  const [removeKey, setRemoveKey] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [saving, setSaving] = useState(false);

  useEffect(() => {
    if (state.data) setView(state.data);
  }, [state.data]);

  const initial = useMemo(() => {
    if (!view) return {};
    const values: Record<string, string> = {};
    for (const f of ALL_FIELDS) {
      const saved = (view.saved as Record<string, unknown>)[f.key];
      values[f.key] = toDraft(saved !== undefined ? saved : (view.settings as Record<string, unknown>)[f.key], f.kind);
    }
    return values;
  }, [view]);

  useEffect(() => setDraft(initial), [initial]);

  const changed = ALL_FIELDS.filter((f) => draft[f.key] !== undefined && draft[f.key] !== initial[f.key]);
  const dirty = changed.length > 0 || apiKey !== "" || removeKey;

  const save = async () => {
    const patch: SettingsPatch = {};
    for (const f of changed) patch[f.key] = fromDraft(draft[f.key] ?? "", f.kind);
    if (apiKey) patch.apiKey = apiKey;
    else if (removeKey) patch.apiKey = null;
    setSaving(true);
    setError(null);
    try {
      const next = await api.save(patch, view?.protected ?? []);
      if (!next) {
        showToast({ message: "Not saved." });
        return;
      }
      setView(next);
      setApiKey("");
      setRemoveKey(false);
      showToast({
        message: next.restartRequired.length > 0 ? "Saved. Restart Hearth to apply the changes." : "Saved.",
      });
    } catch (err) {
      setError(err);
    } finally {
      setSaving(false);
    }
  };

  return (
    <div className="page">
      <div className="page-inner">
        <header className="page-header">
          <div>
            <h1>Settings</h1>
            <p>
              {view ? `Saved in ${view.file}. Command-line flags and HEARTH_* variables take precedence.` : "\u00a0"}
            </p>
          </div>
        </header>

        <section className="section" aria-labelledby="appearance-title">
          <h2 id="appearance-title">Appearance</h2>
          <div className="segmented" role="radiogroup" aria-label="Theme" style={{ maxWidth: 320 }}>
            {(["system", "light", "dark"] as const).map((t) => (
              <button
                key={t}
                type="button"
                role="radio"
                aria-checked={theme === t}
                className={theme === t ? "active" : ""}
                onClick={() => onTheme(t)}
              >
                {t === "system" ? "System" : t === "light" ? "Light" : "Dark"}
              </button>
            ))}
          </div>
        </section>

        {state.error ? <ErrorNote error={state.error} onRetry={state.reload} /> : null}
        {view && view.restartRequired.length > 0 ? (
          <div className="notice" role="status">
            Restart Hearth to apply:{" "}
            {view.restartRequired
              .map((k) => ALL_FIELDS.find((f) => f.key === k)?.label ?? (k === "apiKey" ? "API key" : k))
              .join(", ")}
            .
          </div>
        ) : null}

        {view ? (
          <form
            onSubmit={(e) => {
              e.preventDefault();
              void save();
            }}
          >
            {SECTIONS.map((section) => (
              <section key={section.title} className="section" aria-labelledby={`section-${section.title}`}>
                <h2 id={`section-${section.title}`}>{section.title}</h2>
                <div className="card">
                  <div className="form-grid">
                    {section.fields.map((f) => (
                      <Field
                        key={f.key}
                        def={f}
                        value={draft[f.key] ?? ""}
                        pending={view.restartRequired.includes(f.key)}
                        locked={(view.protected ?? []).includes(f.key) && !canChangeProtected()}
                        onChange={(v) => setDraft((d) => ({ ...d, [f.key]: v }))}
                      />
                    ))}
                    {section.title === "Server" ? (
                      <OllamaUrl port={view.settings.ollamaPort} url={view.ollamaUrl} />
                    ) : null}
                    {section.title === "Server" ? (
                      <div className="wide">
                        <LabelledField
                          label={
                            <>
                              API key{" "}
                              <span className="key-state">
                                ({view.saved.apiKeySet || view.settings.apiKeySet ? "set" : "not set"})
                              </span>
                            </>
                          }
                          help="Clients then send it as “Authorization: Bearer …”. It is never shown again."
                          className="field"
                        >
                          {(p) => (
                            <input
                              {...p}
                              type="password"
                              autoComplete="new-password"
                              value={apiKey}
                              placeholder={
                                view.saved.apiKeySet
                                  ? "A key is saved — type a new one to replace it"
                                  : "At least 8 characters"
                              }
                              onChange={(e) => {
                                setApiKey(e.target.value);
                                if (e.target.value) setRemoveKey(false);
                              }}
                            />
                          )}
                        </LabelledField>
                        {view.saved.apiKeySet ? (
                          <label className="checkbox" style={{ marginTop: 8 }}>
                            <input
                              type="checkbox"
                              checked={removeKey}
                              disabled={apiKey !== ""}
                              onChange={(e) => setRemoveKey(e.target.checked)}
                            />
                            <span>Remove the saved key</span>
                          </label>
                        ) : null}
                      </div>
                    ) : null}
                  </div>
                </div>
              </section>
            ))}
            {error ? <ErrorNote error={error} /> : null}
            <div className="save-bar">
              <span className="muted">
                {dirty
                  ? `${changed.length + (apiKey || removeKey ? 1 : 0)} unsaved change${changed.length + (apiKey || removeKey ? 1 : 0) === 1 ? "" : "s"}`
                  : "All changes saved"}
              </span>
              <button
                type="button"
                className="button"
                disabled={!dirty || saving}
                onClick={() => {
                  setDraft(initial);
                  setApiKey("");
                  setRemoveKey(false);
                }}
              >
                Discard
              </button>
              <button type="submit" className="button primary" disabled={!dirty || saving}>
                {saving ? "Saving…" : "Save"}
              </button>
            </div>
          </form>
        ) : null}

        {view ? <AccessSettings view={view} onView={setView} /> : null}

        <McpServersSection />
        <HistoryData />
      </div>
    </div>
  );
}

/**
 * Where the running server serves Ollama's API, to copy into a tool's settings; nothing when it is
 * off, and why not when its port could not be bound.
 */
function OllamaUrl({ port, url }: { port: unknown; url: string | null }) {
  if (typeof port !== "number") return null;
  return (
    <div className="wide field">
      <span>Ollama API</span>
      {url === null ? (
        <span className="field-help" role="status">
          Not served: port {port} could not be bound when Hearth started (is Ollama itself running?). Choose another
          port, or stop the other program, and restart Hearth.
        </span>
      ) : (
        <div className="copy-field">
          <code aria-label="Ollama API URL">{url}</code>
          <CopyButton text={url} label="Copy the Ollama API URL" className="button small labelled" />
        </div>
      )}
    </div>
  );
}

/** Why a guarding setting cannot be changed from a browser, and where it can. */
const LOCKED_HELP =
  "It guards the server, so it changes only on the command line, with its HEARTH_* variable, or in the desktop app's Settings.";

function Field({
  def,
  value,
  pending,
  locked,
  onChange,
}: {
  def: FieldDef;
  value: string;
  pending: boolean;
  /** A guarding setting shown where this page cannot change it (a browser on `hearth serve`). */
  locked: boolean;
  onChange: (v: string) => void;
}) {
  const id = `setting-${def.key}`;
  const help = locked ? `${def.help} ${LOCKED_HELP}` : def.help;
  const label = (
    <span>
      {def.label}
      {pending ? (
        <span className="badge warn" style={{ marginLeft: 6 }}>
          after restart
        </span>
      ) : null}
    </span>
  );
  if (def.kind === "bool") {
    return (
      <div className="field wide">
        <label className="checkbox" style={{ marginBottom: 2 }}>
          <input
            type="checkbox"
            checked={value === "true"}
            disabled={locked}
            onChange={(e) => onChange(e.target.checked ? "true" : "false")}
            aria-describedby={`${id}-help`}
          />
          {label}
        </label>
        <span className="field-help" id={`${id}-help`}>
          {help}
        </span>
      </div>
    );
  }
  return (
    <LabelledField label={label} help={help} className={def.kind === "list" ? "field wide" : "field"}>
      {(p) =>
        def.kind === "select" ? (
          <select {...p} value={value} disabled={locked} onChange={(e) => onChange(e.target.value)}>
            {def.options?.map((o) => (
              <option key={o} value={o}>
                {o}
              </option>
            ))}
          </select>
        ) : def.kind === "list" ? (
          <textarea {...p} rows={2} value={value} disabled={locked} onChange={(e) => onChange(e.target.value)} />
        ) : (
          <input
            {...p}
            type={def.kind === "number" ? "number" : "text"}
            value={value}
            disabled={locked}
            onChange={(e) => onChange(e.target.value)}
          />
        )
      }
    </LabelledField>
  );
}

function HistoryData() {
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const run = async (work: () => Promise<void>) => {
    setBusy(true);
    try {
      await work();
    } catch (err) {
      showToast({ message: describeError(err).message });
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="section" aria-labelledby="data-title">
      <h2 id="data-title">Your history</h2>
      <div className="card">
        <p className="muted" style={{ marginTop: 0 }}>
          Export every conversation (all branches) as JSON to back it up or move it, or as Markdown to read. Import a
          JSON export back.
        </p>
        <div className="page-actions">
          <button
            type="button"
            className="button"
            disabled={busy}
            onClick={() => void run(() => downloadFile("/api/export?format=json", "hearth-history.json"))}
          >
            Export JSON
          </button>
          <button
            type="button"
            className="button"
            disabled={busy}
            onClick={() => void run(() => downloadFile("/api/export?format=markdown", "hearth-history.md"))}
          >
            Export Markdown
          </button>
          <label className="button">
            Import JSON…
            <input
              type="file"
              accept="application/json,.json"
              className="visually-hidden"
              onChange={(e) => {
                const file = e.target.files?.[0];
                e.target.value = "";
                if (!file) return;
                void run(async () => {
                  const result = await historyIo.import(JSON.parse(await file.text()));
                  emit("conversations");
                  showToast({
                    message: `Imported ${result.imported.length} conversation${result.imported.length === 1 ? "" : "s"}${result.skipped.length ? `, ${result.skipped.length} already here` : ""}.`,
                  });
                });
              }}
            />
          </label>
          <span style={{ flex: 1 }} />
          <button type="button" className="button danger" disabled={busy} onClick={() => setConfirming(true)}>
            Delete all history…
          </button>
        </div>
      </div>
      {confirming ? (
        <ConfirmDialog
          title="Delete all history?"
          confirmLabel="Delete everything"
          onClose={() => setConfirming(false)}
          onConfirm={() =>
            run(async () => {
              const { deleted } = await conversations.removeAll();
              emit("conversations");
              showToast({ message: `Deleted ${deleted} conversation${deleted === 1 ? "" : "s"}.` });
            })
          }
        >
          Every conversation, from the app and from the API, is deleted from this computer. This cannot be undone;
          export first if you may want it back.
        </ConfirmDialog>
      ) : null}
    </section>
  );
}
