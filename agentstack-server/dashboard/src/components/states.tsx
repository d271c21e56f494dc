// Loading, error, empty and "not available on this server" states shared by the pages: each
// says what happened and what to do next.

import { AlertTriangle, Loader2, PlugZap, Send } from "lucide-react";
import type { ReactNode } from "react";
import { ApiError, isNotAvailable } from "@/api/client";
import { Button } from "./ui/button";
import { Link } from "react-router";

export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <div className="flex items-center gap-2 p-8 text-muted-foreground" role="status" data-testid="loading">
      <Loader2 className="size-4 animate-spin" /> {label}
    </div>
  );
}

export function ErrorState({ error, retry }: { error: unknown; retry?: () => void }) {
  if (isNotAvailable(error)) return <NotAvailable />;
  const apiError = error instanceof ApiError ? error : null;
  const message = error instanceof Error ? error.message : String(error);
  const needsKey = apiError && (apiError.status === 401 || apiError.status === 403);
  return (
    <div className="m-4 rounded-lg border border-red-500/40 bg-red-500/5 p-4" role="alert" data-testid="error">
      <div className="flex items-center gap-2 font-medium text-red-700 dark:text-red-400">
        <AlertTriangle className="size-4" />
        {apiError?.status ? `The server answered ${apiError.status}` : "Something went wrong"}
        {apiError?.parameter ? <span className="font-mono text-xs">({apiError.parameter})</span> : null}
      </div>
      <p className="mt-1 text-sm">{message}</p>
      <div className="mt-3 flex gap-2">
        {needsKey ? (
          <Button asChild size="sm" variant="outline">
            <Link to="/settings">Set the API key in Settings</Link>
          </Button>
        ) : null}
        {retry ? (
          <Button size="sm" variant="outline" onClick={retry}>
            Try again
          </Button>
        ) : null}
      </div>
    </div>
  );
}

export function NotAvailable({ what = "This page" }: { what?: string }) {
  return (
    <div className="m-4 flex flex-col items-center gap-2 rounded-lg border border-dashed p-10 text-center" data-testid="not-available">
      <PlugZap className="size-8 text-muted-foreground" />
      <div className="font-medium">{what} is not available on this server</div>
      <p className="max-w-md text-sm text-muted-foreground">
        The AgentStack server you are connected to does not have this endpoint yet. Upgrade <code>agentstack</code> to a newer
        build and reload.
      </p>
    </div>
  );
}

export function Empty({ title, children, icon }: { title: string; children?: ReactNode; icon?: ReactNode }) {
  return (
    <div className="m-4 flex flex-col items-center gap-2 rounded-lg border border-dashed p-10 text-center" data-testid="empty">
      {icon}
      <div className="font-medium">{title}</div>
      <div className="max-w-lg text-sm text-muted-foreground">{children}</div>
    </div>
  );
}

export function FirstTraceHelp() {
  return (
    <Empty title="No traces yet" icon={<Send className="size-8 text-muted-foreground" />}>
      <p>Send your first trace: run the demo agent against this server's collector.</p>
      <pre className="mt-3 whitespace-pre-wrap break-all rounded-md bg-muted p-3 text-left font-mono text-xs text-foreground" data-testid="first-trace-command">
        AGENTSTACK_ENDPOINT=http://127.0.0.1:4318 cargo run --example quickstart
      </pre>
      <p className="mt-2">
        If this server has API keys, add <code>AGENTSTACK_API_KEY=ask_…</code> (a key of this dashboard's project, from Settings).
      </p>
      <p className="mt-3">
        In your own agent, add the <code>agentstack</code> crate, annotate functions with <code>#[observe]</code> and point{" "}
        <code>AGENTSTACK_ENDPOINT</code> at the collector. Any OTLP/HTTP exporter works too (<code>POST /v1/traces</code>).
      </p>
    </Empty>
  );
}
