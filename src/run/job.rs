//! What every build job shares, local or remote: the log that follows hsh's
//! output, the template values and paths of a build, and how a job ends.

use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::context::RunContext;
use super::emitter::Emitter;
use super::ended::{Ended, TAIL_LINES};
use super::events::EventKind;
use crate::config::template::Vars;
use crate::farm::Builder;
use crate::hasher::stage::StageTracker;
use crate::transport::cancel::CancelToken;
use crate::transport::runner::{run, CommandSpec, LineSplitter, Outcome as RunOutcome};

/// Template values for a build of this package on `b`; `home` is the home
/// on the builder's host.
pub fn build_vars(ctx: &RunContext<'_>, b: &Builder, home: &str) -> Vars {
    vars_for(b, &ctx.git_root, &ctx.tarball.spec.name, home)
}

/// The template variables of a build of `pkg` from `git_root` on `b`.
pub fn vars_for(b: &Builder, git_root: &Path, pkg: &str, home: &str) -> Vars {
    let mut v = b.vars();
    v.git_root = Some(git_root.to_string_lossy().into_owned());
    v.pkg = Some(pkg.to_string());
    v.home = Some(home.to_string());
    v
}

fn local_vars(ctx: &RunContext<'_>, b: &Builder) -> Vars {
    build_vars(ctx, b, &ctx.home.to_string_lossy())
}

fn under_root(ctx: &RunContext<'_>, p: String) -> PathBuf {
    let p = PathBuf::from(p);
    if p.is_absolute() {
        p
    } else {
        ctx.git_root.join(p)
    }
}

/// The log file of a build of this package on `b` (always on this machine).
pub fn log_path(ctx: &RunContext<'_>, b: &Builder) -> PathBuf {
    let v = local_vars(ctx, b);
    under_root(ctx, ctx.global.build.log_dir.expand(&v))
        .join(ctx.global.build.log_filename.expand(&v))
}

/// Where `b`'s results go on this machine.
pub fn results_dir(ctx: &RunContext<'_>, b: &Builder) -> PathBuf {
    let v = local_vars(ctx, b);
    under_root(ctx, ctx.global.builders.results_download_dir.expand(&v)).join(&b.name)
}

/// Follows hsh's output: writes the log (lines, `\r\n` normalised), tracks
/// the phase, keeps the tail, and emits events.
pub struct BuildLog<'a> {
    path: PathBuf,
    file: std::fs::File,
    error: Option<std::io::Error>,
    tracker: StageTracker,
    splitter: LineSplitter,
    tail: VecDeque<String>,
    emit: &'a Emitter,
    builder: String,
    /// Lines starting with this are zoryn's own markers, not hsh output.
    marker: Option<&'static str>,
    pub markers: Vec<String>,
}

impl<'a> BuildLog<'a> {
    pub fn create(path: &Path, emit: &'a Emitter, builder: &str) -> std::io::Result<BuildLog<'a>> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        Ok(BuildLog {
            path: path.to_path_buf(),
            file: std::fs::File::create(path)?,
            error: None,
            tracker: StageTracker::default(),
            splitter: LineSplitter::default(),
            tail: VecDeque::with_capacity(TAIL_LINES + 1),
            emit,
            builder: builder.to_string(),
            marker: None,
            markers: Vec::new(),
        })
    }

    pub fn with_marker(mut self, marker: &'static str) -> Self {
        self.marker = Some(marker);
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn feed(&mut self, chunk: &[u8]) {
        let mut lines = Vec::new();
        self.splitter.feed(chunk, |l| lines.push(l.to_string()));
        for l in lines {
            self.line(&l);
        }
    }

    fn line(&mut self, line: &str) {
        if let Some(m) = self.marker {
            if line.starts_with(m) {
                self.markers.push(line.to_string());
                return;
            }
        }
        if self.error.is_none() {
            if let Err(e) = writeln!(self.file, "{line}") {
                self.error = Some(e);
            }
        }
        if let Some(p) = self.tracker.feed(line) {
            self.emit.emit(EventKind::Phase {
                builder: self.builder.clone(),
                phase: p,
            });
        }
        if self.tail.len() == TAIL_LINES {
            self.tail.pop_front();
        }
        self.tail.push_back(line.to_string());
        self.emit.emit(EventKind::Line {
            builder: self.builder.clone(),
            line: line.to_string(),
        });
    }

    /// Flush; returns the tail and any write error.
    pub fn finish(mut self) -> (Vec<String>, Option<std::io::Error>) {
        let mut rest = Vec::new();
        self.splitter.finish(|l| rest.push(l.to_string()));
        for l in rest {
            self.line(&l);
        }
        if let Err(e) = self.file.flush() {
            self.error.get_or_insert(e);
        }
        (self.tail.into_iter().collect(), self.error)
    }
}

/// What one hsh run left behind.
pub struct HshRun {
    pub outcome: RunOutcome,
    pub log_tail: Vec<String>,
    pub log_error: Option<std::io::Error>,
    /// Lines that started with the marker (not written to the log).
    pub markers: Vec<String>,
}

/// Run hsh (`cmd`, shown as `argv`) with its output in a fresh log at
/// `log`; emits `Started`, phases and lines. `Err` ends the job (log not
/// writable, program missing: `missing_hint` says what to install).
#[allow(clippy::too_many_arguments)]
pub fn run_logged(
    cmd: &CommandSpec,
    argv: &[String],
    log: &Path,
    marker: Option<&'static str>,
    emit: &Emitter,
    builder: &str,
    cancel: &CancelToken,
    missing_hint: &str,
) -> Result<HshRun, Ended> {
    let mut build_log = BuildLog::create(log, emit, builder).map_err(|e| {
        Ended::unusable(
            format!("cannot write the build log {}: {e}", log.display()),
            "check the permissions of the directory, or set [build] log_dir in ~/.zoryn".into(),
        )
    })?;
    if let Some(m) = marker {
        build_log = build_log.with_marker(m);
    }
    emit.emit(EventKind::Started {
        builder: builder.to_string(),
        log: log.to_path_buf(),
        command: argv.to_vec(),
    });
    let result = run(cmd, cancel, |chunk| build_log.feed(chunk));
    let markers = std::mem::take(&mut build_log.markers);
    let (log_tail, log_error) = build_log.finish();
    match result {
        Ok(outcome) => Ok(HshRun {
            outcome,
            log_tail,
            log_error,
            markers,
        }),
        Err(e) if e.not_found() => Err(Ended::unusable(
            format!("`{}` is not installed (or not in PATH)", e.program),
            missing_hint.to_string(),
        )),
        Err(e) => Err(Ended::unusable(e.to_string(), missing_hint.to_string())),
    }
}

/// A name a builder host may hand back as a result: a plain `*.rpm` file
/// name, nothing that could escape the results directory.
/// File names of the packages this build's rpmbuild reported writing
/// (`Wrote: PATH` lines in the build log; hasher moves exactly these into
/// its repo). Empty when the log has none (output suppressed, or unreadable).
///
/// The result dirs are shared: another zoryn process (or person) can put
/// files into a slot's repo while this build runs, e.g. the earlier RPMs of
/// its own batch right before its build, or its results right after ours.
/// A before/after listing alone would count those as ours.
pub fn written_by_build(log: &Path) -> std::collections::HashSet<String> {
    let Ok(text) = std::fs::read(log) else {
        return Default::default();
    };
    String::from_utf8_lossy(&text)
        .lines()
        .filter_map(|l| l.split("Wrote: ").nth(1))
        .filter_map(|p| p.trim_end().rsplit('/').next())
        .filter(|n| n.ends_with(".rpm"))
        .map(str::to_string)
        .collect()
}

/// Keep the files of `produced` that this build wrote (see
/// [`written_by_build`]); all of them when the log names none.
pub fn keep_written(produced: Vec<PathBuf>, log: &Path) -> Vec<PathBuf> {
    let written = written_by_build(log);
    if written.is_empty() {
        return produced;
    }
    produced
        .into_iter()
        .filter(|p| {
            let ours = p
                .file_name()
                .is_some_and(|n| written.contains(n.to_string_lossy().as_ref()));
            if !ours {
                tracing::debug!(
                    "{} is new in the hasher repo but not from this build",
                    p.display()
                );
            }
            ours
        })
        .collect()
}

/// A result file name zoryn will create locally: one plain, visible path
/// component ending in `.rpm`, without control characters (a newline would
/// forge lines of the remote listing and of the logs).
pub fn is_safe_result_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name.ends_with(".rpm")
        && !name.contains('/')
        && !name.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_files_the_build_wrote_are_kept() {
        let t = tempfile::tempdir().unwrap();
        let log = t.path().join("build.log");
        std::fs::write(
            &log,
            "Processing files: a-1-alt1\nWrote: /usr/src/RPM/SRPMS/a-1-alt1.src.rpm\r\n\
             Wrote: /usr/src/RPM/RPMS/x86_64/a-1-alt1.x86_64.rpm\n",
        )
        .unwrap();
        let produced = vec![
            PathBuf::from("/w/repo/SRPMS.hasher/a-1-alt1.src.rpm"),
            PathBuf::from("/w/repo/x86_64/RPMS.hasher/a-1-alt1.x86_64.rpm"),
            PathBuf::from("/w/repo/x86_64/RPMS.hasher/other-2-alt1.x86_64.rpm"),
        ];
        assert_eq!(keep_written(produced.clone(), &log), produced[..2].to_vec());
        // No "Wrote:" lines (output suppressed): nothing is dropped.
        std::fs::write(&log, "quiet\n").unwrap();
        assert_eq!(keep_written(produced.clone(), &log), produced);
    }

    #[test]
    fn unsafe_result_names_are_refused() {
        assert!(is_safe_result_name("hello-1.0-alt1.x86_64.rpm"));
        for bad in [
            "../x.rpm",
            "/etc/x.rpm",
            ".hidden.rpm",
            "a/b.rpm",
            "x.txt",
            "",
            "a\nb.rpm",
            "a\rb.rpm",
            "a\0b.rpm",
        ] {
            assert!(!is_safe_result_name(bad), "{bad}");
        }
    }
}
