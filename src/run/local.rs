//! One build on a local builder: pre-flight, hsh, results.
//!
//! Pre-flight (workdir, hasher-priv satellites and mount points) fails fast
//! with a fix; a busy workdir is waited for (or skipped/failed, see
//! [`super::busy`]); then hsh runs through the command runner with its output
//! going to the log file and, line by line, to phase tracking; finally the
//! packages this run produced are copied out atomically.

use std::path::PathBuf;
use std::time::Instant;

use super::busy;
use super::cancel::CancelToken;
use super::events::{BuilderResult, EventKind};
use super::executor::{Emitter, RunContext};
use super::job::{build_vars, keep_written, log_path, results_dir, run_logged, Ended};
use crate::farm::Builder;
use crate::hasher::invocation::{hsh_argv, HshOptions};
use crate::hasher::priv_config::{self, Caller};
use crate::hasher::results::{copy_results, ResultDirs, Snapshot};
use crate::hasher::stage::Phase;
use crate::hasher::workdir::{self, LockState};
use crate::transport::runner::{CommandSpec, Outcome as RunOutcome};

pub fn build(
    ctx: &RunContext<'_>,
    b: &Builder,
    emit: &Emitter,
    cancel: &CancelToken,
) -> BuilderResult {
    let started = Instant::now();
    let ended = build_inner(ctx, b, emit, cancel);
    let ended =
        super::checks::run_after_build(&ctx.checks, ended, &ctx.git_root, emit, &b.name, cancel);
    ended.into_result(b, started.elapsed())
}

fn workdir_of(ctx: &RunContext<'_>, b: &Builder) -> PathBuf {
    PathBuf::from(b.hasher_dir_with_home(Some(&ctx.home.to_string_lossy())))
}

/// The workdir lock right now (`None`: cannot tell).
pub fn probe(ctx: &RunContext<'_>, b: &Builder) -> Option<LockState> {
    workdir::probe_lock(&workdir_of(ctx, b)).ok()
}

fn build_inner(ctx: &RunContext<'_>, b: &Builder, emit: &Emitter, cancel: &CancelToken) -> Ended {
    let spec = &ctx.tarball.spec;
    if spec.excludes(&b.arch) {
        return Ended::skipped(format!(
            "{} excludes {} (ExcludeArch/ExclusiveArch)",
            spec.name, b.arch
        ));
    }
    let vars = build_vars(ctx, b, &ctx.home.to_string_lossy());
    let workdir = workdir_of(ctx, b);
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
        no_wait_lock: true,
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
    let dirs = ResultDirs::from_argv(&argv, &workdir, &b.arch);
    let cmd = CommandSpec::new(argv.iter().cloned()).cwd(&workdir);
    let out = loop {
        let probe = || Ok(workdir::probe_lock(&workdir).ok());
        if let Err(e) = busy::wait_for_lock(probe, ctx.busy, emit, &b.name, cancel) {
            return e;
        }
        if let Some(chain) = ctx.chain {
            if let Err(e) = chain.place_local(&b.branch, &b.arch, &dirs.rpms) {
                return Ended::unusable(
                    format!(
                        "cannot place the batch's earlier RPMs into {}: {e}",
                        dirs.rpms.display()
                    ),
                    "check free space and permissions of the hasher workdir".into(),
                );
            }
        }
        let before = Snapshot::take(&dirs);
        let missing = "install hasher: apt-get install hasher (ALT package `hasher`), or set [commands] hsh in ~/.zoryn";
        let out = match run_logged(&cmd, &argv, &log, None, emit, &b.name, cancel, missing) {
            Ok(o) => o,
            Err(e) => return e,
        };
        match &out.outcome {
            RunOutcome::Cancelled | RunOutcome::TimedOut => return Ended::cancelled(Some(&log)),
            o if !o.success() && busy::lost_lock_race(&out.log_tail) => continue,
            o if !o.success() => {
                let msg = format!("hsh exited with status {}", o.code().unwrap_or(-1));
                return Ended::failed(msg, &log, out.log_tail);
            }
            _ => break (out, before),
        }
    };
    let (out, before) = out;
    if let Some(e) = out.log_error {
        return Ended::unusable(
            format!("writing the build log {} failed: {e}", log.display()),
            "free some disk space and build again".into(),
        );
    }
    emit.emit(EventKind::Phase {
        builder: b.name.clone(),
        phase: Phase::Collecting,
    });
    let produced = keep_written(before.produced_since(&Snapshot::take(&dirs)), &log);
    if produced.is_empty() {
        let msg = format!(
            "hsh succeeded but no new packages appeared in {} or {}",
            dirs.rpms.display(),
            dirs.srpms.display()
        );
        return Ended::failed(msg, &log, out.log_tail);
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
