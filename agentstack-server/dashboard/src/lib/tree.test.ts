import { describe, expect, it } from "vitest";
import { ancestors, buildTree, visibleRows } from "./tree";

const s = (id: string, parent: string | null, start: number, end = start + 10) => ({
  span_id: id,
  parent_span_id: parent,
  start_unix_nanos: start,
  end_unix_nanos: end,
});

const names = (rows: { span: { span_id: string }; depth: number }[]) => rows.map((r) => `${r.span.span_id}@${r.depth}`);

describe("buildTree", () => {
  it("orders depth first, siblings by start, whatever order spans arrive in", () => {
    const tree = buildTree([s("c", "a", 30), s("d", "b", 25), s("b", "a", 20), s("a", null, 0, 100)]);
    expect(names(visibleRows(tree, new Set()))).toEqual(["a@0", "b@1", "d@2", "c@1"]);
    expect(tree.byId.get("a")!.descendants).toBe(3);
    expect(tree.startNanos).toBe(0);
    expect(tree.endNanos).toBe(100);
  });

  it("makes a span whose parent is missing a root and flags it", () => {
    const tree = buildTree([s("a", null, 0), s("x", "missing", 5), s("y", "x", 6)]);
    expect(names(visibleRows(tree, new Set()))).toEqual(["a@0", "x@0", "y@1"]);
    expect(tree.byId.get("x")!.orphan).toBe(true);
    expect(tree.byId.get("a")!.orphan).toBe(false);
  });

  it("keeps one row per span id (the last copy wins)", () => {
    const tree = buildTree([s("a", null, 0), { ...s("a", null, 0), end_unix_nanos: 99 }]);
    expect(tree.size).toBe(1);
    expect(tree.byId.get("a")!.span.end_unix_nanos).toBe(99);
  });

  it("breaks parent cycles instead of looping, and shows every span once", () => {
    const tree = buildTree([s("a", "b", 0), s("b", "a", 1), s("self", "self", 2)]);
    const rows = visibleRows(tree, new Set());
    expect(rows.map((r) => r.span.span_id).sort()).toEqual(["a", "b", "self"]);
  });

  it("handles a 10,000-deep chain without recursion", () => {
    const spans = Array.from({ length: 10_000 }, (_, i) => s(`s${i}`, i ? `s${i - 1}` : null, i));
    const tree = buildTree(spans.reverse());
    const rows = visibleRows(tree, new Set());
    expect(rows.length).toBe(10_000);
    expect(rows[9_999].depth).toBe(9_999);
    expect(tree.byId.get("s0")!.descendants).toBe(9_999);
  });

  it("collapsing a span hides its subtree only", () => {
    const tree = buildTree([s("a", null, 0), s("b", "a", 1), s("c", "b", 2), s("d", "a", 3)]);
    expect(names(visibleRows(tree, new Set(["b"])))).toEqual(["a@0", "b@1", "d@1"]);
    expect(names(visibleRows(tree, new Set(["a"])))).toEqual(["a@0"]);
  });

  it("finds ancestors nearest first", () => {
    const tree = buildTree([s("a", null, 0), s("b", "a", 1), s("c", "b", 2)]);
    expect(ancestors(tree, "c")).toEqual(["b", "a"]);
    expect(ancestors(tree, "a")).toEqual([]);
  });

  it("an empty trace is an empty tree", () => {
    const tree = buildTree([]);
    expect(tree.roots).toEqual([]);
    expect(tree.startNanos).toBe(0);
  });
});
