// The routes of the dashboard. The server answers index.html for every path outside /api and
// /ws, so each of these is a deep link.

import { lazy, Suspense } from "react";
import { Navigate, Route, Routes } from "react-router";
import { Layout } from "./components/Layout";
import { TracesPage } from "./pages/TracesPage";
import { TracePage } from "./pages/TracePage";
import { SessionsPage, SessionPage } from "./pages/SessionsPage";
import { AlertsPage } from "./pages/AlertsPage";
import { SettingsPage } from "./pages/SettingsPage";
import { Empty, Loading } from "./components/states";

// Recharts is most of the bundle: the costs page loads it on first visit only.
const CostsPage = lazy(() => import("./pages/CostsPage").then((m) => ({ default: m.CostsPage })));
import { Link } from "react-router";

export function App() {
  return (
    <Routes>
      <Route element={<Layout />}>
        <Route index element={<Navigate to="/traces" replace />} />
        <Route path="traces" element={<TracesPage />} />
        <Route path="traces/:traceId" element={<TracePage />} />
        <Route path="sessions" element={<SessionsPage />} />
        <Route path="sessions/:sessionId" element={<SessionPage />} />
        <Route path="alerts" element={<AlertsPage />} />
        <Route
          path="costs"
          element={
            <Suspense fallback={<Loading label="Loading the charts…" />}>
              <CostsPage />
            </Suspense>
          }
        />
        <Route path="settings" element={<SettingsPage />} />
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
