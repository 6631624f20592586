//! The executor: turns (tarball × selected builders) into builds and emits
//! [`events::Event`]s. It never prints; reporters consume the events.
//!
//! [`session`] is one build run of a package, the orchestration under
//! `zoryn build` (prepare: builders, repository, parallel or not, hasher
//! there; run: pre-flight beside gear, the builds, the results in order);
//! [`executor`] decides when each builder runs; [`local`] and [`remote`] how
//! (with [`busy`] waits and post-build [`checks`]; a remote plan is made of
//! a [`plan_input`]); [`context`] is what a run's builds share (the
//! [`context::BuildOptions`] of `build` and a batch alike), [`emitter`]
//! their way out, [`ended`] how a job ends, [`exit_code`] the process exit
//! they add up to, [`chain`] a batch's repo of built packages.

// `job::Ended` (a build's final report) travels in `Err` to end a job early;
// it is built once per build, so its size does not matter.
#![allow(clippy::result_large_err)]

pub mod busy;
pub mod chain;
pub mod checks;
pub mod context;
pub mod duration;
pub mod emitter;
pub mod ended;
pub mod events;
pub mod executor;
pub mod exit_code;
pub mod job;
pub mod local;
pub mod plan_input;
pub mod remote;
pub mod session;
