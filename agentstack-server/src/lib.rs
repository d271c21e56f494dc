//! The library of the `agentstack` binary: the server's stages, one module each, in the order a
//! span meets them — [`collector`] (OTLP/HTTP in), [`normalize`] (every producer into the one
//! Span model), [`bus`] (collector → workers), [`workers`] (the writer into the store), [`api`]
//! (the REST API, reading the store), [`auth`] (API keys, the project of a request),
//! [`pricing`] (each project's prices, for the cost worker and the API) — and [`serve`], which
//! runs them all in one process. The
//! terminal viewer lives in the binary (`src/main.rs`, `src/viewer/`).

pub mod alerts;
pub mod api;
pub mod auth;
pub mod bus;
pub mod clock;
pub mod collector;
pub mod config;
pub mod health;
pub mod live;
pub mod logging;
pub mod metrics;
pub mod normalize;
pub mod pipeline;
pub mod prices_cli;
pub mod pricing;
pub mod roles;
pub mod security_cli;
pub mod serve;
pub mod store;
pub mod workers;
