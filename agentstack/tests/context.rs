//! Context: the parent survives `.await`, crosses `tokio::spawn` and `std::thread::spawn` with
//! the helpers, and `tracing` spans join the same trees in both directions.

mod support;

use std::time::Duration;

use agentstack::{InCurrentTrace, observe};
use support::{Collector, ReceivedSpan, sdk_for};
use tracing_subscriber::layer::SubscriberExt;

#[observe(kind = tool)]
async fn fetch(url: String) -> usize {
    tokio::time::sleep(Duration::from_millis(5)).await;
    tokio::task::yield_now().await;
    url.len()
}

#[observe(kind = llm)]
async fn think(round: u32) -> u32 {
    tokio::task::yield_now().await;
    round * 2
}

#[observe(kind = agent)]
async fn async_agent(rounds: u32) -> u32 {
    let mut total = 0;
    for round in 0..rounds {
        total += fetch(format!("https://example.com/{round}")).await as u32;
        total += think(round).await;
    }
    // A spawned task keeps the agent as parent through the helper.
    let spawned = tokio::spawn(fetch("spawned".into()).in_current_trace())
        .await
        .unwrap();
    total + spawned as u32
}

fn children_of<'a>(spans: &'a [ReceivedSpan], parent: &ReceivedSpan) -> Vec<&'a ReceivedSpan> {
    spans
        .iter()
        .filter(|s| s.parent_span_id == parent.span_id)
        .collect()
}

fn check_async_agent_tree(collector: &Collector) {
    let spans = collector.wait_for_spans(6, Duration::from_secs(10));
    assert_eq!(spans.len(), 6, "{spans:#?}");
    support::assert_well_formed(&spans);
    let agent = collector.span_named("async_agent");
    assert!(agent.is_root());
    let children = children_of(&spans, &agent);
    assert_eq!(
        children.len(),
        5,
        "2×fetch, 2×think and the spawned fetch are children of the agent"
    );
    assert!(children.iter().all(|c| c.trace_id == agent.trace_id));
    assert_eq!(children.iter().filter(|c| c.name == "fetch").count(), 3);
}

#[test]
fn parent_survives_await_on_a_multi_thread_runtime() {
    let collector = Collector::start();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    {
        let _guard = sdk_for(&collector).init().unwrap();
        let total = runtime.block_on(async_agent(2));
        assert_eq!(total, 2 * 21 + 2 + 7);
    }
    check_async_agent_tree(&collector);
}

#[test]
fn parent_survives_await_on_a_current_thread_runtime_with_init_inside_it() {
    let collector = Collector::start();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        // init and the guard's shutdown both happen inside the runtime: nothing blocks it.
        let _guard = sdk_for(&collector).init().unwrap();
        async_agent(2).await;
    });
    check_async_agent_tree(&collector);
}

#[test]
fn concurrent_async_agents_do_not_mix_their_trees() {
    let collector = Collector::start();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    {
        let _guard = sdk_for(&collector).init().unwrap();
        runtime.block_on(async {
            let agents: Vec<_> = (0..20).map(|_| tokio::spawn(async_agent(3))).collect();
            for agent in agents {
                agent.await.unwrap();
            }
        });
    }
    let spans = collector.wait_for_spans(20 * 8, Duration::from_secs(20));
    assert_eq!(spans.len(), 20 * 8);
    support::assert_well_formed(&spans);
    let roots: Vec<_> = spans.iter().filter(|s| s.is_root()).collect();
    assert_eq!(roots.len(), 20);
    for root in roots {
        assert_eq!(root.name, "async_agent");
        let in_trace = spans.iter().filter(|s| s.trace_id == root.trace_id).count();
        assert_eq!(in_trace, 8, "each agent's trace has its own 7 children");
        assert_eq!(children_of(&spans, root).len(), 7);
    }
}

#[observe(kind = tool)]
fn sync_tool(n: u32) -> u32 {
    n + 1
}

#[observe(kind = agent)]
fn threaded_agent() -> u32 {
    let handles: Vec<_> = (0..3)
        .map(|i| agentstack::spawn_thread(move || sync_tool(i)))
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).sum()
}

#[test]
fn spawn_thread_carries_the_parent_into_the_new_thread() {
    let collector = Collector::start();
    {
        let _guard = sdk_for(&collector).init().unwrap();
        assert_eq!(threaded_agent(), 6);
        // Without the helper a new thread starts a new trace.
        std::thread::scope(|scope| {
            scope.spawn(|| sync_tool(100));
        });
    }
    let spans = collector.wait_for_spans(5, Duration::from_secs(10));
    assert_eq!(spans.len(), 5);
    let agent = collector.span_named("threaded_agent");
    assert_eq!(children_of(&spans, &agent).len(), 3);
    assert_eq!(spans.iter().filter(|s| s.is_root()).count(), 2);
}

#[tracing::instrument]
fn tracing_step(depth: u32) -> u32 {
    if depth == 0 {
        sync_tool(0)
    } else {
        tracing_step(depth - 1)
    }
}

#[observe(kind = agent)]
fn agent_calling_tracing_code() -> u32 {
    tracing_step(1)
}

#[test]
fn tracing_spans_join_observe_trees_in_both_directions() {
    let collector = Collector::start();
    {
        let _guard = sdk_for(&collector).init().unwrap();
        let subscriber = tracing_subscriber::registry().with(agentstack::tracing_layer());
        tracing::subscriber::with_default(subscriber, || {
            agent_calling_tracing_code();
        });
    }
    // agent (observe) → tracing_step(1) → tracing_step(0) → sync_tool (observe)
    let spans = collector.wait_for_spans(4, Duration::from_secs(10));
    assert_eq!(spans.len(), 4, "{spans:#?}");
    support::assert_well_formed(&spans);
    let agent = collector.span_named("agent_calling_tracing_code");
    let outer = spans
        .iter()
        .find(|s| s.name == "tracing_step" && s.parent_span_id == agent.span_id)
        .expect("tracing span under observe");
    let inner = spans
        .iter()
        .find(|s| s.name == "tracing_step" && s.parent_span_id == outer.span_id)
        .expect("nested tracing span");
    let tool = collector.span_named("sync_tool");
    assert_eq!(
        tool.parent_span_id, inner.span_id,
        "observe span under a tracing span"
    );
    assert!(spans.iter().all(|s| s.trace_id == agent.trace_id));
}

#[tracing::instrument]
async fn tracing_async_step() -> usize {
    fetch("from tracing".into()).await
}

#[observe(kind = agent)]
async fn async_agent_with_tracing() -> usize {
    tracing_async_step().await
}

#[test]
fn tracing_and_observe_nest_across_await() {
    let collector = Collector::start();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    {
        let _guard = sdk_for(&collector).init().unwrap();
        let subscriber = tracing_subscriber::registry().with(agentstack::tracing_layer());
        let _default = tracing::subscriber::set_default(subscriber);
        runtime.block_on(async_agent_with_tracing());
    }
    let spans = collector.wait_for_spans(3, Duration::from_secs(10));
    assert_eq!(spans.len(), 3, "{spans:#?}");
    let agent = collector.span_named("async_agent_with_tracing");
    let step = collector.span_named("tracing_async_step");
    let fetch = collector.span_named("fetch");
    assert_eq!(step.parent_span_id, agent.span_id);
    assert_eq!(fetch.parent_span_id, step.span_id);
}

#[cfg(feature = "tokio")]
#[test]
fn agentstack_spawn_carries_the_parent_into_a_tokio_task() {
    #[observe(kind = agent)]
    async fn spawning_agent() -> usize {
        agentstack::spawn(fetch("via agentstack::spawn".into()))
            .await
            .unwrap()
    }

    let collector = Collector::start();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    {
        let _guard = sdk_for(&collector).init().unwrap();
        runtime.block_on(spawning_agent());
    }
    let spans = collector.wait_for_spans(2, Duration::from_secs(10));
    assert_eq!(spans.len(), 2);
    let agent = collector.span_named("spawning_agent");
    assert_eq!(collector.span_named("fetch").parent_span_id, agent.span_id);
}
