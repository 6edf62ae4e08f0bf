/** A tiny line chart of recent values, drawn as SVG (no chart library for a few dozen points). */
export function Sparkline({ values, label, max }: { values: readonly number[]; label: string; max?: number }) {
  const w = 200;
  const h = 36;
  const top = Math.max(max ?? 0, ...values, 1e-9);
  const n = Math.max(values.length - 1, 1);
  const points = values
    .map((v, i) => `${((i / n) * w).toFixed(1)},${(h - 2 - (v / top) * (h - 4)).toFixed(1)}`)
    .join(" ");
  return (
    <svg className="sparkline" viewBox={`0 0 ${w} ${h}`} preserveAspectRatio="none" role="img" aria-label={label}>
      {values.length > 1 ? (
        <>
          <polyline points={`0,${h} ${points} ${w},${h}`} fill="currentColor" opacity="0.12" stroke="none" />
          <polyline
            points={points}
            fill="none"
            stroke="currentColor"
            strokeWidth="1.5"
            vectorEffect="non-scaling-stroke"
          />
        </>
      ) : (
        <line x1="0" x2={w} y1={h - 2} y2={h - 2} stroke="currentColor" opacity="0.3" />
      )}
    </svg>
  );
}
