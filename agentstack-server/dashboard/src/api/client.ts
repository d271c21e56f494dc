// The typed client of the AgentStack API: every request goes through `request`, which adds the
// project API key from Settings, turns the server's JSON errors into `ApiError` (with the
// server's message), and marks a 404 of an endpoint an older server lacks as `notAvailable`.

import type {
  AlertFilters,
  AlertPage,
  ApiKey,
  Budget,
  ConversationAnswer,
  CostGroupBy,
  Costs,
  CreatedKey,
  SessionPage,
  Stats,
  TraceDetail,
  TraceFilters,
  TracePage,
} from "./types";
import { TRACE_FILTER_KEYS } from "./types";
import { resolveTime } from "@/lib/filters";

const API_KEY_STORAGE = "agentstack.apiKey";
const ADMIN_TOKEN_STORAGE = "agentstack.adminToken";

export function getApiKey(): string {
  try {
    return localStorage.getItem(API_KEY_STORAGE) ?? "";
  } catch {
    return "";
  }
}
export function setApiKey(key: string) {
  if (key) localStorage.setItem(API_KEY_STORAGE, key.trim());
  else localStorage.removeItem(API_KEY_STORAGE);
}
/** The admin token lives in sessionStorage: it opens key management, so it ends with the tab. */
export function getAdminToken(): string {
  try {
    return sessionStorage.getItem(ADMIN_TOKEN_STORAGE) ?? "";
  } catch {
    return "";
  }
}
export function setAdminToken(token: string) {
  if (token) sessionStorage.setItem(ADMIN_TOKEN_STORAGE, token.trim());
  else sessionStorage.removeItem(ADMIN_TOKEN_STORAGE);
}

export class ApiError extends Error {
  status: number;
  parameter?: string;
  /** The endpoint does not exist on this server (an older build). */
  notAvailable: boolean;
  constructor(status: number, message: string, parameter?: string, notAvailable = false) {
    super(message);
    this.status = status;
    this.parameter = parameter;
    this.notAvailable = notAvailable;
  }
}

export function isNotAvailable(error: unknown): boolean {
  return error instanceof ApiError && error.notAvailable;
}

interface RequestOptions {
  method?: string;
  params?: Record<string, string | number | undefined | null>;
  /** Send the admin token instead of the API key. */
  admin?: boolean;
  /** A 404 means "this server lacks the endpoint" (not "no such item"). */
  optional?: boolean;
  signal?: AbortSignal;
}

export function queryString(params: Record<string, string | number | undefined | null> = {}): string {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") search.set(k, String(v));
  }
  const s = search.toString();
  return s ? `?${s}` : "";
}

export async function request<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  const secret = options.admin ? getAdminToken() : getApiKey();
  if (secret) headers.authorization = `Bearer ${secret}`;
  let response: Response;
  try {
    response = await fetch(path + queryString(options.params), {
      method: options.method ?? "GET",
      headers,
      signal: options.signal,
    });
  } catch (error) {
    if ((error as Error).name === "AbortError") throw error;
    throw new ApiError(
      0,
      `Cannot reach the AgentStack server (${(error as Error).message}). Is \`agentstack serve\` running?`,
    );
  }
  const text = await response.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!response.ok) {
    const error = (body as { error?: { message?: string; parameter?: string }; message?: string } | null) ?? {};
    const message =
      error.error?.message ??
      error.message ??
      (text && text.length < 300 ? text : `The server answered ${response.status} ${response.statusText}`);
    const parameter = error.error?.parameter;
    const notAvailable = response.status === 404 && !!options.optional;
    throw new ApiError(response.status, message, parameter, notAvailable);
  }
  if (body === null) {
    throw new ApiError(response.status, `The server's answer to ${path} is not JSON; is this an AgentStack server?`);
  }
  return body as T;
}

/** The list filters as API parameters: empty ones dropped, relative times made absolute. */
export function traceParams(filters: TraceFilters): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of TRACE_FILTER_KEYS) {
    const value = filters[key];
    if (!value) continue;
    out[key] = key === "since" || key === "until" ? resolveTime(value) : value;
  }
  return out;
}

/** The live tail's filters: the list's, without since/until (the server refuses them there). */
export function liveParams(filters: TraceFilters): Record<string, string> {
  const params = traceParams(filters);
  delete params.since;
  delete params.until;
  return params;
}

export const api = {
  traces: (filters: TraceFilters, cursor?: string | null, limit = 100, signal?: AbortSignal) =>
    request<TracePage>("/api/v1/traces", { params: { ...traceParams(filters), limit, cursor }, signal }),
  trace: (id: string, signal?: AbortSignal) =>
    request<TraceDetail>(`/api/v1/traces/${encodeURIComponent(id)}`, { signal }),
  conversation: (id: string) =>
    request<ConversationAnswer>(`/api/v1/traces/${encodeURIComponent(id)}/conversation`, { optional: true }),
  stats: (params: { since?: string } = {}) =>
    request<Stats>("/api/v1/stats", { params: { since: params.since ? resolveTime(params.since) : undefined } }),
  sessions: (params: { since?: string; until?: string; user?: string }, cursor?: string | null, limit = 100) =>
    request<SessionPage>("/api/v1/sessions", {
      params: {
        since: params.since ? resolveTime(params.since) : undefined,
        until: params.until ? resolveTime(params.until) : undefined,
        user: params.user,
        limit,
        cursor,
      },
      optional: true,
    }),
  alerts: (filters: AlertFilters, cursor?: string | null, limit = 100) =>
    request<AlertPage>("/api/v1/alerts", {
      params: {
        ...filters,
        since: filters.since ? resolveTime(filters.since) : undefined,
        until: filters.until ? resolveTime(filters.until) : undefined,
        limit,
        cursor,
      },
      optional: true,
    }),
  costs: (group_by: CostGroupBy, since?: string, until?: string) =>
    request<Costs>("/api/v1/costs", {
      params: { group_by, since: since ? resolveTime(since) : undefined, until: until ? resolveTime(until) : undefined },
      optional: true,
    }),
  budgets: () => request<{ budgets: Budget[] }>("/api/v1/budgets", { optional: true }),
  keys: () => request<{ keys: ApiKey[] }>("/api/v1/keys", { admin: true }),
  createKey: (project: string) =>
    request<CreatedKey>(`/api/v1/projects/${encodeURIComponent(project)}/keys`, { method: "POST", admin: true }),
  revokeKey: (prefix: string) =>
    request<ApiKey>(`/api/v1/keys/${encodeURIComponent(prefix)}`, { method: "DELETE", admin: true }),
};

/** The WebSocket URL of a live stream on this origin, with the API key as `api_key`. */
export function liveUrl(path: "/ws/traces" | "/ws/alerts", params: Record<string, string> = {}): string {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const key = getApiKey();
  return `${proto}//${location.host}${path}${queryString({ ...params, api_key: key || undefined })}`;
}
