//! How the workers retry a failing store write: on the in-process bus a few times, then they
//! give up (it cannot keep a batch); on a durable bus until the write passes, without
//! acknowledging meanwhile, so the backlog waits in the stream — unless the process stops,
//! which leaves the batches pending for the next worker. A permanent failure (a malformed
//! span) is never retried.

use std::future::Future;
use std::time::Duration;

use crate::alerts::RaiseError;
use crate::bus::SpanSubscription;
use crate::store::StoreFailure;

/// A failure [`retry`] can judge: whether trying again could help.
pub trait Retryable: std::fmt::Display {
    /// True when the same call will fail the same way (trying again cannot help).
    fn is_permanent(&self) -> bool;
}

impl Retryable for StoreFailure {
    fn is_permanent(&self) -> bool {
        self.is_malformed_span()
    }
}

impl Retryable for RaiseError {
    fn is_permanent(&self) -> bool {
        false
    }
}

/// Tries on a bus that forgets, before giving up (100 ms, 200 ms, … between tries).
const ATTEMPTS: u32 = 6;
/// The longest wait between two tries.
const MAX_DELAY: Duration = Duration::from_secs(5);

/// How a retried write ended.
#[derive(Debug)]
pub enum Retried<T, E = StoreFailure> {
    /// It passed.
    Done(T),
    /// The store refused a span as malformed: trying again cannot help.
    Malformed(E),
    /// It failed every try on a bus that forgets: the caller counts it as failed.
    GaveUp,
    /// The process is stopping while the store still fails (durable bus): do not acknowledge.
    Abandoned,
}

/// Runs `call` until it passes, as the module says; `worker` names the messages.
pub async fn retry<T, E, F, Fut>(
    subscription: &mut impl SpanSubscription,
    worker: &str,
    mut call: F,
) -> Retried<T, E>
where
    E: Retryable,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let durable = subscription.is_durable();
    let mut delay = Duration::from_millis(100);
    let mut attempt = 0;
    loop {
        attempt += 1;
        match call().await {
            Ok(done) => return Retried::Done(done),
            Err(error) if error.is_permanent() => return Retried::Malformed(error),
            Err(_) if durable && subscription.is_closed() => return Retried::Abandoned,
            Err(error) if durable => tracing::warn!(
                worker,
                %error,
                attempt,
                retry_in_ms = delay.as_millis() as u64,
                "the store refused a batch; the spans wait in the bus"
            ),
            Err(error) if attempt < ATTEMPTS => tracing::warn!(
                worker,
                %error,
                attempt,
                attempts = ATTEMPTS,
                retry_in_ms = delay.as_millis() as u64,
                "the store refused a batch; retrying"
            ),
            Err(error) => {
                tracing::error!(worker, %error, attempts = ATTEMPTS, "giving up on this batch");
                return Retried::GaveUp;
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(MAX_DELAY);
    }
}
