//! The package source: the gear repository, its spec, and the tarball.
//!
//! [`repo`] finds the git root and checks it is a gear repository; [`gear`]
//! makes the uncompressed source tarball once per run (reused through
//! [`cache`] when unchanged), with gear's `specsubst:` values from
//! [`specsubst`]; [`specdeps`] is the one spec reader (build SKIP decisions
//! and batch planning), with ALT's standard macros from [`alt_macros`].

pub mod alt_macros;
pub mod cache;
pub mod deps;
pub mod gear;
pub mod repo;
pub mod specdeps;
pub mod specsubst;

use std::fmt;

/// Problems with the package source, each with a hint.
#[derive(Debug)]
pub struct SourceError {
    pub message: String,
    pub hint: Option<String>,
    /// Exit code class: usage (2) for a wrong directory, infra (3) for a
    /// missing tool.
    pub missing_tool: bool,
}

impl SourceError {
    pub fn new(message: impl Into<String>, hint: impl Into<String>) -> Self {
        SourceError {
            message: message.into(),
            hint: Some(hint.into()),
            missing_tool: false,
        }
    }
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}
