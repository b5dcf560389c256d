//! fundwatch: reconciles welfare payouts against rosters and registries and
//! publishes flagged cases for supervision teams.
//!
//! The data flows ingest → lake → rules → cases → publish; each stage is a
//! module of its own. `commands` holds one entry point per subcommand, which
//! the binary (`main.rs`) only parses arguments for and dispatches to.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod cases;
#[cfg(feature = "cluster")]
pub mod cluster;
pub mod commands;
pub mod demo;
pub mod engine;
pub mod error;
pub mod failpoint;
pub mod idcard;
pub mod ingest;
pub mod lake;
pub mod lock;
pub mod params;
pub mod pipeline;
pub mod progress;
pub mod publish;
pub mod rules;
pub mod sql;
pub mod stage;
pub mod store;
pub mod tables;

pub use error::Error;
