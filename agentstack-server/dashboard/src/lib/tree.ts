// The span tree of a trace, built on the client so it holds whatever order spans arrive in
// (live frames, partial traces): a span whose parent is missing is a root (an orphan, flagged),
// siblings are ordered by start time, and a parent cycle cannot loop. `visibleRows` flattens the
// tree depth-first, skipping the children of collapsed spans: that list is what the waterfall
// virtualizes.

export interface TreeSpan {
  span_id: string;
  parent_span_id: string | null;
  start_unix_nanos: number;
  end_unix_nanos: number;
}

export interface TreeNode<S extends TreeSpan> {
  span: S;
  depth: number;
  children: TreeNode<S>[];
  /** The span names a parent that is not in the trace. */
  orphan: boolean;
  /** Number of spans below it, at every depth. */
  descendants: number;
}

export interface SpanTree<S extends TreeSpan> {
  roots: TreeNode<S>[];
  byId: Map<string, TreeNode<S>>;
  size: number;
  startNanos: number;
  endNanos: number;
}

function byStart<S extends TreeSpan>(a: TreeNode<S>, b: TreeNode<S>): number {
  return a.span.start_unix_nanos - b.span.start_unix_nanos || (a.span.span_id < b.span.span_id ? -1 : a.span.span_id > b.span.span_id ? 1 : 0);
}

export function buildTree<S extends TreeSpan>(spans: readonly S[]): SpanTree<S> {
  const byId = new Map<string, TreeNode<S>>();
  for (const span of spans) {
    // The same span twice (a retried write, a live frame after the fetch): the last one wins.
    const existing = byId.get(span.span_id);
    if (existing) existing.span = span;
    else byId.set(span.span_id, { span, depth: 0, children: [], orphan: false, descendants: 0 });
  }
  const roots: TreeNode<S>[] = [];
  for (const node of byId.values()) {
    const parentId = node.span.parent_span_id;
    const parent = parentId ? byId.get(parentId) : undefined;
    if (parent && parent !== node) parent.children.push(node);
    else {
      node.orphan = !!parentId && parent !== node;
      roots.push(node);
    }
  }
  // Depth-first from the roots, iteratively (10,000-deep chains must not overflow the stack).
  const seen = new Set<TreeNode<S>>();
  const order: TreeNode<S>[] = [];
  const walk = (start: TreeNode<S>[]) => {
    const stack: [TreeNode<S>, number][] = start.map((n) => [n, 0]);
    while (stack.length) {
      const [node, depth] = stack.pop()!;
      if (seen.has(node)) continue;
      seen.add(node);
      node.depth = depth;
      order.push(node);
      node.children.sort(byStart);
      for (let i = node.children.length - 1; i >= 0; i--) stack.push([node.children[i], depth + 1]);
    }
  };
  roots.sort(byStart);
  walk([...roots].reverse());
  // Spans in a parent cycle have no root: break the cycle at its earliest span.
  if (seen.size < byId.size) {
    const rest = [...byId.values()].filter((n) => !seen.has(n)).sort(byStart);
    for (const node of rest) {
      if (seen.has(node)) continue;
      // Detach it from its (cyclic) parent so it renders once, as a root.
      const parent = node.span.parent_span_id ? byId.get(node.span.parent_span_id) : undefined;
      if (parent) parent.children = parent.children.filter((c) => c !== node);
      node.orphan = true;
      roots.push(node);
      walk([node]);
    }
  }
  // Descendant counts, bottom-up over the depth-first order.
  for (let i = order.length - 1; i >= 0; i--) {
    const node = order[i];
    node.descendants = node.children.reduce((sum, c) => sum + 1 + c.descendants, 0);
  }
  let startNanos = Infinity;
  let endNanos = -Infinity;
  for (const node of byId.values()) {
    startNanos = Math.min(startNanos, node.span.start_unix_nanos);
    endNanos = Math.max(endNanos, node.span.end_unix_nanos);
  }
  if (!byId.size) startNanos = endNanos = 0;
  return { roots, byId, size: byId.size, startNanos, endNanos };
}

/** The rows shown: depth-first, children of `collapsed` span ids left out. */
export function visibleRows<S extends TreeSpan>(tree: SpanTree<S>, collapsed: ReadonlySet<string>): TreeNode<S>[] {
  const out: TreeNode<S>[] = [];
  const stack: TreeNode<S>[] = [...tree.roots].reverse();
  while (stack.length) {
    const node = stack.pop()!;
    out.push(node);
    if (!collapsed.has(node.span.span_id)) {
      for (let i = node.children.length - 1; i >= 0; i--) stack.push(node.children[i]);
    }
  }
  return out;
}

/** The ids of the ancestors of `spanId`, nearest first (to expand the path to a selected span). */
export function ancestors<S extends TreeSpan>(tree: SpanTree<S>, spanId: string): string[] {
  const out: string[] = [];
  const seen = new Set<string>([spanId]);
  let node = tree.byId.get(spanId);
  while (node?.span.parent_span_id) {
    const parentId = node.span.parent_span_id;
    if (seen.has(parentId)) break;
    seen.add(parentId);
    const parent = tree.byId.get(parentId);
    if (!parent) break;
    out.push(parentId);
    node = parent;
  }
  return out;
}
