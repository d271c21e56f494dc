// The colour theme: light or dark, remembered in localStorage (index.html applies it before the
// first paint).

import { useCallback, useState } from "react";

export type Theme = "light" | "dark";
const KEY = "agentstack.theme";

export function currentTheme(): Theme {
  return document.documentElement.classList.contains("dark") ? "dark" : "light";
}

export function useTheme(): [Theme, () => void] {
  const [theme, setTheme] = useState<Theme>(currentTheme);
  const toggle = useCallback(() => {
    const next: Theme = currentTheme() === "dark" ? "light" : "dark";
    document.documentElement.classList.toggle("dark", next === "dark");
    try {
      localStorage.setItem(KEY, next);
    } catch {
      // Private mode: the theme lasts this page only.
    }
    setTheme(next);
  }, []);
  return [theme, toggle];
}
