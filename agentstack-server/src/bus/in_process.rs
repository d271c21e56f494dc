//! [`InProcessBus`]: the embedded bus of `agentstack serve`, one bounded tokio channel per
//! consumer group. A full channel refuses the batch at once (the collector answers 503), so
//! memory stays bounded and the sender keeps the spans until it can deliver them.

use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::mpsc;

use super::{PublishError, SpanBatch, SpanBus, SpanSubscription, SubscribeError};

/// The sending end of one group's queue.
type GroupSender = mpsc::Sender<Arc<SpanBatch>>;
/// The receiving end of one group's queue.
type GroupReceiver = mpsc::Receiver<Arc<SpanBatch>>;

/// The in-process bus. The consumer groups are fixed when it is made, so a batch published
/// before a worker subscribes waits for it instead of being lost.
#[derive(Debug)]
pub struct InProcessBus {
    capacity: usize,
    /// Each group's sender; `None` once closed.
    senders: Mutex<Option<Vec<(String, GroupSender)>>>,
    /// Each group's receiver until its consumer takes it.
    receivers: Mutex<Vec<(String, Option<GroupReceiver>)>>,
}

impl InProcessBus {
    /// A bus with the consumer `groups`, each holding at most `capacity` batches (at least 1).
    pub fn new(capacity: usize, groups: &[&str]) -> InProcessBus {
        let capacity = capacity.max(1);
        let mut senders = Vec::with_capacity(groups.len());
        let mut receivers = Vec::with_capacity(groups.len());
        for group in groups {
            let (sender, receiver) = mpsc::channel(capacity);
            senders.push((group.to_string(), sender));
            receivers.push((group.to_string(), Some(receiver)));
        }
        InProcessBus {
            capacity,
            senders: Mutex::new(Some(senders)),
            receivers: Mutex::new(receivers),
        }
    }

    /// How many batches each group's queue holds at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

impl SpanBus for InProcessBus {
    type Subscription = InProcessSubscription;

    async fn publish(&self, batch: SpanBatch) -> Result<(), PublishError> {
        let senders = self.senders.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(senders) = senders.as_ref() else {
            return Err(PublishError::Closed);
        };
        // All or nothing: reserve a slot in every group's queue before sending to any.
        let mut permits = Vec::with_capacity(senders.len());
        for (group, sender) in senders {
            match sender.try_reserve() {
                Ok(permit) => permits.push(permit),
                Err(mpsc::error::TrySendError::Full(())) => {
                    return Err(PublishError::Full {
                        group: group.clone(),
                        capacity: self.capacity,
                    });
                }
                Err(mpsc::error::TrySendError::Closed(())) => return Err(PublishError::Closed),
            }
        }
        let batch = Arc::new(batch);
        for permit in permits {
            permit.send(Arc::clone(&batch));
        }
        Ok(())
    }

    fn full(&self) -> Option<PublishError> {
        let senders = self.senders.lock().unwrap_or_else(PoisonError::into_inner);
        let (group, _) = senders
            .as_ref()?
            .iter()
            .find(|(_, sender)| sender.capacity() == 0)?;
        Some(PublishError::Full {
            group: group.clone(),
            capacity: self.capacity,
        })
    }

    fn subscribe(&self, group: &str) -> Result<InProcessSubscription, SubscribeError> {
        let mut receivers = self
            .receivers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let known = receivers
            .iter()
            .map(|(name, _)| name.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let Some((_, slot)) = receivers.iter_mut().find(|(name, _)| name == group) else {
            return Err(SubscribeError::UnknownGroup {
                group: group.to_string(),
                known,
            });
        };
        let receiver = slot.take().ok_or_else(|| SubscribeError::Taken {
            group: group.to_string(),
        })?;
        Ok(InProcessSubscription { receiver })
    }

    fn close(&self) {
        // Dropping the senders ends each channel after the batches already in it.
        self.senders
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }

    fn describe(&self) -> String {
        "the in-process bus".to_string()
    }
}

/// The consumer end of one group of an [`InProcessBus`].
#[derive(Debug)]
pub struct InProcessSubscription {
    receiver: GroupReceiver,
}

impl SpanSubscription for InProcessSubscription {
    type Received = ();

    fn take_received(&mut self) {}

    async fn next(&mut self) -> Option<Arc<SpanBatch>> {
        self.receiver.recv().await
    }

    fn try_next(&mut self) -> Option<Arc<SpanBatch>> {
        self.receiver.try_recv().ok()
    }

    async fn next_within(&mut self, within: std::time::Duration) -> Option<Arc<SpanBatch>> {
        // Receiving is cancel-safe: a timeout loses nothing.
        tokio::time::timeout(within, self.receiver.recv())
            .await
            .ok()
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_group_gets_every_batch_and_a_full_queue_refuses() {
        let bus = InProcessBus::new(2, &["writer", "cost"]);
        for _ in 0..2 {
            assert_eq!(bus.full(), None);
            bus.publish(SpanBatch::default()).await.unwrap();
        }
        assert!(
            matches!(bus.full(), Some(PublishError::Full { capacity: 2, .. })),
            "{:?}",
            bus.full()
        );
        let full = bus.publish(SpanBatch::default()).await.unwrap_err();
        assert!(
            matches!(full, PublishError::Full { capacity: 2, .. }),
            "{full}"
        );
        let mut writer = bus.subscribe("writer").unwrap();
        let mut cost = bus.subscribe("cost").unwrap();
        assert!(matches!(
            bus.subscribe("writer"),
            Err(SubscribeError::Taken { .. })
        ));
        assert!(matches!(
            bus.subscribe("security"),
            Err(SubscribeError::UnknownGroup { .. })
        ));
        assert!(writer.next().await.is_some());
        // The writer has room again but the cost group has not: still all or nothing.
        assert!(
            matches!(&bus.full(), Some(PublishError::Full { group, .. }) if group == "cost"),
            "{:?}",
            bus.full()
        );
        assert!(bus.publish(SpanBatch::default()).await.is_err());
        assert!(cost.next().await.is_some());
        assert_eq!(bus.full(), None);
        bus.publish(SpanBatch::default()).await.unwrap();
        bus.close();
        assert_eq!(
            bus.publish(SpanBatch::default()).await,
            Err(PublishError::Closed)
        );
        // What was published before the close still arrives, then the end.
        assert!(writer.next().await.is_some());
        assert!(writer.next().await.is_some());
        assert!(writer.next().await.is_none());
        assert!(cost.next().await.is_some());
        assert!(cost.next().await.is_some());
        assert!(cost.next().await.is_none());
    }
}
