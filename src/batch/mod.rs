//! Batches: many packages across the farm in dependency order (SPEC 7).
//!
//! `deps` (capabilities, requirements, rpm version order) and the pure
//! planning modules know nothing about processes; the batch runner drives
//! builds through the same executor pieces as `zoryn build`.

pub mod file;
pub mod graph;
pub mod history;
pub mod html;
pub mod journal;
pub mod report;
pub mod runner;
pub mod schedule;
pub mod sources;
pub mod synthetic;
