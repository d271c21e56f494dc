// The panel of one span: what it is (kind, status, timing, model, tokens, cost), its input and
// output (a conversation when they are chat messages, else pretty JSON), attributes, events,
// links, resource, and the alerts raised on it.

import { useMemo, useState } from "react";
import { Link } from "react-router";
import { AlertTriangle } from "lucide-react";
import type { Alert, SpanItem } from "@/api/types";
import { spanConversation } from "@/lib/messages";
import { lacksDetails } from "@/lib/liveTrace";
import { formatMs, formatNanos } from "@/lib/timescale";
import { formatCost, formatNumber } from "@/lib/format";
import { Badge } from "@/components/ui/badge";
import { Tabs, TabsContent, TabsList, TabsTrigger } from "@/components/ui/tabs";
import { Conversation, CopyButton, Evidence, JsonBlock, formatScore, pretty } from "@/components/content";
import { KindIcon, kindStyle } from "@/components/kind";

export function SpanPanel({ span, alerts, traceStart }: { span: SpanItem; alerts: Alert[]; traceStart: number }) {
  const conversation = useMemo(() => spanConversation(span), [span]);
  const attributes = span.attributes ?? {};
  const events = Array.isArray(span.events) ? span.events : [];
  const links = Array.isArray(span.links) ? span.links : [];
  const hasConversation = !!(conversation.input || conversation.output);
  const [view, setView] = useState<"chat" | "json">("chat");
  const showChat = hasConversation && view === "chat";

  return (
    <div className="flex flex-col gap-4 p-4" data-testid="span-details" data-span-id={span.span_id}>
      <div>
        <div className="flex items-center gap-2">
          <KindIcon kind={span.kind} className="size-4" />
          <h2 className="truncate text-base font-semibold" title={span.name} data-testid="span-name">
            {span.name}
          </h2>
          <Badge variant="outline">{kindStyle(span.kind).label === "span" ? (span.kind ?? "span") : kindStyle(span.kind).label}</Badge>
          <Badge variant={span.status === "error" ? "error" : span.status === "ok" ? "ok" : "outline"}>{span.status}</Badge>
        </div>
        {span.status_message ? <p className="mt-1 text-sm text-red-600 dark:text-red-400">{span.status_message}</p> : null}
        <div className="mt-1 flex items-center gap-2 font-mono text-[11px] text-muted-foreground">
          span {span.span_id} <CopyButton text={span.span_id} label="" />
        </div>
      </div>

      <dl className="grid grid-cols-[auto_1fr] gap-x-4 gap-y-1 text-sm">
        <Field label="Duration">{formatMs(span.duration_ms)}</Field>
        <Field label="Starts at">+{formatNanos(span.start_unix_nanos - traceStart)}</Field>
        {span.service_name ? <Field label="Service">{span.service_name}</Field> : null}
        {span.model ? (
          <Field label="Model">
            {span.model}
            {span.provider ? <span className="text-muted-foreground"> · {span.provider}</span> : null}
          </Field>
        ) : null}
        {span.input_tokens != null || span.output_tokens != null ? (
          <Field label="Tokens">
            {formatNumber(span.input_tokens ?? 0)} in · {formatNumber(span.output_tokens ?? 0)} out
            {span.cache_read_input_tokens ? ` · ${formatNumber(span.cache_read_input_tokens)} cache read` : ""}
            {span.cache_creation_input_tokens ? ` · ${formatNumber(span.cache_creation_input_tokens)} cache write` : ""}
            {span.reasoning_output_tokens ? ` · ${formatNumber(span.reasoning_output_tokens)} reasoning` : ""}
          </Field>
        ) : null}
        {span.cost_usd !== undefined ? (
          <Field label="Cost">
            {formatCost(span.cost_usd, span.cost_estimated)}
            {span.cost_estimated ? <span className="text-muted-foreground"> (estimated)</span> : null}
          </Field>
        ) : null}
        {span.session_id ? (
          <Field label="Session">
            <Link className="underline" to={`/sessions/${encodeURIComponent(span.session_id)}`}>
              {span.session_id}
            </Link>
          </Field>
        ) : null}
        {span.user_id ? <Field label="User">{span.user_id}</Field> : null}
      </dl>

      {alerts.length ? (
        <Section title={`Alerts (${alerts.length})`}>
          <div className="flex flex-col gap-2" data-testid="span-alerts">
            {alerts.map((a) => (
              <div key={String(a.id)} className="rounded-md border border-orange-500/40 bg-orange-500/5 p-2 text-sm">
                <div className="flex items-center gap-2">
                  <AlertTriangle className="size-4 text-orange-500" />
                  <span className="font-medium">{a.title}</span>
                  <Badge variant={a.severity}>{a.severity}</Badge>
                  <span className="text-xs text-muted-foreground">
                    {a.detector}
                    {a.score != null ? ` · score ${formatScore(a.score)}` : ""}
                  </span>
                </div>
                {a.evidence !== undefined && a.evidence !== null ? (
                  <div className="mt-1">
                    <Evidence value={a.evidence} />
                  </div>
                ) : null}
              </div>
            ))}
          </div>
        </Section>
      ) : null}

      {lacksDetails(span) ? (
        <p className="rounded-md border border-dashed p-2 text-xs text-muted-foreground" data-testid="span-details-pending">
          This span just arrived live: its input, output and attributes come with the next refresh of the trace.
        </p>
      ) : null}

      {hasConversation ? (
        <div className="flex items-center gap-2">
          <Tabs value={view} onValueChange={(v) => setView(v as "chat" | "json")}>
            <TabsList>
              <TabsTrigger value="chat">Conversation</TabsTrigger>
              <TabsTrigger value="json">Raw</TabsTrigger>
            </TabsList>
          </Tabs>
        </div>
      ) : null}

      <Section title="Input">
        {showChat && conversation.input ? (
          <Conversation messages={conversation.input} testId="span-input" />
        ) : span.input !== undefined && span.input !== null ? (
          <JsonBlock value={span.input} testId="span-input" />
        ) : (
          <Nothing>No input captured.</Nothing>
        )}
      </Section>
      <Section title="Output">
        {showChat && conversation.output ? (
          <Conversation messages={conversation.output} testId="span-output" />
        ) : span.output !== undefined && span.output !== null ? (
          <JsonBlock value={span.output} testId="span-output" />
        ) : (
          <Nothing>No output captured.</Nothing>
        )}
      </Section>

      <Tabs defaultValue="attributes">
        <TabsList>
          <TabsTrigger value="attributes">Attributes ({Object.keys(attributes).length})</TabsTrigger>
          <TabsTrigger value="events">Events ({events.length})</TabsTrigger>
          <TabsTrigger value="links">Links ({links.length})</TabsTrigger>
          <TabsTrigger value="resource">Resource</TabsTrigger>
        </TabsList>
        <TabsContent value="attributes">
          <KeyValues values={attributes} />
        </TabsContent>
        <TabsContent value="events">
          {events.length ? (
            <div className="flex flex-col gap-2">
              {events.map((event, i) => (
                <div key={i} className="rounded-md border p-2">
                  <div className="flex items-center gap-2 text-sm font-medium">
                    {String(event.name ?? "event")}
                    {typeof event.time_unix_nanos === "number" ? (
                      <span className="text-xs text-muted-foreground">+{formatNanos(event.time_unix_nanos - traceStart)}</span>
                    ) : null}
                  </div>
                  {event.attributes ? <KeyValues values={event.attributes} /> : <JsonBlock value={event} />}
                </div>
              ))}
            </div>
          ) : (
            <Nothing>No events.</Nothing>
          )}
        </TabsContent>
        <TabsContent value="links">
          {links.length ? (
            <div className="flex flex-col gap-2">
              {links.map((link, i) => (
                <div key={i} className="rounded-md border p-2 text-sm">
                  {link.trace_id ? (
                    <Link className="font-mono text-xs underline" to={`/traces/${link.trace_id}${link.span_id ? `?span=${link.span_id}` : ""}`}>
                      {link.trace_id}
                      {link.span_id ? ` / ${link.span_id}` : ""}
                    </Link>
                  ) : null}
                  {link.attributes ? <KeyValues values={link.attributes} /> : <JsonBlock value={link} />}
                </div>
              ))}
            </div>
          ) : (
            <Nothing>No links.</Nothing>
          )}
        </TabsContent>
        <TabsContent value="resource">
          <KeyValues values={span.resource ?? {}} />
        </TabsContent>
      </Tabs>
    </div>
  );
}

function Field({ label, children }: { label: string; children: React.ReactNode }) {
  return (
    <>
      <dt className="text-muted-foreground">{label}</dt>
      <dd className="min-w-0 truncate">{children}</dd>
    </>
  );
}

function Section({ title, children }: { title: string; children: React.ReactNode }) {
  return (
    <section>
      <h3 className="mb-1.5 text-xs font-semibold uppercase tracking-wide text-muted-foreground">{title}</h3>
      {children}
    </section>
  );
}

function Nothing({ children }: { children: React.ReactNode }) {
  return <p className="text-sm text-muted-foreground">{children}</p>;
}

function KeyValues({ values }: { values: Record<string, unknown> }) {
  const entries = Object.entries(values).sort(([a], [b]) => a.localeCompare(b));
  if (!entries.length) return <Nothing>None.</Nothing>;
  return (
    <table className="w-full table-fixed text-xs">
      <tbody>
        {entries.map(([k, v]) => (
          <tr key={k} className="border-b last:border-0 align-top">
            <td className="w-2/5 break-all py-1 pr-2 font-mono text-muted-foreground">{k}</td>
            <td className="break-all py-1 font-mono">
              <span className="whitespace-pre-wrap">{typeof v === "string" ? v : pretty(v)}</span>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
