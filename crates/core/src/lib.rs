//! fundwatch's pipeline: reconciles welfare payouts against rosters and
//! registries and publishes flagged cases for supervision teams.
//!
//! The data flows ingest → lake → rules → cases → publish; each stage is a
//! module with one entry point (`ingest::run`, `rules::run::run_all`,
//! `cases::life`, `publish::publish`), and `ARCHITECTURE.md` says which
//! module owns what. The `fundwatch` binary (the workspace's root package)
//! parses the command line and calls these.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, clippy::string_slice))]

pub mod cases;
pub mod config;
pub mod engine;
pub mod error;
pub mod failpoint;
#[cfg(test)]
mod fuzz;
pub mod idcard;
pub mod ingest;
pub mod lake;
pub mod lists;
pub mod lock;
pub mod progress;
pub mod publish;
pub mod rules;
pub mod screen;
pub mod sql;
pub mod store;
pub mod tables;
pub mod value;
pub mod workspace;

pub use error::Error;
