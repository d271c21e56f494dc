import { describe, expect, it } from "vitest";
import { activeFilterCount, filtersFromSearch, resolveTime, searchFromFilters } from "./filters";
import { liveParams, traceParams } from "@/api/client";

describe("URL ↔ filters", () => {
  it("reads known filters and drops unknown and empty ones", () => {
    const f = filtersFromSearch("?q=umbrella&status=error&kind=llm&bogus=1&model=&live=1");
    expect(f).toEqual({ q: "umbrella", status: "error", kind: "llm" });
    expect(activeFilterCount(f)).toBe(3);
  });

  it("ignores a status the API would refuse", () => {
    expect(filtersFromSearch("status=weird")).toEqual({});
  });

  it("round-trips and keeps other params such as live", () => {
    const base = new URLSearchParams("live=1&q=old");
    const params = searchFromFilters({ q: "rain in lisbon", min_duration_ms: "100", service: "" }, base);
    expect(params.get("live")).toBe("1");
    expect(params.get("q")).toBe("rain in lisbon");
    expect(params.has("service")).toBe(false);
    expect(filtersFromSearch(params)).toEqual({ q: "rain in lisbon", min_duration_ms: "100" });
  });

  it("resolves relative times only when sending", () => {
    const now = Date.parse("2026-12-01T10:00:00Z");
    expect(resolveTime("15m", now)).toBe("2026-12-01T09:45:00.000Z");
    expect(resolveTime("7d", now)).toBe("2026-11-24T10:00:00.000Z");
    expect(resolveTime("2026-01-01T00:00:00Z", now)).toBe("2026-01-01T00:00:00Z");
    const params = traceParams({ since: "1h", q: "x", status: "" });
    expect(Object.keys(params).sort()).toEqual(["q", "since"]);
    expect(params.since).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it("the live tail gets the list's filters without since/until", () => {
    expect(liveParams({ q: "x", since: "1h", until: "2026-01-01T00:00:00Z", kind: "llm" })).toEqual({ q: "x", kind: "llm" });
  });
});
