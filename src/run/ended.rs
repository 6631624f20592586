//! How a build job ends, before timing is added: its outcome, message,
//! hint, packages and log. Local and remote builds, busy waits and
//! post-build checks all end a job with one of these.

use std::path::{Path, PathBuf};

use super::events::{info, BuilderResult, Outcome};
use crate::farm::Builder;

/// Lines of the log shown when a build fails.
pub const TAIL_LINES: usize = 15;

/// How a job ended, before timing is added.
pub struct Ended {
    pub outcome: Outcome,
    pub message: Option<String>,
    pub hint: Option<String>,
    pub packages: Vec<PathBuf>,
    pub log: Option<PathBuf>,
    pub log_tail: Vec<String>,
    /// Remote result entries that were not downloaded (`NAME: reason`).
    pub rejected: Vec<String>,
    /// Post-build checks that ran (see [`super::checks`]).
    pub checks: Vec<super::events::CheckResult>,
}

impl Ended {
    /// `outcome` with `message`, nothing else yet.
    fn with(outcome: Outcome, message: Option<String>) -> Ended {
        Ended {
            outcome,
            message,
            hint: None,
            packages: vec![],
            log: None,
            log_tail: vec![],
            rejected: vec![],
            checks: vec![],
        }
    }

    pub fn unusable(message: String, hint: String) -> Ended {
        Ended {
            hint: Some(hint),
            ..Ended::with(Outcome::Unusable, Some(message))
        }
    }

    pub fn busy(message: String, hint: String) -> Ended {
        Ended {
            hint: Some(hint),
            ..Ended::with(Outcome::Busy, Some(message))
        }
    }

    pub fn lost(message: String, hint: String) -> Ended {
        Ended {
            hint: Some(hint),
            ..Ended::with(Outcome::Lost, Some(message))
        }
    }

    pub fn skipped(message: String) -> Ended {
        Ended::with(Outcome::Skipped, Some(message))
    }

    pub fn failed(message: String, log: &Path, log_tail: Vec<String>) -> Ended {
        Ended {
            log: Some(log.to_path_buf()),
            log_tail,
            ..Ended::with(Outcome::Failed, Some(message))
        }
    }

    pub fn cancelled(log: Option<&Path>) -> Ended {
        Ended {
            log: log.map(Path::to_path_buf),
            ..Ended::with(
                Outcome::Cancelled,
                Some("interrupted; hsh was stopped".into()),
            )
        }
    }

    pub fn success(packages: Vec<PathBuf>, log: &Path) -> Ended {
        Ended {
            packages,
            log: Some(log.to_path_buf()),
            ..Ended::with(Outcome::Success, None)
        }
    }

    pub fn into_result(self, b: &Builder, elapsed: std::time::Duration) -> BuilderResult {
        BuilderResult {
            builder: info(b),
            outcome: self.outcome,
            elapsed,
            packages: self.packages,
            log: self.log,
            message: self.message,
            hint: self.hint,
            log_tail: self.log_tail,
            rejected: self.rejected,
            checks: self.checks,
        }
    }
}
