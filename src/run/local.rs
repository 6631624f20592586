//! One build on a local builder: pre-flight, hsh, results.
//!
//! Pre-flight (workdir, hasher-priv satellites and mount points, lock) fails
//! fast with a fix; then hsh runs through the command runner with its output
//! going to the log file and, line by line, to phase tracking; finally the
//! packages this run produced are copied out atomically.

use std::path::PathBuf;
use std::time::{Instant, SystemTime};

use super::events::{BuilderResult, EventKind};
use super::executor::{Emitter, RunContext};
use super::job::{build_vars, log_path, results_dir, BuildLog, Ended};
use crate::farm::Builder;
use crate::hasher::invocation::{hsh_argv, HshOptions};
use crate::hasher::priv_config::{self, Caller};
use crate::hasher::results::{copy_results, ResultDirs, Snapshot};
use crate::hasher::stage::Phase;
use crate::hasher::workdir::{self, LockState};
use crate::transport::runner::{run, CommandSpec, Outcome as RunOutcome};

pub fn build(ctx: &RunContext<'_>, b: &Builder, emit: &Emitter) -> BuilderResult {
    let started = Instant::now();
    build_inner(ctx, b, emit).into_result(b, started.elapsed())
}

fn build_inner(ctx: &RunContext<'_>, b: &Builder, emit: &Emitter) -> Ended {
    let spec = &ctx.tarball.spec;
    if spec.excludes(&b.arch) {
        return Ended::skipped(format!(
            "{} excludes {} (ExcludeArch/ExclusiveArch)",
            spec.name, b.arch
        ));
    }
    let vars = build_vars(ctx, b, &ctx.home.to_string_lossy());
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
        &priv_config::LocalTree(priv_config::config_dir()),
        &Caller::current(),
        b.hasher_number,
        &priv_config::requested_mountpoints(&argv),
    ) {
        return Ended::unusable(p.message, p.hint);
    }

    let log = log_path(ctx, b);
    let mut build_log = match BuildLog::create(&log, emit, &b.name) {
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
    let cmd = CommandSpec::new(argv.iter().cloned()).cwd(&workdir);
    let result = run(&cmd, &ctx.cancel, |chunk| build_log.feed(chunk));
    let (log_tail, log_error) = build_log.finish();
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
    match outcome {
        RunOutcome::Cancelled | RunOutcome::TimedOut => return Ended::cancelled(Some(&log)),
        o if !o.success() => {
            let msg = format!("hsh exited with status {}", o.code().unwrap_or(-1));
            return Ended::failed(msg, &log, log_tail);
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
        let msg = format!(
            "hsh succeeded but no new packages appeared in {} or {}",
            dirs.rpms.display(),
            dirs.srpms.display()
        );
        return Ended::failed(msg, &log, log_tail);
    }
    let dest = results_dir(ctx, b);
    match copy_results(&produced, &dest) {
        Ok(packages) => Ended::success(packages, &log),
        Err(e) => Ended::unusable(
            format!("copying results into {} failed: {e}", dest.display()),
            "check free space and permissions there, or set [builders] results_download_dir".into(),
        ),
    }
}
