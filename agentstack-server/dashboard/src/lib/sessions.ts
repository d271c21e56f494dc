// Sessions derived from a trace list, for servers without GET /api/v1/sessions: traces grouped by
// session id, totals summed, most recently active first.

import type { SessionItem, TraceItem } from "@/api/types";

/** Sessions of a list of traces (for servers without /api/v1/sessions). */
export function sessionsFromTraces(traces: TraceItem[]): SessionItem[] {
  const map = new Map<string, SessionItem>();
  for (const t of traces) {
    if (!t.session_id) continue;
    const s = map.get(t.session_id) ?? {
      session_id: t.session_id,
      trace_count: 0,
      span_count: 0,
      start_unix_nanos: t.start_unix_nanos,
      end_unix_nanos: t.end_unix_nanos,
      start_time: t.start_time,
      input_tokens: 0,
      output_tokens: 0,
      error_count: 0,
      user_id: null,
    };
    s.trace_count += 1;
    s.span_count += t.span_count;
    s.input_tokens = (s.input_tokens ?? 0) + (t.input_tokens ?? 0);
    s.output_tokens = (s.output_tokens ?? 0) + (t.output_tokens ?? 0);
    s.error_count += t.error_count;
    if (t.start_unix_nanos < s.start_unix_nanos) {
      s.start_unix_nanos = t.start_unix_nanos;
      s.start_time = t.start_time;
    }
    s.end_unix_nanos = Math.max(s.end_unix_nanos, t.end_unix_nanos);
    s.last_start_unix_nanos = Math.max(s.last_start_unix_nanos ?? 0, t.start_unix_nanos);
    if (t.cost_usd != null) s.cost_usd = (s.cost_usd ?? 0) + t.cost_usd;
    map.set(t.session_id, s);
  }
  return [...map.values()].sort((a, b) => (b.last_start_unix_nanos ?? 0) - (a.last_start_unix_nanos ?? 0));
}

