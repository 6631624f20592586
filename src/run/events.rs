//! Typed build events: the only thing the executor tells the outside world.
//!
//! Plain output, `--json` and `--top` are consumers of this one stream. Every event carries the time since the run started.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::farm::Builder;
use crate::hasher::stage::Phase;

/// What a builder is, as reporters show it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct BuilderInfo {
    pub name: String,
    pub host: String,
    pub arch: String,
    pub branch: String,
}

/// How one builder's build ended.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Success,
    /// hsh ran and the build failed.
    Failed,
    /// The spec excludes the builder's arch.
    Skipped,
    /// Interrupted.
    Cancelled,
    /// The builder could not be used (workdir, hasher-priv, missing tool).
    Unusable,
    /// Its workdir was locked and `--fail-if-busy` was given.
    Busy,
    /// The builder's host could not be reached or the connection broke
    /// (a batch retries the job elsewhere; never a build failure).
    Lost,
}

impl Outcome {
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Success => "OK",
            Outcome::Failed => "FAIL",
            Outcome::Skipped => "SKIP",
            Outcome::Cancelled => "CANCELLED",
            Outcome::Unusable => "ERROR",
            Outcome::Busy => "BUSY",
            Outcome::Lost => "LOST",
        }
    }
}

/// A batch job's state as events carry it; `--json` and the plain lines
/// write its kebab-case name (`waiting-for-slot`).
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum JobStatus {
    /// Its dependencies are built; it waits for a builder of its lane.
    Ready,
    /// Every builder of its lane is taken.
    WaitingForSlot,
    Running,
    /// Built (now or, kept, in an earlier run).
    Done,
    Failed,
    /// A dependency failed.
    Blocked,
    /// Its lane's arch is excluded by the spec.
    Skipped,
    /// Its builder was lost or unusable; it goes back to the queue.
    Retry,
    Cancelled,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Ready => "ready",
            JobStatus::WaitingForSlot => "waiting-for-slot",
            JobStatus::Running => "running",
            JobStatus::Done => "done",
            JobStatus::Failed => "failed",
            JobStatus::Blocked => "blocked",
            JobStatus::Skipped => "skipped",
            JobStatus::Retry => "retry",
            JobStatus::Cancelled => "cancelled",
        }
    }

    /// The job will not change any more in this run.
    pub fn is_settled(self) -> bool {
        matches!(
            self,
            JobStatus::Done
                | JobStatus::Failed
                | JobStatus::Blocked
                | JobStatus::Skipped
                | JobStatus::Cancelled
        )
    }
}

impl std::str::FromStr for JobStatus {
    type Err = String;

    /// The kebab-case name back (as `--json` writes it).
    fn from_str(s: &str) -> Result<JobStatus, String> {
        use JobStatus::*;
        [
            Ready,
            WaitingForSlot,
            Running,
            Done,
            Failed,
            Blocked,
            Skipped,
            Retry,
            Cancelled,
        ]
        .into_iter()
        .find(|j| j.as_str() == s)
        .ok_or_else(|| format!("unknown job state `{s}`"))
    }
}

impl std::fmt::Display for JobStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The final word on one builder.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct BuilderResult {
    pub builder: BuilderInfo,
    pub outcome: Outcome,
    #[serde(serialize_with = "secs")]
    pub elapsed: Duration,
    pub packages: Vec<PathBuf>,
    pub log: Option<PathBuf>,
    /// Why it failed / was skipped / is unusable.
    pub message: Option<String>,
    pub hint: Option<String>,
    /// Last lines of the log for a failed build.
    pub log_tail: Vec<String>,
    /// Result entries a remote host listed that were not downloaded
    /// (unsafe names, symlinks, special files), each `NAME: reason`. A
    /// successful build with rejected entries makes the run exit 3.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rejected: Vec<String>,
    /// The post-build checks that ran, in order (none configured: empty,
    /// and left out of `--json`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<CheckResult>,
}

/// One post-build check on one builder's packages (SPEC 5.1).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct CheckResult {
    /// The tool's name: what `--skip-check=NAME` skips.
    pub name: String,
    /// The argv that ran, packages included.
    pub command: Vec<String>,
    /// Its exit status (128+N for a signal); null when it could not run or
    /// was interrupted.
    pub exit_status: Option<i32>,
    pub passed: bool,
    #[serde(serialize_with = "secs")]
    pub duration: Duration,
    /// Its last output lines.
    pub tail: Vec<String>,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0)
}

#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum EventKind {
    RunStarted {
        package: String,
        version: String,
        builders: Vec<BuilderInfo>,
        parallel: bool,
    },
    SourceReady {
        tarball_bytes: u64,
        /// The last run's tarball was reused: gear would have packed the
        /// same tree (see `source::cache`).
        reused: bool,
    },
    /// hsh's workdir lock is held by someone else; hsh waits for it.
    Waiting {
        builder: String,
        holder_pid: Option<u32>,
        held_for_secs: Option<u64>,
    },
    /// The source reached the builder's host (`bytes_sent` by rsync; 0 when
    /// another builder on the same host already uploaded it in this run).
    Uploaded {
        builder: String,
        bytes_sent: u64,
        tarball_bytes: u64,
    },
    Started {
        builder: String,
        log: PathBuf,
        command: Vec<String>,
    },
    Phase {
        builder: String,
        phase: Phase,
    },
    /// One line of the build log.
    Line {
        builder: String,
        line: String,
    },
    Finished(BuilderResult),
    /// A batch job changed state.
    Job {
        package: String,
        lane: String,
        state: JobStatus,
        builder: Option<String>,
        detail: Option<String>,
    },
    RunFinished {
        results: Vec<BuilderResult>,
        exit_code: i32,
    },
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Event {
    #[serde(serialize_with = "secs")]
    pub at: Duration,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// The builder as events name it.
pub fn info(b: &Builder) -> BuilderInfo {
    BuilderInfo {
        name: b.name.clone(),
        host: b.host().to_string(),
        arch: b.arch.clone(),
        branch: b.branch.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_states_serialize_to_their_names() {
        for word in [
            "ready",
            "waiting-for-slot",
            "running",
            "done",
            "failed",
            "blocked",
            "skipped",
            "retry",
            "cancelled",
        ] {
            let s: JobStatus = word.parse().unwrap();
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{word}\""));
            assert_eq!(s.to_string(), word);
        }
        assert!("waiting".parse::<JobStatus>().is_err());
    }
}
