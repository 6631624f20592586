//! The executor: turns (tarball × selected builders) into builds and emits
//! [`events::Event`]s. It never prints; reporters consume the events.

pub mod busy;
pub mod cancel;
pub mod events;
pub mod executor;
pub mod job;
pub mod local;
pub mod remote;
