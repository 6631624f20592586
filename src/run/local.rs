//! One build on a local builder: pre-flight, hsh, results.
//!
//! Pre-flight (workdir, hasher-priv satellites and mount points) fails fast
//! with a fix; a busy workdir is waited for (or skipped/failed, see
//! [`super::busy`]); then hsh runs through the command runner with its output
//! going to the log file and, line by line, to phase tracking; finally the
//! packages this run produced are copied out atomically. In the existing
//! chroot (`-r`, `--section`) the chroot must be there first, and a section's
//! `--rebuild-prog` script is written next to the tarball.

use std::path::PathBuf;
use std::time::Instant;

use super::busy;
use super::context::RunContext;
use super::emitter::Emitter;
use super::ended::Ended;
use super::events::{BuilderResult, EventKind};
use super::job::{build_vars, keep_written, log_path, results_dir, run_logged};
use crate::config::template::CommandTemplate;
use crate::farm::Builder;
use crate::hasher::build_mode::{missing_chroot, section_script, BuildMode, Expected};
use crate::hasher::hsh_options::HshOptionError;
use crate::hasher::invocation::{hsh_argv, HshCommand, HshOptions};
use crate::hasher::priv_config::{self, Caller, Membership, PrivProblem};
use crate::hasher::results::{copy_results, ResultDirs, Snapshot};
use crate::hasher::stage::Phase;
use crate::hasher::workdir::{self, LockState};
use crate::transport::cancel::CancelToken;
use crate::transport::runner::{CommandSpec, Outcome as RunOutcome};

pub fn build(
    ctx: &RunContext<'_>,
    b: &Builder,
    emit: &Emitter,
    cancel: &CancelToken,
) -> BuilderResult {
    let started = Instant::now();
    let ended = build_inner(ctx, b, emit, cancel);
    ctx.finish(b, started, ended, emit, cancel)
}

fn workdir_of(ctx: &RunContext<'_>, b: &Builder) -> PathBuf {
    PathBuf::from(b.hasher_dir_with_home(Some(&ctx.home.to_string_lossy())))
}

/// The workdir lock right now (`None`: cannot tell).
pub fn probe(ctx: &RunContext<'_>, b: &Builder) -> Option<LockState> {
    workdir::probe_lock(&workdir_of(ctx, b)).ok()
}

/// `-r`/`--section` need the chroot an earlier build left in `workdir`.
pub fn check_chroot(mode: BuildMode, b: &Builder, workdir: &str) -> Result<(), (String, String)> {
    if mode.in_existing_chroot() && !std::path::Path::new(workdir).join("chroot").is_dir() {
        return Err(missing_chroot(&b.name, workdir, None, mode));
    }
    Ok(())
}

/// A section's `--rebuild-prog` script, written next to the tarball (a
/// private directory of this run), one per builder.
pub fn write_section_script(ctx: &RunContext<'_>, b: &Builder) -> std::io::Result<Option<PathBuf>> {
    let BuildMode::Section(section) = ctx.options.mode else {
        return Ok(None);
    };
    let dir = ctx
        .tarball
        .path
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let path = dir.join(format!("section-{}.sh", b.name));
    // hsh-rebuild has no --packager: the chroot's own (from the build
    // that made it) stays, as with hsh-rebuild itself.
    let args = crate::hasher::invocation::rpmbuild_args(&HshOptions {
        rpmbuild_args: ctx.options.rpmbuild_args.clone(),
        skip: ctx.options.skip_checks.clone(),
        ..HshOptions::default()
    })
    .unwrap_or_default();
    std::fs::write(&path, section_script(section, &args))?;
    Ok(Some(path))
}

fn build_inner(ctx: &RunContext<'_>, b: &Builder, emit: &Emitter, cancel: &CancelToken) -> Ended {
    if let Some(why) = ctx.tarball.spec.skip_reason(&b.arch) {
        return Ended::skipped(why);
    }
    let vars = build_vars(ctx, b, &ctx.home.to_string_lossy());
    let rebuild_prog = match write_section_script(ctx, b) {
        Ok(p) => p.map(|p| p.to_string_lossy().into_owned()),
        Err(e) => {
            return Ended::unusable(
                format!("cannot write the --section script next to the tarball: {e}"),
                "check free space in the temporary directory ($TMPDIR)".into(),
            )
        }
    };
    let template = b.command.as_ref().unwrap_or(&ctx.global.build.command);
    let apt = ctx.apt_dir(&b.name).join("apt.conf");
    let opts = HshOptions {
        host_arch: ctx.host_arch.clone(),
        workdir: workdir_of(ctx, b).to_string_lossy().into_owned(),
        apt_config: apt.is_file().then(|| apt.to_string_lossy().into_owned()),
        rpmbuild_args: ctx.options.rpmbuild_args.clone(),
        packager: ctx.options.packager.clone(),
        package: ctx.tarball.path.to_string_lossy().into_owned(),
        hsh_program: ctx.global.commands.hsh.clone(),
        no_wait_lock: true,
        mode: ctx.options.mode,
        skip: ctx.options.skip_checks.clone(),
        rebuild_prog,
    };
    let hsh = match hsh_argv(template, &vars, &b.arch, &opts) {
        Ok(c) => c,
        Err(e) => {
            let (m, h) = template_error(b, template, &e);
            return Ended::unusable(m, h);
        }
    };
    if let Some(p) = preflight(&hsh, b) {
        return Ended::unusable(p.message, p.hint);
    }
    let workdir = PathBuf::from(hsh.workdir().unwrap_or(&opts.workdir));
    if let Err((message, hint)) = check_chroot(ctx.options.mode, b, &workdir.to_string_lossy()) {
        return Ended::unusable(message, hint);
    }
    let argv = hsh.argv.clone();
    let log = log_path(ctx, b);
    let dirs = ResultDirs::from_args(&hsh.args, &workdir, hsh.target(&b.arch));
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
    if produced.is_empty() && ctx.options.mode.expected() == Expected::Nothing {
        return Ended::success(Vec::new(), &log);
    }
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

/// A command template hsh would refuse, as a pre-flight problem naming the
/// file it comes from.
pub fn template_error(
    b: &Builder,
    template: &CommandTemplate,
    e: &HshOptionError,
) -> (String, String) {
    let origin = if b.command.is_some() {
        format!("command in {}", b.origin())
    } else {
        "[build] command in ~/.zoryn".to_string()
    };
    (
        format!(
            "hsh would refuse the command template `{}` ({origin}): hsh: {e}",
            template.raw()
        ),
        format!("fix the {origin}; hsh's options are listed by `hsh --help`"),
    )
}

/// Every pre-flight problem of a local builder at once (SPEC 5.1 step 1):
/// the caller (root, `hashman`), the workdir hsh will use, the satellite
/// users and the mount points and devices of the command, as hsh sees it.
pub fn preflight(hsh: &HshCommand, b: &Builder) -> Option<PrivProblem> {
    let caller = Caller::current();
    let mut problems = priv_config::caller_problems(&caller, &Membership::local(&caller), "");
    if let Some(wd) = hsh.workdir() {
        if let Err(p) = workdir::check_local(std::path::Path::new(wd)) {
            problems.push(PrivProblem {
                message: p.message,
                hint: p.hint,
            });
        }
    }
    if caller.uid != 0 {
        problems.extend(priv_config::problems(
            &priv_config::LocalTree(priv_config::config_dir()),
            &caller,
            hsh.number(b.hasher_number),
            &hsh.args.mountpoints(),
        ));
    }
    priv_config::combine(problems)
}
