import { describe, expect, it } from "vitest";
import { pivotSeries } from "./costs";

const p = (bucket: string, key: string, cost: number, tokens = 0) => ({ bucket_start: bucket, key, cost_usd: cost, input_tokens: tokens, output_tokens: 0 });

describe("cost series pivot", () => {
  it("makes one row per bucket, one column per key, in time order", () => {
    const out = pivotSeries([p("2026-12-02", "a", 1), p("2026-12-01", "a", 2), p("2026-12-01", "b", 5)], "cost_usd");
    expect(out.keys).toEqual(["b", "a"]);
    expect(out.rows).toEqual([
      { bucket: "2026-12-01", a: 2, b: 5 },
      { bucket: "2026-12-02", a: 1, b: 0 },
    ]);
  });

  it("sums keys past the top ones as other", () => {
    const out = pivotSeries([p("d", "a", 3), p("d", "b", 2), p("d", "c", 1)], "cost_usd", 1);
    expect(out.keys).toEqual(["a", "other"]);
    expect(out.rows[0]).toEqual({ bucket: "d", a: 3, other: 3 });
  });

  it("charts tokens as input + output", () => {
    const out = pivotSeries([{ bucket_start: "d", key: "m", cost_usd: 0, input_tokens: 10, output_tokens: 5 }], "tokens");
    expect(out.rows[0].m).toBe(15);
  });
});
