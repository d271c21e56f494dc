// The traces page: recent traces newest first, filters and search kept in the URL (a filtered
// view is a link), infinite scroll over the API's cursor pages, and a Live switch that upserts
// traces from /ws/traces while keeping the row the user is looking at in place.

import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";
import { infiniteQueryOptions, useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { useVirtualizer } from "@tanstack/react-virtual";
import { AlertTriangle, Radio, Search, X } from "lucide-react";
import { api, liveParams as liveFilterParams } from "@/api/client";
import type { LiveFrame, TraceFilters, TraceItem, TracePage } from "@/api/types";
import { activeFilterCount, filtersFromSearch, searchFromFilters, TIME_RANGES } from "@/lib/filters";
import { anchorShift, mergeLive, upsertTraces } from "@/lib/upsert";
import { formatMs } from "@/lib/timescale";
import { formatCost, formatNumber, formatTime, formatTokens, relativeTime } from "@/lib/format";
import { useLive, type LiveStatus } from "@/hooks/useLive";
import { Input, Select, TextFilter } from "@/components/ui/input";
import { Button } from "@/components/ui/button";
import { Switch } from "@/components/ui/switch";
import { Badge } from "@/components/ui/badge";
import { Empty, ErrorState, FirstTraceHelp, Loading } from "@/components/states";
import { cn } from "@/lib/cn";

const ROW = 40;
const MAX_LIVE_ROWS = 5000;
const COLUMNS = "grid-cols-[180px_minmax(180px,1fr)_150px_90px_60px_120px_80px_70px_70px]";

/** The list's query; main.tsx starts it before React renders when the app opens on /traces. */
export function tracesQuery(filters: TraceFilters) {
  return infiniteQueryOptions({
    queryKey: ["traces", JSON.stringify(filters)],
    queryFn: ({ pageParam, signal }) => api.traces(filters, pageParam, 100, signal),
    initialPageParam: null as string | null,
    getNextPageParam: (last: TracePage) => last.next_cursor ?? undefined,
  });
}

export function TracesPage() {
  const [search, setSearch] = useSearchParams();
  const filters = useMemo(() => filtersFromSearch(search), [search]);
  const live = search.get("live") === "1";
  const filterKey = JSON.stringify(filters);

  const setFilters = (next: TraceFilters) => setSearch(searchFromFilters(next, search), { replace: true });
  const setLive = (on: boolean) => {
    const params = new URLSearchParams(search);
    if (on) params.set("live", "1");
    else params.delete("live");
    setSearch(params, { replace: true });
  };

  const query = useInfiniteQuery(tracesQuery(filters));

  // Live rows, keyed by trace id; reset when the filters change.
  const [liveRows, setLiveRows] = useState<Map<string, TraceItem>>(new Map());
  const [fresh, setFresh] = useState<Set<string>>(new Set());
  useEffect(() => setLiveRows(new Map()), [filterKey]);
  const liveParams = useMemo(() => liveFilterParams(filters), [filterKey]);
  const status = useLive("/ws/traces", liveParams, live, (frame: LiveFrame) => {
    if (frame.type === "lagged") {
      // The server skipped batches for us: the list may miss traces, so read it again.
      void query.refetch();
      return;
    }
    if (frame.type !== "traces" || !frame.traces?.length) return;
    setLiveRows((prev) => {
      const next = new Map(prev);
      for (const t of frame.traces) {
        next.delete(t.trace_id); // re-insert: the Map's order is the order of the last update
        next.set(t.trace_id, t);
      }
      // A tab left on Live for days must not grow without bound: keep the latest updates.
      for (const id of next.keys()) {
        if (next.size <= MAX_LIVE_ROWS) break;
        next.delete(id);
      }
      return next;
    });
    const ids = frame.traces.map((t) => t.trace_id);
    setFresh((prev) => new Set([...prev, ...ids]));
    setTimeout(() => setFresh((prev) => new Set([...prev].filter((id) => !ids.includes(id)))), 2500);
  });

  const fetched = useMemo(() => {
    const pages = query.data?.pages ?? [];
    // Pages can overlap when traces arrive between page fetches: upsert dedupes by id.
    return pages.length <= 1 ? (pages[0]?.traces ?? []) : upsertTraces([], pages.flatMap((p) => p.traces));
  }, [query.data]);
  const rows = useMemo(() => mergeLive(fetched, liveRows), [fetched, liveRows]);

  const scrollRef = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW,
    overscan: 12,
  });

  // Keep the user's place: when rows are inserted above the first row in view, scroll by them.
  const previous = useRef<TraceItem[]>(rows);
  useLayoutEffect(() => {
    const el = scrollRef.current;
    const before = previous.current;
    previous.current = rows;
    if (!el || before === rows || el.scrollTop <= 0) return;
    const anchorIndex = Math.floor(el.scrollTop / ROW);
    const shift = anchorShift(before, rows, anchorIndex);
    if (shift) el.scrollTop += shift * ROW;
  }, [rows]);

  const items = virtualizer.getVirtualItems();
  const lastIndex = items.length ? items[items.length - 1].index : -1;
  useEffect(() => {
    if (lastIndex >= rows.length - 20 && query.hasNextPage && !query.isFetchingNextPage) void query.fetchNextPage();
  }, [lastIndex, rows.length, query.hasNextPage, query.isFetchingNextPage]);

  // Performance mark: the first time the page shows its data (rows or the empty state).
  const marked = useRef(false);
  useEffect(() => {
    if (!marked.current && query.isSuccess) {
      marked.current = true;
      requestAnimationFrame(() => performance.mark("agentstack:traces-rendered"));
    }
  }, [query.isSuccess]);

  // The project's numbers over the chosen time range (all traces, not only the filtered ones).
  const stats = useQuery({ queryKey: ["stats", filters.since ?? ""], queryFn: () => api.stats({ since: filters.since }), refetchInterval: live ? 10_000 : false });

  const navigate = useNavigate();
  const hasFilters = activeFilterCount(filters) > 0;

  return (
    <div className="flex h-full flex-col">
      <FilterBar filters={filters} onChange={setFilters} live={live} onLive={setLive} status={status} />
      <div className="flex items-center gap-3 border-b px-4 py-1.5 text-xs text-muted-foreground">
        <span data-testid="trace-count" className={query.isSuccess ? "" : "invisible"}>
          {formatNumber(rows.length)} trace{rows.length === 1 ? "" : "s"}
          {query.hasNextPage ? "+" : ""}
        </span>
        {query.isFetching && !query.isLoading ? <span>refreshing…</span> : null}
        {stats.data && stats.data.trace_count ? (
          <span className="hidden md:inline" data-testid="stats" title={filters.since ? "in the chosen time range" : "all time"}>
            · project: {formatNumber(stats.data.trace_count)} traces, {(stats.data.error_rate * 100).toFixed(1)}% with errors
            {stats.data.root_latency_ms ? `, p50 ${formatMs(stats.data.root_latency_ms.p50)} / p95 ${formatMs(stats.data.root_latency_ms.p95)}` : ""}, tokens{" "}
            {formatTokens(stats.data.input_tokens, stats.data.output_tokens)}
          </span>
        ) : null}
        <button type="button" className="ml-auto hover:text-foreground" onClick={() => void query.refetch()}>
          Refresh
        </button>
      </div>
      {query.isLoading ? (
        <Loading label="Loading traces…" />
      ) : query.isError ? (
        <ErrorState error={query.error} retry={() => void query.refetch()} />
      ) : rows.length === 0 ? (
        hasFilters ? (
          <Empty title="No trace matches these filters">
            <Button variant="outline" size="sm" className="mt-2" onClick={() => setFilters({})}>
              Clear the filters
            </Button>
          </Empty>
        ) : (
          <FirstTraceHelp />
        )
      ) : (
        <div className="flex min-h-0 flex-1 flex-col overflow-x-auto">
          <div className="min-w-[1000px] flex min-h-0 flex-1 flex-col">
            <div className={cn("grid shrink-0 gap-2 border-b bg-muted/40 px-4 py-2 text-xs font-medium text-muted-foreground", COLUMNS)}>
              <div>Time</div>
              <div>Name</div>
              <div>Service</div>
              <div className="text-right">Duration</div>
              <div className="text-right">Spans</div>
              <div className="text-right">Tokens</div>
              <div className="text-right">Cost</div>
              <div>Status</div>
              <div>Alerts</div>
            </div>
            <div ref={scrollRef} className="min-h-0 flex-1 overflow-y-auto" data-testid="traces-scroll">
              <div style={{ height: virtualizer.getTotalSize(), position: "relative" }}>
                {items.map((item) => {
                  const t = rows[item.index];
                  return (
                    <div
                      key={t.trace_id}
                      data-testid="trace-row"
                      data-trace-id={t.trace_id}
                      className={cn(
                        "absolute left-0 right-0 grid cursor-pointer items-center gap-2 border-b px-4 text-sm hover:bg-accent",
                        COLUMNS,
                        fresh.has(t.trace_id) && "bg-emerald-500/10",
                      )}
                      style={{ top: item.start, height: ROW }}
                      onClick={() => navigate(`/traces/${t.trace_id}`)}
                    >
                      <div className="truncate text-xs text-muted-foreground" title={t.start_time}>
                        {formatTime(t.start_unix_nanos)} <span className="opacity-70">· {relativeTime(t.start_unix_nanos)}</span>
                      </div>
                      <Link to={`/traces/${t.trace_id}`} className="truncate font-medium hover:underline" onClick={(e) => e.stopPropagation()}>
                        {t.root_name ?? <span className="text-muted-foreground">(no root)</span>}
                        <span className="ml-2 font-mono text-xs text-muted-foreground">{t.trace_id.slice(0, 8)}</span>
                      </Link>
                      <div className="truncate text-xs text-muted-foreground">{t.service_name ?? "–"}</div>
                      <div className="text-right tabular-nums">{formatMs(t.duration_ms)}</div>
                      <div className="text-right tabular-nums">{formatNumber(t.span_count)}</div>
                      <div className="text-right text-xs tabular-nums">{formatTokens(t.input_tokens, t.output_tokens)}</div>
                      <div className="text-right text-xs tabular-nums">{formatCost(t.cost_usd, t.cost_estimated)}</div>
                      <div>
                        <Badge variant={t.status === "error" ? "error" : "ok"}>{t.status === "error" ? `${t.error_count} error${t.error_count === 1 ? "" : "s"}` : "ok"}</Badge>
                      </div>
                      <div>
                        {t.alert_count ? (
                          <Badge variant={t.max_severity ?? "medium"} title={`${t.alert_count} alert(s), highest ${t.max_severity ?? "?"}`}>
                            <AlertTriangle className="size-3" /> {t.alert_count}
                          </Badge>
                        ) : null}
                      </div>
                    </div>
                  );
                })}
              </div>
              {query.isFetchingNextPage ? <Loading label="Loading more…" /> : null}
            </div>
          </div>
        </div>
      )}
    </div>
  );
}

const LIVE_LABEL: Record<LiveStatus, string> = {
  off: "Live",
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  unavailable: "Live not available on this server",
  refused: "Live refused: check the API key in Settings",
};

function FilterBar({
  filters,
  onChange,
  live,
  onLive,
  status,
}: {
  filters: TraceFilters;
  onChange: (f: TraceFilters) => void;
  live: boolean;
  onLive: (on: boolean) => void;
  status: LiveStatus;
}) {
  const [q, setQ] = useState(filters.q ?? "");
  useEffect(() => setQ(filters.q ?? ""), [filters.q]);
  // Search as you type, 300 ms after the last key.
  useEffect(() => {
    if ((filters.q ?? "") === q) return;
    const timer = setTimeout(() => onChange({ ...filters, q }), 300);
    return () => clearTimeout(timer);
  }, [q]);
  const set = (key: keyof TraceFilters, value: string) => onChange({ ...filters, [key]: value });
  // "/" focuses the search box (as on GitHub), unless the user is typing somewhere already.
  const searchRef = useRef<HTMLInputElement>(null);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const target = e.target as HTMLElement | null;
      if (e.key !== "/" || e.ctrlKey || e.metaKey || e.altKey) return;
      if (target && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName))) return;
      e.preventDefault();
      searchRef.current?.focus();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);
  const [more, setMore] = useState(() => !!(filters.service || filters.model || filters.session || filters.user || filters.min_duration_ms || filters.name));

  return (
    <div className="flex flex-col gap-2 border-b px-4 py-3">
      <div className="flex flex-wrap items-center gap-2">
        <div className="relative min-w-[260px] flex-1">
          <Search className="absolute left-2.5 top-2.5 size-4 text-muted-foreground" />
          <Input
            className="pl-8"
            ref={searchRef}
            placeholder="Search inputs and outputs…  ( / )"
            value={q}
            onChange={(e) => setQ(e.target.value)}
            onKeyDown={(e) => e.key === "Enter" && onChange({ ...filters, q })}
            data-testid="search"
            aria-label="Search traces"
          />
        </div>
        <Select value={filters.status ?? ""} onChange={(e) => set("status", e.target.value)} aria-label="Status">
          <option value="">Any status</option>
          <option value="ok">OK</option>
          <option value="error">Errors</option>
        </Select>
        <Select value={filters.kind ?? ""} onChange={(e) => set("kind", e.target.value)} aria-label="Span kind">
          <option value="">Any kind</option>
          <option value="agent">has agent span</option>
          <option value="llm">has LLM span</option>
          <option value="tool">has tool span</option>
          <option value="chain">has chain span</option>
          <option value="retriever">has retriever span</option>
          <option value="embedding">has embedding span</option>
          <option value="guardrail">has guardrail span</option>
        </Select>
        <Select value={filters.since ?? ""} onChange={(e) => set("since", e.target.value)} aria-label="Time range">
          {TIME_RANGES.map((r) => (
            <option key={r.value} value={r.value}>
              {r.label}
            </option>
          ))}
        </Select>
        <Button variant="outline" size="sm" onClick={() => setMore(!more)}>
          {more ? "Fewer filters" : "More filters"}
        </Button>
        {activeFilterCount(filters) ? (
          <Button variant="ghost" size="sm" onClick={() => onChange({})}>
            <X /> Clear
          </Button>
        ) : null}
        <label className="ml-auto flex items-center gap-2 text-sm" title="Stream new traces from the server as they are stored">
          <Radio className={cn("size-4", status === "live" ? "text-emerald-500" : "text-muted-foreground")} />
          <span data-testid="live-status" data-status={status}>
            {LIVE_LABEL[status]}
          </span>
          <Switch checked={live} onCheckedChange={onLive} data-testid="live-switch" aria-label="Live" />
        </label>
      </div>
      {more ? (
        <div className="flex flex-wrap items-center gap-2">
          <TextFilter label="Root name" value={filters.name} onCommit={(v) => set("name", v)} />
          <TextFilter label="Service" value={filters.service} onCommit={(v) => set("service", v)} />
          <TextFilter label="Model" value={filters.model} onCommit={(v) => set("model", v)} />
          <TextFilter label="Session" value={filters.session} onCommit={(v) => set("session", v)} />
          <TextFilter label="User" value={filters.user} onCommit={(v) => set("user", v)} />
          <TextFilter label="Min duration (ms)" value={filters.min_duration_ms} onCommit={(v) => set("min_duration_ms", v.replace(/\D/g, ""))} />
        </div>
      ) : null}
    </div>
  );
}
