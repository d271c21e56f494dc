// Sessions: conversations (traces sharing a session id). The list reads GET /api/v1/sessions;
// on a server without it, the page groups the latest traces by session instead and says so.
// A session's page shows its traces oldest first, each with the turn's input and output.

import { useMemo } from "react";
import { Link, useParams } from "react-router";
import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { ArrowLeft, MessagesSquare } from "lucide-react";
import { api, isNotAvailable } from "@/api/client";
import type { TraceItem } from "@/api/types";
import { sessionsFromTraces } from "@/lib/sessions";
import { formatCost, formatNumber, formatTime, formatTokens, plural, relativeTime } from "@/lib/format";
import { formatMs, formatNanos } from "@/lib/timescale";
import { spanConversation } from "@/lib/messages";
import { Empty, ErrorState, Loading } from "@/components/states";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Conversation, JsonBlock } from "@/components/content";

export function SessionsPage() {
  const query = useInfiniteQuery({
    queryKey: ["sessions"],
    queryFn: ({ pageParam }) => api.sessions({}, pageParam, 100),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.next_cursor ?? undefined,
    retry: false,
  });
  const fallback = isNotAvailable(query.error);
  const derived = useQuery({
    queryKey: ["sessions-from-traces"],
    queryFn: () => api.traces({}, null, 1000),
    enabled: fallback,
    select: (page) => sessionsFromTraces(page.traces),
  });

  const sessions = fallback ? derived.data : query.data?.pages.flatMap((p) => p.sessions);
  const loading = query.isLoading || (fallback && derived.isLoading);
  const error = fallback ? derived.error : query.error;

  return (
    <div className="h-full overflow-y-auto">
      <div className="flex items-center gap-3 border-b px-4 py-3">
        <h1 className="text-base font-semibold">Sessions</h1>
        <span className="text-xs text-muted-foreground">traces that share a session id (gen_ai.conversation.id, session.id)</span>
      </div>
      {fallback ? (
        <div className="mx-4 mt-3 rounded-md border border-amber-500/40 bg-amber-500/5 p-2 text-xs" data-testid="sessions-fallback">
          This server has no sessions endpoint yet (GET /api/v1/sessions): showing the sessions of the latest 1,000 traces.
        </div>
      ) : null}
      {loading ? (
        <Loading label="Loading sessions…" />
      ) : error ? (
        <ErrorState error={error} />
      ) : !sessions?.length ? (
        <Empty title="No sessions yet" icon={<MessagesSquare className="size-8 text-muted-foreground" />}>
          Traces join a session when their spans carry <code>gen_ai.conversation.id</code> (or OpenInference{" "}
          <code>session.id</code>). The quickstart agent sets one:
          <pre className="mt-3 whitespace-pre-wrap break-all rounded-md bg-muted p-3 text-left font-mono text-xs text-foreground">AGENTSTACK_ENDPOINT=http://127.0.0.1:4318 cargo run --example quickstart</pre>
        </Empty>
      ) : (
        <div className="p-4">
          <table className="w-full text-sm" data-testid="sessions-table">
            <thead className="text-left text-xs text-muted-foreground">
              <tr className="border-b">
                <th className="py-2 font-medium">Session</th>
                <th className="font-medium">User</th>
                <th className="font-medium">Started · last active</th>
                <th className="text-right font-medium">Traces</th>
                <th className="text-right font-medium">Spans</th>
                <th className="text-right font-medium">Tokens</th>
                <th className="text-right font-medium">Cost</th>
                <th className="pl-4 font-medium">Errors</th>
              </tr>
            </thead>
            <tbody>
              {sessions.map((s) => (
                <tr key={s.session_id} className="border-b hover:bg-accent" data-testid="session-row">
                  <td className="py-2">
                    <Link className="font-medium hover:underline" to={`/sessions/${encodeURIComponent(s.session_id)}`}>
                      {s.session_id}
                    </Link>
                  </td>
                  <td className="text-muted-foreground">{s.user_id ?? "–"}</td>
                  <td className="text-xs text-muted-foreground">
                    {formatTime(s.start_unix_nanos)} · last active {relativeTime(s.last_start_unix_nanos ?? s.end_unix_nanos)}
                    {s.duration_ms != null ? ` · ${formatMs(s.duration_ms)}` : ""}
                  </td>
                  <td className="text-right tabular-nums">{formatNumber(s.trace_count)}</td>
                  <td className="text-right tabular-nums">{formatNumber(s.span_count)}</td>
                  <td className="text-right text-xs tabular-nums">{formatTokens(s.input_tokens, s.output_tokens)}</td>
                  <td className="text-right text-xs tabular-nums">{formatCost(s.cost_usd)}</td>
                  <td className="pl-4">{s.error_count ? <Badge variant="error">{s.error_count}</Badge> : <Badge variant="ok">0</Badge>}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {query.hasNextPage ? (
            <Button variant="outline" size="sm" className="mt-3" onClick={() => void query.fetchNextPage()} disabled={query.isFetchingNextPage}>
              {query.isFetchingNextPage ? "Loading…" : "Load more"}
            </Button>
          ) : null}
        </div>
      )}
    </div>
  );
}

export function SessionPage() {
  const { sessionId = "" } = useParams();
  const query = useQuery({ queryKey: ["traces", "session", sessionId], queryFn: () => api.traces({ session: sessionId }, null, 1000) });
  const traces = useMemo(() => [...(query.data?.traces ?? [])].sort((a, b) => a.start_unix_nanos - b.start_unix_nanos), [query.data]);
  const first = traces[0]?.start_unix_nanos ?? 0;
  return (
    <div className="h-full overflow-y-auto">
      <div className="flex flex-wrap items-center gap-3 border-b px-4 py-3">
        <Link to="/sessions" className="flex items-center gap-1 text-sm text-muted-foreground hover:text-foreground">
          <ArrowLeft className="size-4" /> Sessions
        </Link>
        <h1 className="text-base font-semibold" data-testid="session-title">
          Session {sessionId}
        </h1>
        {traces.length ? (
          <span className="text-xs text-muted-foreground">
            {plural(traces.length, "trace")} · {formatTokens(sum(traces, "input_tokens"), sum(traces, "output_tokens"))} tokens
          </span>
        ) : null}
        <Link className="ml-auto text-xs underline" to={`/traces?session=${encodeURIComponent(sessionId)}`}>
          Open in the traces table
        </Link>
      </div>
      {query.isLoading ? (
        <Loading />
      ) : query.isError ? (
        <ErrorState error={query.error} retry={() => void query.refetch()} />
      ) : !traces.length ? (
        <Empty title="No traces in this session">Check the session id, or send traces that carry it.</Empty>
      ) : (
        <ol className="flex flex-col gap-3 p-4">
          {traces.map((t, i) => (
            <SessionTurn key={t.trace_id} trace={t} index={i} offset={t.start_unix_nanos - first} load={i < 30} />
          ))}
        </ol>
      )}
    </div>
  );
}

function sum(traces: TraceItem[], key: "input_tokens" | "output_tokens"): number {
  return traces.reduce((n, t) => n + (t[key] ?? 0), 0);
}

function SessionTurn({ trace, index, offset, load }: { trace: TraceItem; index: number; offset: number; load: boolean }) {
  const detail = useQuery({ queryKey: ["trace", trace.trace_id], queryFn: () => api.trace(trace.trace_id), enabled: load });
  const root = detail.data?.spans.find((s) => s.depth === 0);
  const conversation = root ? spanConversation(root) : null;
  return (
    <li className="rounded-lg border" data-testid="session-turn">
      <div className="flex flex-wrap items-center gap-3 border-b px-3 py-2 text-sm">
        <span className="text-xs text-muted-foreground">#{index + 1}</span>
        <Link className="font-medium hover:underline" to={`/traces/${trace.trace_id}`}>
          {trace.root_name ?? trace.trace_id}
        </Link>
        <span className="text-xs text-muted-foreground">
          {formatTime(trace.start_unix_nanos)} (+{formatNanos(offset)}) · {formatMs(trace.duration_ms)} · {trace.span_count} spans ·{" "}
          {formatTokens(trace.input_tokens, trace.output_tokens)} tokens
        </span>
        {trace.status === "error" ? <Badge variant="error">{plural(trace.error_count, "error")}</Badge> : null}
      </div>
      {root ? (
        <div className="grid gap-3 p-3 md:grid-cols-2">
          <div>
            <div className="mb-1 text-xs font-semibold uppercase text-muted-foreground">Input</div>
            {conversation?.input ? <Conversation messages={conversation.input} /> : root.input != null ? <JsonBlock value={root.input} /> : <span className="text-sm text-muted-foreground">–</span>}
          </div>
          <div>
            <div className="mb-1 text-xs font-semibold uppercase text-muted-foreground">Output</div>
            {conversation?.output ? <Conversation messages={conversation.output} /> : root.output != null ? <JsonBlock value={root.output} /> : <span className="text-sm text-muted-foreground">–</span>}
          </div>
        </div>
      ) : detail.isLoading && load ? (
        <Loading label="Loading the turn…" />
      ) : null}
    </li>
  );
}
