/**
 * What each API key used (issue 20): tokens per day as bars, a table per key and model over the
 * last 14 days, and the same rows as a CSV download. From /api/usage; refreshed when the live
 * metrics see a new generation.
 */
import { usage as usageApi, type UsageRow } from "../api/access.js";
import { downloadFile } from "../api/settings.js";
import { ErrorNote } from "../app/ErrorNote.js";
import { showToast } from "../app/toast.js";
import { describeError } from "../api/errors.js";
import { useAsync } from "../app/useAsync.js";

const DAYS = 14;

/** Rows of many days added up per key and model, the most tokens first. */
export function byKeyAndModel(rows: readonly UsageRow[]): UsageRow[] {
  const sums = new Map<string, UsageRow>();
  for (const r of rows) {
    const id = `${r.keyId}\u0000${r.model}`;
    const s = sums.get(id) ?? {
      ...r,
      day: "",
      requests: 0,
      promptTokens: 0,
      completionTokens: 0,
      reasoningTokens: 0,
      errors: 0,
    };
    s.requests += r.requests;
    s.promptTokens += r.promptTokens;
    s.completionTokens += r.completionTokens;
    s.reasoningTokens += r.reasoningTokens;
    s.errors += r.errors;
    s.keyName = r.keyName;
    sums.set(id, s);
  }
  return [...sums.values()].sort(
    (a, b) =>
      b.promptTokens + b.completionTokens - (a.promptTokens + a.completionTokens) || a.keyName.localeCompare(b.keyName),
  );
}

/** Tokens (prompt + completion) of each of the `days` days up to `to`, oldest first. */
export function tokensPerDay(rows: readonly UsageRow[], to: string, days: number): { day: string; tokens: number }[] {
  const end = Date.parse(`${to}T00:00:00Z`);
  const out = Array.from({ length: days }, (_, i) => ({
    day: new Date(end - (days - 1 - i) * 86_400_000).toISOString().slice(0, 10),
    tokens: 0,
  }));
  for (const r of rows) {
    const slot = out.find((d) => d.day === r.day);
    if (slot) slot.tokens += r.promptTokens + r.completionTokens;
  }
  return out;
}

function DayBars({ days }: { days: { day: string; tokens: number }[] }) {
  const w = 280;
  const h = 90;
  const top = Math.max(1, ...days.map((d) => d.tokens));
  const bw = w / days.length;
  const total = days.reduce((a, d) => a + d.tokens, 0);
  return (
    <svg
      className="usage-chart"
      viewBox={`0 0 ${w} ${h}`}
      preserveAspectRatio="none"
      role="img"
      aria-label={`Tokens per day over the last ${days.length} days: ${total.toLocaleString()} in all`}
    >
      {days.map((d, i) => {
        const bh = (d.tokens / top) * (h - 4);
        return (
          <rect key={d.day} x={i * bw + 1} y={h - bh} width={Math.max(bw - 2, 1)} height={bh} fill="currentColor">
            <title>{`${d.day}: ${d.tokens.toLocaleString()} tokens`}</title>
          </rect>
        );
      })}
      <line x1="0" x2={w} y1={h - 0.5} y2={h - 0.5} stroke="currentColor" opacity="0.3" />
    </svg>
  );
}

export function UsagePanel({ refresh }: { refresh: unknown }) {
  const report = useAsync((signal) => usageApi.get(DAYS, { signal }), [refresh]);
  const data = report.data;
  const rows = data ? byKeyAndModel(data.rows) : [];
  return (
    <section className="section" aria-labelledby="usage-title">
      <div className="section-title-row">
        <h2 id="usage-title">Usage by key</h2>
        <button
          type="button"
          className="button small"
          onClick={() =>
            void downloadFile(usageApi.csvPath(DAYS), "hearth-usage.csv").catch((err: unknown) =>
              showToast({ message: describeError(err).message }),
            )
          }
        >
          Download CSV
        </button>
      </div>
      {report.error ? <ErrorNote error={report.error} onRetry={report.reload} /> : null}
      {data ? (
        <>
          <DayBars days={tokensPerDay(data.rows, data.to, DAYS)} />
          <div className="muted usage-chart-axis">
            <span>{tokensPerDay([], data.to, DAYS)[0]?.day}</span>
            <span>tokens per day</span>
            <span>{data.to}</span>
          </div>
          {rows.length === 0 ? (
            <p className="muted">No requests in the last {DAYS} days.</p>
          ) : (
            <table className="table" aria-label="Usage by key and model">
              <thead>
                <tr>
                  <th>Key</th>
                  <th>Model</th>
                  <th>Requests</th>
                  <th>Prompt tokens</th>
                  <th>Completion tokens</th>
                  <th>Reasoning tokens</th>
                  <th>Errors</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((r) => (
                  <tr key={`${r.keyId}/${r.model}`}>
                    <td>{r.keyName}</td>
                    <td>{r.model || <span className="muted">none</span>}</td>
                    <td>{r.requests.toLocaleString()}</td>
                    <td>{r.promptTokens.toLocaleString()}</td>
                    <td>{r.completionTokens.toLocaleString()}</td>
                    <td>{r.reasoningTokens.toLocaleString()}</td>
                    <td>{r.errors.toLocaleString()}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      ) : null}
    </section>
  );
}
