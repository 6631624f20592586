//! `zoryn build`: the package in this gear repository, on the selected
//! builders. Flags → [`BuildSession`] (the orchestration, in `run`) →
//! rendered: progress through [`drive`], then the results table, the exit
//! code and the end-of-run notification. Must not decide anything about the
//! run itself.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use super::error::{Error, ErrorKind};
use super::output::{drive, OutputMode, SelectionArgs};
use crate::farm::loaded::Loaded;
use crate::hasher::build_mode::{BuildMode, Section};
use crate::report::summary;
use crate::run::busy::BusyPolicy;
use crate::run::context::BuildOptions;
use crate::run::events::BuilderResult;
use crate::run::executor::exit_class;
use crate::run::exit_code::ExitCode;
use crate::run::session::{BuildRequest, BuildSession, PrepareError, SessionEnd, Warning};

#[derive(Args, Debug)]
pub struct BuildArgs {
    /// Run as if started in DIR (a gear repository)
    #[arg(short = 'C', value_name = "DIR")]
    pub directory: Option<PathBuf>,
    #[command(flatten)]
    pub select: SelectionArgs,
    /// Build on all selected builders at once
    #[arg(short = 'p', long, conflicts_with = "sequential")]
    pub parallel: bool,
    /// Build on one builder after another
    #[arg(short = 's', long)]
    pub sequential: bool,
    /// Extra arguments for rpmbuild (passed as hsh --rpmbuild-args)
    #[arg(long, value_name = "ARGS", allow_hyphen_values = true)]
    pub rpmbuild_args: Option<String>,
    /// Packager tag (passed as hsh --packager)
    #[arg(long, value_name = "NAME <EMAIL>")]
    pub packager: Option<String>,
    /// Machine-readable output: JSON lines of events, then a summary
    #[arg(long, conflicts_with = "top")]
    pub json: bool,
    /// Full-screen live view of every builder (htop-like)
    #[arg(long)]
    pub top: bool,
    /// Stop the other builds as soon as one fails
    #[arg(long)]
    pub fail_fast: bool,
    /// A builder whose hasher workdir is locked fails instead of waiting
    #[arg(long, conflicts_with = "skip_busy")]
    pub fail_if_busy: bool,
    /// A builder whose hasher workdir is locked is skipped instead of waited for
    #[arg(long)]
    pub skip_busy: bool,
    /// Rebuild in the builder's existing chroot (hsh-rebuild) instead of a fresh hsh
    #[arg(short = 'r', long)]
    pub rebuild: bool,
    /// Run one rpmbuild stage in the existing chroot: prep, build, install (short-circuit), bb, ba (packaging)
    #[arg(long, value_name = "SECTION", value_parser = parse_section)]
    pub section: Option<Section>,
    #[command(flatten)]
    pub skip: super::skip_check::SkipCheckArg,
}

pub fn parse_section(s: &str) -> Result<Section, String> {
    Section::parse(s)
}

/// `zoryn build` as a result: how the run ended, or the error that ended
/// it before or around the builds.
pub fn build(args: BuildArgs, verbose: u8, quiet: bool) -> Result<ExitCode, Error> {
    let loaded = crate::cli::load::load()?;
    let cancel = super::interrupt::token().map_err(|e| Error::new(ErrorKind::Infra, e, None))?;
    let mut warn = |w: Warning| {
        if !quiet {
            eprintln!("zoryn: warning: {}", warning_text(&w));
        }
    };
    let session = BuildSession::prepare(&loaded, request(&args, &loaded), &cancel, &mut warn)
        .map_err(prepare_error)?;
    let mode = OutputMode::of(args.json, args.top, verbose, quiet)?;
    let started = Instant::now();
    let end = drive(mode, session.controls(), &cancel, started, |emitter| {
        session.run(emitter)
    })
    .ok_or_else(|| {
        Error::infra(
            "the build runner crashed",
            "please report this with the command line you used",
        )
    })?;
    let SessionEnd {
        results,
        source_error,
    } = end;
    if let Some(e) = source_error {
        if cancel.is_cancelled() {
            return Ok(ExitCode::Interrupted);
        }
        return Err(Error::source(e, ErrorKind::Build));
    }
    let code = exit_class(&results);
    if !args.json {
        print_summary(&results);
    }
    if cancel.is_cancelled() {
        return Ok(ExitCode::Interrupted);
    }
    notify_ended(&loaded, session.package(), &results, started, code);
    Ok(code)
}

/// The flags, as the core's request.
fn request(args: &BuildArgs, loaded: &Loaded) -> BuildRequest {
    let parallel = if args.parallel {
        Some(true)
    } else if args.sequential {
        Some(false)
    } else {
        None
    };
    let busy = if args.fail_if_busy {
        BusyPolicy::Fail
    } else if args.skip_busy {
        BusyPolicy::Skip
    } else {
        BusyPolicy::Wait
    };
    BuildRequest {
        selection: args.select.request(),
        directory: args
            .directory
            .clone()
            .unwrap_or_else(|| std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."))),
        parallel,
        busy,
        fail_fast: args.fail_fast,
        options: BuildOptions::new(
            args.rpmbuild_args.clone(),
            args.packager.clone(),
            BuildMode::from_flags(args.rebuild, args.section),
            args.skip.skip_check.clone().unwrap_or_default(),
            &loaded.global.checks,
        ),
    }
}

fn warning_text(w: &Warning) -> String {
    match w {
        Warning::ParallelWithOneBuilder { builder } => format!(
            "parallel builds are on, but only `{builder}` matched; check the pattern with `zoryn builder list -b PATTERN --explain`"
        ),
    }
}

fn prepare_error(e: PrepareError) -> Error {
    match e {
        PrepareError::Selection(e) => e.into(),
        PrepareError::Source(e) => Error::source(e, ErrorKind::Usage),
        PrepareError::HasherMissing { program } => Error::infra(
            format!("`{program}` is not installed (or not in PATH)"),
            "install hasher: apt-get install hasher (ALT package `hasher`), or set [commands] hsh in ~/.zoryn",
        ),
    }
}

/// The results table on stdout.
fn print_summary(results: &[BuilderResult]) {
    let color = crate::report::color::enabled_for(std::io::stdout().is_terminal());
    // The terminal may be gone (--top closed by a hangup): never panic here.
    let _ = std::io::stdout().write_all(summary::render(results, color).as_bytes());
}

/// The desktop notification (or bell) of a long run, as configured.
fn notify_ended(
    loaded: &Loaded,
    package: &str,
    results: &[BuilderResult],
    started: Instant,
    code: ExitCode,
) {
    let verdict = if code.is_ok() { "OK" } else { "FAILED" };
    let body: Vec<String> = results
        .iter()
        .map(|r| {
            format!(
                "{}: {} ({})",
                r.builder.name,
                r.outcome.label(),
                crate::report::human_duration(r.elapsed.as_secs_f64())
            )
        })
        .collect();
    crate::report::notify::run_ended(
        &loaded.global.notify,
        started.elapsed(),
        &format!("zoryn build {package}: {verdict}"),
        &body.join("\n"),
        !code.is_ok(),
    );
}
