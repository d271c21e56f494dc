import { describe, expect, it } from "vitest";
import { formatMs, formatNanos, niceStep, ticks, timeScale } from "./timescale";

describe("time scale", () => {
  it("maps times to fractions, clamped", () => {
    const scale = timeScale(1000, 3000);
    expect(scale.at(1000)).toBe(0);
    expect(scale.at(2000)).toBe(0.5);
    expect(scale.at(5000)).toBe(1);
    expect(scale.at(0)).toBe(0);
    expect(scale.width(500)).toBe(0.25);
  });

  it("survives a zero-length trace", () => {
    const scale = timeScale(5, 5);
    expect(scale.durationNanos).toBe(1);
    expect(scale.at(5)).toBe(0);
  });

  it("picks 1-2-5 steps", () => {
    expect(niceStep(1000, 5)).toBe(200);
    expect(niceStep(1000, 10)).toBe(100);
    expect(niceStep(7_300_000, 6)).toBe(2_000_000);
    expect(niceStep(3, 6)).toBe(0.5);
  });

  it("ticks cover the duration from 0", () => {
    expect(ticks(1000, 5)).toEqual([0, 200, 400, 600, 800, 1000]);
    expect(ticks(950, 5)).toEqual([0, 200, 400, 600, 800]);
    expect(ticks(0)).toEqual([0]);
    const t = ticks(194_404, 6);
    expect(t[0]).toBe(0);
    expect(t.length).toBeLessThanOrEqual(7);
    expect(t[t.length - 1]).toBeLessThanOrEqual(194_404);
  });

  it("ticks are exact numbers, so labels read 1ms and not 1000µs", () => {
    expect(ticks(5_000_000, 6).map(formatNanos)).toEqual(["0", "1ms", "2ms", "3ms", "4ms", "5ms"]);
    expect(ticks(3e-7 * 1e9, 6).every((t) => Number.isInteger(t) || t < 1)).toBe(true);
  });

  it("formats durations in the unit that reads best", () => {
    expect(formatNanos(0)).toBe("0");
    expect(formatNanos(850)).toBe("850ns");
    expect(formatNanos(194_404)).toBe("194µs");
    expect(formatNanos(12_500_000)).toBe("12.5ms");
    expect(formatNanos(3_210_000_000)).toBe("3.21s");
    expect(formatNanos(250e9)).toBe("4m 10s");
    expect(formatNanos(2 * 3600e9 + 60e9)).toBe("2h 1m");
    expect(formatMs(0.194404)).toBe("194µs");
    expect(formatMs(null)).toBe("–");
    // Unix nanoseconds as JSON numbers lose precision past 2^53: a 1ms offset can come out 999,936ns.
    expect(formatNanos(999_936)).toBe("1ms");
    expect(formatNanos(999_400)).toBe("999µs");
  });
});
