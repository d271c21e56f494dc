// Performance of the dashboard in headless Chromium (performance marks the app sets):
//  - time to first render of the traces page (mark agentstack:traces-rendered, ms after
//    navigation start, cold cache, median of 3)
//  - time to first render of a 10,000-span trace (mark agentstack:trace-rendered), its API
//    fetch time and size, and frame times while scrolling its waterfall end to end
//  - sizes of the built assets (raw and gzip)
// Standalone: AGENTSTACK_BIN=… npm run perf (after npm run build); npm run e2e runs it too.
// Writes e2e/artifacts/perf.json.

import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";
import { bigTrace, postOtlp } from "./otlp.mjs";
import { ARTIFACTS, DIST, check, getJson, launchBrowser, log, startStack, waitFor } from "./stack.mjs";

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const round = (x) => Math.round(x * 10) / 10;

export function assetSizes() {
  const dir = path.join(DIST, "assets");
  const files = readdirSync(dir).map((name) => {
    const bytes = readFileSync(path.join(dir, name));
    return { file: `assets/${name}`, bytes: statSync(path.join(dir, name)).size, gzip: gzipSync(bytes).length };
  });
  const index = readFileSync(path.join(DIST, "index.html"));
  files.push({ file: "index.html", bytes: index.length, gzip: gzipSync(index).length });
  const total = files.reduce((a, f) => ({ bytes: a.bytes + f.bytes, gzip: a.gzip + f.gzip }), { bytes: 0, gzip: 0 });
  // What the traces page loads: index.html, the entry chunk and CSS (not the lazy costs chunk).
  const html = index.toString();
  const initial = files.filter((f) => f.file === "index.html" || html.includes(f.file));
  const initialTotal = initial.reduce((a, f) => ({ bytes: a.bytes + f.bytes, gzip: a.gzip + f.gzip }), { bytes: 0, gzip: 0 });
  return { files, total, initial: initialTotal };
}

async function markTime(page, name, timeoutMs) {
  await page.waitForFunction((n) => performance.getEntriesByName(n).length > 0, name, { timeout: timeoutMs });
  return page.evaluate((n) => performance.getEntriesByName(n)[0].startTime, name);
}

export async function runPerf({ stack, browser, shot }) {
  // The 10,000-span trace.
  const big = bigTrace(10_000);
  const posted = Date.now();
  await postOtlp(stack.collector, big.body);
  const stored = await waitFor(
    "the 10,000-span trace to be stored",
    async () => {
      const r = await getJson(`${stack.api}/api/v1/traces?limit=1&name=big-agent`);
      return r.body?.traces?.[0]?.trace_id === big.traceId && r.body.traces[0].span_count === big.spanCount ? r.body.traces[0] : null;
    },
    60_000,
    500,
  );
  log(`10,000-span trace ${stored.trace_id} stored ${Date.now() - posted} ms after the POST`);

  const tracesRuns = [];
  for (let i = 0; i < 3; i++) {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    const page = await context.newPage();
    await page.goto(`${stack.dashboard}/traces`);
    const ms = await markTime(page, "agentstack:traces-rendered", 30_000);
    const nav = await page.evaluate(() => {
      const n = performance.getEntriesByType("navigation")[0];
      const list = performance.getEntriesByType("resource").find((r) => r.name.includes("/api/v1/traces?"));
      const r = (x) => Math.round(x * 10) / 10;
      return { domContentLoadedMs: r(n.domContentLoadedEventEnd), listFetchStartMs: list ? r(list.startTime) : null, listFetchMs: list ? r(list.responseEnd - list.startTime) : null };
    });
    tracesRuns.push({ firstRenderMs: round(ms), ...nav });
    if (i === 0 && shot) await shot("perf-traces", page);
    await context.close();
  }

  const bigRuns = [];
  let scroll = null;
  let waterfallCount = 0;
  for (let i = 0; i < 3; i++) {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    const page = await context.newPage();
    await page.goto(`${stack.dashboard}/traces/${big.traceId}`);
    const ms = await markTime(page, "agentstack:trace-rendered", 120_000);
    const fetchEntry = await page.evaluate((id) => {
      const e = performance.getEntriesByType("resource").find((r) => r.name.includes(`/api/v1/traces/${id}`));
      return e ? { startMs: e.startTime, endMs: e.responseEnd, bytes: e.encodedBodySize || e.transferSize } : null;
    }, big.traceId);
    waterfallCount = Number(await page.getAttribute("[data-testid=waterfall-count]", "data-count"));
    const domRows = await page.locator("[data-testid=span-row]").count();
    bigRuns.push({
      firstRenderMs: round(ms),
      apiFetchMs: fetchEntry ? round(fetchEntry.endMs - fetchEntry.startMs) : null,
      renderAfterFetchMs: fetchEntry ? round(ms - fetchEntry.endMs) : null,
      apiBytes: fetchEntry?.bytes ?? null,
      domRows,
    });
    if (i === 0) {
      if (shot) await shot("perf-trace-10k", page);
      // Frame times: idle (the machine's baseline), scrolling the whole waterfall end to end at
      // 40 rows a frame, and at wheel speed (5 rows a frame) for 300 frames.
      scroll = await page.evaluate(async () => {
        const el = document.querySelector("[data-testid=waterfall]");
        const frame = () => new Promise((r) => requestAnimationFrame(r));
        const stats = (frames) => {
          const sorted = [...frames].sort((a, b) => a - b);
          const r = (x) => Math.round(x * 10) / 10;
          return { frames: sorted.length, meanMs: r(sorted.reduce((a, b) => a + b, 0) / sorted.length), p95Ms: r(sorted[Math.floor(sorted.length * 0.95)]), maxMs: r(sorted[sorted.length - 1]) };
        };
        const run = async (step, maxFrames) => {
          const frames = [];
          await frame();
          let last = performance.now();
          for (let i = 0; i < maxFrames; i++) {
            if (step && el.scrollTop + el.clientHeight >= el.scrollHeight - 2) break;
            el.scrollTop += step;
            await frame();
            const now = performance.now();
            frames.push(now - last);
            last = now;
          }
          return stats(frames);
        };
        const idle = await run(0, 60);
        el.scrollTop = 0;
        const fast = await run(1040, 100_000);
        const lastRow = [...document.querySelectorAll("[data-testid=span-row]")].pop()?.dataset.spanId ?? null;
        el.scrollTop = 0;
        const wheel = await run(130, 300);
        return { idle, endToEnd40RowsPerFrame: fast, wheel5RowsPerFrame: wheel, lastRow };
      });
      // Collapse all and expand all: time to the next frame.
      const toggle = async (title) =>
        page.evaluate(async (t) => {
          const start = performance.now();
          document.querySelector(`button[title="${t}"]`).click();
          await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
          return performance.now() - start;
        }, title);
      scroll.collapseAllMs = round(await toggle("Collapse all"));
      scroll.expandAllMs = round(await toggle("Expand all"));
    }
    await context.close();
  }

  const sizes = assetSizes();
  const result = {
    when: new Date().toISOString(),
    // Other work on the machine slows every number here; the idle frame times show how much.
    machine: { cpus: os.cpus().length, loadAverage1m: Math.round(os.loadavg()[0] * 100) / 100 },
    tracesPage: { runs: tracesRuns, medianFirstRenderMs: median(tracesRuns.map((r) => r.firstRenderMs)) },
    bigTrace: { spans: big.spanCount, waterfallCount, runs: bigRuns, medianFirstRenderMs: median(bigRuns.map((r) => r.firstRenderMs)), minFirstRenderMs: Math.min(...bigRuns.map((r) => r.firstRenderMs)), scroll },
    assets: sizes,
  };
  mkdirSync(ARTIFACTS, { recursive: true });
  writeFileSync(path.join(ARTIFACTS, "perf.json"), JSON.stringify(result, null, 2));
  log(`perf: machine: ${result.machine.cpus} CPUs, load average ${result.machine.loadAverage1m} (1 min)`);
  const t0 = tracesRuns[0];
  log(`perf: traces page first render ${result.tracesPage.medianFirstRenderMs} ms (median of 3, cold cache; first run: DOMContentLoaded ${t0.domContentLoadedMs} ms, list request sent at ${t0.listFetchStartMs} ms and answered in ${t0.listFetchMs} ms)`);
  log(
    `perf: 10,000-span trace first render ${result.bigTrace.medianFirstRenderMs} ms median of 3, best ${result.bigTrace.minFirstRenderMs} ms (first run: API fetch ${bigRuns[0].apiFetchMs} ms, ${Math.round((bigRuns[0].apiBytes ?? 0) / 1024)} KiB; render after fetch ${bigRuns[0].renderAfterFetchMs} ms; ${bigRuns[0].domRows} rows in the DOM)`,
  );
  if (scroll) {
    const f = (x) => `${x.frames} frames, mean ${x.meanMs} ms, p95 ${x.p95Ms} ms, max ${x.maxMs} ms`;
    log(`perf: 10k waterfall frames: idle ${f(scroll.idle)}`);
    log(`perf: 10k waterfall frames: end to end at 40 rows/frame ${f(scroll.endToEnd40RowsPerFrame)}`);
    log(`perf: 10k waterfall frames: wheel speed 5 rows/frame ${f(scroll.wheel5RowsPerFrame)}`);
    log(`perf: 10k waterfall: collapse all ${scroll.collapseAllMs} ms, expand all ${scroll.expandAllMs} ms (click to the second frame)`);
  }
  log(`perf: assets ${Math.round(sizes.total.bytes / 1024)} KiB (${Math.round(sizes.total.gzip / 1024)} KiB gzip); the traces page loads ${Math.round(sizes.initial.bytes / 1024)} KiB (${Math.round(sizes.initial.gzip / 1024)} KiB gzip)`);
  check(waterfallCount === big.spanCount, `the waterfall counts ${waterfallCount} spans of ${big.spanCount}`);
  check(bigRuns.every((r) => r.domRows < 200), `the waterfall put ${bigRuns[0].domRows} rows in the DOM: it is not virtualized`);
  return result;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const stack = await startStack();
  const { browser, close } = await launchBrowser();
  let code = 0;
  try {
    await runPerf({ stack, browser, shot: (name, page) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) }) });
  } catch (error) {
    console.error(`perf FAILED: ${error.message}`);
    code = 1;
  } finally {
    await close();
    await stack.stop();
  }
  process.exit(code);
}
