// Contract preview: the pages built for endpoints the lead is adding (sessions, alerts, costs,
// budgets, the /ws/traces live tail, cost and alert fields on traces), driven in headless
// Chromium with answers shaped exactly like the announced contracts (Playwright's page.route
// and page.routeWebSocket), on top of a real `agentstack serve` for everything that exists.
// It checks the client side only — rendering, live upsert, keeping the user's scroll place —
// and says so; `npm run e2e` is the test against the server. Screenshots: e2e/artifacts/preview-*.
//   AGENTSTACK_BIN=… QUICKSTART_BIN=… npm run e2e:preview   (after npm run build)

import { mkdirSync } from "node:fs";
import path from "node:path";
import { hex, payload, postOtlp } from "./otlp.mjs";
import { ARTIFACTS, check, getJson, launchBrowser, log, runQuickstart, startStack, waitFor } from "./stack.mjs";

const failures = [];
async function step(name, fn) {
  try {
    await fn();
    log(`ok   ${name}`);
  } catch (error) {
    failures.push(`${name}: ${error.message}`);
    log(`FAIL ${name}: ${error.message}`);
  }
}

function smallTraces(n) {
  const spans = [];
  const now = BigInt(Date.now() - 3_600_000) * 1_000_000n;
  for (let i = 0; i < n; i++) {
    const start = now + BigInt(i) * 1_000_000_000n;
    spans.push({
      traceId: hex(16),
      spanId: hex(8),
      name: `batch-job-${String(i).padStart(2, "0")}`,
      startTimeUnixNano: String(start),
      endTimeUnixNano: String(start + 20_000_000n),
      attributes: [{ key: "agentstack.span.kind", value: { stringValue: "agent" } }],
    });
  }
  return payload("batch-agent", spans);
}

const day = (d) => new Date(Date.now() - d * 86_400_000).toISOString().slice(0, 10) + "T00:00:00Z";

mkdirSync(ARTIFACTS, { recursive: true });
const stack = await startStack();
const { browser, close } = await launchBrowser();
try {
  await postOtlp(stack.collector, smallTraces(80));
  const quickId = runQuickstart(stack.collector);
  await waitFor("80 + 1 traces", async () => (await getJson(`${stack.api}/api/v1/traces?limit=200`)).body?.traces?.length >= 81);
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  const shot = (name) => page.screenshot({ path: path.join(ARTIFACTS, `preview-${name}.png`) });

  // Fields the lead is adding to trace summaries.
  await page.route(/\/api\/v1\/traces(\?|$)/, async (route) => {
    const response = await route.fetch();
    const body = await response.json();
    for (const [i, t] of body.traces.entries()) {
      t.cost_usd = t.input_tokens ? (t.input_tokens * 0.15 + t.output_tokens * 0.6) / 1e6 : null;
      t.cost_estimated = i % 2 === 0;
      t.alert_count = t.trace_id === quickId ? 2 : 0;
      t.max_severity = t.trace_id === quickId ? "high" : null;
    }
    await route.fulfill({ response, json: body });
  });
  // The shape agentstack serve answers (agentstack-server/src/alerts/webhooks.rs alert_json).
  const now = Date.now();
  const alerts = [
    { id: 3, project: "default", trace_id: quickId, span_id: null, detector: "prompt_injection", title: "Prompt injection: instruction override", evidence: [{ signal: "rule:ignore-previous", detail: "Ignore all previous instructions", location: { field: "input" }, score: 90 }], score: 93, severity: "high", time_unix_nanos: now * 1e6, time: new Date(now).toISOString() },
    { id: 2, project: "default", trace_id: quickId, span_id: null, detector: "secrets", title: "AWS access key in output", evidence: [{ signal: "rule:aws-access-key", detail: "AKIA…MPLE", location: { field: "output" }, score: 100 }], score: 100, severity: "critical", time_unix_nanos: (now - 60_000) * 1e6, time: new Date(now - 60_000).toISOString() },
    { id: 1, project: "default", trace_id: null, span_id: null, detector: "pii", title: "Email address in input", evidence: [{ signal: "pii:email", detail: "[REDACTED:email]", location: { field: "input" }, score: 70 }], score: 70, severity: "low", time_unix_nanos: (now - 120_000) * 1e6, time: new Date(now - 120_000).toISOString() },
  ];
  await page.route(/\/api\/v1\/alerts/, (route) => route.fulfill({ json: { alerts, next_cursor: null } }));
  await page.route(/\/api\/v1\/sessions/, (route) =>
    route.fulfill({
      json: {
        sessions: [
          { session_id: "quickstart-session", trace_count: 1, span_count: 6, start_unix_nanos: Date.now() * 1e6, end_unix_nanos: Date.now() * 1e6, start_time: new Date().toISOString(), input_tokens: 89, output_tokens: 30, error_count: 1, user_id: "ana" },
          { session_id: "support-4711", trace_count: 12, span_count: 140, start_unix_nanos: (Date.now() - 7e6) * 1e6, end_unix_nanos: Date.now() * 1e6, start_time: new Date(Date.now() - 7e6).toISOString(), input_tokens: 12000, output_tokens: 3400, error_count: 0, user_id: "bo" },
        ],
        next_cursor: null,
      },
    }),
  );
  const models = ["gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet"];
  const series = [];
  for (let d = 6; d >= 0; d--) for (const [i, m] of models.entries()) series.push({ bucket_start: day(d), key: m, cost_usd: (i + 1) * 0.4 + d * 0.05, input_tokens: 10000 * (i + 1), output_tokens: 2000 * (i + 1) });
  await page.route(/\/api\/v1\/costs/, (route) =>
    route.fulfill({
      json: {
        group_by: "model",
        total: { cost_usd: series.reduce((a, s) => a + s.cost_usd, 0), input_tokens: 420000, output_tokens: 84000, span_count: 321 },
        groups: models.map((m, i) => ({ key: m, cost_usd: (i + 1) * 3.1, input_tokens: 70000 * (i + 1), output_tokens: 14000 * (i + 1), span_count: 100 + i })),
        series,
      },
    }),
  );
  await page.route(/\/api\/v1\/budgets/, (route) =>
    route.fulfill({ json: { budgets: [{ scope: "project", period: "month", limit_usd: 50, spent_usd: 21.4, crossed: false }, { scope: "model:gpt-4o", period: "day", limit_usd: 2, spent_usd: 2.35, crossed: true }] } }),
  );
  let ws = null;
  await page.routeWebSocket(/\/ws\/traces/, (socket) => {
    ws = socket;
  });

  await step("traces show cost and alert badges when the API sends them", async () => {
    await page.goto(`${stack.dashboard}/traces`);
    const row = page.locator(`[data-testid=trace-row][data-trace-id="${quickId}"]`);
    await row.waitFor();
    const text = await row.innerText();
    check(/\$/.test(text) && /2/.test(text), `the row reads ${JSON.stringify(text)}`);
    await shot("traces-cost-alerts");
  });

  await step("Live: new traces are upserted and the row in view stays in place", async () => {
    await page.click("[data-testid=live-switch]");
    await waitFor("the page to open /ws/traces", async () => ws);
    await page.locator('[data-testid=live-status][data-status="live"]').waitFor();
    const scroller = page.locator("[data-testid=traces-scroll]");
    await scroller.evaluate((el) => (el.scrollTop = 40 * 20));
    await page.waitForTimeout(200);
    const anchorBefore = await page.evaluate(() => {
      const el = document.querySelector("[data-testid=traces-scroll]");
      const top = el.getBoundingClientRect().top;
      const row = [...el.querySelectorAll("[data-testid=trace-row]")].find((r) => r.getBoundingClientRect().top >= top - 1);
      return { id: row.dataset.traceId, y: row.getBoundingClientRect().top };
    });
    const newest = Date.now() * 1e6;
    const fresh = Array.from({ length: 5 }, (_, i) => ({
      trace_id: hex(16), root_name: `live-${i}`, service_name: "live-agent", session_id: null, start_unix_nanos: newest + i * 1e6, end_unix_nanos: newest + i * 1e6 + 5e6,
      span_count: 3, input_tokens: 10, output_tokens: 5, error_count: 0, start_time: new Date().toISOString(), duration_ms: 5, status: "ok",
    }));
    ws.send(JSON.stringify({ type: "traces", traces: fresh }));
    // The same trace again (it grew): one row, updated in place.
    ws.send(JSON.stringify({ type: "traces", traces: [{ ...fresh[0], span_count: 4 }] }));
    ws.send(JSON.stringify({ type: "spans", spans: [] }));
    await waitFor("the live traces to be counted", async () => /86 traces/.test(await page.locator("[data-testid=trace-count]").innerText()), 5000);
    const anchorAfter = await page.evaluate((id) => {
      const row = document.querySelector(`[data-testid=trace-row][data-trace-id="${id}"]`);
      return row ? row.getBoundingClientRect().top : null;
    }, anchorBefore.id);
    check(anchorAfter !== null && Math.abs(anchorAfter - anchorBefore.y) <= 1, `the row in view moved from y=${anchorBefore.y} to y=${anchorAfter}`);
    await scroller.evaluate((el) => (el.scrollTop = 0));
    await page.locator(`[data-testid=trace-row][data-trace-id="${fresh[4].trace_id}"]`).waitFor();
    const copies = await page.locator(`[data-testid=trace-row][data-trace-id="${fresh[0].trace_id}"]`).count();
    check(copies === 1, `a trace sent twice shows ${copies} times`);
    check((await page.locator(`[data-testid=trace-row][data-trace-id="${fresh[0].trace_id}"]`).innerText()).includes("4"), "the grown trace did not update");
    await shot("traces-live");
  });

  await step("sessions list from GET /api/v1/sessions", async () => {
    await page.goto(`${stack.dashboard}/sessions`);
    await page.locator("[data-testid=session-row]", { hasText: "support-4711" }).waitFor();
    check(!(await page.locator("[data-testid=sessions-fallback]").count()), "the fallback note shows although the endpoint answers");
    await shot("sessions");
  });

  await step("alerts list with severity, detector, evidence and trace link", async () => {
    await page.goto(`${stack.dashboard}/alerts`);
    await page.locator("[data-testid=alert-row]").first().waitFor();
    check((await page.locator("[data-testid=alert-row]").count()) === 3, "not 3 alert rows");
    await page.locator("[data-testid=alert-row]").first().click();
    await page.getByText("Ignore all previous instructions").first().waitFor();
    await shot("alerts");
    await page.goto(`${stack.dashboard}/traces/${quickId}`);
    await page.locator("[data-testid=span-row]").first().waitFor();
    await page.getByText("3 alerts").waitFor();
    await shot("trace-alerts");
  });

  await step("costs: totals, charts, top spenders, budgets", async () => {
    await page.goto(`${stack.dashboard}/costs`);
    await page.locator("[data-testid=cost-chart] .recharts-bar-rectangle").first().waitFor({ timeout: 10_000 });
    await page.locator("[data-testid=budgets]").waitFor();
    check((await page.locator("[data-testid=top-spenders] > div").count()) === 3, "not 3 top spenders");
    await page.waitForTimeout(300);
    await shot("costs");
    await page.click("[data-testid=theme-toggle]");
    await page.waitForTimeout(300);
    await shot("costs-dark");
    await page.click("[data-testid=theme-toggle]");
  });

  await step("no JavaScript errors", async () => check(!errors.length, errors.join(" | ")));
} finally {
  await close();
  await stack.stop();
}
console.log(failures.length ? `\n${failures.length} preview check(s) failed:\n  ${failures.join("\n  ")}` : "\nall preview checks passed (client side, against the announced contracts)");
process.exit(failures.length ? 1 : 0);
