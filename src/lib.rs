//! zoryn: a build farm for ALT Linux package maintainers.
//!
//! The crate is laid out the way a build flows (see README "Architecture"):
//! `config` + `cli` flags → `farm::selection` → `run::executor` (using
//! `source`, `hasher`, `transport`) → `run::events` → `report`; `batch`
//! plans and drives many packages through the same executor. Imports run
//! one way only, from the ground up: config, farm, hasher, transport,
//! source, run, report, batch, up, cli (`tests/architecture.rs` checks it).
//! `up` is `zoryn up`'s update pipeline; its build stage is one `zoryn build`.

pub mod batch;
pub mod cli;
pub mod config;
pub mod farm;
#[doc(hidden)]
pub mod fuzzing;
pub mod hasher;
pub mod report;
pub mod run;
pub mod source;
pub mod transport;
pub mod up;
