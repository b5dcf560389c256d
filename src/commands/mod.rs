//! One file per subcommand. Each takes parsed arguments, calls the stages of
//! `fundwatch_core` and returns a report the binary prints (as text, or as
//! JSON with `--json`).

pub mod cases;
pub mod check;
#[cfg(feature = "cluster")]
pub mod cluster;
pub mod demo;
pub mod explain;
pub mod ingest;
pub mod rules;
pub mod run;
pub mod screen;
pub mod sql;
