// Live tail merging: traces from WebSocket frames are upserted into the list by trace id (a
// trace that grew replaces its row in place; a new one is inserted where its start time sorts,
// newest first), and `anchorShift` tells how far the row the user was looking at moved, so the
// list can scroll by that much and the user keeps their place.

export interface Keyed {
  trace_id: string;
  start_unix_nanos: number;
}

function newestFirst(a: Keyed, b: Keyed): number {
  return b.start_unix_nanos - a.start_unix_nanos || (a.trace_id < b.trace_id ? -1 : a.trace_id > b.trace_id ? 1 : 0);
}

/** `list` (newest first) with `incoming` upserted; returns a new array when anything changed. */
export function upsertTraces<T extends Keyed>(list: readonly T[], incoming: readonly T[]): T[] {
  if (!incoming.length) return list as T[];
  const latest = new Map<string, T>();
  for (const item of incoming) latest.set(item.trace_id, item);
  const out: T[] = [];
  for (const item of list) {
    const update = latest.get(item.trace_id);
    if (update) {
      latest.delete(item.trace_id);
      // A trace's start can move earlier when an earlier span arrives late: re-sort below.
      out.push(update);
    } else out.push(item);
  }
  out.push(...latest.values());
  // Stable sort: in-place replacements keep their order unless their start changed.
  return out.sort(newestFirst);
}

/** Overlay: the fetched pages with the live rows merged in (live rows win). */
export function mergeLive<T extends Keyed>(fetched: readonly T[], live: ReadonlyMap<string, T>): T[] {
  if (!live.size) return fetched as T[];
  return upsertTraces(fetched, [...live.values()]);
}

/** How many rows the anchor (the first row in view) moved between `before` and `after`. */
export function anchorShift<T extends Keyed>(before: readonly T[], after: readonly T[], anchorIndex: number): number {
  const anchor = before[anchorIndex];
  if (!anchor) return 0;
  const index = after.findIndex((t) => t.trace_id === anchor.trace_id);
  return index < 0 ? 0 : index - anchorIndex;
}
