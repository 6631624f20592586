//! Moving commands and data: the one command runner (local processes,
//! [`runner`]), ssh with a ControlMaster per host ([`ssh`]), streams and
//! rsync for files ([`stream`], [`rsync`]), where a builder runs ([`site`]),
//! and the cancel token every waiting piece listens to ([`cancel`]).
//! It knows nothing of runs, jobs or reporting.

pub mod cancel;
pub mod rsync;
pub mod runner;
pub mod site;
pub mod ssh;
pub mod stream;
