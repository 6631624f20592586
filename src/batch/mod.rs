//! Batches: many packages across the farm in dependency order (SPEC 7).
//!
//! The pure planning modules ([`file`], [`graph`] over the capabilities of
//! [`crate::source::deps`], [`schedule`], [`synthetic`]) know nothing about
//! processes; the batch [`runner`] drives builds through the same executor
//! pieces as `zoryn build` and keeps the [`journal`]; [`session`] is the
//! orchestration under `zoryn task batch` (which packages, the plan, the
//! lock, a fresh or continued run, the report files). Its report is drawn by
//! [`crate::report::batch`]; this module never prints.

pub mod file;
pub mod graph;
pub mod history;
pub mod journal;
pub mod runner;
pub mod schedule;
pub mod session;
pub mod sources;
pub mod synthetic;
