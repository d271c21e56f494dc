import { describe, expect, it } from "vitest";
import { lacksDetails, mergeSpans } from "./liveTrace";
import type { SpanItem, TraceDetail } from "@/api/types";

const span = (id: string, parent: string | null, start: number, extra: Partial<SpanItem> = {}): SpanItem => ({
  trace_id: "t",
  span_id: id,
  parent_span_id: parent,
  depth: 0,
  children: 0,
  name: id,
  kind: null,
  service_name: null,
  start_unix_nanos: start,
  end_unix_nanos: start + 1e6,
  start_time: "",
  duration_ms: 1,
  status: "unset",
  status_message: null,
  provider: null,
  model: null,
  input_tokens: null,
  output_tokens: null,
  cache_read_input_tokens: null,
  cache_creation_input_tokens: null,
  reasoning_output_tokens: null,
  session_id: null,
  user_id: null,
  ...extra,
});

const trace = (spans: SpanItem[]): TraceDetail => ({
  trace_id: "t",
  root_name: "a",
  start_unix_nanos: 0,
  end_unix_nanos: 1e6,
  start_time: "",
  totals: { span_count: spans.length, duration_ms: 1, input_tokens: 0, output_tokens: 0, error_count: 0 },
  spans,
});

describe("live spans merged into an open trace", () => {
  it("adds new spans, keeps fetched details of known ones, recomputes totals", () => {
    const fetched = trace([span("a", null, 0, { input: { q: 1 }, attributes: { k: "v" }, input_tokens: 5 })]);
    const merged = mergeSpans(fetched, [
      span("a", null, 0, { status: "error", input_tokens: 5 }),
      span("b", "a", 2e6, { output_tokens: 7 }),
      { ...span("x", null, 0), trace_id: "other" },
    ]);
    expect(merged.spans.map((s) => s.span_id)).toEqual(["a", "b"]);
    expect(merged.spans[0].input).toEqual({ q: 1 });
    expect(merged.spans[0].attributes).toEqual({ k: "v" });
    expect(merged.spans[0].status).toBe("error");
    expect(merged.totals).toMatchObject({ span_count: 2, input_tokens: 5, output_tokens: 7, error_count: 1, duration_ms: 3 });
    expect(lacksDetails(merged.spans[1])).toBe(true);
    expect(lacksDetails(merged.spans[0])).toBe(false);
  });

  it("returns the same object when no span is of this trace", () => {
    const fetched = trace([span("a", null, 0)]);
    expect(mergeSpans(fetched, [{ ...span("x", null, 0), trace_id: "other" }])).toBe(fetched);
  });
});
