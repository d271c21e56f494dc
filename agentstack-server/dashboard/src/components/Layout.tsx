// The app shell: the navigation bar (pages, theme toggle) above the page.

import { NavLink, Outlet, useLocation } from "react-router";
import { ErrorBoundary } from "./ErrorBoundary";
import { Activity, Bell, DollarSign, Layers, MessagesSquare, Moon, Settings, Sun } from "lucide-react";
import { useTheme } from "@/lib/theme";
import { Button } from "./ui/button";
import { cn } from "@/lib/cn";

const NAV = [
  { to: "/traces", label: "Traces", icon: Activity },
  { to: "/sessions", label: "Sessions", icon: MessagesSquare },
  { to: "/alerts", label: "Alerts", icon: Bell },
  { to: "/costs", label: "Costs", icon: DollarSign },
  { to: "/settings", label: "Settings", icon: Settings },
];

export function Layout() {
  const [theme, toggle] = useTheme();
  const location = useLocation();
  return (
    <div className="flex h-full flex-col">
      <header className="flex h-12 shrink-0 items-center gap-4 border-b px-4">
        <NavLink to="/traces" className="flex items-center gap-2 font-semibold">
          <Layers className="size-5 text-violet-500" /> AgentStack
        </NavLink>
        <nav className="flex items-center gap-1">
          {NAV.map(({ to, label, icon: Icon }) => (
            <NavLink
              key={to}
              to={to}
              className={({ isActive }) =>
                cn(
                  "flex items-center gap-1.5 rounded-md px-2.5 py-1.5 text-sm text-muted-foreground hover:bg-accent hover:text-foreground",
                  isActive && "bg-accent text-foreground",
                )
              }
            >
              <Icon className="size-4" /> {label}
            </NavLink>
          ))}
        </nav>
        <div className="ml-auto">
          <Button variant="ghost" size="icon" onClick={toggle} aria-label={`Switch to ${theme === "dark" ? "light" : "dark"} theme`} data-testid="theme-toggle">
            {theme === "dark" ? <Sun /> : <Moon />}
          </Button>
        </div>
      </header>
      <main className="min-h-0 flex-1">
        <ErrorBoundary resetKey={location.pathname}>
          <Outlet />
        </ErrorBoundary>
      </main>
    </div>
  );
}
