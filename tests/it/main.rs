//! Integration tests: the real binary on real files, one module per stage.
//! One test binary, so DataFusion is linked once.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, clippy::string_slice)]

mod cli;
#[cfg(feature = "cluster")]
mod cluster;
mod common;
mod faults;
mod field;
mod hostile;
mod prevention;
mod ingest;
mod publish;
mod rules;
mod sample;
mod snapshots;
mod store;
mod supervision;
