// Small display formatters shared by the pages.

export function formatNumber(n: number | null | undefined): string {
  if (n === null || n === undefined) return "–";
  return n.toLocaleString("en-US");
}

export function formatTokens(input: number | null | undefined, output: number | null | undefined): string {
  if (!input && !output) return "–";
  return `${compact(input ?? 0)} → ${compact(output ?? 0)}`;
}

export function compact(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return n.toLocaleString("en-US");
}

export function formatCost(usd: number | null | undefined, estimated?: boolean): string {
  if (usd === null || usd === undefined) return "–";
  const prefix = estimated ? "≈" : "";
  if (usd === 0) return `${prefix}$0`;
  if (usd < 0.01) {
    // Two significant digits and no exponent: $0.0036, $0.000043 (LLM calls cost fractions
    // of a cent; "$0.0000" would hide them).
    const digits = Math.min(12, Math.max(4, 1 - Math.floor(Math.log10(usd))));
    return `${prefix}$${usd.toFixed(digits)}`;
  }
  if (usd < 100) return `${prefix}$${usd.toFixed(2)}`;
  return `${prefix}$${Math.round(usd).toLocaleString("en-US")}`;
}

export function formatTime(nanosOrIso: number | string): string {
  const d = typeof nanosOrIso === "number" ? new Date(nanosOrIso / 1e6) : new Date(nanosOrIso);
  if (Number.isNaN(d.getTime())) return String(nanosOrIso);
  return d.toLocaleString("en-GB", { month: "short", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

export function relativeTime(nanos: number, now = Date.now()): string {
  const s = Math.round((now - nanos / 1e6) / 1000);
  if (s < 5) return "just now";
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

export function shortId(id: string, n = 12): string {
  return id.length > n ? id.slice(0, n) : id;
}

/** "1 error", "2 errors". */
export function plural(n: number, word: string): string {
  return `${n.toLocaleString("en-US")} ${word}${n === 1 ? "" : "s"}`;
}
