import { describe, expect, it } from "vitest";
import { sessionsFromTraces } from "./sessions";
import type { TraceItem } from "@/api/types";

const t = (id: string, session: string | null, start: number, extra: Partial<TraceItem> = {}): TraceItem => ({
  trace_id: id,
  root_name: id,
  service_name: "s",
  session_id: session,
  start_unix_nanos: start,
  end_unix_nanos: start + 10,
  span_count: 2,
  input_tokens: 5,
  output_tokens: 1,
  error_count: 0,
  start_time: "",
  duration_ms: 0,
  status: "ok",
  ...extra,
});

describe("sessions from traces", () => {
  it("groups by session, sums, skips traces without one, most recently active first", () => {
    const sessions = sessionsFromTraces([
      t("a", "s1", 100, { error_count: 1, cost_usd: 0.5 }),
      t("b", "s2", 50),
      t("c", "s1", 10, { cost_usd: 0.25 }),
      t("d", null, 500),
      t("e", "s2", 300),
    ]);
    expect(sessions.map((s) => s.session_id)).toEqual(["s2", "s1"]);
    const s1 = sessions.find((s) => s.session_id === "s1")!;
    expect(s1).toMatchObject({ trace_count: 2, span_count: 4, input_tokens: 10, output_tokens: 2, error_count: 1, start_unix_nanos: 10, end_unix_nanos: 110, last_start_unix_nanos: 100, cost_usd: 0.75 });
  });
});
