import { describe, expect, it } from "vitest";
import { anchorShift, mergeLive, upsertTraces } from "./upsert";

const t = (id: string, start: number, spans = 1) => ({ trace_id: id, start_unix_nanos: start, span_count: spans });

describe("live upsert", () => {
  it("inserts new traces newest first", () => {
    const list = [t("b", 20), t("a", 10)];
    const out = upsertTraces(list, [t("c", 30)]);
    expect(out.map((x) => x.trace_id)).toEqual(["c", "b", "a"]);
  });

  it("replaces a trace that grew in place, never twice", () => {
    const list = [t("b", 20), t("a", 10)];
    const out = upsertTraces(list, [t("a", 10, 5), t("a", 10, 6)]);
    expect(out.map((x) => x.trace_id)).toEqual(["b", "a"]);
    expect(out[1].span_count).toBe(6);
  });

  it("re-sorts a trace whose start moved", () => {
    const out = upsertTraces([t("b", 20), t("a", 10)], [t("a", 30)]);
    expect(out.map((x) => x.trace_id)).toEqual(["a", "b"]);
  });

  it("an older trace arriving late lands below, not on top", () => {
    const out = upsertTraces([t("c", 30), t("b", 20)], [t("old", 5)]);
    expect(out.map((x) => x.trace_id)).toEqual(["c", "b", "old"]);
  });

  it("returns the same list for an empty frame", () => {
    const list = [t("a", 1)];
    expect(upsertTraces(list, [])).toBe(list);
  });

  it("merges live rows over fetched pages", () => {
    const out = mergeLive([t("b", 20), t("a", 10)], new Map([["a", t("a", 10, 9)], ["z", t("z", 99)]]));
    expect(out.map((x) => `${x.trace_id}${x.span_count}`)).toEqual(["z1", "b1", "a9"]);
  });

  it("tells how far the row in view moved, to keep the user's place", () => {
    const before = [t("c", 30), t("b", 20), t("a", 10)];
    const after = upsertTraces(before, [t("e", 50), t("d", 40)]);
    expect(anchorShift(before, after, 1)).toBe(2);
    expect(anchorShift(before, after, 0)).toBe(2);
    expect(anchorShift(before, after, 7)).toBe(0);
    // A new trace older than the anchor does not move it.
    const after2 = upsertTraces(before, [t("old", 1)]);
    expect(anchorShift(before, after2, 1)).toBe(0);
  });
});
