import { describe, expect, it } from "vitest";
import { formatCost } from "./format";

describe("formatCost", () => {
  it("keeps two significant digits below a cent instead of rounding to zero", () => {
    expect(formatCost(0.0036)).toBe("$0.0036");
    expect(formatCost(0.000043)).toBe("$0.000043");
    expect(formatCost(0.0000123)).toBe("$0.000012");
  });

  it("shows cents from a cent up, and whole dollars from $100", () => {
    expect(formatCost(0.0125)).toBe("$0.01");
    expect(formatCost(12.345)).toBe("$12.35");
    expect(formatCost(1234.5)).toBe("$1,235");
  });

  it("marks estimates and says when there is no cost", () => {
    expect(formatCost(0.5, true)).toBe("≈$0.50");
    expect(formatCost(0)).toBe("$0");
    expect(formatCost(null)).toBe("–");
  });
});
