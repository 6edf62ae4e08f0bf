/**
 * The server at a glance: whether it is up, the address to point tools at with code to paste,
 * live charts from /metrics (tokens/s, queue depth, busy sequences) and the latest API traffic.
 */
import { useEffect, useRef, useState } from "react";
import { authorization } from "../api/auth.js";
import { server as serverApi, type Health } from "../api/client.js";
import { conversations } from "../api/history.js";
import { baseUrl } from "../api/http.js";
import { CopyButton } from "../app/CopyButton.js";
import { ErrorNote } from "../app/ErrorNote.js";
import { useAsync } from "../app/useAsync.js";
import { useModels } from "../chat/ModelPicker.js";
import { relativeTime } from "../history/dates.js";
import { parsePrometheus, rates, snapshot, type Snapshot } from "./prometheus.js";
import { SNIPPET_LABELS, snippet, type SnippetKind } from "./snippets.js";
import { Sparkline } from "./Sparkline.js";

const POLL_MS = 2000;
const HISTORY = 60;

interface Series {
  tokensPerSecond: number[];
  queueDepth: number[];
  busy: number[];
  requestsPerSecond: number[];
}

function useLiveMetrics() {
  const [latest, setLatest] = useState<Snapshot | null>(null);
  const [series, setSeries] = useState<Series>({
    tokensPerSecond: [],
    queueDepth: [],
    busy: [],
    requestsPerSecond: [],
  });
  const [error, setError] = useState<unknown>(null);
  const prev = useRef<Snapshot | null>(null);
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout>;
    const controller = new AbortController();
    const tick = async () => {
      try {
        const snap = snapshot(parsePrometheus(await serverApi.metrics({ signal: controller.signal })), Date.now());
        if (stopped) return;
        const r = prev.current ? rates(prev.current, snap) : { tokensPerSecond: 0, requestsPerSecond: 0 };
        prev.current = snap;
        setLatest(snap);
        setError(null);
        const push = (a: number[], v: number) => [...a, v].slice(-HISTORY);
        setSeries((s) => ({
          tokensPerSecond: push(s.tokensPerSecond, r.tokensPerSecond),
          requestsPerSecond: push(s.requestsPerSecond, r.requestsPerSecond),
          queueDepth: push(s.queueDepth, snap.queueDepth),
          busy: push(s.busy, snap.busySequences),
        }));
      } catch (err) {
        if (!stopped) setError(err);
      }
      // Polling pauses while the window is hidden: no work for a screen nobody sees.
      if (!stopped) timer = setTimeout(tick, document.hidden ? POLL_MS * 5 : POLL_MS);
    };
    void tick();
    return () => {
      stopped = true;
      controller.abort();
      clearTimeout(timer);
    };
  }, []);
  return { latest, series, error };
}

/** A loaded model as the status line names it, with how it speculates (README, "Speculative decoding"). */
function modelLabel(m: Health["models"][number]): string {
  const s = m.speculative;
  if (!s) return m.id;
  const how = [s.promptLookup ? "prompt lookup" : null, s.draftModel ? `draft ${s.draftModel}` : null].filter(Boolean);
  return how.length > 0 ? `${m.id} (${how.join(", ")})` : m.id;
}

export default function ServerView() {
  const health = useAsync((signal) => serverApi.health({ signal }), []);
  const models = useModels();
  const live = useLiveMetrics();
  const recent = useAsync(
    (signal) => conversations.list({ source: "api", limit: 8 }, { signal }),
    [live.latest?.generations],
  );
  const [model, setModel] = useState("");
  const [tab, setTab] = useState<SnippetKind>("curl");
  const v1 = `${baseUrl()}/v1`;
  const modelIds = models.data?.data.map((m) => m.id) ?? [];
  const chosen = model || modelIds[0] || "MODEL";
  const needsKey = authorization() !== null;
  const h = health.data;
  const last = (a: number[]) => a[a.length - 1] ?? 0;

  return (
    <div className="page">
      <div className="page-inner">
        <header className="page-header">
          <div>
            <h1>Server</h1>
            <p>Hearth serves an OpenAI-compatible API. Point any tool or SDK at it.</p>
          </div>
        </header>

        <section className="section" aria-label="Status">
          {health.error ? <ErrorNote error={health.error} onRetry={health.reload} /> : null}
          <div className="stat-grid">
            <div className="stat">
              <div className="stat-label">Status</div>
              <div className="stat-value" style={{ display: "flex", alignItems: "center", gap: 8 }}>
                <span className={`state-dot ${h?.status === "ok" ? "ok" : "warn"}`} aria-hidden="true" />
                {h ? (h.status === "ok" ? "Running" : "Starting") : "…"}
              </div>
            </div>
            <div className="stat">
              <div className="stat-label">Version</div>
              <div className="stat-value">{h?.version ?? "…"}</div>
            </div>
            <div className="stat">
              <div className="stat-label">Engine</div>
              <div className="stat-value" style={{ fontSize: 15, paddingTop: 5 }}>
                {h?.engine
                  ? `${h.engine.gpu ? String(h.engine.gpu).toUpperCase() : "CPU"} · ${h.engine.threads} thread${h.engine.threads === 1 ? "" : "s"}`
                  : "No model loaded"}
              </div>
            </div>
            <div className="stat">
              <div className="stat-label">Loaded models</div>
              <div className="stat-value" style={{ fontSize: 15, paddingTop: 5 }}>
                {h ? (h.models.length > 0 ? h.models.map(modelLabel).join(", ") : "None") : "…"}
              </div>
            </div>
          </div>
        </section>

        <section className="section" aria-labelledby="base-url-title">
          <h2 id="base-url-title">Base URL</h2>
          <div className="copy-field">
            <code aria-label="Base URL">{v1}</code>
            <CopyButton text={v1} label="Copy base URL" className="button small labelled" />
          </div>
          {needsKey ? (
            <p className="muted">
              This server requires an API key: send it as “Authorization: Bearer …”. The snippets read it from
              HEARTH_API_KEY.
            </p>
          ) : null}
        </section>

        <section className="section" aria-labelledby="snippets-title">
          <div className="section-title-row">
            <h2 id="snippets-title">Quick start</h2>
            <label className="model-picker">
              <span className="visually-hidden">Model for the snippets</span>
              <select aria-label="Model for the snippets" value={chosen} onChange={(e) => setModel(e.target.value)}>
                {modelIds.length === 0 ? <option value="MODEL">MODEL</option> : null}
                {modelIds.map((id) => (
                  <option key={id} value={id}>
                    {id}
                  </option>
                ))}
              </select>
            </label>
          </div>
          <div className="snippet" style={{ marginTop: 10 }}>
            <div className="tabs" role="tablist" aria-label="Snippet language">
              {(Object.keys(SNIPPET_LABELS) as SnippetKind[]).map((k) => (
                <button
                  key={k}
                  type="button"
                  role="tab"
                  id={`tab-${k}`}
                  aria-selected={tab === k}
                  aria-controls="snippet-panel"
                  onClick={() => setTab(k)}
                >
                  {SNIPPET_LABELS[k]}
                </button>
              ))}
              <span style={{ flex: 1 }} />
              <CopyButton
                text={() => snippet(tab, v1, chosen, needsKey)}
                label="Copy snippet"
                className="icon-button small labelled"
              />
            </div>
            <pre id="snippet-panel" role="tabpanel" aria-labelledby={`tab-${tab}`} tabIndex={0}>
              {snippet(tab, v1, chosen, needsKey)}
            </pre>
          </div>
        </section>

        <section className="section" aria-labelledby="live-title">
          <h2 id="live-title">Live</h2>
          {live.error ? <ErrorNote error={live.error} compact /> : null}
          <div className="stat-grid">
            <div className="stat">
              <div className="stat-label">Tokens per second</div>
              <div className="stat-value">{last(live.series.tokensPerSecond).toFixed(1)}</div>
              <Sparkline values={live.series.tokensPerSecond} label="Tokens per second, last two minutes" />
            </div>
            <div className="stat">
              <div className="stat-label">Requests per second</div>
              <div className="stat-value">{last(live.series.requestsPerSecond).toFixed(2)}</div>
              <Sparkline values={live.series.requestsPerSecond} label="Requests per second, last two minutes" />
            </div>
            <div className="stat">
              <div className="stat-label">Busy sequences</div>
              <div className="stat-value">
                {live.latest ? `${live.latest.busySequences} / ${live.latest.sequences}` : "…"}
              </div>
              <Sparkline
                values={live.series.busy}
                max={live.latest?.sequences}
                label="Busy sequences, last two minutes"
              />
            </div>
            <div className="stat">
              <div className="stat-label">Queue depth</div>
              <div className="stat-value">{live.latest?.queueDepth ?? "…"}</div>
              <Sparkline values={live.series.queueDepth} label="Requests waiting, last two minutes" />
            </div>
          </div>
          {live.latest ? (
            <p className="muted" style={{ fontSize: 12.5 }}>
              Since start: {live.latest.requests} requests, {live.latest.errors} errors, {live.latest.generations}{" "}
              generations, {live.latest.completionTokens} tokens generated.
              {live.latest.draftedTokens > 0
                ? ` Speculative decoding: ${live.latest.acceptedTokens} of ${live.latest.draftedTokens} guessed tokens accepted (${Math.round((100 * live.latest.acceptedTokens) / live.latest.draftedTokens)}%).`
                : ""}
            </p>
          ) : null}
        </section>

        <section className="section" aria-labelledby="recent-title">
          <h2 id="recent-title">Recent API requests</h2>
          {recent.error ? <ErrorNote error={recent.error} compact /> : null}
          {recent.data && recent.data.items.length === 0 ? (
            <p className="muted">No API chats recorded yet. Requests to /v1/chat/completions show up here.</p>
          ) : null}
          {recent.data && recent.data.items.length > 0 ? (
            <table className="table">
              <thead>
                <tr>
                  <th>When</th>
                  <th>Model</th>
                  <th>First message</th>
                  <th>Messages</th>
                </tr>
              </thead>
              <tbody>
                {recent.data.items.map((c) => (
                  <tr key={c.id}>
                    <td>{relativeTime(c.updatedAt)}</td>
                    <td>{c.model ?? "—"}</td>
                    <td>
                      <a href={`#/c/${encodeURIComponent(c.id)}`}>{c.title || "Untitled"}</a>
                    </td>
                    <td>{c.messageCount}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : null}
          {live.latest && live.latest.byRoute.size > 0 ? (
            <details style={{ marginTop: 12 }}>
              <summary className="muted">Requests by route and status</summary>
              <table className="table">
                <tbody>
                  {[...live.latest.byRoute.entries()]
                    .sort((a, b) => b[1] - a[1])
                    .map(([k, v]) => (
                      <tr key={k}>
                        <td>
                          <code>{k}</code>
                        </td>
                        <td>{v}</td>
                      </tr>
                    ))}
                </tbody>
              </table>
            </details>
          ) : null}
        </section>
      </div>
    </div>
  );
}
