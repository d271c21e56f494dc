// `cn`: class names joined, Tailwind conflicts resolved (the shadcn/ui helper).
import { clsx, type ClassValue } from "clsx";
import { twMerge } from "tailwind-merge";

export function cn(...inputs: ClassValue[]) {
  return twMerge(clsx(inputs));
}
