// End-to-end run of the dashboard in headless Chromium against a real `agentstack serve`:
//   AGENTSTACK_BIN=…/agentstack QUICKSTART_BIN=…/quickstart npm run e2e   (after npm run build)
// Sends the quickstart agent's trace, a LangGraph-style OpenInference trace and an attack-like
// trace; then finds a trace by search, opens it, checks the waterfall shows every span and the
// span panel the input/output (and a chat as a conversation), watches a new trace arrive live,
// and checks sessions, alerts, costs and settings. Endpoints the server lacks are skipped with a
// note, unless E2E_REQUIRE_LIVE=1 / E2E_REQUIRE_ALERTS=1 / E2E_REQUIRE_COSTS=1 make them a
// failure. Screenshots of every page go to e2e/artifacts/. Exits non-zero on any failed check.

import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { attackTrace, hex, langGraphTrace, linkedTraces, manyTraces, partialTrace, payload, postOtlp } from "./otlp.mjs";
import { ARTIFACTS, CheckFailed, check, getJson, launchBrowser, log, runQuickstart, startStack, waitFor } from "./stack.mjs";
import { runPerf } from "./perf.mjs";

const ADMIN = "e2e-admin-token";
const results = [];
const skipped = [];

async function step(name, fn) {
  const started = Date.now();
  try {
    await fn();
    results.push({ name, ok: true, ms: Date.now() - started });
    log(`ok   ${name}`);
  } catch (error) {
    results.push({ name, ok: false, error: error.message });
    log(`FAIL ${name}: ${error.message}`);
  }
}

function skip(name, reason, requiredBy) {
  if (requiredBy && process.env[requiredBy] === "1") {
    results.push({ name, ok: false, error: `${reason}, and ${requiredBy}=1 requires it` });
    log(`FAIL ${name}: ${reason}, and ${requiredBy}=1 requires it`);
  } else {
    skipped.push({ name, reason });
    log(`skip ${name}: ${reason}${requiredBy ? ` (set ${requiredBy}=1 to make this a failure)` : ""}`);
  }
}

async function main() {
  mkdirSync(ARTIFACTS, { recursive: true });
  const stack = await startStack({ adminToken: ADMIN });
  const { browser, close } = await launchBrowser();
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(e.message));
  page.on("console", (m) => m.type() === "error" && !/WebSocket|404|Failed to load resource/.test(m.text()) && pageErrors.push(`console: ${m.text()}`));
  const shot = (name) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: false });
  const api = (p) => getJson(`${stack.api}${p}`);
  const waitTrace = (id, spans) =>
    waitFor(`trace ${id} with ${spans ?? "its"} spans in the API`, async () => {
      const r = await api(`/api/v1/traces/${id}`);
      return r.status === 200 && (!spans || r.body.totals.span_count >= spans) ? r.body : null;
    });

  try {
    // ── Data ──────────────────────────────────────────────────────────────────────────────
    let quickId, quick, lang, attack;
    await step("the quickstart agent's trace reaches the server", async () => {
      quickId = runQuickstart(stack.collector);
      quick = await waitFor("the quickstart trace to settle", async () => {
        const r = await api(`/api/v1/traces/${quickId}`);
        return r.status === 200 && r.body.totals.span_count >= 6 ? r.body : null;
      });
    });
    await step("a LangGraph-style OpenInference trace and an attack-like trace reach the server", async () => {
      lang = langGraphTrace();
      await postOtlp(stack.collector, lang.body);
      attack = attackTrace();
      await postOtlp(stack.collector, attack.body);
      await waitTrace(lang.traceId, lang.spanCount);
      await waitTrace(attack.traceId, attack.spanCount);
    });
    if (!quick) throw new CheckFailed("no quickstart trace: cannot go on");

    // ── Traces page, search ───────────────────────────────────────────────────────────────
    await step("the traces page lists the traces", async () => {
      await page.goto(`${stack.dashboard}/`);
      await page.waitForURL(/\/traces/);
      await page.locator(`[data-testid=trace-row][data-trace-id="${quickId}"]`).waitFor({ timeout: 10_000 });
      const rows = await page.locator("[data-testid=trace-row]").count();
      check(rows >= 3, `expected at least 3 trace rows, saw ${rows}`);
      await shot("traces");
    });
    await step("search finds the quickstart trace and puts the query in the URL", async () => {
      await page.fill("[data-testid=search]", "umbrella");
      await page.waitForURL(/q=umbrella/, { timeout: 5000 });
      await waitFor("the search to narrow the list", async () => {
        const ids = await page.locator("[data-testid=trace-row]").evaluateAll((els) => els.map((e) => e.dataset.traceId));
        return ids.includes(quickId) && !ids.includes(lang.traceId) ? ids : null;
      });
      await shot("traces-search");
      // The filtered view is a shareable link: a fresh load of the URL shows the same rows.
      const url = page.url();
      await page.goto(url);
      await page.locator(`[data-testid=trace-row][data-trace-id="${quickId}"]`).waitFor({ timeout: 10_000 });
      check((await page.inputValue("[data-testid=search]")) === "umbrella", "the search box lost the query from the URL");
    });

    await step("filters in the URL narrow the list the way the API does (status=error, kind=llm)", async () => {
      for (const query of ["status=error", "kind=llm"]) {
        const expected = (await api(`/api/v1/traces?${query}&limit=1000`)).body.traces.map((t) => t.trace_id).sort();
        await page.goto(`${stack.dashboard}/traces?${query}`);
        await waitFor(`the list for ?${query}`, async () => {
          const ids = (await page.locator("[data-testid=trace-row]").evaluateAll((els) => els.map((e) => e.dataset.traceId))).sort();
          return JSON.stringify(ids) === JSON.stringify(expected);
        });
      }
      check((await page.locator("select[aria-label='Span kind']").inputValue()) === "llm", "the kind filter does not show the URL's kind");
    });

    // ── One trace ─────────────────────────────────────────────────────────────────────────
    await step("the trace page shows every span in the waterfall", async () => {
      await page.locator(`[data-testid=trace-row][data-trace-id="${quickId}"]`).click();
      await page.waitForURL(new RegExp(`/traces/${quickId}`));
      await page.locator("[data-testid=span-row]").first().waitFor();
      const count = Number(await page.getAttribute("[data-testid=waterfall-count]", "data-count"));
      check(count === quick.totals.span_count, `waterfall counts ${count} spans, the API ${quick.totals.span_count}`);
      const shown = await page.locator("[data-testid=span-row]").evaluateAll((els) => els.map((e) => e.dataset.spanId));
      const missing = quick.spans.filter((s) => !shown.includes(s.span_id)).map((s) => s.name);
      check(!missing.length, `spans missing from the waterfall: ${missing.join(", ")}`);
    });
    await step("the span panel shows a span's input and output", async () => {
      const span = quick.spans.find((s) => s.kind === "llm" && s.input != null && s.output != null) ?? quick.spans.find((s) => s.input != null && s.output != null);
      check(span, "the quickstart trace has no span with both input and output");
      await page.locator(`[data-testid=span-row][data-span-id="${span.span_id}"]`).click();
      await page.locator(`[data-testid=span-details][data-span-id="${span.span_id}"]`).waitFor();
      const input = await page.locator("[data-testid=span-input]").innerText();
      const output = await page.locator("[data-testid=span-output]").innerText();
      const text = (v) => (typeof v === "string" ? v : Object.values(v).flat().map(String).join(" "));
      const firstWords = (v) => text(v).split(/\s+/).slice(0, 3).join(" ");
      check(input.includes(firstWords(span.input)), `span input shows ${JSON.stringify(input.slice(0, 200))}, expected it to contain ${JSON.stringify(firstWords(span.input))}`);
      check(output.includes(firstWords(span.output)), `span output shows ${JSON.stringify(output.slice(0, 200))}, expected ${JSON.stringify(firstWords(span.output))}`);
      await shot("trace");
      // Double-click zooms the timeline to the span; "Whole trace" undoes it.
      await page.locator(`[data-testid=span-row][data-span-id="${span.span_id}"]`).dblclick();
      await page.locator("[data-testid=reset-zoom]").waitFor({ timeout: 3000 });
      await shot("trace-zoomed");
      await page.click("[data-testid=reset-zoom]");
      await page.click("[data-testid=theme-toggle]");
      await page.waitForTimeout(300);
      await shot("trace-dark");
      await page.click("[data-testid=theme-toggle]");
    });
    await step("chat messages render as a conversation (OpenInference LLM span)", async () => {
      await page.goto(`${stack.dashboard}/traces/${lang.traceId}`);
      await page.locator("[data-testid=span-row]").first().waitFor();
      const llm = page.locator("[data-testid=span-row]", { hasText: "ChatOpenAI" }).first();
      await llm.click();
      await page.locator("[data-testid=span-input] [data-role=user]").first().waitFor({ timeout: 5000 });
      const roles = await page.locator("[data-testid=span-input] [data-role]").evaluateAll((els) => els.map((e) => e.dataset.role));
      check(roles.join(",") === "system,user", `conversation roles ${roles.join(",")}, expected system,user`);
      const out = await page.locator("[data-testid=span-output]").innerText();
      check(out.includes("lookup_capital"), `the output conversation does not show the tool call: ${out.slice(0, 200)}`);
      await shot("trace-conversation");
    });

    // ── Out of order, with an orphan ──────────────────────────────────────────────────────
    await step("a trace sent out of order with an orphan span shows every span, the orphan flagged", async () => {
      const partial = partialTrace();
      for (const batch of partial.batches) await postOtlp(stack.collector, batch);
      const detail = await waitTrace(partial.traceId, 3);
      await page.goto(`${stack.dashboard}/traces/${partial.traceId}`);
      await page.locator("[data-testid=span-row]").first().waitFor();
      const count = Number(await page.getAttribute("[data-testid=waterfall-count]", "data-count"));
      check(count === detail.totals.span_count, `waterfall counts ${count}, the API ${detail.totals.span_count}`);
      const orphanRow = page.locator(`[data-testid=span-row][data-span-id="${partial.orphan}"]`);
      check((await orphanRow.innerText()).includes("orphan"), "the span whose parent is missing is not flagged as an orphan");
      await shot("trace-partial");
    });

    // ── Linked traces (span links) ────────────────────────────────────────────────────────
    const linked = linkedTraces();
    await postOtlp(stack.collector, linked.body);
    await waitTrace(linked.second, 1);
    const conversationProbe = await api(`/api/v1/traces/${linked.second}/conversation`);
    if (conversationProbe.status === 404 && !conversationProbe.body?.error?.message?.includes("trace")) {
      skip("linked traces show on the trace page", "the server has no /api/v1/traces/{id}/conversation");
    } else {
      await step("a trace linked to another shows both, and the link opens the other", async () => {
        await page.goto(`${stack.dashboard}/traces/${linked.second}`);
        const strip = page.locator("[data-testid=linked-traces]");
        await strip.waitFor({ timeout: 10_000 });
        await strip.locator(`a[href="/traces/${linked.first}"]`).click();
        await page.waitForURL(new RegExp(`/traces/${linked.first}`));
        await page.locator("[data-testid=span-row]").first().waitFor();
        await page.click("[data-testid=span-row]");
        await shot("trace-linked");
      });
    }

    // ── Live ──────────────────────────────────────────────────────────────────────────────
    const wsProbe = await fetch(`${stack.api}/ws/traces`).then((r) => r.status);
    if (wsProbe === 404) {
      skip("a new trace arrives live over /ws/traces", "the server has no /ws/traces (GET answers 404)", "E2E_REQUIRE_LIVE");
      await step("without /ws/traces the Live switch says so instead of failing silently", async () => {
        await page.goto(`${stack.dashboard}/traces?live=1`);
        await page.locator('[data-testid=live-status][data-status="unavailable"]').waitFor({ timeout: 10_000 });
        await page.locator("[data-testid=trace-row]").first().waitFor();
        await shot("traces-live-unavailable");
      });
    } else {
      await step("a new trace arrives live over /ws/traces, without a reload", async () => {
        await page.goto(`${stack.dashboard}/traces`);
        await page.locator("[data-testid=trace-row]").first().waitFor();
        await page.click("[data-testid=live-switch]");
        await page.locator('[data-testid=live-status][data-status="live"]').waitFor({ timeout: 10_000 });
        await page.evaluate(() => ((window).__noReload = true));
        const newId = runQuickstart(stack.collector);
        await page.locator(`[data-testid=trace-row][data-trace-id="${newId}"]`).waitFor({ timeout: 20_000 });
        check(await page.evaluate(() => (window).__noReload === true), "the page reloaded to show the new trace");
        const rows = await page.locator(`[data-testid=trace-row][data-trace-id="${newId}"]`).count();
        check(rows === 1, `the live trace shows ${rows} times`);
        await shot("traces-live");
      });
    }

    if (wsProbe !== 404) {
      await step("an open trace grows live: a late span joins the waterfall without a reload", async () => {
        const detail = await waitTrace(lang.traceId, lang.spanCount);
        const root = detail.spans.find((s) => s.depth === 0);
        await page.goto(`${stack.dashboard}/traces/${lang.traceId}`);
        await page.locator("[data-testid=span-row]").first().waitFor();
        await page.getByRole("switch", { name: "Live refresh" }).click();
        await waitFor("the trace page's live tail", async () => (await page.getByText("live", { exact: true }).count()) > 0);
        await page.waitForTimeout(500);
        const late = hex(8);
        const now = BigInt(Date.now()) * 1_000_000n;
        await postOtlp(
          stack.collector,
          payload("langgraph-agent", [
            { traceId: lang.traceId, spanId: late, parentSpanId: root.span_id, name: "late-tool", startTimeUnixNano: String(now), endTimeUnixNano: String(now + 1_000_000n), attributes: [{ key: "agentstack.span.kind", value: { stringValue: "tool" } }] },
          ]),
        );
        await page.locator(`[data-testid=span-row][data-span-id="${late}"]`).waitFor({ timeout: 20_000 });
        const count = Number(await page.getAttribute("[data-testid=waterfall-count]", "data-count"));
        check(count === lang.spanCount + 1, `the waterfall counts ${count} spans after the late one, expected ${lang.spanCount + 1}`);
        await shot("trace-live");
      });
    }

    // ── Infinite scroll ───────────────────────────────────────────────────────────────────
    await step("scrolling the list loads the next pages until every trace is listed; Live keeps the row in view in place", async () => {
      await postOtlp(stack.collector, manyTraces(250));
      const all = await waitFor("the 250 traces to be stored", async () => {
        let total = 0;
        let cursor = null;
        do {
          const r = await api(`/api/v1/traces?limit=1000${cursor ? `&cursor=${cursor}` : ""}`);
          total += r.body.traces.length;
          cursor = r.body.next_cursor;
        } while (cursor);
        return total >= 250 ? total : null;
      });
      await page.goto(`${stack.dashboard}/traces`);
      await page.locator("[data-testid=trace-row]").first().waitFor();
      await waitFor(`the list to count all ${all} traces`, async () => {
        await page.locator("[data-testid=traces-scroll]").evaluate((el) => (el.scrollTop = el.scrollHeight));
        const text = await page.locator("[data-testid=trace-count]").innerText();
        return text.startsWith(`${all.toLocaleString("en-US")} traces`) && !text.includes("+");
      }, 20_000, 300);
      const rows = await page.locator("[data-testid=trace-row]").count();
      check(rows < 120, `${rows} rows in the DOM: the list is not virtualized`);
      await shot("traces-scrolled");
      if (wsProbe === 404) return;
      // Live while scrolled down: the new trace lands on top, and the row in view stays put.
      await page.locator("[data-testid=traces-scroll]").evaluate((el) => (el.scrollTop = 40 * 100));
      await page.click("[data-testid=live-switch]");
      await page.locator('[data-testid=live-status][data-status="live"]').waitFor({ timeout: 10_000 });
      await page.waitForTimeout(300);
      const anchor = await page.evaluate(() => {
        const el = document.querySelector("[data-testid=traces-scroll]");
        const top = el.getBoundingClientRect().top;
        const row = [...el.querySelectorAll("[data-testid=trace-row]")].find((r) => r.getBoundingClientRect().top >= top - 1);
        return { id: row.dataset.traceId, y: row.getBoundingClientRect().top };
      });
      const before = await page.locator("[data-testid=trace-count]").innerText();
      const liveId = runQuickstart(stack.collector);
      await waitFor("the live trace to be counted", async () => (await page.locator("[data-testid=trace-count]").innerText()) !== before, 20_000);
      const y = await page.evaluate((id) => document.querySelector(`[data-testid=trace-row][data-trace-id="${id}"]`)?.getBoundingClientRect().top ?? null, anchor.id);
      check(y !== null && Math.abs(y - anchor.y) <= 1, `the row in view moved from y=${anchor.y} to y=${y} when a live trace arrived`);
      await page.locator("[data-testid=traces-scroll]").evaluate((el) => (el.scrollTop = 0));
      await page.locator(`[data-testid=trace-row][data-trace-id="${liveId}"]`).waitFor({ timeout: 5000 });
    });

    // ── Sessions ──────────────────────────────────────────────────────────────────────────
    await step("sessions list the quickstart session and its traces in order", async () => {
      await page.goto(`${stack.dashboard}/sessions`);
      const row = page.locator("[data-testid=session-row]", { hasText: "quickstart-session" });
      await row.waitFor({ timeout: 10_000 });
      const fallback = await page.locator("[data-testid=sessions-fallback]").count();
      if (fallback) skipped.push({ name: "GET /api/v1/sessions", reason: "the server has no sessions endpoint: the page grouped traces instead" });
      await shot("sessions");
      await row.locator("a").first().click();
      await page.waitForURL(/\/sessions\/quickstart-session/);
      await page.locator("[data-testid=session-turn]").first().waitFor();
      const turns = await page.locator("[data-testid=session-turn]").count();
      const expected = (await api(`/api/v1/traces?session=quickstart-session`)).body.traces.length;
      check(turns === expected, `the session page shows ${turns} traces, the API has ${expected}`);
      await page.getByText("Do I need an umbrella today?").first().waitFor({ timeout: 10_000 });
      await shot("session");
    });

    // ── Alerts ────────────────────────────────────────────────────────────────────────────
    const alertsProbe = await api(`/api/v1/alerts?limit=1`);
    if (alertsProbe.status === 404) {
      skip("alerts: an alert of the attack-like trace shows", "the server has no /api/v1/alerts", "E2E_REQUIRE_ALERTS");
      await step("without /api/v1/alerts the alerts page says it is not available", async () => {
        await page.goto(`${stack.dashboard}/alerts`);
        await page.locator("[data-testid=not-available]").waitFor();
        await shot("alerts");
      });
    } else {
      await step("alerts: an alert of the attack-like trace shows, with a link to its trace", async () => {
        await waitFor("the detectors to raise an alert on the attack-like trace", async () => {
          const r = await api(`/api/v1/alerts?trace_id=${attack.traceId}`);
          return r.status === 200 && r.body.alerts.length > 0;
        }, 20_000);
        await page.goto(`${stack.dashboard}/alerts`);
        await page.locator("[data-testid=alert-row]").first().waitFor({ timeout: 10_000 });
        const link = page.locator(`[data-testid=alert-row] a[href*="${attack.traceId}"]`).first();
        await link.waitFor();
        await page.locator(`[data-testid=alert-row]:has(a[href*="${attack.traceId}"])`).first().click();
        await page.locator("[data-testid=evidence]").first().waitFor({ timeout: 5000 });
        await shot("alerts");
        // severity= is the least severity listed.
        const critical = (await api(`/api/v1/alerts?severity=critical`)).body.alerts.length;
        await page.goto(`${stack.dashboard}/alerts?severity=critical`);
        await waitFor("the critical alerts only", async () => (await page.locator("[data-testid=alert-row]").count()) === critical && (critical === 0 || (await page.locator("[data-testid=alert-row]").first().innerText()).includes("critical")));
        await page.goto(`${stack.dashboard}/alerts`);
        await page.locator("[data-testid=alert-row]").first().waitFor();
        // The trace list's alert badge (alert_count / max_severity on the summary).
        const summary = (await api(`/api/v1/traces?limit=50`)).body.traces.find((t) => t.trace_id === attack.traceId);
        check(summary?.alert_count > 0, `the attack trace's summary has alert_count ${summary?.alert_count}`);
        await link.click();
        await page.waitForURL(new RegExp(`/traces/${attack.traceId}`));
        await page.locator("[data-testid=span-row]").first().waitFor();
        await shot("trace-alert");
      });
      const alertsWs = await fetch(`${stack.api}/ws/alerts`).then((r) => r.status);
      if (alertsWs === 404) {
        skip("a new alert arrives live over /ws/alerts", "the server has no /ws/alerts", "E2E_REQUIRE_ALERTS");
      } else {
        await step("a new alert arrives live over /ws/alerts", async () => {
          await page.goto(`${stack.dashboard}/alerts?live=1`);
          await page.locator('[data-testid=alerts-live-status][data-status="live"]').waitFor({ timeout: 10_000 });
          const again = attackTrace();
          await postOtlp(stack.collector, again.body);
          await page.locator(`[data-testid=alert-row] a[href*="${again.traceId}"]`).first().waitFor({ timeout: 20_000 });
          await shot("alerts-live");
        });
      }
    }

    // ── Costs ─────────────────────────────────────────────────────────────────────────────
    const costsProbe = await api(`/api/v1/costs?group_by=model`);
    if (costsProbe.status === 404) {
      skip("costs: the cost chart shows", "the server has no /api/v1/costs", "E2E_REQUIRE_COSTS");
      await step("without /api/v1/costs the costs page says it is not available", async () => {
        await page.goto(`${stack.dashboard}/costs`);
        await page.locator("[data-testid=not-available]").waitFor({ timeout: 10_000 });
        await shot("costs");
      });
    } else {
      await step("costs: totals and the cost chart show", async () => {
        await page.goto(`${stack.dashboard}/costs?since=`);
        await page.locator("[data-testid=cost-chart] .recharts-surface").first().waitFor({ timeout: 10_000 });
        const total = await page.locator("[data-testid=cost-total]").innerText();
        check(/\$/.test(total), `the total cost reads ${JSON.stringify(total)}`);
        const bars = await page.locator("[data-testid=cost-chart] .recharts-bar-rectangle").count();
        check(bars > 0 || costsProbe.body?.total?.cost_usd === 0, "the cost chart draws no bars although the API has costs");
        await shot("costs");
      });
    }

    // ── Perf: first render of the traces page and of a 10,000-span trace ──────────────────
    if (process.env.E2E_SKIP_PERF !== "1") {
      await step("perf: a 10,000-span trace renders, every span reachable, and the numbers are written", async () => {
        const perf = await runPerf({ stack, browser, shot: (name, p) => p.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) }), apiKey: null });
        check(perf.bigTrace.waterfallCount === 10_000, `the 10k trace's waterfall counts ${perf.bigTrace.waterfallCount} spans`);
      });
    }

    // ── Settings (last: creating a key turns the server's key mode on) ─────────────────────
    await step("settings: with the admin token, create an API key (shown once), then revoke it", async () => {
      await page.goto(`${stack.dashboard}/settings`);
      await page.locator("[data-testid=connection-status]", { hasText: "Connected" }).waitFor({ timeout: 10_000 });
      await page.fill("[data-testid=admin-token-input]", ADMIN);
      await page.keyboard.press("Enter");
      await page.locator("[data-testid=project-input]").waitFor();
      await page.fill("[data-testid=project-input]", "e2e-project");
      await page.click("[data-testid=create-key]");
      const secret = await page.locator("[data-testid=created-key-secret]").innerText();
      check(secret.startsWith("ask_"), `the created key reads ${JSON.stringify(secret)}`);
      const keys = await getJson(`${stack.api}/api/v1/keys`, { authorization: `Bearer ${ADMIN}` });
      const key = keys.body.keys.find((k) => k.project === "e2e-project");
      check(key?.active, "the API does not list the new key as active");
      await page.locator(`[data-testid=key-row][data-prefix="${key.prefix}"]`).waitFor();
      await shot("settings-key-created");
      await page.locator(`[data-testid=key-row][data-prefix="${key.prefix}"] [data-testid=revoke]`).click();
      await page.locator(`[data-testid=key-row][data-prefix="${key.prefix}"] [data-testid=confirm-revoke]`).click();
      await waitFor("the key to be revoked", async () => {
        const r = await getJson(`${stack.api}/api/v1/keys`, { authorization: `Bearer ${ADMIN}` });
        return r.body.keys.find((k) => k.prefix === key.prefix)?.active === false;
      });
      await page.locator(`[data-testid=key-row][data-prefix="${key.prefix}"]`, { hasText: "revoked" }).waitFor();
      await shot("settings");
    });

    // ── A server with keys: the dashboard asks for one, then reads that key's project ──────
    const unauthenticated = await api(`/api/v1/traces`);
    if (unauthenticated.status !== 401) {
      skip("with API keys the dashboard asks for one", `after a key was created the API still answers ${unauthenticated.status} without a key`);
    } else {
      await step("with API keys: an actionable 401, then a key set in Settings scopes the dashboard to its empty project", async () => {
        await page.goto(`${stack.dashboard}/traces`);
        const error = page.locator("[data-testid=error]");
        await error.waitFor({ timeout: 10_000 });
        check((await error.innerText()).includes("401"), `the error reads ${JSON.stringify(await error.innerText())}`);
        await error.getByText("Set the API key in Settings").waitFor();
        await shot("traces-needs-key");
        const created = await fetch(`${stack.api}/api/v1/projects/fresh-project/keys`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}` } }).then((r) => r.json());
        check(created.key?.startsWith("ask_"), `creating a key answered ${JSON.stringify(created)}`);
        await error.getByText("Set the API key in Settings").click();
        await page.fill("[data-testid=api-key-input]", created.key);
        await page.keyboard.press("Enter");
        await page.locator("[data-testid=connection-status]", { hasText: "Connected: 0 traces" }).waitFor({ timeout: 10_000 });
        await page.goto(`${stack.dashboard}/traces`);
        await page.locator("[data-testid=empty]", { hasText: "No traces yet" }).waitFor({ timeout: 10_000 });
        check((await page.locator("[data-testid=empty]").innerText()).includes("cargo run --example quickstart"), "the empty state does not say how to send a first trace");
        await shot("traces-empty");
        if (wsProbe !== 404) {
          // The live tail authenticates with ?api_key= (browsers cannot set headers on a WebSocket).
          await page.click("[data-testid=live-switch]");
          await page.locator('[data-testid=live-status][data-status="live"]').waitFor({ timeout: 10_000 });
          const fresh = langGraphTrace();
          await postOtlp(stack.collector, fresh.body, created.key);
          await page.locator(`[data-testid=trace-row][data-trace-id="${fresh.traceId}"]`).waitFor({ timeout: 20_000 });
          check((await page.locator("[data-testid=trace-row]").count()) === 1, "another project's traces show in this key's project");
          await shot("traces-live-with-key");
        }
      });
    }

    await step("no JavaScript errors on any page", async () => {
      check(!pageErrors.length, `errors in the page: ${pageErrors.slice(0, 5).join(" | ")}`);
    });
  } finally {
    await close();
    await stack.stop();
  }
}

const started = Date.now();
try {
  await main();
} catch (error) {
  results.push({ name: "setup", ok: false, error: error.message });
  log(`FAIL setup: ${error.message}`);
}
const failed = results.filter((r) => !r.ok);
mkdirSync(ARTIFACTS, { recursive: true });
writeFileSync(path.join(ARTIFACTS, "results.json"), JSON.stringify({ results, skipped, seconds: (Date.now() - started) / 1000 }, null, 2));
console.log(`\n${results.length - failed.length} passed, ${failed.length} failed, ${skipped.length} skipped; screenshots in e2e/artifacts/`);
for (const f of failed) console.log(`  FAILED: ${f.name}: ${f.error}`);
for (const s of skipped) console.log(`  skipped: ${s.name}: ${s.reason}`);
process.exit(failed.length ? 1 : 0);
