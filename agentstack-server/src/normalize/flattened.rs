//! Messages that producers flatten into one attribute per field (`gen_ai.prompt.0.role`,
//! `llm.input_messages.0.message.content`, …), put back together as one JSON array.
//!
//! Every field is kept: nested paths become nested objects, numeric segments become arrays
//! (`…tool_calls.0.tool_call.function.name`), so moving the attributes into the `input` or
//! `output` column loses nothing. A key that does not fit the shape stays in the attributes.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json};

use super::value::{Attributes, Moved};

/// Reassembles the attributes `{prefix}.{N}.{wrapper}.{field…}` (or `{prefix}.{N}.{field…}`
/// without a wrapper) into a JSON array of one object per N, in ascending N (gaps closed).
/// `None` when no attribute has that shape.
pub(crate) fn messages(
    attributes: &Attributes,
    prefix: &str,
    wrapper: Option<&str>,
) -> Option<Moved> {
    let mut root = Node::Branch(BTreeMap::new());
    let mut keys = Vec::new();
    for (key, value) in attributes {
        let Some(rest) = key.strip_prefix(prefix).and_then(|r| r.strip_prefix('.')) else {
            continue;
        };
        let mut path: Vec<&str> = rest.split('.').collect();
        if path.len() < 2 || path[0].parse::<usize>().is_err() {
            continue;
        }
        if let Some(wrapper) = wrapper {
            if path.len() < 3 || path[1] != wrapper {
                continue;
            }
            path.remove(1);
        }
        if path.iter().any(|segment| segment.is_empty()) {
            continue;
        }
        if root.insert(&path, value.clone()) {
            keys.push(key.clone());
        }
    }
    if keys.is_empty() {
        return None;
    }
    Some(Moved::built(root.into_json().to_string(), keys))
}

/// A tree of path segments while it is being built.
enum Node {
    Leaf(Json),
    Branch(BTreeMap<String, Node>),
}

impl Node {
    /// Puts `value` at `path`; `false` (and nothing changed) when the path collides with what is
    /// there (a field both a value and an object, or given twice).
    fn insert(&mut self, path: &[&str], value: Json) -> bool {
        let Node::Branch(children) = self else {
            return false;
        };
        let (first, rest) = path.split_first().expect("paths are never empty");
        if rest.is_empty() {
            if children.contains_key(*first) {
                return false;
            }
            children.insert((*first).to_string(), Node::Leaf(value));
            return true;
        }
        children
            .entry((*first).to_string())
            .or_insert_with(|| Node::Branch(BTreeMap::new()))
            .insert(rest, value)
    }

    /// A branch whose segments are all numbers becomes an array in numeric order, any other
    /// branch an object.
    fn into_json(self) -> Json {
        match self {
            Node::Leaf(value) => value,
            Node::Branch(children) => {
                if children.keys().all(|k| k.parse::<usize>().is_ok()) {
                    let mut items: Vec<(usize, Node)> = children
                        .into_iter()
                        .map(|(k, node)| (k.parse().unwrap_or(usize::MAX), node))
                        .collect();
                    items.sort_by_key(|(index, _)| *index);
                    Json::Array(
                        items
                            .into_iter()
                            .map(|(_, node)| node.into_json())
                            .collect(),
                    )
                } else {
                    Json::Object(
                        children
                            .into_iter()
                            .map(|(k, node)| (k, node.into_json()))
                            .collect::<Map<String, Json>>(),
                    )
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn attributes(value: Json) -> Attributes {
        crate::normalize::value::from_json(value)
    }

    #[test]
    fn wrapped_messages_become_an_array_in_numeric_order() {
        let attrs = attributes(json!({
            "llm.input_messages.10.message.role": "user",
            "llm.input_messages.10.message.content": "tenth",
            "llm.input_messages.2.message.role": "system",
            "llm.input_messages.2.message.content": "be brief",
            "llm.input_messages.2.message.tool_calls.0.tool_call.function.name": "search",
            "llm.input_messages.2.message.tool_calls.1.tool_call.function.name": "fetch",
            "llm.input_messages.3.other": "not a message",
            "llm.input_messages_extra": "not this prefix",
        }));
        let moved = messages(&attrs, "llm.input_messages", Some("message")).unwrap();
        let array: Json = serde_json::from_str(moved.text(&attrs)).unwrap();
        assert_eq!(
            array,
            json!([
                {"role": "system", "content": "be brief", "tool_calls": [
                    {"tool_call": {"function": {"name": "search"}}},
                    {"tool_call": {"function": {"name": "fetch"}}},
                ]},
                {"role": "user", "content": "tenth"},
            ])
        );
        assert_eq!(moved.keys.len(), 6);
        assert!(
            !moved
                .keys
                .iter()
                .any(|k| k.contains("other") || k.contains("extra"))
        );
    }

    #[test]
    fn unwrapped_messages_and_collisions() {
        let attrs = attributes(json!({
            "gen_ai.prompt.0.role": "user",
            "gen_ai.prompt.0.content": "hi",
            "gen_ai.prompt.0.content.extra": "collides with content",
        }));
        let moved = messages(&attrs, "gen_ai.prompt", None).unwrap();
        assert_eq!(
            serde_json::from_str::<Json>(moved.text(&attrs)).unwrap(),
            json!([{"role": "user", "content": "hi"}])
        );
        // The colliding key is not consumed: it stays in the attributes.
        let mut consumed = moved.keys.clone();
        consumed.sort_unstable();
        assert_eq!(
            consumed,
            ["gen_ai.prompt.0.content", "gen_ai.prompt.0.role"]
        );
        assert!(messages(&attrs, "gen_ai.completion", None).is_none());
    }
}
