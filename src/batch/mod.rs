//! Batches: many packages across the farm in dependency order (SPEC 7).
//!
//! The pure planning modules ([`file`], [`graph`] over the capabilities of
//! [`crate::source::deps`], [`schedule`], [`synthetic`], the [`lane`]s and
//! their [`plan_view`]) know nothing about processes; the batch [`runner`]
//! drives builds of each [`package`] through the same executor pieces as
//! `zoryn build`, picks [`slots`], counts [`retry`]s and keeps the
//! [`journal`]; [`session`] is the orchestration under `zoryn task batch`
//! (which packages, the plan, the lock, a fresh or continued run, the report
//! files). Its report is drawn by [`crate::report::batch`]; this module
//! never prints.

pub mod file;
pub mod graph;
pub mod history;
pub mod journal;
pub mod lane;
pub mod package;
pub mod plan_view;
pub mod retry;
pub mod runner;
pub mod schedule;
pub mod session;
pub mod slots;
pub mod sources;
pub mod synthetic;
