// Starts what the e2e and perf runs need: `agentstack serve` on free ports with a temporary
// database, and the built dashboard (dist/) in front of it, then headless Chromium.

import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const DIST = path.join(ROOT, "dist");
export const ARTIFACTS = path.join(ROOT, "e2e", "artifacts");

export class CheckFailed extends Error {}

// Every server this run starts is stopped when the run ends, however it ends (a failed check,
// a browser that would not start, Ctrl-C): no agentstack serve is left behind.
const children = new Set();
const tempDirs = new Set();
process.on("exit", () => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  for (const child of children) {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(130));
export function check(condition, message) {
  if (!condition) throw new CheckFailed(message);
}

export function log(...args) {
  console.log(`[${new Date().toISOString().slice(11, 19)}]`, ...args);
}

export function requireBin(env, fallback) {
  const bin = process.env[env] || (fallback && existsSync(fallback) ? fallback : "");
  if (!bin) throw new CheckFailed(`set ${env} to the path of the binary (e.g. ${env}=target/debug/${env === "AGENTSTACK_BIN" ? "agentstack" : "examples/quickstart"})`);
  if (!existsSync(bin)) throw new CheckFailed(`${env}=${bin} does not exist`);
  return bin;
}

export async function waitFor(what, fn, timeoutMs = 15_000, everyMs = 200) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      const value = await fn();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new CheckFailed(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last.message}` : ""}`);
}

/** Starts `agentstack serve`; resolves to {collector, api, dashboard, stop}. */
export async function startStack({ adminToken = "e2e-admin-token" } = {}) {
  const bin = requireBin("AGENTSTACK_BIN", path.join(ROOT, "../../target/debug/agentstack"));
  check(existsSync(path.join(DIST, "index.html")), "dist/index.html is missing: run `npm run build` first");
  const dir = mkdtempSync(path.join(os.tmpdir(), "agentstack-dashboard-e2e-"));
  tempDirs.add(dir);
  const help = spawnSync(bin, ["serve", "--help"], { encoding: "utf8" }).stdout ?? "";
  const servesDashboard = help.includes("--dashboard-dir");
  const args = ["serve", "--otlp-http", "127.0.0.1:0", "--api", "127.0.0.1:0", "--db", path.join(dir, "e2e.db"), "--admin-token", adminToken, "--color", "never"];
  if (servesDashboard) args.push("--dashboard-dir", DIST);
  // Newer servers also listen for OTLP/gRPC (default 127.0.0.1:4317): keep the run off fixed ports.
  if (help.includes("--no-otlp-grpc")) args.push("--no-otlp-grpc");
  const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, AGENTSTACK_DASHBOARD_DIR: DIST } });
  children.add(child);
  child.on("exit", () => children.delete(child));
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const exited = new Promise((resolve) => child.on("exit", resolve));
  const addresses = await waitFor(
    "agentstack serve to print the addresses it bound",
    () => {
      if (child.exitCode !== null) throw new CheckFailed(`agentstack serve exited with ${child.exitCode}:\n${output}`);
      const collector = /collector listening on (http:\/\/[^\s/]+)/.exec(output)?.[1];
      const api = /API listening on (http:\/\/[^\s/]+)/.exec(output)?.[1];
      return collector && api ? { collector, api } : null;
    },
    30_000,
  );
  let dashboard = addresses.api;
  let staticServer = null;
  if (!servesDashboard) {
    // TODO(dashboard): remove this static server once `agentstack serve --dashboard-dir PATH`
    // (env AGENTSTACK_DASHBOARD_DIR) serves dist/ itself; the run then uses the API's address.
    staticServer = await serveDist(addresses.api);
    dashboard = `http://127.0.0.1:${staticServer.address().port}`;
  } else {
    const index = await fetch(`${dashboard}/traces`).then((r) => r.text());
    check(index.includes('<div id="root">'), `agentstack serve --dashboard-dir does not answer index.html at /traces`);
  }
  log(`agentstack serve: collector ${addresses.collector}, API ${addresses.api}, dashboard ${dashboard}${servesDashboard ? " (served by agentstack)" : " (e2e static server; the server has no --dashboard-dir yet)"}`);
  return {
    ...addresses,
    dashboard,
    servesDashboard,
    output: () => output,
    async stop() {
      staticServer?.close();
      child.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null) child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const TYPES = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".json": "application/json", ".png": "image/png", ".ico": "image/x-icon" };

/** dist/ over HTTP, index.html for every other path, /api and /ws proxied to `api`. */
function serveDist(api) {
  const target = new URL(api);
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    if (url.pathname.startsWith("/api/") || url.pathname.startsWith("/ws/")) {
      const upstream = http.request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      upstream.on("error", (e) => {
        res.writeHead(502, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { status: 502, message: `proxy: ${e.message}` } }));
      });
      req.pipe(upstream);
      return;
    }
    let file = path.join(DIST, path.normalize(url.pathname).replace(/^(\.\.[/\\])+/, ""));
    if (!file.startsWith(DIST) || !existsSync(file) || statSync(file).isDirectory()) file = path.join(DIST, "index.html");
    res.writeHead(200, { "content-type": TYPES[path.extname(file)] ?? "application/octet-stream" });
    res.end(readFileSync(file));
  });
  // WebSocket upgrades: a raw TCP pipe to the API.
  server.on("upgrade", (req, socket, head) => {
    const upstream = net.connect(Number(target.port), target.hostname, () => {
      const headers = Object.entries(req.headers).map(([k, v]) => `${k}: ${k === "host" ? target.host : v}`);
      upstream.write(`${req.method} ${req.url} HTTP/1.1\r\n${headers.join("\r\n")}\r\n\r\n`);
      if (head?.length) upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    upstream.on("error", () => socket.destroy());
    socket.on("error", () => upstream.destroy());
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

export async function launchBrowser() {
  const { chromium } = await import("playwright-core");
  const executablePath = process.env.CHROMIUM_BIN || "/usr/bin/chromium";
  check(existsSync(executablePath), `${executablePath} is missing: apt-get install -y chromium (or set CHROMIUM_BIN)`);
  // playwright-core starts Chromium with a fresh, empty profile of its own (it refuses
  // --user-data-dir in launch(); launchPersistentContext is the persistent-profile API).
  const browser = await chromium.launch({
    executablePath,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  return {
    browser,
    async close() {
      await browser.close();
    },
  };
}

export async function getJson(url, headers = {}) {
  const response = await fetch(url, { headers });
  const text = await response.text();
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: response.status, body, text };
}

/** Runs the quickstart agent against `collector`; returns the trace id it printed. */
export function runQuickstart(collector) {
  const bin = requireBin("QUICKSTART_BIN", path.join(ROOT, "../../target/debug/examples/quickstart"));
  const cwd = mkdtempSync(path.join(os.tmpdir(), "agentstack-quickstart-"));
  const run = spawnSync(bin, [], { cwd, encoding: "utf8", env: { ...process.env, AGENTSTACK_ENDPOINT: collector }, timeout: 60_000 });
  rmSync(cwd, { recursive: true, force: true });
  const id = /trace ([0-9a-f]{32})/.exec(`${run.stdout}${run.stderr}`)?.[1];
  check(run.status === 0 && id, `quickstart failed (exit ${run.status}):\n${run.stdout}\n${run.stderr}`);
  return id;
}
