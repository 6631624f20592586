//! Batches: many packages across the farm in dependency order (SPEC 7).
//!
//! `deps` (capabilities, requirements, rpm version order) and the pure
//! planning modules know nothing about processes; the batch runner drives
//! builds through the same executor pieces as `zoryn build`.

pub mod deps;
