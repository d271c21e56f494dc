// Settings: the project API key the dashboard reads with (kept in localStorage), and, with the
// server's admin token (kept for this tab only), the projects and their API keys: create (the
// secret is shown once), copy, revoke.

import { useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { KeyRound, Moon, Plus, ShieldAlert, Sun } from "lucide-react";
import { api, getAdminToken, getApiKey, setAdminToken, setApiKey } from "@/api/client";
import type { ApiKey, CreatedKey } from "@/api/types";
import { formatNumber, formatTime } from "@/lib/format";
import { useTheme } from "@/lib/theme";
import { Card, CardContent, CardHeader, CardTitle } from "@/components/ui/card";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { Badge } from "@/components/ui/badge";
import { CopyButton } from "@/components/content";
import { ErrorState, Loading } from "@/components/states";

export function SettingsPage() {
  const [theme, toggleTheme] = useTheme();
  return (
    <div className="h-full overflow-y-auto">
      <div className="border-b px-4 py-3">
        <h1 className="text-base font-semibold">Settings</h1>
      </div>
      <div className="flex max-w-3xl flex-col gap-4 p-4">
        <ConnectionCard />
        <KeysCard />
        <Card>
          <CardHeader>
            <CardTitle>Appearance</CardTitle>
          </CardHeader>
          <CardContent>
            <Button variant="outline" onClick={toggleTheme}>
              {theme === "dark" ? <Sun /> : <Moon />} Use the {theme === "dark" ? "light" : "dark"} theme
            </Button>
          </CardContent>
        </Card>
      </div>
    </div>
  );
}

function ConnectionCard() {
  const client = useQueryClient();
  const [key, setKey] = useState(getApiKey());
  const [saved, setSaved] = useState(getApiKey());
  const stats = useQuery({ queryKey: ["stats", saved], queryFn: () => api.stats(), retry: false });
  const save = (value: string) => {
    setApiKey(value);
    setSaved(value.trim());
    void client.invalidateQueries();
  };
  return (
    <Card>
      <CardHeader>
        <CardTitle>Project API key</CardTitle>
        <p className="text-xs text-muted-foreground">
          The dashboard reads the project of this key (<code>Authorization: Bearer ask_…</code>). A server on loopback with no keys configured needs
          none. Kept in this browser's localStorage.
        </p>
      </CardHeader>
      <CardContent className="flex flex-col gap-3">
        <form
          className="flex gap-2"
          onSubmit={(e) => {
            e.preventDefault();
            save(key);
          }}
        >
          <Input type="password" placeholder="ask_…" value={key} onChange={(e) => setKey(e.target.value)} aria-label="API key" autoComplete="off" data-testid="api-key-input" />
          <Button type="submit">Save</Button>
          {saved ? (
            <Button type="button" variant="outline" onClick={() => (setKey(""), save(""))}>
              Forget
            </Button>
          ) : null}
        </form>
        <div className="text-sm" data-testid="connection-status">
          {stats.isLoading ? (
            <span className="text-muted-foreground">Checking the connection…</span>
          ) : stats.isError ? (
            <ErrorState error={stats.error} />
          ) : stats.data ? (
            <span className="text-emerald-600 dark:text-emerald-400">
              Connected: {formatNumber(stats.data.trace_count)} traces, {formatNumber(stats.data.span_count)} spans in this project.
            </span>
          ) : null}
        </div>
      </CardContent>
    </Card>
  );
}

function KeysCard() {
  const client = useQueryClient();
  const [token, setToken] = useState(getAdminToken());
  const [active, setActive] = useState(getAdminToken());
  const keys = useQuery({ queryKey: ["keys", active], queryFn: () => api.keys(), enabled: !!active, retry: false });
  const [project, setProject] = useState("");
  const [created, setCreated] = useState<CreatedKey | null>(null);
  const create = useMutation({
    mutationFn: (name: string) => api.createKey(name),
    onSuccess: (key) => {
      setCreated(key);
      setProject("");
      void client.invalidateQueries({ queryKey: ["keys"] });
    },
  });
  const revoke = useMutation({
    mutationFn: (prefix: string) => api.revokeKey(prefix),
    onSuccess: () => void client.invalidateQueries({ queryKey: ["keys"] }),
  });
  const projects = groupByProject(keys.data?.keys ?? []);

  return (
    <Card>
      <CardHeader>
        <CardTitle>Projects and API keys</CardTitle>
        <p className="text-xs text-muted-foreground">
          Needs the server's admin token (<code>agentstack serve --admin-token TOKEN</code> or <code>AGENTSTACK_ADMIN_TOKEN</code>). Kept for this tab only.
        </p>
      </CardHeader>
      <CardContent className="flex flex-col gap-4">
        <form
          className="flex gap-2"
          onSubmit={(e) => {
            e.preventDefault();
            setAdminToken(token);
            setActive(token.trim());
          }}
        >
          <Input type="password" placeholder="Admin token" value={token} onChange={(e) => setToken(e.target.value)} aria-label="Admin token" autoComplete="off" data-testid="admin-token-input" />
          <Button type="submit" variant="outline">
            Unlock
          </Button>
        </form>
        {!active ? null : keys.isLoading ? (
          <Loading label="Loading keys…" />
        ) : keys.isError ? (
          <ErrorState error={keys.error} retry={() => void keys.refetch()} />
        ) : (
          <>
            <form
              className="flex gap-2"
              onSubmit={(e) => {
                e.preventDefault();
                if (project.trim()) create.mutate(project.trim());
              }}
            >
              <Input placeholder="Project name (new or existing)" value={project} onChange={(e) => setProject(e.target.value)} aria-label="Project name" data-testid="project-input" />
              <Button type="submit" disabled={!project.trim() || create.isPending} data-testid="create-key">
                <Plus /> Create key
              </Button>
            </form>
            {create.isError ? <ErrorState error={create.error} /> : null}
            {created ? (
              <div className="rounded-md border border-amber-500/50 bg-amber-500/5 p-3" data-testid="created-key">
                <div className="flex items-center gap-2 text-sm font-medium">
                  <ShieldAlert className="size-4 text-amber-500" /> New key for project {created.project}: copy it now, it is not shown again.
                </div>
                <div className="mt-2 flex items-center gap-2">
                  <code className="flex-1 break-all rounded bg-muted px-2 py-1 font-mono text-xs" data-testid="created-key-secret">
                    {created.key}
                  </code>
                  <CopyButton text={created.key} />
                </div>
                <div className="mt-2 flex gap-2">
                  <Button size="sm" variant="outline" onClick={() => (setApiKey(created.key), void client.invalidateQueries(), setCreated(null))}>
                    Use this key in the dashboard
                  </Button>
                  <Button size="sm" variant="ghost" onClick={() => setCreated(null)}>
                    Done
                  </Button>
                </div>
              </div>
            ) : null}
            {revoke.isError ? <ErrorState error={revoke.error} /> : null}
            {projects.length === 0 ? (
              <p className="text-sm text-muted-foreground">
                No API keys yet. Without keys the server takes spans from loopback only, into project <code>default</code>. Create a key to give a
                project its own traces.
              </p>
            ) : (
              projects.map(([name, list]) => (
                <div key={name} data-testid="project">
                  <div className="mb-1 flex items-center gap-2 text-sm font-semibold">
                    <KeyRound className="size-4" /> {name}
                    <span className="text-xs font-normal text-muted-foreground">{list.filter((k) => k.active).length} active</span>
                  </div>
                  <table className="w-full text-sm">
                    <tbody>
                      {list.map((k) => (
                        <KeyRow key={k.prefix} apiKey={k} onRevoke={() => revoke.mutate(k.prefix)} pending={revoke.isPending && revoke.variables === k.prefix} />
                      ))}
                    </tbody>
                  </table>
                </div>
              ))
            )}
          </>
        )}
      </CardContent>
    </Card>
  );
}

function KeyRow({ apiKey, onRevoke, pending }: { apiKey: ApiKey; onRevoke: () => void; pending: boolean }) {
  const [confirm, setConfirm] = useState(false);
  return (
    <tr className="border-b last:border-0" data-testid="key-row" data-prefix={apiKey.prefix}>
      <td className="py-1.5 font-mono text-xs">{apiKey.prefix}…</td>
      <td className="text-xs text-muted-foreground">created {formatTime(apiKey.created_at)}</td>
      <td>{apiKey.active ? <Badge variant="ok">active</Badge> : <Badge variant="outline">revoked {apiKey.revoked_at ? formatTime(apiKey.revoked_at) : ""}</Badge>}</td>
      <td className="text-right">
        {apiKey.active ? (
          confirm ? (
            <span className="inline-flex gap-1">
              <Button size="sm" variant="destructive" onClick={onRevoke} disabled={pending} data-testid="confirm-revoke">
                Revoke for good
              </Button>
              <Button size="sm" variant="ghost" onClick={() => setConfirm(false)}>
                Cancel
              </Button>
            </span>
          ) : (
            <Button size="sm" variant="outline" onClick={() => setConfirm(true)} data-testid="revoke">
              Revoke
            </Button>
          )
        ) : null}
      </td>
    </tr>
  );
}

function groupByProject(keys: ApiKey[]): [string, ApiKey[]][] {
  const map = new Map<string, ApiKey[]>();
  for (const k of keys) map.set(k.project, [...(map.get(k.project) ?? []), k]);
  return [...map.entries()].sort(([a], [b]) => a.localeCompare(b));
}
