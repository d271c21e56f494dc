// One trace: a header with its totals, the waterfall (a collapsible span tree beside a timeline,
// virtualized so 10,000 spans scroll smoothly) and the panel of the selected span. The selected
// span is in the URL (?span=ID), so a link can point at one span.

import { memo, useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Link, useParams, useSearchParams } from "react-router";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useVirtualizer } from "@tanstack/react-virtual";
import { ArrowLeft, ChevronDown, ChevronRight, ChevronsDownUp, ChevronsUpDown, CircleAlert, Radio, Search, ZoomIn, ZoomOut } from "lucide-react";
import { api } from "@/api/client";
import type { Alert, SpanItem, TraceDetail } from "@/api/types";
import { mergeSpans } from "@/lib/liveTrace";
import { ancestors, buildTree, visibleRows, type TreeNode } from "@/lib/tree";
import { formatMs, formatNanos, ticks, timeScale } from "@/lib/timescale";
import { formatCost, formatNumber, formatTime, formatTokens, plural } from "@/lib/format";
import { ErrorState, Loading } from "@/components/states";
import { KindIcon, kindStyle } from "@/components/kind";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { Switch } from "@/components/ui/switch";
import { useLive } from "@/hooks/useLive";
import { SpanPanel } from "./SpanPanel";
import { cn } from "@/lib/cn";

const ROW = 26;
const TREE_WIDTH = 380;
const INDENT = 14;
const MAX_INDENT_DEPTH = 24;
/** More than the rows a window can show at once (plus overscan), so slots never collide. */
const ROW_POOL = 256;

export function TracePage() {
  const { traceId = "" } = useParams();
  const query = useQuery({ queryKey: ["trace", traceId], queryFn: ({ signal }) => api.trace(traceId, signal) });
  const alerts = useQuery({
    queryKey: ["alerts", "trace", traceId],
    queryFn: () => api.alerts({ trace_id: traceId }, null, 1000),
    retry: false,
  });

  const conversation = useQuery({ queryKey: ["conversation", traceId], queryFn: () => api.conversation(traceId), retry: false });
  // Live: span summaries from the live tail are merged in at once (so the waterfall grows as the
  // agent runs); the full trace, with the new spans' inputs and outputs, is refetched at most every
  // 10 s (a big trace is megabytes), and at once on "lagged".
  const [live, setLive] = useState(false);
  const client = useQueryClient();
  const lastRefetch = useRef(0);
  const refetchSoon = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => () => clearTimeout(refetchSoon.current), []);
  const liveStatus = useLive("/ws/traces", {}, live, (frame) => {
    const id = query.data?.trace_id;
    if (!id) return;
    if (frame.type === "lagged") {
      void query.refetch();
      return;
    }
    if (frame.type !== "spans" || !frame.spans.some((s) => s.trace_id === id)) return;
    client.setQueryData<TraceDetail>(["trace", traceId], (old) => (old ? mergeSpans(old, frame.spans) : old));
    const wait = Math.max(0, lastRefetch.current + 10_000 - Date.now());
    clearTimeout(refetchSoon.current);
    refetchSoon.current = setTimeout(() => {
      lastRefetch.current = Date.now();
      void query.refetch();
    }, Math.max(wait, 500));
  });

  if (query.isLoading) return <Loading label="Loading the trace…" />;
  if (query.isError) {
    return (
      <div>
        <BackLink />
        <ErrorState error={query.error} retry={() => void query.refetch()} />
      </div>
    );
  }
  const trace = query.data!;
  const alertList = alerts.data?.alerts ?? [];
  // Cost: the server's total when it sends one, else the sum of the spans' costs (when any has one).
  const spanCosts = trace.spans.filter((s) => typeof s.cost_usd === "number");
  const totals = {
    ...trace.totals,
    cost_usd: trace.totals.cost_usd !== undefined ? trace.totals.cost_usd : spanCosts.length ? spanCosts.reduce((a, s) => a + (s.cost_usd ?? 0), 0) : undefined,
    cost_estimated: trace.totals.cost_estimated ?? spanCosts.some((s) => s.cost_estimated),
  };
  return (
    <div className="flex h-full flex-col">
      <div className="flex flex-wrap items-center gap-x-4 gap-y-1 border-b px-4 py-2">
        <BackLink />
        <h1 className="text-base font-semibold" data-testid="trace-title">
          {trace.root_name ?? "trace"}
        </h1>
        <span className="font-mono text-xs text-muted-foreground">{trace.trace_id}</span>
        <div className="flex flex-wrap items-center gap-3 text-xs text-muted-foreground">
          <span>{formatTime(trace.start_unix_nanos)}</span>
          <span>
            <b className="text-foreground">{formatMs(totals.duration_ms)}</b> total
          </span>
          <span data-testid="trace-span-count">
            <b className="text-foreground">{formatNumber(totals.span_count)}</b> span{totals.span_count === 1 ? "" : "s"}
          </span>
          <span>
            tokens <b className="text-foreground">{formatTokens(totals.input_tokens, totals.output_tokens)}</b>
          </span>
          {totals.cost_usd !== undefined ? (
            <span>
              cost <b className="text-foreground">{formatCost(totals.cost_usd, totals.cost_estimated)}</b>
            </span>
          ) : null}
          {totals.error_count ? <Badge variant="error">{plural(totals.error_count, "error")}</Badge> : <Badge variant="ok">no errors</Badge>}
          {alertList.length ? (
            <Link to={`/alerts?trace_id=${trace.trace_id}`}>
              <Badge variant={maxSeverity(alertList)}>{plural(alertList.length, "alert")}</Badge>
            </Link>
          ) : null}
          <label className="flex items-center gap-1.5" title="Refresh this trace while new spans of it arrive">
            <Radio className={cn("size-3.5", liveStatus === "live" ? "text-emerald-500" : "")} />
            {liveStatus === "unavailable" ? "live n/a" : "live"}
            <Switch checked={live} onCheckedChange={setLive} aria-label="Live refresh" />
          </label>
          {trace.spans[0]?.session_id ? (
            <Link className="underline" to={`/sessions/${encodeURIComponent(trace.spans[0].session_id)}`}>
              session {trace.spans[0].session_id}
            </Link>
          ) : null}
        </div>
      </div>
      {conversation.data && conversation.data.traces.length > 1 ? (
        <div className="flex items-center gap-2 overflow-x-auto border-b px-4 py-1.5 text-xs" data-testid="linked-traces">
          <span className="shrink-0 text-muted-foreground">
            Linked traces ({conversation.data.traces.length}
            {conversation.data.truncated ? "+" : ""}):
          </span>
          {conversation.data.traces.map((t, i) =>
            t.trace_id === trace.trace_id ? (
              <span key={t.trace_id} className="shrink-0 rounded bg-selection px-1.5 py-0.5 font-medium">
                {i + 1}. {t.root_name ?? t.trace_id.slice(0, 8)}
              </span>
            ) : (
              <Link key={t.trace_id} to={`/traces/${t.trace_id}`} className="shrink-0 rounded px-1.5 py-0.5 hover:bg-accent hover:underline">
                {i + 1}. {t.root_name ?? t.trace_id.slice(0, 8)}
              </Link>
            ),
          )}
        </div>
      ) : null}
      <Waterfall spans={trace.spans} alerts={alertList} />
    </div>
  );
}

function BackLink() {
  return (
    <Link to="/traces" className="flex items-center gap-1 p-1 text-sm text-muted-foreground hover:text-foreground">
      <ArrowLeft className="size-4" /> Traces
    </Link>
  );
}

const SEVERITY_ORDER = ["low", "medium", "high", "critical"] as const;
function maxSeverity(alerts: Alert[]): Alert["severity"] {
  let best = 0;
  for (const a of alerts) best = Math.max(best, SEVERITY_ORDER.indexOf(a.severity));
  return SEVERITY_ORDER[best];
}

function Waterfall({ spans, alerts }: { spans: SpanItem[]; alerts: Alert[] }) {
  const tree = useMemo(() => buildTree(spans), [spans]);
  // Zoom: the timeline shows [start, end] of one span (double-click a row) instead of the trace.
  const [zoom, setZoom] = useState<{ start: number; end: number } | null>(null);
  useEffect(() => setZoom(null), [tree]);
  const scale = useMemo(() => (zoom ? timeScale(zoom.start, zoom.end) : timeScale(tree.startNanos, tree.endNanos)), [tree, zoom]);
  const zoomTo = useCallback(
    (id: string) => {
      const span = tree.byId.get(id)?.span;
      if (!span) return;
      const pad = Math.max((span.end_unix_nanos - span.start_unix_nanos) * 0.02, 1);
      setZoom({ start: Math.max(tree.startNanos, span.start_unix_nanos - pad), end: Math.min(tree.endNanos, span.end_unix_nanos + pad) });
    },
    [tree],
  );
  const axis = useMemo(() => ticks(scale.durationNanos, 6), [scale]);
  const [collapsed, setCollapsed] = useState<Set<string>>(new Set());
  const rows = useMemo(() => visibleRows(tree, collapsed), [tree, collapsed]);
  const [search, setSearch] = useSearchParams();
  const selectedId = search.get("span") ?? tree.roots[0]?.span.span_id ?? null;
  const selected = selectedId ? tree.byId.get(selectedId)?.span : undefined;
  const alertsBySpan = useMemo(() => {
    const map = new Map<string, number>();
    for (const a of alerts) if (a.span_id) map.set(a.span_id, (map.get(a.span_id) ?? 0) + 1);
    return map;
  }, [alerts]);

  // The list scrolls on its own (only it re-renders while scrolling); this handle lets the
  // keyboard and "find" move it.
  const listApi = useRef<ListApi | null>(null);

  const select = useCallback(
    (id: string) => {
      const params = new URLSearchParams(search);
      params.set("span", id);
      setSearch(params, { replace: true });
    },
    [search, setSearch],
  );
  const toggle = useCallback(
    (id: string) =>
      setCollapsed((prev) => {
        const next = new Set(prev);
        if (next.has(id)) next.delete(id);
        else next.add(id);
        return next;
      }),
    [],
  );

  // A selected span inside a collapsed subtree (from a link) gets its path expanded.
  useEffect(() => {
    if (!selectedId) return;
    const path = ancestors(tree, selectedId);
    if (path.some((id) => collapsed.has(id))) {
      setCollapsed((prev) => new Set([...prev].filter((id) => !path.includes(id))));
    }
  }, [selectedId, tree]);

  const selectedIndex = selectedId ? rows.findIndex((r) => r.span.span_id === selectedId) : -1;
  const onKey = (e: React.KeyboardEvent) => {
    if (selectedIndex < 0) return;
    const node = rows[selectedIndex];
    let next = -1;
    if (e.key === "ArrowDown") next = Math.min(rows.length - 1, selectedIndex + 1);
    else if (e.key === "ArrowUp") next = Math.max(0, selectedIndex - 1);
    else if (e.key === "ArrowLeft" && node.children.length && !collapsed.has(node.span.span_id)) toggle(node.span.span_id);
    else if (e.key === "ArrowRight" && collapsed.has(node.span.span_id)) toggle(node.span.span_id);
    else return;
    e.preventDefault();
    if (next >= 0) {
      select(rows[next].span.span_id);
      listApi.current?.scrollToIndex(next, "auto");
    }
  };

  const [find, setFind] = useState("");
  const jump = () => {
    const needle = find.trim().toLowerCase();
    if (!needle) return;
    const all = [...tree.byId.values()];
    const start = selectedId ? all.findIndex((n) => n.span.span_id === selectedId) + 1 : 0;
    for (let k = 0; k < all.length; k++) {
      const n = all[(start + k) % all.length];
      if (n.span.name.toLowerCase().includes(needle) || n.span.span_id.startsWith(needle)) {
        select(n.span.span_id);
        setCollapsed((prev) => {
          const path = ancestors(tree, n.span.span_id);
          return new Set([...prev].filter((id) => !path.includes(id)));
        });
        requestAnimationFrame(() => {
          const i = visibleRows(tree, new Set()).findIndex((r) => r.span.span_id === n.span.span_id);
          if (i >= 0) listApi.current?.scrollToIndex(i, "center");
        });
        return;
      }
    }
  };

  // Performance mark: the first paint with the waterfall's rows.
  const marked = useRef(false);
  useEffect(() => {
    if (!marked.current && rows.length) {
      marked.current = true;
      requestAnimationFrame(() => performance.mark("agentstack:trace-rendered"));
    }
  }, [rows.length]);

  const parents = useMemo(() => [...tree.byId.values()].filter((n) => n.children.length).map((n) => n.span.span_id), [tree]);

  return (
    <div className="flex min-h-0 flex-1">
      <div className="flex min-w-0 flex-1 flex-col border-r">
        <div className="flex items-center gap-2 border-b px-2 py-1.5">
          <Button variant="ghost" size="sm" onClick={() => setCollapsed(new Set())} title="Expand all">
            <ChevronsUpDown /> Expand
          </Button>
          {zoom ? (
            <Button variant="outline" size="sm" onClick={() => setZoom(null)} title="Show the whole trace" data-testid="reset-zoom">
              <ZoomOut /> Whole trace
            </Button>
          ) : (
            <Button variant="ghost" size="sm" onClick={() => selectedId && zoomTo(selectedId)} disabled={!selectedId} title="Zoom the timeline to the selected span (or double-click a row)">
              <ZoomIn /> Zoom to span
            </Button>
          )}
          <Button variant="ghost" size="sm" onClick={() => setCollapsed(new Set(parents))} title="Collapse all">
            <ChevronsDownUp /> Collapse
          </Button>
          <div className="relative ml-auto w-56">
            <Search className="absolute left-2 top-2 size-3.5 text-muted-foreground" />
            <Input
              className="h-7 pl-7 text-xs"
              placeholder="Find a span (Enter: next)"
              value={find}
              onChange={(e) => setFind(e.target.value)}
              onKeyDown={(e) => e.key === "Enter" && jump()}
            />
          </div>
          <span className="text-xs text-muted-foreground" data-testid="waterfall-count" data-count={tree.size}>
            {formatNumber(rows.length)} / {formatNumber(tree.size)} shown
          </span>
        </div>
        <div className="flex shrink-0 border-b bg-muted/40 text-xs text-muted-foreground">
          <div className="shrink-0 px-2 py-1" style={{ width: TREE_WIDTH }}>
            Span
          </div>
          <div className="relative flex-1 py-1">
            {axis.map((t) => (
              <span key={t} className="absolute -translate-x-1/2 tabular-nums first:translate-x-0" style={{ left: `${scale.width(t) * 100}%` }}>
                {/* Offset first: adding t to a Unix-nanosecond number would round it (past 2^53). */}
                {formatNanos(t + (scale.startNanos - tree.startNanos))}
              </span>
            ))}
            &nbsp;
          </div>
          <div className="w-3 shrink-0" />
        </div>
        <SpanList
          rows={rows}
          selectedId={selectedId}
          collapsed={collapsed}
          scale={scale}
          axis={axis}
          alertsBySpan={alertsBySpan}
          onSelect={select}
          onToggle={toggle}
          onZoom={zoomTo}
          onKey={onKey}
          listApi={listApi}
        />
      </div>
      <div className="w-[44%] min-w-[380px] max-w-[720px] shrink-0 overflow-y-auto" data-testid="span-panel">
        {selected ? (
          <SpanPanel
            span={selected}
            // Alerts about the whole trace (no span) show with its first root.
            alerts={alerts.filter((a) => a.span_id === selected.span_id || (!a.span_id && selected.span_id === tree.roots[0]?.span.span_id))}
            traceStart={tree.startNanos}
          />
        ) : (
          <div className="p-4 text-sm text-muted-foreground">Select a span.</div>
        )}
      </div>
    </div>
  );
}

interface ListApi {
  scrollToIndex(index: number, align: "auto" | "center"): void;
}

interface SpanListProps {
  rows: TreeNode<SpanItem>[];
  selectedId: string | null;
  collapsed: ReadonlySet<string>;
  scale: ReturnType<typeof timeScale>;
  axis: number[];
  alertsBySpan: Map<string, number>;
  onSelect: (id: string) => void;
  onToggle: (id: string) => void;
  onZoom: (id: string) => void;
  onKey: (e: React.KeyboardEvent) => void;
  listApi: React.MutableRefObject<ListApi | null>;
}

/** The virtualized rows: only the ~40 in view (plus overscan) are in the DOM. */
const SpanList = memo(function SpanList({ rows, selectedId, collapsed, scale, axis, alertsBySpan, onSelect, onToggle, onZoom, onKey, listApi }: SpanListProps) {
  const scrollRef = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW,
    overscan: 6,
  });
  listApi.current = { scrollToIndex: (index, align) => virtualizer.scrollToIndex(index, { align }) };
  return (
    <div className="relative min-h-0 flex-1">
      {/* The time grid, drawn once behind the rows instead of in every row. */}
      <div className="pointer-events-none absolute inset-y-0 right-3" style={{ left: TREE_WIDTH }} aria-hidden>
        {axis.map((t) => (
          <div key={t} className="absolute top-0 h-full border-l border-dashed border-border/60" style={{ left: `${scale.width(t) * 100}%` }} />
        ))}
      </div>
      <div
        ref={scrollRef}
        className="absolute inset-0 overflow-y-auto outline-none"
        tabIndex={0}
        onKeyDown={onKey}
        data-testid="waterfall"
        role="tree"
        aria-label="Spans"
      >
        <div style={{ height: virtualizer.getTotalSize(), position: "relative" }}>
          {virtualizer.getVirtualItems().map((item) => {
            const node = rows[item.index];
            return (
              <WaterfallRow
                // Keyed by slot, not by span: a row scrolled out is reused for the row scrolled in
                // (React updates its text and styles instead of building new DOM and SVG).
                key={item.index % ROW_POOL}
                node={node}
                top={item.start}
                selected={node.span.span_id === selectedId}
                collapsed={collapsed.has(node.span.span_id)}
                scale={scale}
                alerts={alertsBySpan.get(node.span.span_id) ?? 0}
                onSelect={onSelect}
                onToggle={onToggle}
                onZoom={onZoom}
              />
            );
          })}
        </div>
      </div>
    </div>
  );
});

interface RowProps {
  node: TreeNode<SpanItem>;
  top: number;
  selected: boolean;
  collapsed: boolean;
  scale: ReturnType<typeof timeScale>;
  alerts: number;
  onSelect: (id: string) => void;
  onToggle: (id: string) => void;
  onZoom: (id: string) => void;
}

const WaterfallRow = memo(function WaterfallRow({ node, top, selected, collapsed, scale, alerts, onSelect, onToggle, onZoom }: RowProps) {
  const span = node.span;
  const duration = span.end_unix_nanos - span.start_unix_nanos;
  // Both ends through the scale, so a span cut by the zoom window is drawn clipped.
  const left = scale.at(span.start_unix_nanos);
  const width = scale.at(span.end_unix_nanos) - left;
  const outside = span.end_unix_nanos < scale.startNanos || span.start_unix_nanos > scale.startNanos + scale.durationNanos;
  const error = span.status === "error";
  const indent = Math.min(node.depth, MAX_INDENT_DEPTH) * INDENT;
  return (
    <div
      className={cn("absolute left-0 right-0 top-0 flex cursor-pointer items-center text-xs hover:bg-accent", selected && "bg-selection hover:bg-selection")}
      style={{ transform: `translateY(${top}px)`, height: ROW, contain: "layout paint" }}
      onClick={() => onSelect(span.span_id)}
      onDoubleClick={() => onZoom(span.span_id)}
      data-testid="span-row"
      data-span-id={span.span_id}
      role="treeitem"
      aria-selected={selected}
      aria-expanded={node.children.length ? !collapsed : undefined}
    >
      <div className="flex shrink-0 items-center gap-1 overflow-hidden pr-2" style={{ width: TREE_WIDTH, paddingLeft: 4 + indent }}>
        {node.children.length ? (
          <button
            type="button"
            className="rounded p-0.5 hover:bg-muted"
            onClick={(e) => {
              e.stopPropagation();
              onToggle(span.span_id);
            }}
            aria-label={collapsed ? "Expand" : "Collapse"}
          >
            {collapsed ? <ChevronRight className="size-3.5" /> : <ChevronDown className="size-3.5" />}
          </button>
        ) : (
          <span className="w-[18px] shrink-0" />
        )}
        {node.depth > MAX_INDENT_DEPTH ? <span className="shrink-0 rounded bg-muted px-1 text-[10px] text-muted-foreground">{node.depth}</span> : null}
        <KindIcon kind={span.kind} />
        <span className={cn("truncate", error && "text-red-600 dark:text-red-400")} title={span.name}>
          {span.name}
        </span>
        {error ? <CircleAlert className="size-3.5 shrink-0 text-red-500" /> : null}
        {alerts ? <Badge variant="high" className="px-1 py-0 text-[10px]">{alerts}</Badge> : null}
        {node.orphan ? (
          <span className="shrink-0 text-[10px] text-muted-foreground" title="its parent span is not in this trace">
            orphan
          </span>
        ) : null}
        {collapsed && node.descendants ? <span className="shrink-0 text-[10px] text-muted-foreground">+{node.descendants}</span> : null}
        {span.model ? <span className="ml-auto shrink-0 truncate pl-1 text-[10px] text-muted-foreground">{span.model}</span> : null}
      </div>
      <div className="relative h-full flex-1">
        {outside ? null : (
          <>
            <div
              className={cn("absolute top-1/2 h-3 -translate-y-1/2 rounded-sm", error ? "bg-red-500" : kindStyle(span.kind).bar)}
              style={{ left: `${left * 100}%`, width: `max(2px, ${width * 100}%)` }}
            />
            <span
              className="absolute top-1/2 -translate-y-1/2 whitespace-nowrap pl-1 text-[10px] tabular-nums text-muted-foreground"
              style={left + width > 0.85 ? { right: `${(1 - left) * 100}%`, paddingRight: 4 } : { left: `${(left + width) * 100}%` }}
            >
              {formatNanos(duration)}
            </span>
          </>
        )}
      </div>
      <div className="w-3 shrink-0" />
    </div>
  );
});
