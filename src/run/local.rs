//! One build on a local builder: pre-flight, hsh, results.
//!
//! Pre-flight (workdir, hasher-priv satellites and mount points, lock) fails
//! fast with a fix; then hsh runs through the command runner with its output
//! going to the log file and, line by line, to phase tracking; finally the
//! packages this run produced are copied out atomically.

use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use super::events::{BuilderResult, EventKind, Outcome};
use super::executor::{info, Emitter, RunContext};
use crate::config::template::Vars;
use crate::farm::Builder;
use crate::hasher::invocation::{hsh_argv, HshOptions};
use crate::hasher::priv_config::{self, Caller};
use crate::hasher::results::{copy_results, ResultDirs, Snapshot};
use crate::hasher::stage::{Phase, StageTracker};
use crate::hasher::workdir::{self, LockState};
use crate::transport::runner::{run, CommandSpec, LineSplitter, Outcome as RunOutcome};

/// Lines of the log shown when a build fails.
pub const TAIL_LINES: usize = 15;

struct Ended {
    outcome: Outcome,
    message: Option<String>,
    hint: Option<String>,
    packages: Vec<PathBuf>,
    log: Option<PathBuf>,
    log_tail: Vec<String>,
}

impl Ended {
    fn unusable(message: String, hint: String) -> Ended {
        Ended {
            outcome: Outcome::Unusable,
            message: Some(message),
            hint: Some(hint),
            packages: vec![],
            log: None,
            log_tail: vec![],
        }
    }
}

/// Template values for a build of this package on `b`.
pub fn build_vars(ctx: &RunContext<'_>, b: &Builder) -> Vars {
    let mut v = b.vars();
    v.git_root = Some(ctx.git_root.to_string_lossy().into_owned());
    v.pkg = Some(ctx.tarball.spec.name.clone());
    v.home = Some(ctx.home.to_string_lossy().into_owned());
    v
}

/// The log file of a build of this package on `b`.
pub fn log_path(ctx: &RunContext<'_>, b: &Builder) -> PathBuf {
    let v = build_vars(ctx, b);
    let dir = PathBuf::from(ctx.global.build.log_dir.expand(&v));
    let dir = if dir.is_absolute() {
        dir
    } else {
        ctx.git_root.join(dir)
    };
    dir.join(ctx.global.build.log_filename.expand(&v))
}

/// Where `b`'s results go.
pub fn results_dir(ctx: &RunContext<'_>, b: &Builder) -> PathBuf {
    let v = build_vars(ctx, b);
    let dir = PathBuf::from(ctx.global.builders.results_download_dir.expand(&v));
    let dir = if dir.is_absolute() {
        dir
    } else {
        ctx.git_root.join(dir)
    };
    dir.join(&b.name)
}

pub fn build(ctx: &RunContext<'_>, b: &Builder, emit: &Emitter) -> BuilderResult {
    let started = Instant::now();
    let ended = build_inner(ctx, b, emit);
    BuilderResult {
        builder: info(b),
        outcome: ended.outcome,
        elapsed: started.elapsed(),
        packages: ended.packages,
        log: ended.log,
        message: ended.message,
        hint: ended.hint,
        log_tail: ended.log_tail,
    }
}

fn build_inner(ctx: &RunContext<'_>, b: &Builder, emit: &Emitter) -> Ended {
    let spec = &ctx.tarball.spec;
    if spec.excludes(&b.arch) {
        return Ended {
            outcome: Outcome::Skipped,
            message: Some(format!(
                "{} excludes {} (ExcludeArch/ExclusiveArch)",
                spec.name, b.arch
            )),
            hint: None,
            packages: vec![],
            log: None,
            log_tail: vec![],
        };
    }
    let vars = build_vars(ctx, b);
    let workdir = PathBuf::from(b.hasher_dir_with_home(vars.home.as_deref()));
    if let Err(p) = workdir::check_local(&workdir) {
        return Ended::unusable(p.message, p.hint);
    }
    let template = b.command.as_ref().unwrap_or(&ctx.global.build.command);
    let opts = HshOptions {
        host_arch: ctx.host_arch.clone(),
        workdir: workdir.to_string_lossy().into_owned(),
        apt_config: None,
        rpmbuild_args: ctx.rpmbuild_args.clone(),
        packager: ctx.packager.clone(),
        package: ctx.tarball.path.to_string_lossy().into_owned(),
        hsh_program: ctx.global.commands.hsh.clone(),
    };
    let argv = hsh_argv(template, &vars, &b.arch, &opts);
    if let Err(p) = priv_config::check(
        &priv_config::config_dir(),
        &Caller::current(),
        b.hasher_number,
        &priv_config::requested_mountpoints(&argv),
    ) {
        return Ended::unusable(p.message, p.hint);
    }

    let log = log_path(ctx, b);
    let mut log_file = match open_log(&log) {
        Ok(f) => f,
        Err(e) => {
            return Ended::unusable(
                format!("cannot write the build log {}: {e}", log.display()),
                "check the permissions of the directory, or set [build] log_dir in ~/.zoryn".into(),
            )
        }
    };
    if let Ok(LockState::Busy { pid, since }) = workdir::probe_lock(&workdir) {
        emit.emit(EventKind::Waiting {
            builder: b.name.clone(),
            holder_pid: pid,
            held_for_secs: since
                .and_then(|s| SystemTime::now().duration_since(s).ok())
                .map(|d| d.as_secs()),
        });
    }
    let dirs = ResultDirs::from_argv(&argv, &workdir, &b.arch);
    let before = Snapshot::take(&dirs);
    emit.emit(EventKind::Started {
        builder: b.name.clone(),
        log: log.clone(),
        command: argv.clone(),
    });
    let mut tracker = StageTracker::default();
    let mut splitter = LineSplitter::default();
    let mut tail: VecDeque<String> = VecDeque::with_capacity(TAIL_LINES + 1);
    let mut log_error: Option<std::io::Error> = None;
    let cmd = CommandSpec::new(argv.iter().cloned()).cwd(&workdir);
    let mut on_line = |line: &str| {
        if let Some(p) = tracker.feed(line) {
            emit.emit(EventKind::Phase {
                builder: b.name.clone(),
                phase: p,
            });
        }
        if tail.len() == TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(line.to_string());
        emit.emit(EventKind::Line {
            builder: b.name.clone(),
            line: line.to_string(),
        });
    };
    let result = run(&cmd, &ctx.cancel, |chunk| {
        if log_error.is_none() {
            if let Err(e) = log_file.write_all(chunk) {
                log_error = Some(e);
            }
        }
        splitter.feed(chunk, &mut on_line);
    });
    splitter.finish(&mut on_line);
    let _ = log_file.flush();
    let log_tail: Vec<String> = tail.into_iter().collect();
    let outcome = match result {
        Ok(o) => o,
        Err(e) if e.not_found() => {
            return Ended::unusable(
                format!("`{}` is not installed (or not in PATH)", e.program),
                "install hasher: apt-get install hasher (ALT package `hasher`), or set [commands] hsh in ~/.zoryn".into(),
            )
        }
        Err(e) => return Ended::unusable(e.to_string(), "check [build] command in ~/.zoryn".into()),
    };
    let failed = |message: String| Ended {
        outcome: Outcome::Failed,
        message: Some(message),
        hint: None,
        packages: vec![],
        log: Some(log.clone()),
        log_tail: log_tail.clone(),
    };
    match outcome {
        RunOutcome::Cancelled => {
            return Ended {
                outcome: Outcome::Cancelled,
                message: Some("interrupted; hsh was stopped".into()),
                hint: None,
                packages: vec![],
                log: Some(log.clone()),
                log_tail: vec![],
            }
        }
        o if !o.success() => {
            return failed(format!("hsh exited with status {}", o.code().unwrap_or(-1)));
        }
        _ => {}
    }
    if let Some(e) = log_error {
        return Ended::unusable(
            format!("writing the build log {} failed: {e}", log.display()),
            "free some disk space and build again".into(),
        );
    }
    emit.emit(EventKind::Phase {
        builder: b.name.clone(),
        phase: Phase::Collecting,
    });
    let produced = before.produced_since(&Snapshot::take(&dirs));
    if produced.is_empty() {
        return failed(format!(
            "hsh succeeded but no new packages appeared in {} or {}",
            dirs.rpms.display(),
            dirs.srpms.display()
        ));
    }
    let dest = results_dir(ctx, b);
    match copy_results(&produced, &dest) {
        Ok(packages) => Ended {
            outcome: Outcome::Success,
            message: None,
            hint: None,
            packages,
            log: Some(log),
            log_tail: vec![],
        },
        Err(e) => Ended::unusable(
            format!("copying results into {} failed: {e}", dest.display()),
            "check free space and permissions there, or set [builders] results_download_dir".into(),
        ),
    }
}

fn open_log(path: &Path) -> std::io::Result<std::fs::File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::File::create(path)
}
