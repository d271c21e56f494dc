// Filter state ↔ URL search params, so a filtered view is a shareable link. Only the names the
// API knows go into the URL (the API answers 400 to unknown ones); relative times ("15m", "24h",
// "7d") stay relative in the URL and become RFC 3339 only when a request is sent.

import { TRACE_FILTER_KEYS, type TraceFilters } from "@/api/types";

export function filtersFromSearch(search: URLSearchParams | string): TraceFilters {
  const params = typeof search === "string" ? new URLSearchParams(search) : search;
  const filters: TraceFilters = {};
  for (const key of TRACE_FILTER_KEYS) {
    const value = params.get(key);
    if (value !== null && value.trim() !== "") {
      (filters as Record<string, string>)[key] = value.trim();
    }
  }
  if (filters.status && filters.status !== "ok" && filters.status !== "error") delete filters.status;
  return filters;
}

/** `filters` as search params; other params of `base` (e.g. `live`) are kept. */
export function searchFromFilters(filters: TraceFilters, base?: URLSearchParams): URLSearchParams {
  const params = new URLSearchParams(base);
  for (const key of TRACE_FILTER_KEYS) params.delete(key);
  for (const key of TRACE_FILTER_KEYS) {
    const value = filters[key];
    if (value !== undefined && value !== null && String(value).trim() !== "") params.set(key, String(value).trim());
  }
  return params;
}

export function activeFilterCount(filters: TraceFilters): number {
  return TRACE_FILTER_KEYS.filter((k) => filters[k]).length;
}

const RELATIVE = /^(\d+)\s*(s|m|h|d|w)$/;
const UNIT_MS: Record<string, number> = { s: 1e3, m: 6e4, h: 36e5, d: 864e5, w: 6048e5 };

/** "15m" → the RFC 3339 time 15 minutes before `now`; anything else is passed on unchanged. */
export function resolveTime(value: string, now: number = Date.now()): string {
  const m = RELATIVE.exec(value.trim());
  if (!m) return value.trim();
  return new Date(now - Number(m[1]) * UNIT_MS[m[2]]).toISOString();
}

export const TIME_RANGES: { label: string; value: string }[] = [
  { label: "Any time", value: "" },
  { label: "Last 15 minutes", value: "15m" },
  { label: "Last hour", value: "1h" },
  { label: "Last 24 hours", value: "24h" },
  { label: "Last 7 days", value: "7d" },
  { label: "Last 30 days", value: "30d" },
];
