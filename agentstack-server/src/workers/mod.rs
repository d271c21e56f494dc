//! Workers: each consumes the bus as its own consumer group and does one job: the [`writer`]
//! (spans → store) and the [`security`] scanner (spans → alerts).

pub mod security;
pub mod writer;
