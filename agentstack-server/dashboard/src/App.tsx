// The routes of the dashboard. The server answers index.html for every path outside /api and
// /ws, so each of these is a deep link. The traces page is in the entry chunk (it is where `/`
// lands); the other pages load on first visit (Recharts alone is half of the code).

import { lazy, Suspense, type ReactNode } from "react";
import { Link, Navigate, Route, Routes } from "react-router";
import { Layout } from "./components/Layout";
import { TracesPage } from "./pages/TracesPage";
import { Empty, Loading } from "./components/states";

const loadTracePage = () => import("./pages/TracePage");
const TracePage = lazy(() => loadTracePage().then((m) => ({ default: m.TracePage })));
// The trace page is the next click from the list: fetch its chunk once the browser is idle.
if (typeof window !== "undefined") {
  const idle = window.requestIdleCallback ?? ((f: () => void) => setTimeout(f, 1500));
  idle(() => void loadTracePage());
}
const SessionsPage = lazy(() => import("./pages/SessionsPage").then((m) => ({ default: m.SessionsPage })));
const SessionPage = lazy(() => import("./pages/SessionsPage").then((m) => ({ default: m.SessionPage })));
const AlertsPage = lazy(() => import("./pages/AlertsPage").then((m) => ({ default: m.AlertsPage })));
const CostsPage = lazy(() => import("./pages/CostsPage").then((m) => ({ default: m.CostsPage })));
const SettingsPage = lazy(() => import("./pages/SettingsPage").then((m) => ({ default: m.SettingsPage })));

function Page({ children }: { children: ReactNode }) {
  return <Suspense fallback={<Loading label="Loading the page…" />}>{children}</Suspense>;
}

export function App() {
  return (
    <Routes>
      <Route element={<Layout />}>
        <Route index element={<Navigate to="/traces" replace />} />
        <Route path="traces" element={<TracesPage />} />
        <Route path="traces/:traceId" element={<Page><TracePage /></Page>} />
        <Route path="sessions" element={<Page><SessionsPage /></Page>} />
        <Route path="sessions/:sessionId" element={<Page><SessionPage /></Page>} />
        <Route path="alerts" element={<Page><AlertsPage /></Page>} />
        <Route path="costs" element={<Page><CostsPage /></Page>} />
        <Route path="settings" element={<Page><SettingsPage /></Page>} />
        <Route
          path="*"
          element={
            <Empty title="No such page">
              <Link className="underline" to="/traces">
                Go to the traces
              </Link>
            </Empty>
          }
        />
      </Route>
    </Routes>
  );
}
