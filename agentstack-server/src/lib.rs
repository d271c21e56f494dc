//! The library of the `agentstack` binary. Today the binary is the terminal viewer of the local
//! trace file (`src/main.rs` and `src/viewer/`, compiled into the binary); the server's stages
//! grow here, one module each: first [`normalize`], which turns every OTLP span the collector
//! accepts into the server's one Span model; the collector, bus, workers, stores and API later.

pub mod normalize;
