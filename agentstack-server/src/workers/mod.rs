//! Workers: each consumes the bus as its own consumer group and does one job. Today the
//! [`writer`] (spans → store); security and cost workers join later.

pub mod writer;
