// Live updates of an open trace: span summaries from `{"type":"spans"}` frames (no input, output
// or attributes) merged into the fetched trace by span id, keeping what the fetch already had,
// with the totals recomputed. The full trace is refetched now and then for the new spans' details.

import type { SpanItem, TraceDetail } from "@/api/types";

export function mergeSpans(trace: TraceDetail, incoming: readonly SpanItem[]): TraceDetail {
  const mine = incoming.filter((s) => s.trace_id === trace.trace_id);
  if (!mine.length) return trace;
  const byId = new Map(trace.spans.map((s) => [s.span_id, s]));
  for (const span of mine) {
    const old = byId.get(span.span_id);
    // A frame never carries input/output/attributes/events/links/resource: keep the fetched ones.
    byId.set(
      span.span_id,
      old
        ? { ...old, ...span, input: old.input, output: old.output, attributes: old.attributes, events: old.events, links: old.links, resource: old.resource }
        : span,
    );
  }
  const spans = [...byId.values()];
  let start = Infinity;
  let end = -Infinity;
  let input = 0;
  let output = 0;
  let errors = 0;
  for (const s of spans) {
    start = Math.min(start, s.start_unix_nanos);
    end = Math.max(end, s.end_unix_nanos);
    input += s.input_tokens ?? 0;
    output += s.output_tokens ?? 0;
    if (s.status === "error") errors += 1;
  }
  return {
    ...trace,
    start_unix_nanos: start,
    end_unix_nanos: end,
    totals: {
      ...trace.totals,
      span_count: spans.length,
      duration_ms: (end - start) / 1e6,
      input_tokens: input,
      output_tokens: output,
      error_count: errors,
    },
    spans,
  };
}

/** A span that came from a live frame only: its details are not fetched yet. */
export function lacksDetails(span: SpanItem): boolean {
  return span.attributes === undefined;
}
