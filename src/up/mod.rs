//! `zoryn up`: update the package in a gear repository to a new upstream
//! version, as a resumable pipeline of named stages (SPEC 5.4).
//!
//! Owns: upstream version detection (tags, watch files), the merge/import of
//! the new upstream, `.gear/up.d` hooks, the spec edit, the gear-commit style
//! commit, and the journal that makes the pipeline resumable. The build stage
//! is not here: `cli/up.rs` hands it to `zoryn build` unchanged.
//!
//! Must not: print (the CLI renders), push, tag for release or submit
//! anything, or touch the build orchestration (`run/`).

pub mod changelog;
pub mod detect;
pub mod git;
pub mod hooks;
pub mod import;
pub mod journal;
pub mod merge;
pub mod pipeline;
pub mod spec_edit;
pub mod version;

/// Why a stage could not go on: what failed, and what the user can do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpError {
    pub message: String,
    pub hint: Option<String>,
    pub kind: UpErrorKind,
}

/// How an [`UpError`] ends the process (SPEC 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpErrorKind {
    /// Bad input, a bad repository state or a bad option: exit 2.
    Usage,
    /// The pipeline stopped and needs the user (conflict, failing hook):
    /// exit 1, resumable with `--continue`.
    Stopped,
    /// A tool or the network failed: exit 3.
    Infra,
    /// Interrupted: exit 130.
    Interrupted,
}

impl UpError {
    pub fn usage(message: impl Into<String>, hint: impl Into<String>) -> UpError {
        UpError::new(UpErrorKind::Usage, message, hint)
    }

    pub fn stopped(message: impl Into<String>, hint: impl Into<String>) -> UpError {
        UpError::new(UpErrorKind::Stopped, message, hint)
    }

    pub fn infra(message: impl Into<String>, hint: impl Into<String>) -> UpError {
        UpError::new(UpErrorKind::Infra, message, hint)
    }

    pub fn new(kind: UpErrorKind, message: impl Into<String>, hint: impl Into<String>) -> UpError {
        let hint = hint.into();
        UpError {
            message: message.into(),
            hint: (!hint.is_empty()).then_some(hint),
            kind,
        }
    }
}

impl std::fmt::Display for UpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}
