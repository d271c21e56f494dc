// Alerts raised by the security detectors: severity, detector, trace link and evidence, with
// filters in the URL and live updates from /ws/alerts.

import { useMemo, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { useInfiniteQuery } from "@tanstack/react-query";
import { Radio, ShieldCheck } from "lucide-react";
import { api, isNotAvailable } from "@/api/client";
import type { Alert, AlertFilters } from "@/api/types";
import { useLive } from "@/hooks/useLive";
import { TIME_RANGES } from "@/lib/filters";
import { formatTime, relativeTime } from "@/lib/format";
import { Empty, ErrorState, Loading, NotAvailable } from "@/components/states";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Select, TextFilter } from "@/components/ui/input";
import { Switch } from "@/components/ui/switch";
import { Evidence, evidenceSummary, formatScore } from "@/components/content";
import { cn } from "@/lib/cn";

const KEYS = ["severity", "detector", "trace_id", "since"] as const;

export function AlertsPage() {
  const [search, setSearch] = useSearchParams();
  const filters: AlertFilters = useMemo(() => {
    const f: AlertFilters = {};
    for (const k of KEYS) {
      const v = search.get(k);
      if (v) f[k] = v;
    }
    return f;
  }, [search]);
  const set = (k: (typeof KEYS)[number], v: string) => {
    const p = new URLSearchParams(search);
    if (v) p.set(k, v);
    else p.delete(k);
    setSearch(p, { replace: true });
  };
  const live = search.get("live") === "1";
  const key = JSON.stringify(filters);

  const query = useInfiniteQuery({
    queryKey: ["alerts", key],
    queryFn: ({ pageParam }) => api.alerts(filters, pageParam, 100),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.next_cursor ?? undefined,
    retry: false,
  });
  const [liveAlerts, setLiveAlerts] = useState<Alert[]>([]);
  const liveFilters = useMemo(() => {
    const p: Record<string, string> = {};
    if (filters.severity) p.severity = filters.severity;
    if (filters.detector) p.detector = filters.detector;
    return p;
  }, [filters.severity, filters.detector]);
  const status = useLive("/ws/alerts", liveFilters, live && !isNotAvailable(query.error), (frame) => {
    if (frame.type === "lagged") {
      // The stream skipped alerts: read the list again.
      void query.refetch();
      return;
    }
    if (frame.type !== "alerts") return;
    setLiveAlerts((prev) => [...frame.alerts.filter((a) => matches(a, filters)), ...prev]);
  });
  const alerts = useMemo(() => {
    const seen = new Set<string>();
    const out: Alert[] = [];
    for (const a of [...liveAlerts, ...(query.data?.pages.flatMap((p) => p.alerts) ?? [])]) {
      if (seen.has(String(a.id))) continue;
      seen.add(String(a.id));
      out.push(a);
    }
    return out.sort((a, b) => (b.time > a.time ? 1 : b.time < a.time ? -1 : 0));
  }, [liveAlerts, query.data]);

  if (isNotAvailable(query.error)) {
    return (
      <div>
        <Header />
        <NotAvailable what="Alerts" />
      </div>
    );
  }

  return (
    <div className="h-full overflow-y-auto">
      <Header />
      <div className="flex flex-wrap items-center gap-2 border-b px-4 py-2">
        <Select value={filters.severity ?? ""} onChange={(e) => set("severity", e.target.value)} aria-label="Severity">
          <option value="">Any severity</option>
          {["critical", "high", "medium", "low"].map((s) => (
            <option key={s} value={s}>
              {s === "critical" ? "critical" : `${s} and above`}
            </option>
          ))}
        </Select>
        <TextFilter className="h-9" label="Detector" value={filters.detector} onCommit={(v) => set("detector", v.trim())} />
        <TextFilter className="h-9 w-72" label="Trace id" value={filters.trace_id} onCommit={(v) => set("trace_id", v.trim())} />
        <Select value={filters.since ?? ""} onChange={(e) => set("since", e.target.value)} aria-label="Time range">
          {TIME_RANGES.map((r) => (
            <option key={r.value} value={r.value}>
              {r.label}
            </option>
          ))}
        </Select>
        <label className="ml-auto flex items-center gap-2 text-sm">
          <Radio className={cn("size-4", status === "live" ? "text-emerald-500" : "text-muted-foreground")} />
          <span data-testid="alerts-live-status" data-status={status}>
            {status === "unavailable" ? "Live not available on this server" : status === "refused" ? "Live refused: check the API key" : status === "live" ? "Live" : status === "off" ? "Live" : "Connecting…"}
          </span>
          <Switch
            checked={live}
            onCheckedChange={(on) => {
              const p = new URLSearchParams(search);
              if (on) p.set("live", "1");
              else p.delete("live");
              setSearch(p, { replace: true });
            }}
            aria-label="Live"
          />
        </label>
      </div>
      {query.isLoading ? (
        <Loading label="Loading alerts…" />
      ) : query.isError ? (
        <ErrorState error={query.error} retry={() => void query.refetch()} />
      ) : !alerts.length ? (
        <Empty title="No alerts" icon={<ShieldCheck className="size-8 text-emerald-500" />}>
          The security detectors found nothing{Object.keys(filters).length ? " matching these filters" : ""}. Alerts appear here when a span's input or
          output looks like a prompt injection, a leaked secret or personal data.
        </Empty>
      ) : (
        <div className="p-4">
          <table className="w-full table-fixed text-sm" data-testid="alerts-table">
            <thead className="text-left text-xs text-muted-foreground">
              <tr className="border-b">
                <th className="w-40 py-2 font-medium">Time</th>
                <th className="w-24 font-medium">Severity</th>
                <th className="font-medium">Alert</th>
                <th className="w-40 font-medium">Detector</th>
                <th className="w-36 font-medium">Trace</th>
              </tr>
            </thead>
            <tbody>
              {alerts.map((a) => (
                <AlertRow key={String(a.id)} alert={a} />
              ))}
            </tbody>
          </table>
          {query.hasNextPage ? (
            <Button variant="outline" size="sm" className="mt-3" onClick={() => void query.fetchNextPage()}>
              Load more
            </Button>
          ) : null}
        </div>
      )}
    </div>
  );
}

const SEVERITIES = ["low", "medium", "high", "critical"];

/** The list's filters on a live alert (severity is the least severity shown). */
function matches(a: Alert, f: AlertFilters): boolean {
  return (
    (!f.severity || SEVERITIES.indexOf(a.severity) >= SEVERITIES.indexOf(f.severity)) &&
    (!f.detector || a.detector === f.detector) &&
    (!f.trace_id || a.trace_id === f.trace_id)
  );
}

function Header() {
  return (
    <div className="flex items-center gap-3 border-b px-4 py-3">
      <h1 className="text-base font-semibold">Alerts</h1>
      <span className="text-xs text-muted-foreground">what the security detectors found in spans</span>
    </div>
  );
}

function AlertRow({ alert }: { alert: Alert }) {
  const [open, setOpen] = useState(false);
  return (
    <>
      <tr className="cursor-pointer border-b align-top hover:bg-accent" onClick={() => setOpen(!open)} data-testid="alert-row">
        <td className="py-2 text-xs text-muted-foreground">
          {formatTime(alert.time)}
          <div>{relativeTime(Date.parse(alert.time) * 1e6)}</div>
        </td>
        <td className="py-2">
          <Badge variant={alert.severity}>{alert.severity}</Badge>
        </td>
        <td className="py-2">
          <div className="font-medium">{alert.title}</div>
          {!open ? <div className="truncate font-mono text-xs text-muted-foreground">{short(evidenceSummary(alert.evidence))}</div> : null}
        </td>
        <td className="py-2 font-mono text-xs">
          {alert.detector}
          {alert.score != null ? <div className="text-muted-foreground">score {formatScore(alert.score)}</div> : null}
        </td>
        <td className="py-2">
          {alert.trace_id ? (
            <Link className="font-mono text-xs underline" to={`/traces/${alert.trace_id}${alert.span_id ? `?span=${alert.span_id}` : ""}`} onClick={(e) => e.stopPropagation()}>
              {alert.trace_id.slice(0, 12)}
            </Link>
          ) : (
            <span className="text-xs text-muted-foreground">–</span>
          )}
        </td>
      </tr>
      {open ? (
        <tr className="border-b">
          <td colSpan={5} className="bg-muted/40 p-3">
            <div className="mb-1 text-xs font-semibold uppercase text-muted-foreground">Evidence</div>
            <Evidence value={alert.evidence} />
          </td>
        </tr>
      ) : null}
    </>
  );
}

function short(text: string): string {
  return text.length > 160 ? `${text.slice(0, 160)}…` : text;
}
