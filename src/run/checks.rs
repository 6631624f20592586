//! Post-build checks (SPEC 5.1): the `[checks]` commands of `~/.zoryn`, run
//! on this machine on the RPMs one builder brought back, right after that
//! builder's download (so in parallel with the other builders' work).
//!
//! Owns: turning a configured command line into a named check (the name is
//! the first word's basename, what `--skip-check=NAME` matches), running it
//! through the command runner with the packages appended, appending its
//! output to the builder's log, and turning a failure into the builder's
//! FAIL with the check's last lines. It must not decide which checks are
//! skipped (the caller filters the list) and must not print.

use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::emitter::Emitter;
use super::ended::{Ended, TAIL_LINES};
use super::events::{CheckResult, EventKind, Outcome};
use crate::config::global::ChecksSection;
use crate::hasher::stage::Phase;
use crate::transport::cancel::CancelToken;
use crate::transport::runner::{run, CommandSpec, LineSplitter, Outcome as RunOutcome};

/// One configured check: its name and its argv (without the packages).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostBuildCheck {
    /// The first word's basename (`/usr/bin/rpmlint -i` is `rpmlint`).
    pub name: String,
    pub argv: Vec<String>,
}

impl PostBuildCheck {
    /// A command line split like a shell would (never run by one); `None`
    /// for an empty or unsplittable line (the config reader refuses those).
    pub fn parse(command: &str) -> Option<PostBuildCheck> {
        let argv = shell_words::split(command).ok()?;
        let first = argv.first()?;
        let name = Path::new(first)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| first.clone());
        Some(PostBuildCheck { name, argv })
    }

    /// Every check of `[checks] commands`, in order. With no `[checks]`
    /// there are none: hasher already runs `sisyphus_check` on every build's
    /// input and output, so running it again by default would only repeat
    /// work in the edit-build loop (see README, "Post-build checks").
    pub fn from_config(section: &ChecksSection) -> Vec<PostBuildCheck> {
        section
            .commands
            .iter()
            .filter_map(|c| PostBuildCheck::parse(c))
            .collect()
    }
}

/// Run `checks` on the packages of a successful build; any other outcome,
/// or no checks, is returned unchanged. The first failing check ends the
/// series and makes the builder FAIL with that check's last lines.
pub fn run_after_build(
    checks: &[PostBuildCheck],
    mut ended: Ended,
    cwd: &Path,
    emit: &Emitter,
    builder: &str,
    cancel: &CancelToken,
) -> Ended {
    if ended.outcome != Outcome::Success || checks.is_empty() {
        return ended;
    }
    let Some(log) = ended.log.clone() else {
        return ended;
    };
    emit.emit(EventKind::Phase {
        builder: builder.to_string(),
        phase: Phase::PostBuildChecks,
    });
    let mut log_file = match std::fs::OpenOptions::new().append(true).open(&log) {
        Ok(f) => f,
        Err(e) => {
            return Ended::unusable(
                format!("cannot append the checks' output to {}: {e}", log.display()),
                "check free space and the permissions of the log directory".into(),
            )
        }
    };
    for check in checks {
        let result = run_one(
            check,
            &ended.packages,
            cwd,
            &mut log_file,
            emit,
            builder,
            cancel,
        );
        let passed = result.passed;
        let status = result.exit_status;
        ended.checks.push(result);
        if passed {
            continue;
        }
        if cancel.is_cancelled() {
            let mut c = Ended::cancelled(Some(&log));
            c.checks = std::mem::take(&mut ended.checks);
            return c;
        }
        let tail = ended
            .checks
            .last()
            .map(|c| c.tail.clone())
            .unwrap_or_default();
        let (message, hint) = match status {
            Some(code) => (
                format!(
                    "post-build check `{}` failed (exit status {code})",
                    check.name
                ),
                format!(
                    "fix what it reports, or skip it once with --skip-check={}",
                    check.name
                ),
            ),
            None => (
                format!(
                    "post-build check `{}` could not run: {}",
                    check.name,
                    tail.last().map(String::as_str).unwrap_or("unknown error")
                ),
                format!(
                    "install `{}` or remove it from [checks] commands in ~/.zoryn",
                    check.argv[0]
                ),
            ),
        };
        let mut failed = Ended::failed(message, &log, tail);
        failed.hint = Some(hint);
        failed.packages = std::mem::take(&mut ended.packages);
        failed.checks = std::mem::take(&mut ended.checks);
        failed.rejected = std::mem::take(&mut ended.rejected);
        return failed;
    }
    ended
}

fn run_one(
    check: &PostBuildCheck,
    packages: &[PathBuf],
    cwd: &Path,
    log: &mut std::fs::File,
    emit: &Emitter,
    builder: &str,
    cancel: &CancelToken,
) -> CheckResult {
    let mut argv: Vec<String> = check.argv.clone();
    argv.extend(packages.iter().map(|p| p.to_string_lossy().into_owned()));
    let shown = crate::transport::runner::display_join(&argv);
    let _ = writeln!(log, "zoryn: post-build check {}: {shown}", check.name);
    let started = Instant::now();
    let mut tail: VecDeque<String> = VecDeque::with_capacity(TAIL_LINES + 1);
    let mut splitter = LineSplitter::default();
    let mut on_line = |line: &str, log: &mut std::fs::File| {
        let _ = writeln!(log, "{line}");
        if tail.len() == TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(line.to_string());
        emit.emit(EventKind::Line {
            builder: builder.to_string(),
            line: line.to_string(),
        });
    };
    let cmd = CommandSpec::new(argv.iter().cloned()).cwd(cwd);
    let outcome = run(&cmd, cancel, |chunk| {
        let mut lines = Vec::new();
        splitter.feed(chunk, |l| lines.push(l.to_string()));
        for l in lines {
            on_line(&l, log);
        }
    });
    let mut rest = Vec::new();
    splitter.finish(|l| rest.push(l.to_string()));
    for l in rest {
        on_line(&l, log);
    }
    let (exit_status, passed) = match &outcome {
        Ok(o @ RunOutcome::Exited(_)) => (o.code(), o.success()),
        Ok(RunOutcome::Cancelled | RunOutcome::TimedOut) => {
            on_line("interrupted", log);
            (None, false)
        }
        Err(e) => {
            on_line(&e.to_string(), log);
            (None, false)
        }
    };
    let duration = started.elapsed();
    let _ = writeln!(
        log,
        "zoryn: post-build check {} {} after {:.1}s",
        check.name,
        match exit_status {
            Some(0) => "passed".to_string(),
            Some(c) => format!("failed with exit status {c}"),
            None => "did not run to the end".to_string(),
        },
        duration.as_secs_f64()
    );
    CheckResult {
        name: check.name.clone(),
        command: argv,
        exit_status,
        passed,
        duration,
        tail: tail.into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_is_the_first_words_basename() {
        let c = PostBuildCheck::parse("/usr/bin/rpmlint -i 'a b'").unwrap();
        assert_eq!(c.name, "rpmlint");
        assert_eq!(c.argv, ["/usr/bin/rpmlint", "-i", "a b"]);
        assert_eq!(
            PostBuildCheck::parse("sisyphus_check").unwrap().name,
            "sisyphus_check"
        );
        assert_eq!(PostBuildCheck::parse("  "), None);
        assert_eq!(PostBuildCheck::parse("x 'open"), None);
    }
}
