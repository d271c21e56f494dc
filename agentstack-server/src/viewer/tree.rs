//! Building a trace's span tree from flat spans: children under their parents, siblings ordered
//! by start time, spans whose parent is not in the file (yet) at the top level, marked as orphans.
//! The result is a list of rows in display order with their box-drawing prefixes (`├─ `, `└─ `, `│  `).

use std::collections::HashMap;

/// What the tree needs to know about a span.
pub trait TreeSpan {
    fn span_id(&self) -> &str;
    fn parent_span_id(&self) -> Option<&str>;
    fn start_unix_nanos(&self) -> i64;
}

impl TreeSpan for agentstack_exporter_sqlite::SpanRecord {
    fn span_id(&self) -> &str {
        &self.span_id
    }
    fn parent_span_id(&self) -> Option<&str> {
        self.parent_span_id.as_deref()
    }
    fn start_unix_nanos(&self) -> i64 {
        self.start_unix_nanos
    }
}

/// Why a span sits where it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// A root span (no parent).
    Root,
    /// Under its parent.
    Child,
    /// Its parent is not among the trace's spans (not flushed yet, or lost): shown at the top.
    Orphan { missing_parent: String },
    /// Its parent chain loops back to itself (bad data): the loop is cut here.
    Cycle,
}

/// One line of the tree, in display order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeRow {
    /// Index into the slice given to [`build_tree`].
    pub index: usize,
    /// 0 for top-level spans.
    pub depth: usize,
    /// What goes before the span's own line: ancestors' rails and `├─ ` / `└─ `.
    pub branch: String,
    /// What goes before any further line that belongs to this span (error, model, input, …):
    /// keeps the rails of the ancestors and, when the span has children, starts its own.
    pub detail_prefix: String,
    pub has_children: bool,
    pub placement: Placement,
}

/// How many levels of rails are drawn; deeper spans are drawn at this indentation.
pub const MAX_DRAWN_DEPTH: usize = 40;

/// A parent id that means "no parent": absent, empty, or all zeros (as some producers write).
fn is_no_parent(parent: Option<&str>) -> bool {
    parent.is_none_or(|p| p.is_empty() || p.bytes().all(|b| b == b'0'))
}

/// Lays out `spans` as a tree. Every span appears exactly once, whatever the data looks like
/// (duplicate ids, self-parents, cycles, unknown parents); nothing here can panic or recurse.
pub fn build_tree<T: TreeSpan>(spans: &[T]) -> Vec<TreeRow> {
    // The first span with an id wins (the store never returns duplicates, but files can be odd).
    let mut by_id: HashMap<&str, usize> = HashMap::with_capacity(spans.len());
    for (i, span) in spans.iter().enumerate() {
        by_id.entry(span.span_id()).or_insert(i);
    }

    let mut children: Vec<Vec<usize>> = vec![Vec::new(); spans.len()];
    let mut top: Vec<(usize, Placement)> = Vec::new();
    for (i, span) in spans.iter().enumerate() {
        let parent = span.parent_span_id();
        if is_no_parent(parent) {
            top.push((i, Placement::Root));
            continue;
        }
        let parent = parent.unwrap_or_default();
        match by_id.get(parent) {
            Some(&p) if p != i => children[p].push(i),
            Some(_) => top.push((i, Placement::Root)), // its own parent
            None => top.push((
                i,
                Placement::Orphan {
                    missing_parent: parent.to_string(),
                },
            )),
        }
    }
    let by_start = |&a: &usize, &b: &usize| {
        spans[a]
            .start_unix_nanos()
            .cmp(&spans[b].start_unix_nanos())
            .then(a.cmp(&b))
    };
    for list in &mut children {
        list.sort_by(by_start);
    }
    top.sort_by(|(a, _), (b, _)| by_start(a, b));

    let mut rows = Vec::with_capacity(spans.len());
    let mut visited = vec![false; spans.len()];
    for (i, placement) in top {
        walk(i, placement, &children, &mut visited, &mut rows);
    }
    // Whatever is left hangs in a parent cycle: cut each loop at its earliest span.
    let mut rest: Vec<usize> = (0..spans.len()).filter(|&i| !visited[i]).collect();
    rest.sort_by(by_start);
    for i in rest {
        if !visited[i] {
            walk(i, Placement::Cycle, &children, &mut visited, &mut rows);
        }
    }
    rows
}

/// Appends the subtree under `start` to `rows`: an iterative depth-first walk, so a deep chain
/// cannot overflow the stack.
fn walk(
    start: usize,
    placement: Placement,
    children: &[Vec<usize>],
    visited: &mut [bool],
    rows: &mut Vec<TreeRow>,
) {
    // (span, depth, rails of its ancestors, is last sibling)
    let mut stack: Vec<(usize, usize, String, bool)> = vec![(start, 0, String::new(), true)];
    let mut first = Some(placement);
    while let Some((i, depth, rails, last)) = stack.pop() {
        if visited[i] {
            continue;
        }
        visited[i] = true;
        let kids: Vec<usize> = children[i]
            .iter()
            .copied()
            .filter(|&c| !visited[c])
            .collect();
        let (branch, mut own_rails) = if depth == 0 {
            (String::new(), String::new())
        } else if last {
            (format!("{rails}└─ "), format!("{rails}   "))
        } else {
            (format!("{rails}├─ "), format!("{rails}│  "))
        };
        if depth > MAX_DRAWN_DEPTH {
            // Past this depth the rails stop growing (pathological chains would otherwise
            // cost O(depth²) memory); the depth itself is still exact.
            own_rails = rails;
        }
        let has_children = !kids.is_empty();
        let detail_prefix = if has_children {
            format!("{own_rails}│  ")
        } else {
            format!("{own_rails}   ")
        };
        rows.push(TreeRow {
            index: i,
            depth,
            branch,
            detail_prefix,
            has_children,
            placement: first.take().unwrap_or(Placement::Child),
        });
        for (n, &kid) in kids.iter().enumerate().rev() {
            stack.push((kid, depth + 1, own_rails.clone(), n + 1 == kids.len()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct S(&'static str, Option<&'static str>, i64);
    impl TreeSpan for S {
        fn span_id(&self) -> &str {
            self.0
        }
        fn parent_span_id(&self) -> Option<&str> {
            self.1
        }
        fn start_unix_nanos(&self) -> i64 {
            self.2
        }
    }

    /// Renders rows as `branch + id` lines, the way the viewer prints them.
    fn draw(spans: &[S]) -> String {
        build_tree(spans)
            .iter()
            .map(|r| format!("{}{}\n", r.branch, spans[r.index].0))
            .collect()
    }

    #[test]
    fn nests_and_orders_children_by_start_not_by_input_order() {
        let spans = [
            S("tool2", Some("agent"), 30),
            S("llm1", Some("agent"), 10),
            S("agent", None, 0),
            S("sub", Some("llm1"), 12),
            S("tool1", Some("agent"), 20),
            S("deep", Some("sub"), 13),
        ];
        assert_eq!(
            draw(&spans),
            "agent\n\
             ├─ llm1\n\
             │  └─ sub\n\
             │     └─ deep\n\
             ├─ tool1\n\
             └─ tool2\n"
        );
        let rows = build_tree(&spans);
        assert_eq!(rows[0].detail_prefix, "│  ");
        assert_eq!(rows[1].detail_prefix, "│  │  ");
        assert_eq!(rows[2].detail_prefix, "│     │  ");
        assert_eq!(rows[3].detail_prefix, "│           ");
        assert_eq!(rows[5].detail_prefix, "      ");
        assert_eq!(rows[3].depth, 3);
        assert!(rows.iter().skip(1).all(|r| r.placement == Placement::Child));
    }

    #[test]
    fn equal_starts_keep_input_order() {
        let spans = [
            S("root", None, 0),
            S("b", Some("root"), 5),
            S("a", Some("root"), 5),
        ];
        assert_eq!(draw(&spans), "root\n├─ b\n└─ a\n");
    }

    #[test]
    fn orphans_go_to_the_top_level_marked() {
        let spans = [
            S("root", None, 0),
            S("late", Some("not-flushed-yet"), 50),
            S("kid", Some("late"), 60),
            S("early", Some("gone"), -5),
        ];
        assert_eq!(draw(&spans), "early\nroot\nlate\n└─ kid\n");
        let rows = build_tree(&spans);
        assert_eq!(
            rows[0].placement,
            Placement::Orphan {
                missing_parent: "gone".into()
            }
        );
        assert_eq!(rows[1].placement, Placement::Root);
        assert_eq!(
            rows[2].placement,
            Placement::Orphan {
                missing_parent: "not-flushed-yet".into()
            }
        );
        assert_eq!(rows[3].placement, Placement::Child);
    }

    #[test]
    fn zero_or_empty_parent_means_root() {
        let spans = [S("a", Some(""), 0), S("b", Some("0000000000000000"), 1)];
        let rows = build_tree(&spans);
        assert!(rows.iter().all(|r| r.placement == Placement::Root));
    }

    #[test]
    fn bad_data_never_loses_or_repeats_a_span() {
        let spans = [
            S("self", Some("self"), 0),
            S("x", Some("y"), 1),
            S("y", Some("x"), 2),
            S("dup", None, 3),
            S("dup", None, 4),
        ];
        let rows = build_tree(&spans);
        let mut seen: Vec<usize> = rows.iter().map(|r| r.index).collect();
        seen.sort();
        assert_eq!(seen, vec![0, 1, 2, 3, 4]);
        assert_eq!(draw(&spans), "self\ndup\ndup\nx\n└─ y\n");
        assert_eq!(rows[3].placement, Placement::Cycle);
    }

    #[test]
    fn a_very_deep_chain_does_not_overflow_the_stack() {
        let ids: Vec<&'static str> = (0..20_000)
            .map(|i| &*Box::leak(format!("s{i}").into_boxed_str()))
            .collect();
        let spans: Vec<S> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| S(id, if i == 0 { None } else { Some(ids[i - 1]) }, i as i64))
            .collect();
        let rows = build_tree(&spans);
        assert_eq!(rows.len(), 20_000);
        assert_eq!(rows[19_999].depth, 19_999);
        assert!(rows[19_999].branch.chars().count() <= 3 * (MAX_DRAWN_DEPTH + 1));
    }
}
