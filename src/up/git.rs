//! Running git for `zoryn up`: one function per question or change, all
//! through the one command runner (`transport::runner`).
//!
//! Must not: decide anything about the pipeline; callers interpret results.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::UpError;
use crate::transport::cancel::CancelToken;
use crate::transport::runner::{capture, CommandSpec};

/// git in one repository, with the user's git command (`[commands] git`).
pub struct Git {
    pub program: Vec<String>,
    pub root: PathBuf,
    pub cancel: CancelToken,
}

/// What a git run printed and whether it succeeded.
pub struct GitOutput {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Git {
    pub fn new(program: &[String], root: &Path, cancel: CancelToken) -> Git {
        Git {
            program: program.to_vec(),
            root: root.to_path_buf(),
            cancel,
        }
    }

    fn spec(&self, args: &[&str]) -> CommandSpec {
        CommandSpec::new(self.program.iter().cloned())
            .arg("-C")
            .arg(&self.root)
            .args(args)
            // Never an editor or a pager: `up` runs unattended.
            .env("GIT_EDITOR", "true")
            .env("GIT_MERGE_AUTOEDIT", "no")
            .env("GIT_PAGER", "cat")
            .env("LC_ALL", "C")
            .timeout(Duration::from_secs(3600))
    }

    /// Run git; a failure to start it is an error, a non-zero exit is not.
    pub fn try_run(&self, args: &[&str]) -> Result<GitOutput, UpError> {
        let spec = self.spec(args);
        let out = capture(&spec, &self.cancel).map_err(|e| {
            UpError::infra(
                format!("cannot run git: {e}"),
                "install git, or fix [commands] git in ~/.zoryn",
            )
        })?;
        if self.cancel.is_cancelled() {
            return Err(UpError::new(
                super::UpErrorKind::Interrupted,
                format!("interrupted while running `git {}`", args.join(" ")),
                "run `zoryn up --continue` to go on, or `zoryn up --abort` to undo",
            ));
        }
        Ok(GitOutput {
            ok: out.success(),
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }

    /// Run git and require success; stdout on success.
    pub fn run(&self, args: &[&str]) -> Result<String, UpError> {
        let out = self.try_run(args)?;
        if !out.ok {
            return Err(UpError::infra(
                format!(
                    "`git {}` failed in {}: {}",
                    args.join(" "),
                    self.root.display(),
                    out.stderr.trim()
                ),
                "run the command by hand to see why",
            ));
        }
        Ok(out.stdout)
    }

    /// `git rev-parse --verify -q REV`, `None` if it does not resolve.
    pub fn rev(&self, rev: &str) -> Result<Option<String>, UpError> {
        let out = self.try_run(&["rev-parse", "--verify", "-q", rev])?;
        Ok(out.ok.then(|| out.stdout.trim().to_string()))
    }

    /// The branch HEAD is on (`refs/heads/...`), `None` when detached.
    pub fn current_branch(&self) -> Result<Option<String>, UpError> {
        let out = self.try_run(&["symbolic-ref", "-q", "HEAD"])?;
        Ok(out.ok.then(|| out.stdout.trim().to_string()))
    }

    /// Tracked files with changes (staged or not); untracked are ignored.
    pub fn dirty_files(&self) -> Result<Vec<String>, UpError> {
        let out = self.run(&["status", "--porcelain", "--untracked-files=no"])?;
        Ok(out
            .lines()
            .map(|l| l.get(3..).unwrap_or(l).to_string())
            .collect())
    }

    /// Files with unresolved conflicts.
    pub fn conflicted_files(&self) -> Result<Vec<String>, UpError> {
        let out = self.run(&["diff", "--name-only", "--diff-filter=U"])?;
        Ok(out.lines().map(str::to_string).collect())
    }

    /// `refs/tags/*` as (refname, object) pairs.
    pub fn tag_refs(&self) -> Result<Vec<(String, String)>, UpError> {
        let out = self.run(&[
            "for-each-ref",
            "--format=%(refname) %(objectname)",
            "refs/tags",
        ])?;
        Ok(out
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(r, o)| (r.to_string(), o.to_string()))
            .collect())
    }

    /// The configured remotes.
    pub fn remotes(&self) -> Result<Vec<String>, UpError> {
        Ok(self.run(&["remote"])?.lines().map(str::to_string).collect())
    }

    /// `git config --get KEY`, `None` if unset.
    pub fn config(&self, key: &str) -> Result<Option<String>, UpError> {
        let out = self.try_run(&["config", "--get", key])?;
        Ok(out
            .ok
            .then(|| out.stdout.trim().to_string())
            .filter(|s| !s.is_empty()))
    }

    /// Whether there is a merge in progress.
    pub fn merging(&self) -> bool {
        self.root.join(".git/MERGE_HEAD").exists()
            || self
                .try_run(&["rev-parse", "-q", "--verify", "MERGE_HEAD"])
                .is_ok_and(|o| o.ok)
    }
}
