// The shapes of the AgentStack REST API and WebSocket frames (agentstack-server/src/api and
// openapi.json). One place to edit when a field changes. Fields marked "coming" are announced by
// the lead and rendered when present; they are optional so older servers still type-check.

export type Severity = "low" | "medium" | "high" | "critical";

/** One trace of GET /api/v1/traces (and of `{"type":"traces"}` frames on /ws/traces). */
export interface TraceItem {
  trace_id: string;
  root_name: string | null;
  service_name: string | null;
  session_id: string | null;
  start_unix_nanos: number;
  end_unix_nanos: number;
  span_count: number;
  input_tokens: number | null;
  output_tokens: number | null;
  error_count: number;
  start_time: string;
  duration_ms: number;
  status: "ok" | "error";
  // coming
  cost_usd?: number | null;
  cost_estimated?: boolean;
  alert_count?: number;
  max_severity?: Severity | null;
}

export interface TracePage {
  traces: TraceItem[];
  next_cursor: string | null;
}

/** One span of GET /api/v1/traces/{id}, in tree order. */
export interface SpanItem {
  trace_id: string;
  span_id: string;
  parent_span_id: string | null;
  depth: number;
  children: number;
  name: string;
  kind: string | null;
  service_name: string | null;
  start_unix_nanos: number;
  end_unix_nanos: number;
  start_time: string;
  duration_ms: number;
  status: "unset" | "ok" | "error";
  status_message: string | null;
  provider: string | null;
  model: string | null;
  input_tokens: number | null;
  output_tokens: number | null;
  cache_read_input_tokens: number | null;
  cache_creation_input_tokens: number | null;
  reasoning_output_tokens: number | null;
  session_id: string | null;
  user_id: string | null;
  // Not sent in `{"type":"spans"}` frames.
  input?: unknown;
  output?: unknown;
  attributes?: Record<string, unknown>;
  events?: SpanEvent[];
  links?: SpanLink[];
  resource?: Record<string, unknown>;
  // coming
  cost_usd?: number | null;
  cost_estimated?: boolean;
}

export interface SpanEvent {
  name?: string;
  time_unix_nanos?: number;
  timestamp?: string;
  attributes?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface SpanLink {
  trace_id?: string;
  span_id?: string;
  attributes?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface TraceDetail {
  trace_id: string;
  root_name: string | null;
  start_unix_nanos: number;
  end_unix_nanos: number;
  start_time: string;
  totals: {
    span_count: number;
    duration_ms: number;
    input_tokens: number;
    output_tokens: number;
    error_count: number;
    cost_usd?: number | null;
    cost_estimated?: boolean;
  };
  spans: SpanItem[];
}

/** The filters GET /api/v1/traces takes (and /ws/traces). Unknown names are a 400 there. */
export interface TraceFilters {
  service?: string;
  name?: string;
  status?: "ok" | "error" | "";
  kind?: string;
  model?: string;
  session?: string;
  user?: string;
  min_duration_ms?: string;
  q?: string;
  since?: string;
  until?: string;
}

export const TRACE_FILTER_KEYS = [
  "service",
  "name",
  "status",
  "kind",
  "model",
  "session",
  "user",
  "min_duration_ms",
  "q",
  "since",
  "until",
] as const satisfies readonly (keyof TraceFilters)[];

/** GET /api/v1/traces/{id}/conversation: the trace and the traces linked to it, earliest first. */
export interface ConversationAnswer {
  conversation_id: string;
  traces: TraceItem[];
  truncated: boolean;
}

export interface Stats {
  trace_count: number;
  span_count: number;
  input_tokens: number;
  output_tokens: number;
  error_rate: number;
  error_span_count: number;
  error_trace_count: number;
  root_latency_ms: { p50: number; p95: number; p99: number } | null;
  bucket: string;
  buckets: { start_unix_nanos: number; start_time: string; span_count: number; input_tokens: number; output_tokens: number }[];
}

export interface SessionItem {
  session_id: string;
  trace_count: number;
  span_count: number;
  start_unix_nanos: number;
  end_unix_nanos: number;
  start_time: string;
  input_tokens: number | null;
  output_tokens: number | null;
  error_count: number;
  user_id: string | null;
  /** The latest span start (the list's order). */
  last_start_unix_nanos?: number;
  duration_ms?: number;
  status?: "ok" | "error";
  cost_usd?: number | null;
}

export interface SessionPage {
  sessions: SessionItem[];
  next_cursor: string | null;
}

/** What one signal of a detector found (agentstack-security's Evidence). */
export interface AlertEvidence {
  /** `rule:<id>` or a heuristic's name (`base64`, `entropy`, `pii:<kind>`, …). */
  signal: string;
  /** The matched text (PII redacted) or what was measured. */
  detail: string;
  location?: unknown;
  /** 0–100. */
  score?: number;
}

export interface Alert {
  id: number | string;
  project: string;
  trace_id: string | null;
  span_id: string | null;
  detector: string;
  title: string;
  /** An array of AlertEvidence from agentstack serve; anything JSON from other producers. */
  evidence: AlertEvidence[] | unknown;
  /** 0–100. */
  score: number | null;
  severity: Severity;
  time: string;
  time_unix_nanos?: number;
}

export interface AlertPage {
  alerts: Alert[];
  next_cursor: string | null;
}

export interface AlertFilters {
  trace_id?: string;
  /** The least severity listed (high: high and critical). */
  severity?: string;
  detector?: string;
  since?: string;
  until?: string;
}

export type CostGroupBy = "model" | "day" | "agent" | "session" | "user";

export interface CostNumbers {
  cost_usd: number;
  input_tokens: number;
  output_tokens: number;
  span_count?: number;
}

export interface Costs {
  group_by: CostGroupBy;
  total: CostNumbers & { span_count: number };
  groups: (CostNumbers & { key: string; span_count: number })[];
  series: (CostNumbers & { bucket_start: string; key: string })[];
}

export interface Budget {
  scope: string;
  period: string;
  limit_usd: number;
  spent_usd: number;
  crossed: boolean;
}

export interface ApiKey {
  prefix: string;
  project: string;
  created_at: string;
  revoked_at: string | null;
  active: boolean;
}

export interface CreatedKey extends ApiKey {
  key: string;
  note?: string;
}

/** Server → client frames of the WebSockets. */
export type LiveFrame =
  | { type: "traces"; traces: TraceItem[] }
  | { type: "spans"; spans: SpanItem[] }
  | { type: "alerts"; alerts: Alert[] }
  /** The server dropped batches for this listener: refetch the list. */
  | { type: "lagged"; missed_batches: number };
