import * as React from "react";
import { cva, type VariantProps } from "class-variance-authority";
import { cn } from "@/lib/cn";

const badgeVariants = cva("inline-flex items-center gap-1 rounded-md border px-1.5 py-0.5 text-xs font-medium whitespace-nowrap", {
  variants: {
    variant: {
      default: "border-transparent bg-muted text-foreground",
      outline: "text-muted-foreground",
      error: "border-transparent bg-red-500/15 text-red-700 dark:text-red-400",
      ok: "border-transparent bg-emerald-500/15 text-emerald-700 dark:text-emerald-400",
      low: "border-transparent bg-sky-500/15 text-sky-700 dark:text-sky-300",
      medium: "border-transparent bg-amber-500/15 text-amber-700 dark:text-amber-300",
      high: "border-transparent bg-orange-500/20 text-orange-700 dark:text-orange-300",
      critical: "border-transparent bg-red-600 text-white",
    },
  },
  defaultVariants: { variant: "default" },
});

export interface BadgeProps extends React.HTMLAttributes<HTMLSpanElement>, VariantProps<typeof badgeVariants> {}

export function Badge({ className, variant, ...props }: BadgeProps) {
  return <span className={cn(badgeVariants({ variant }), className)} {...props} />;
}
