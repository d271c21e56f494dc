// Span kinds: one icon and one colour each, used by the waterfall, the tree and the span panel.

import { Bot, Boxes, Brain, Database, GitBranch, Search, Shield, Sparkles, Wrench, type LucideIcon } from "lucide-react";
import { cn } from "@/lib/cn";

interface KindStyle {
  icon: LucideIcon;
  /** Tailwind classes of the bar. */
  bar: string;
  /** Tailwind classes of the icon. */
  text: string;
  label: string;
}

const KINDS: Record<string, KindStyle> = {
  agent: { icon: Bot, bar: "bg-violet-500", text: "text-violet-500", label: "agent" },
  llm: { icon: Sparkles, bar: "bg-sky-500", text: "text-sky-500", label: "LLM" },
  tool: { icon: Wrench, bar: "bg-amber-500", text: "text-amber-500", label: "tool" },
  chain: { icon: GitBranch, bar: "bg-teal-500", text: "text-teal-500", label: "chain" },
  retriever: { icon: Search, bar: "bg-lime-500", text: "text-lime-600", label: "retriever" },
  embedding: { icon: Brain, bar: "bg-pink-500", text: "text-pink-500", label: "embedding" },
  guardrail: { icon: Shield, bar: "bg-indigo-500", text: "text-indigo-500", label: "guardrail" },
  database: { icon: Database, bar: "bg-stone-500", text: "text-stone-500", label: "database" },
};
const OTHER: KindStyle = { icon: Boxes, bar: "bg-slate-400", text: "text-slate-400", label: "span" };

export function kindStyle(kind: string | null | undefined): KindStyle {
  return (kind && KINDS[kind.toLowerCase()]) || OTHER;
}

export function KindIcon({ kind, className }: { kind: string | null | undefined; className?: string }) {
  const style = kindStyle(kind);
  const Icon = style.icon;
  return <Icon className={cn("size-3.5 shrink-0", style.text, className)} aria-label={style.label} />;
}
