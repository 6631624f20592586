//! Everything about hasher itself: the `hsh` (and `hsh-rebuild`) argv, the
//! build modes (`-r`, `--section`) and `--skip-check`, the workdir and its
//! lock, hasher-priv configuration checks, the result repository, and reading
//! hasher's log into build phases. No process is started here.

pub mod build_mode;
pub mod hsh_options;
pub mod invocation;
pub mod priv_config;
pub mod remote;
pub mod results;
pub mod skip_checks;
pub mod stage;
pub mod workdir;
