// How captured values read: JSON pretty-printed, plain text as text, long content collapsed
// behind "show all", and chat messages as a conversation.

import { useState } from "react";
import type * as React from "react";
import { ChevronDown, ChevronRight, Copy, Wrench } from "lucide-react";
import { isLongText, type ChatMessage } from "@/lib/messages";
import { cn } from "@/lib/cn";

export function pretty(value: unknown): string {
  if (typeof value === "string") return value;
  if (value === undefined) return "";
  try {
    return JSON.stringify(value, null, 2);
  } catch {
    return String(value);
  }
}

export function CopyButton({ text, label = "Copy" }: { text: string; label?: string }) {
  const [done, setDone] = useState(false);
  return (
    <button
      type="button"
      className="inline-flex items-center gap-1 text-xs text-muted-foreground hover:text-foreground"
      onClick={() => {
        void navigator.clipboard?.writeText(text).then(() => {
          setDone(true);
          setTimeout(() => setDone(false), 1200);
        });
      }}
    >
      <Copy className="size-3" /> {done ? "Copied" : label}
    </button>
  );
}

const JSON_TOKEN = /("(?:\\.|[^"\\])*")(\s*:)?|\b(true|false|null)\b|-?\b\d+(?:\.\d+)?(?:[eE][+-]?\d+)?\b/g;

/** Pretty JSON text with keys, strings, numbers and literals coloured (React text, no HTML). */
function highlightJson(text: string): React.ReactNode[] {
  const out: React.ReactNode[] = [];
  let last = 0;
  for (const m of text.matchAll(JSON_TOKEN)) {
    const at = m.index ?? 0;
    if (at > last) out.push(text.slice(last, at));
    const [token, string, colon, literal] = m;
    if (string !== undefined) {
      out.push(
        <span key={at} className={colon ? "text-violet-700 dark:text-violet-300" : "text-emerald-700 dark:text-emerald-400"}>
          {string}
        </span>,
      );
      if (colon) out.push(colon);
    } else {
      out.push(
        <span key={at} className={literal ? "text-orange-600 dark:text-orange-300" : "text-sky-700 dark:text-sky-300"}>
          {token}
        </span>,
      );
    }
    last = at + token.length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

export function LongText({ text, mono, json, className }: { text: string; mono?: boolean; json?: boolean; className?: string }) {
  const long = isLongText(text);
  const [open, setOpen] = useState(false);
  const shown = long && !open ? text.slice(0, 600).split("\n").slice(0, 12).join("\n") : text;
  // Colouring a megabyte of JSON would cost more than it helps: only what is shown, up to 100k.
  const body = json && shown.length < 100_000 ? highlightJson(shown) : shown;
  return (
    <div className={className}>
      <pre className={cn("whitespace-pre-wrap break-words text-xs leading-relaxed", mono ? "font-mono" : "font-sans text-sm")}>
        {body}
        {long && !open ? "…" : ""}
      </pre>
      {long ? (
        <button type="button" className="mt-1 text-xs font-medium text-sky-600 hover:underline dark:text-sky-400" onClick={() => setOpen(!open)}>
          {open ? "Show less" : `Show all (${text.length.toLocaleString()} characters)`}
        </button>
      ) : null}
    </div>
  );
}

export function JsonBlock({ value, testId }: { value: unknown; testId?: string }) {
  const text = pretty(value);
  const isString = typeof value === "string";
  return (
    <div className="group relative rounded-md border bg-muted/50 p-2" data-testid={testId}>
      <div className="absolute right-2 top-1.5 opacity-0 transition-opacity group-hover:opacity-100">
        <CopyButton text={text} />
      </div>
      <LongText text={text} mono={!isString} json={!isString} />
    </div>
  );
}

const ROLE_STYLE: Record<string, string> = {
  system: "border-l-slate-400 bg-slate-500/5",
  user: "border-l-sky-500 bg-sky-500/5",
  assistant: "border-l-emerald-500 bg-emerald-500/5",
  tool: "border-l-amber-500 bg-amber-500/5",
  function: "border-l-amber-500 bg-amber-500/5",
};

export function Conversation({ messages, testId }: { messages: ChatMessage[]; testId?: string }) {
  return (
    <div className="flex flex-col gap-2" data-testid={testId}>
      {messages.map((m, i) => (
        <div key={i} className={cn("rounded-md border border-l-4 p-2", ROLE_STYLE[m.role] ?? "border-l-slate-300")} data-role={m.role}>
          <div className="mb-1 flex items-center gap-2 text-xs font-semibold uppercase tracking-wide text-muted-foreground">
            {m.role}
            {m.name ? <span className="font-mono normal-case">{m.name}</span> : null}
          </div>
          {m.content ? <LongText text={m.content} /> : null}
          {m.toolCalls?.map((call, j) => <ToolCallView key={j} name={call.name} args={call.arguments} id={call.id} />)}
        </div>
      ))}
    </div>
  );
}

function ToolCallView({ name, args, id }: { name: string; args: string; id?: string }) {
  const [open, setOpen] = useState(true);
  return (
    <div className="mt-1 rounded border bg-background/60 p-1.5">
      <button type="button" className="flex items-center gap-1 text-xs font-medium" onClick={() => setOpen(!open)}>
        {open ? <ChevronDown className="size-3" /> : <ChevronRight className="size-3" />}
        <Wrench className="size-3 text-amber-500" /> {name}
        {id ? <span className="font-mono text-muted-foreground">{id}</span> : null}
      </button>
      {open && args ? <LongText text={args} mono className="mt-1" /> : null}
    </div>
  );
}

function isEvidenceList(value: unknown): value is { signal: string; detail: string; location?: unknown; score?: number }[] {
  return Array.isArray(value) && value.length > 0 && value.every((e) => e && typeof e === "object" && "signal" in e && "detail" in e);
}

function locationText(location: unknown): string {
  if (location === null || location === undefined) return "";
  if (typeof location === "string") return location;
  if (typeof location === "object") {
    return Object.entries(location as Record<string, unknown>)
      .filter(([, v]) => v !== null && v !== undefined && v !== "")
      .map(([k, v]) => (typeof v === "object" ? `${k} ${JSON.stringify(v)}` : `${k} ${v}`))
      .join(", ");
  }
  return String(location);
}

/** An alert's evidence: signal, matched text and where, one line each; other JSON pretty. */
export function Evidence({ value }: { value: unknown }) {
  if (!isEvidenceList(value)) return <pre className="whitespace-pre-wrap break-words font-mono text-xs">{pretty(value)}</pre>;
  return (
    <ul className="flex flex-col gap-1 text-xs" data-testid="evidence">
      {value.map((e, i) => (
        <li key={i} className="flex flex-wrap items-baseline gap-x-2">
          <span className="font-mono font-medium">{e.signal}</span>
          <code className="break-all rounded bg-muted px-1">{e.detail}</code>
          {e.location !== undefined ? <span className="text-muted-foreground">in {locationText(e.location)}</span> : null}
          {typeof e.score === "number" ? <span className="text-muted-foreground">score {e.score}</span> : null}
        </li>
      ))}
    </ul>
  );
}

export function evidenceSummary(value: unknown): string {
  if (isEvidenceList(value)) return value.map((e) => `${e.signal}: ${e.detail}`).join(" · ");
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text ?? "";
}

/** Scores are 0–100 from agentstack serve; a 0–1 score is shown as a percentage too. */
export function formatScore(score: number | null | undefined): string {
  if (score === null || score === undefined) return "";
  return score <= 1 && !Number.isInteger(score) ? String(Math.round(score * 100)) : String(Math.round(score));
}
