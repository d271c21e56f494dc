// Cost series for the charts: rows per time bucket with one column per group key (the biggest
// `top` keys by total; the rest summed as "other"), so Recharts can stack them.

export interface SeriesPoint {
  bucket_start: string;
  key: string;
  cost_usd: number;
  input_tokens: number;
  output_tokens: number;
}

export interface Pivot {
  keys: string[];
  rows: Record<string, number | string>[];
}

export function pivotSeries(series: readonly SeriesPoint[], metric: "cost_usd" | "tokens", top = 8): Pivot {
  const value = (p: SeriesPoint) => (metric === "cost_usd" ? p.cost_usd || 0 : (p.input_tokens || 0) + (p.output_tokens || 0));
  const totals = new Map<string, number>();
  for (const p of series) totals.set(p.key, (totals.get(p.key) ?? 0) + value(p));
  const ranked = [...totals.entries()].sort((a, b) => b[1] - a[1]).map(([k]) => k);
  const kept = new Set(ranked.slice(0, top));
  const hasOther = ranked.length > top;
  const keys = [...ranked.slice(0, top), ...(hasOther ? ["other"] : [])];
  const byBucket = new Map<string, Record<string, number | string>>();
  for (const p of series) {
    const row = byBucket.get(p.bucket_start) ?? { bucket: p.bucket_start, ...Object.fromEntries(keys.map((k) => [k, 0])) };
    const key = kept.has(p.key) ? p.key : "other";
    row[key] = (row[key] as number) + value(p);
    byBucket.set(p.bucket_start, row);
  }
  const rows = [...byBucket.values()].sort((a, b) => String(a.bucket).localeCompare(String(b.bucket)));
  return { keys, rows };
}

export const CHART_COLORS = ["#8b5cf6", "#0ea5e9", "#f59e0b", "#10b981", "#ef4444", "#ec4899", "#14b8a6", "#6366f1", "#94a3b8"];
