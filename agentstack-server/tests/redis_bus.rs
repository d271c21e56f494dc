//! The Redis Streams bus against a real `redis-server` started by each test on a free loopback
//! port: every group gets every batch, an unacknowledged entry is taken over when its consumer
//! dies, a poison entry goes to the dead letters without stopping the entries after it, an
//! entry delivered too often does too, and an unreachable Redis refuses the publish.

mod support;

use std::time::Duration;

use agentstack_exporter_sqlite::SpanRecord;
use agentstack_server::bus::{
    PublishError, Received, RedisBus, RedisBusConfig, SpanBatch, SpanBus, SpanSubscription,
};
use agentstack_server::normalize::NormalizedSpan;
use support::services::Redis;

fn config(redis: &Redis) -> RedisBusConfig {
    RedisBusConfig {
        claim_idle: Duration::from_millis(300),
        block: Duration::from_millis(100),
        ..RedisBusConfig::new(redis.url())
    }
}

fn batch(name: &str) -> SpanBatch {
    SpanBatch {
        spans: vec![NormalizedSpan {
            project: "p".into(),
            record: SpanRecord::new(
                "4bf92f3577b34da6a3ce929d0e0e4736",
                "00f067aa0ba902b7",
                name,
                1,
                2,
            ),
            otel_span_kind: 1,
            links: Vec::new(),
            resource_attributes: "{}".into(),
            scope_name: String::new(),
        }],
    }
}

fn name_of(batch: &SpanBatch) -> &str {
    &batch.spans[0].record.name
}

#[tokio::test]
async fn every_group_gets_every_batch_and_an_ack_forgets_it() {
    let redis = Redis::start();
    let bus = RedisBus::connect(config(&redis), &["writer", "security"])
        .await
        .unwrap();
    bus.publish(batch("one")).await.unwrap();
    bus.publish(batch("two")).await.unwrap();
    for group in ["writer", "security"] {
        let mut consumer = bus.subscribe(group).unwrap();
        let first = consumer.next().await.unwrap();
        assert_eq!(name_of(&first), "one");
        assert_eq!(
            first.spans[0],
            batch("one").spans[0],
            "a MessagePack round trip"
        );
        let second = consumer.next().await.unwrap();
        assert_eq!(name_of(&second), "two");
        consumer.ack().await;
    }
    // Acknowledged: a new consumer of the group finds nothing pending, and ends on close.
    bus.close();
    let mut later = bus.subscribe("writer").unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(later.next().await.is_none());
    assert!(matches!(
        bus.publish(batch("late")).await,
        Err(PublishError::Closed)
    ));
}

#[tokio::test]
async fn a_taken_receipt_acknowledges_its_entries_and_no_others() {
    let redis = Redis::start();
    let bus = RedisBus::connect(config(&redis), &["writer"])
        .await
        .unwrap();
    for name in ["one", "two", "three"] {
        bus.publish(batch(name)).await.unwrap();
    }
    {
        let mut consumer = bus.subscribe_as("writer", "dying");
        assert_eq!(name_of(&consumer.next().await.unwrap()), "one");
        let first = consumer.take_received();
        assert_eq!(name_of(&consumer.next().await.unwrap()), "two");
        let second = consumer.take_received();
        assert_eq!(name_of(&consumer.next().await.unwrap()), "three");
        // "two" is stored before "one" (two writes at once): acknowledged by its own id.
        second.ack().await;
        // A later ack() covers what was not taken ("three"), not "one".
        consumer.ack().await;
        drop(first);
        // Dropped with "one" unacknowledged: the process died before that write was durable.
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    let mut heir = bus.subscribe_as("writer", "heir");
    let taken = tokio::time::timeout(Duration::from_secs(10), heir.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(name_of(&taken), "one", "only the unacknowledged entry");
    heir.ack().await;
    bus.close();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let mut last = bus.subscribe_as("writer", "last");
    assert!(last.next().await.is_none(), "nothing else was pending");
}

#[tokio::test]
async fn a_dead_consumers_entries_are_taken_over() {
    let redis = Redis::start();
    let bus = RedisBus::connect(config(&redis), &["writer"])
        .await
        .unwrap();
    bus.publish(batch("kept")).await.unwrap();
    {
        let mut dying = bus.subscribe_as("writer", "dying");
        assert_eq!(name_of(&dying.next().await.unwrap()), "kept");
        // Dropped without an ack: the process died before the write was durable.
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    let mut heir = bus.subscribe_as("writer", "heir");
    let taken = tokio::time::timeout(Duration::from_secs(10), heir.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(name_of(&taken), "kept");
    heir.ack().await;
}

#[tokio::test]
async fn a_poison_entry_goes_to_the_dead_letters_and_the_rest_flows() {
    let redis = Redis::start();
    let bus = RedisBus::connect(config(&redis), &["writer"])
        .await
        .unwrap();
    bus.publish(batch("before")).await.unwrap();
    let client = redis::Client::open(redis.url().as_str()).unwrap();
    let mut raw = client.get_multiplexed_async_connection().await.unwrap();
    let poison: String = redis::cmd("XADD")
        .arg("spans.ingest")
        .arg("*")
        .arg("batch")
        .arg(b"\xc1 not msgpack".as_slice())
        .query_async(&mut raw)
        .await
        .unwrap();
    bus.publish(batch("after")).await.unwrap();

    let mut consumer = bus.subscribe("writer").unwrap();
    assert_eq!(name_of(&consumer.next().await.unwrap()), "before");
    assert_eq!(name_of(&consumer.next().await.unwrap()), "after");
    consumer.ack().await;
    let letters = bus.dead_letters().await.unwrap();
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0].2, poison);
    assert!(letters[0].1.contains("MessagePack"), "{letters:?}");
}

#[tokio::test]
async fn an_entry_delivered_too_often_goes_to_the_dead_letters() {
    let redis = Redis::start();
    let bus = RedisBus::connect(
        RedisBusConfig {
            max_deliveries: 2,
            ..config(&redis)
        },
        &["writer"],
    )
    .await
    .unwrap();
    bus.publish(batch("crashes its consumers")).await.unwrap();
    for consumer in ["first", "second"] {
        let mut crashing = bus.subscribe_as("writer", consumer);
        let got = tokio::time::timeout(Duration::from_secs(10), crashing.next()).await;
        assert!(got.unwrap().is_some(), "{consumer} got the entry");
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    // The third delivery is one too many: it goes to the dead letters instead.
    let mut third = bus.subscribe_as("writer", "third");
    bus.close();
    assert!(
        tokio::time::timeout(Duration::from_secs(10), third.next())
            .await
            .unwrap()
            .is_none()
    );
    let letters = bus.dead_letters().await.unwrap();
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert!(letters[0].1.contains("delivered 3 times"), "{letters:?}");
}

#[tokio::test]
async fn an_unreachable_redis_refuses_the_publish() {
    let mut redis = Redis::start();
    let bus = RedisBus::connect(config(&redis), &["writer"])
        .await
        .unwrap();
    redis.kill();
    let refused = tokio::time::timeout(Duration::from_secs(30), bus.publish(batch("lost?")))
        .await
        .expect("the publish gives up instead of hanging");
    assert!(
        matches!(refused, Err(PublishError::Unavailable(_))),
        "{refused:?}"
    );

    let error = RedisBus::connect(config(&redis), &["writer"])
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("is redis-server running"),
        "{error}"
    );
}
