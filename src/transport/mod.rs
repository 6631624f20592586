//! Moving commands and data: the one command runner (local processes) and,
//! later, ssh with a ControlMaster per host and rsync.

pub mod cancel;
pub mod rsync;
pub mod runner;
pub mod site;
pub mod ssh;
pub mod stream;
