// Costs: totals, cost and tokens over time grouped by model, agent, session, user or day
// (Recharts), the top spenders, and the budgets with how much of each is spent.

import { useMemo } from "react";
import { useSearchParams } from "react-router";
import { useQuery } from "@tanstack/react-query";
import { Area, AreaChart, Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { DollarSign } from "lucide-react";
import { api, isNotAvailable } from "@/api/client";
import type { CostGroupBy } from "@/api/types";
import { CHART_COLORS, pivotSeries } from "@/lib/costs";
import { TIME_RANGES } from "@/lib/filters";
import { compact, formatCost, formatNumber } from "@/lib/format";
import { Empty, ErrorState, Loading, NotAvailable } from "@/components/states";
import { Card, CardContent, CardHeader, CardTitle } from "@/components/ui/card";
import { Select } from "@/components/ui/input";
import { Badge } from "@/components/ui/badge";
import { cn } from "@/lib/cn";

const GROUPS: { value: CostGroupBy; label: string }[] = [
  { value: "model", label: "Model" },
  { value: "agent", label: "Agent" },
  { value: "user", label: "User" },
  { value: "session", label: "Session" },
  { value: "day", label: "Day" },
];

export function CostsPage() {
  const [search, setSearch] = useSearchParams();
  const groupBy = (search.get("group_by") as CostGroupBy) || "model";
  const since = search.get("since") ?? "7d";
  const set = (k: string, v: string) => {
    const p = new URLSearchParams(search);
    p.set(k, v);
    setSearch(p, { replace: true });
  };
  const costs = useQuery({ queryKey: ["costs", groupBy, since], queryFn: () => api.costs(groupBy, since || undefined), retry: false });
  const budgets = useQuery({ queryKey: ["budgets"], queryFn: () => api.budgets(), retry: false });
  const cost = useMemo(() => pivotSeries(costs.data?.series ?? [], "cost_usd"), [costs.data]);
  const tokens = useMemo(() => pivotSeries(costs.data?.series ?? [], "tokens"), [costs.data]);
  const groups = useMemo(() => [...(costs.data?.groups ?? [])].sort((a, b) => b.cost_usd - a.cost_usd), [costs.data]);
  const maxGroup = groups[0]?.cost_usd || 1;

  return (
    <div className="h-full overflow-y-auto">
      <div className="flex flex-wrap items-center gap-3 border-b px-4 py-3">
        <h1 className="text-base font-semibold">Costs</h1>
        <span className="text-xs text-muted-foreground">in the project of your API key</span>
        <div className="ml-auto flex items-center gap-2">
          <Select value={groupBy} onChange={(e) => set("group_by", e.target.value)} aria-label="Group by">
            {GROUPS.map((g) => (
              <option key={g.value} value={g.value}>
                by {g.label.toLowerCase()}
              </option>
            ))}
          </Select>
          <Select value={since} onChange={(e) => set("since", e.target.value)} aria-label="Time range">
            {TIME_RANGES.map((r) => (
              <option key={r.value} value={r.value}>
                {r.label}
              </option>
            ))}
          </Select>
        </div>
      </div>
      {costs.isLoading ? (
        <Loading label="Loading costs…" />
      ) : isNotAvailable(costs.error) ? (
        <NotAvailable what="Cost tracking" />
      ) : costs.isError ? (
        <ErrorState error={costs.error} retry={() => void costs.refetch()} />
      ) : !costs.data || (!costs.data.groups.length && !costs.data.total.span_count) ? (
        <Empty title="No costs in this time range" icon={<DollarSign className="size-8 text-muted-foreground" />}>
          Costs come from LLM spans with a model and token counts (<code>gen_ai.request.model</code>, <code>gen_ai.usage.input_tokens</code>,{" "}
          <code>gen_ai.usage.output_tokens</code>). Try a longer time range, or send a trace:
          <pre className="mt-3 whitespace-pre-wrap break-all rounded-md bg-muted p-3 text-left font-mono text-xs text-foreground">AGENTSTACK_ENDPOINT=http://127.0.0.1:4318 cargo run --example quickstart</pre>
        </Empty>
      ) : (
        <div className="flex flex-col gap-4 p-4" data-testid="costs">
          <div className="grid grid-cols-2 gap-3 md:grid-cols-4">
            <Stat label="Total cost" value={formatCost(costs.data.total.cost_usd)} testId="cost-total" />
            <Stat label="Input tokens" value={formatNumber(costs.data.total.input_tokens)} />
            <Stat label="Output tokens" value={formatNumber(costs.data.total.output_tokens)} />
            <Stat label="LLM spans" value={formatNumber(costs.data.total.span_count)} />
          </div>
          <Card>
            <CardHeader>
              <CardTitle>Cost over time, by {groupBy}</CardTitle>
            </CardHeader>
            <CardContent className="h-72" data-testid="cost-chart">
              <ResponsiveContainer width="100%" height="100%">
                <BarChart data={cost.rows}>
                  <CartesianGrid strokeDasharray="3 3" stroke="var(--border)" />
                  <XAxis dataKey="bucket" tickFormatter={shortBucket} fontSize={11} stroke="var(--muted-foreground)" />
                  <YAxis tickFormatter={(v: number) => formatCost(v)} fontSize={11} stroke="var(--muted-foreground)" width={60} />
                  <Tooltip formatter={(v) => formatCost(Number(v))} labelFormatter={(l) => shortBucket(String(l))} contentStyle={{ background: "var(--card)", border: "1px solid var(--border)", fontSize: 12 }} />
                  <Legend wrapperStyle={{ fontSize: 12 }} />
                  {cost.keys.map((k, i) => (
                    <Bar key={k} dataKey={k} stackId="cost" fill={CHART_COLORS[i % CHART_COLORS.length]} isAnimationActive={false} />
                  ))}
                </BarChart>
              </ResponsiveContainer>
            </CardContent>
          </Card>
          <div className="grid gap-4 lg:grid-cols-2">
            <Card>
              <CardHeader>
                <CardTitle>Tokens over time</CardTitle>
              </CardHeader>
              <CardContent className="h-64">
                <ResponsiveContainer width="100%" height="100%">
                  <AreaChart data={tokens.rows}>
                    <CartesianGrid strokeDasharray="3 3" stroke="var(--border)" />
                    <XAxis dataKey="bucket" tickFormatter={shortBucket} fontSize={11} stroke="var(--muted-foreground)" />
                    <YAxis tickFormatter={(v: number) => compact(v)} fontSize={11} stroke="var(--muted-foreground)" width={50} />
                    <Tooltip formatter={(v) => formatNumber(Number(v))} contentStyle={{ background: "var(--card)", border: "1px solid var(--border)", fontSize: 12 }} />
                    {tokens.keys.map((k, i) => (
                      <Area key={k} dataKey={k} stackId="t" stroke={CHART_COLORS[i % CHART_COLORS.length]} fill={CHART_COLORS[i % CHART_COLORS.length]} fillOpacity={0.3} isAnimationActive={false} />
                    ))}
                  </AreaChart>
                </ResponsiveContainer>
              </CardContent>
            </Card>
            <Card>
              <CardHeader>
                <CardTitle>Top spenders by {groupBy}</CardTitle>
              </CardHeader>
              <CardContent>
                <div className="flex flex-col gap-1.5" data-testid="top-spenders">
                  {groups.slice(0, 10).map((g, i) => (
                    <div key={g.key} className="text-sm">
                      <div className="flex justify-between gap-2">
                        <span className="truncate font-mono text-xs">{g.key || "(none)"}</span>
                        <span className="tabular-nums">{formatCost(g.cost_usd)}</span>
                      </div>
                      <div className="h-1.5 rounded bg-muted">
                        <div className="h-1.5 rounded" style={{ width: `${(g.cost_usd / maxGroup) * 100}%`, background: CHART_COLORS[i % CHART_COLORS.length] }} />
                      </div>
                      <div className="text-[11px] text-muted-foreground">
                        {formatNumber(g.input_tokens)} in · {formatNumber(g.output_tokens)} out · {formatNumber(g.span_count)} spans
                      </div>
                    </div>
                  ))}
                </div>
              </CardContent>
            </Card>
          </div>
        </div>
      )}
      <div className="px-4 pb-6">
        <Card>
          <CardHeader>
            <CardTitle>Budgets</CardTitle>
          </CardHeader>
          <CardContent>
            {budgets.isLoading ? (
              <Loading />
            ) : isNotAvailable(budgets.error) ? (
              <p className="text-sm text-muted-foreground" data-testid="budgets-not-available">
                Budgets are not available on this server.
              </p>
            ) : budgets.isError ? (
              <ErrorState error={budgets.error} />
            ) : !budgets.data?.budgets.length ? (
              <p className="text-sm text-muted-foreground">No budgets set.</p>
            ) : (
              <div className="flex flex-col gap-3" data-testid="budgets">
                {budgets.data.budgets.map((b) => {
                  const share = b.limit_usd > 0 ? b.spent_usd / b.limit_usd : 0;
                  return (
                    <div key={`${b.scope}/${b.period}`}>
                      <div className="flex items-center gap-2 text-sm">
                        <span className="font-medium">{b.scope}</span>
                        <span className="text-xs text-muted-foreground">per {b.period}</span>
                        {b.crossed ? <Badge variant="critical">over budget</Badge> : null}
                        <span className="ml-auto tabular-nums">
                          {formatCost(b.spent_usd)} / {formatCost(b.limit_usd)}
                        </span>
                      </div>
                      <div className="mt-1 h-2 rounded bg-muted">
                        <div
                          className={cn("h-2 rounded", b.crossed || share >= 1 ? "bg-red-500" : share > 0.8 ? "bg-amber-500" : "bg-emerald-500")}
                          style={{ width: `${Math.min(100, share * 100)}%` }}
                        />
                      </div>
                    </div>
                  );
                })}
              </div>
            )}
          </CardContent>
        </Card>
      </div>
    </div>
  );
}

function Stat({ label, value, testId }: { label: string; value: string; testId?: string }) {
  return (
    <Card className="p-3">
      <div className="text-xs text-muted-foreground">{label}</div>
      <div className="text-xl font-semibold tabular-nums" data-testid={testId}>
        {value}
      </div>
    </Card>
  );
}

function shortBucket(bucket: string): string {
  const d = new Date(bucket);
  if (Number.isNaN(d.getTime())) return bucket;
  return d.toLocaleString("en-GB", { month: "short", day: "2-digit", hour: d.getUTCHours() || d.getUTCMinutes() ? "2-digit" : undefined, minute: d.getUTCMinutes() ? "2-digit" : undefined });
}
