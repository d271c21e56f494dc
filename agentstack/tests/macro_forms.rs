//! `#[observe]` on every function shape it supports: methods with each receiver, generics,
//! lifetimes, `impl Trait` arguments and returns, where clauses, async methods, `?` and aliases.

mod support;

use std::fmt::{Debug, Display};
use std::time::Duration;

use agentstack::observe;
use serde::Serialize;
use serde_json::json;
use support::{Collector, STATUS_ERROR, sdk_for};

struct Agent {
    name: String,
    calls: u32,
}

impl Agent {
    #[observe(kind = agent)]
    fn by_ref(&self, task: &str) -> String {
        format!("{} does {task}", self.name)
    }

    #[observe]
    fn by_mut(&mut self) -> u32 {
        self.calls += 1;
        self.calls
    }

    #[observe]
    fn by_value(self) -> String {
        self.name
    }

    #[observe(kind = llm)]
    async fn async_method(&self, prompt: &str) -> usize {
        tokio::task::yield_now().await;
        prompt.len() + self.name.len()
    }

    #[observe]
    fn returns_self() -> Self {
        Agent {
            name: "new".into(),
            calls: 0,
        }
    }
}

#[observe]
fn generic<T: Serialize + Clone>(item: T) -> T {
    item.clone()
}

#[observe]
fn generic_debug_only<T>(item: T) -> usize
where
    T: Debug,
{
    format!("{item:?}").len()
}

#[observe]
fn with_lifetimes<'a, 'b: 'a>(first: &'a str, _second: &'b str) -> &'a str {
    first
}

#[observe]
fn elided(text: &str) -> &str {
    text.trim()
}

#[observe]
fn impl_trait_arg(value: impl Display + Serialize) -> String {
    value.to_string()
}

#[observe]
fn impl_trait_return(n: u32) -> impl Iterator<Item = u32> {
    0..n
}

type ToolResult<T> = Result<T, std::io::Error>;

#[observe(kind = tool)]
fn alias_result(fail: bool) -> ToolResult<u8> {
    if fail {
        Err(std::io::Error::other("alias failed"))
    } else {
        Ok(1)
    }
}

#[observe(kind = tool)]
fn question_mark(input: &str) -> Result<u32, Box<dyn std::error::Error + Send + Sync>> {
    let parsed: u32 = input.parse()?;
    Ok(parsed)
}

#[observe]
fn early_return(n: i32) -> i32 {
    if n < 0 {
        return 0;
    }
    n * 2
}

#[observe]
fn mutable_argument(mut count: u32) -> u32 {
    count += 1;
    count
}

#[observe]
fn unit_return(_label: &str) {}

#[test]
fn every_supported_shape_records_a_span_with_the_right_data() {
    let collector = Collector::start();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    {
        let _guard = sdk_for(&collector).init().unwrap();
        let mut agent = Agent {
            name: "ada".into(),
            calls: 0,
        };
        assert_eq!(agent.by_ref("math"), "ada does math");
        assert_eq!(agent.by_mut(), 1);
        assert_eq!(runtime.block_on(agent.async_method("hi")), 5);
        assert_eq!(agent.by_value(), "ada");
        assert_eq!(Agent::returns_self().name, "new");
        assert_eq!(generic(vec![1, 2]), vec![1, 2]);
        assert_eq!(generic_debug_only(Some(3)), 7);
        assert_eq!(with_lifetimes("a", "b"), "a");
        assert_eq!(elided("  padded "), "padded");
        assert_eq!(impl_trait_arg(42), "42");
        assert_eq!(impl_trait_return(3).sum::<u32>(), 3);
        assert!(alias_result(true).is_err());
        assert_eq!(alias_result(false).unwrap(), 1);
        assert!(question_mark("nope").is_err());
        assert_eq!(question_mark("12").unwrap(), 12);
        assert_eq!(early_return(-5), 0);
        assert_eq!(mutable_argument(1), 2);
        unit_return("x");
    }
    let spans = collector.wait_for_spans(18, Duration::from_secs(10));
    assert_eq!(
        spans.len(),
        18,
        "{:?}",
        spans.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    let find = |name: &str| collector.span_named(name);

    assert_eq!(
        find("by_ref").json_attr("agentstack.input"),
        Some(json!({"task": "math"})),
        "self is not captured"
    );
    assert_eq!(
        find("by_mut").json_attr("agentstack.output"),
        Some(json!(1))
    );
    assert_eq!(
        find("async_method").json_attr("agentstack.input"),
        Some(json!({"prompt": "hi"}))
    );
    assert_eq!(
        find("async_method").str_attr("gen_ai.operation.name"),
        Some("chat")
    );
    assert_eq!(
        find("by_value").json_attr("agentstack.output"),
        Some(json!("ada"))
    );
    assert_eq!(
        find("generic").json_attr("agentstack.input"),
        Some(json!({"item": [1, 2]}))
    );
    // With only a Debug bound, a generic argument is captured through Debug.
    assert_eq!(
        find("generic_debug_only").json_attr("agentstack.input"),
        Some(json!({"item": "Some(3)"}))
    );
    assert_eq!(
        find("with_lifetimes").json_attr("agentstack.output"),
        Some(json!("a"))
    );
    assert_eq!(
        find("elided").json_attr("agentstack.output"),
        Some(json!("padded"))
    );
    assert_eq!(
        find("impl_trait_arg").json_attr("agentstack.input"),
        Some(json!({"value": 42}))
    );
    // Inside the function the value has its concrete type (a Range), which is Serialize.
    assert_eq!(
        find("impl_trait_return").json_attr("agentstack.output"),
        Some(json!({"start": 0, "end": 3}))
    );

    let alias: Vec<_> = spans.iter().filter(|s| s.name == "alias_result").collect();
    assert_eq!(
        alias
            .iter()
            .filter(|s| s.status_code == STATUS_ERROR)
            .count(),
        1,
        "an Err through an alias is an error"
    );
    assert!(alias.iter().any(|s| s.status_message == "alias failed"));
    let question: Vec<_> = spans.iter().filter(|s| s.name == "question_mark").collect();
    let failed = question
        .iter()
        .find(|s| s.status_code == STATUS_ERROR)
        .expect("the ? error is recorded");
    assert_eq!(failed.status_message, "invalid digit found in string");
    assert!(
        question
            .iter()
            .any(|s| s.json_attr("agentstack.output") == Some(json!(12)))
    );
    assert_eq!(
        find("early_return").json_attr("agentstack.output"),
        Some(json!(0))
    );
    assert_eq!(
        find("mutable_argument").json_attr("agentstack.input"),
        Some(json!({"count": 1}))
    );
    assert_eq!(find("unit_return").attr("agentstack.output"), None);
}

#[observe(kind = tool)]
async fn slow_tool() -> u32 {
    tokio::time::sleep(Duration::from_secs(30)).await;
    1
}

#[test]
fn a_dropped_future_ends_its_span_as_cancelled() {
    let collector = Collector::start();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    {
        let _guard = sdk_for(&collector).init().unwrap();
        let timed_out = runtime
            .block_on(async { tokio::time::timeout(Duration::from_millis(20), slow_tool()).await });
        assert!(timed_out.is_err());
    }
    let span = &collector.wait_for_spans(1, Duration::from_secs(10))[0];
    assert_eq!(span.name, "slow_tool");
    assert_eq!(span.attr("agentstack.cancelled"), Some(&json!(true)));
}
