//! Workers: each consumes the bus as its own consumer group and does one job: the [`writer`]
//! (spans → store), the [`security`] scanner (spans → alerts) and the [`cost`] worker (spans →
//! span costs, cost metrics, budget alerts).

pub mod cost;
mod retry;
pub mod security;
pub mod writer;
