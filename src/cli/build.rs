//! `zoryn build`: the package in this gear repository, on the selected builders.

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Instant;

use clap::Args;

use super::error::{finish, Error, ErrorKind};
use super::output::{show_events, top_possible, OutputMode, SelectionArgs};
use crate::farm::selection::choose;
use crate::hasher::build_mode::{BuildMode, Section};
use crate::report::summary;
use crate::run::busy::BusyPolicy;
use crate::run::context::Controls;
use crate::run::emitter::Emitter;
use crate::run::events::info;
use crate::run::events::EventKind;
use crate::run::executor::exit_class;
use crate::run::exit_code::ExitCode;
use crate::run::session::{BuildSession, SessionEnd};
use crate::source::{gear, repo};
use crate::transport::ssh::{Hosts, SshSettings};

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

/// Where a program would be found on PATH (or the path itself if it has a /).
fn on_path(program: &str) -> bool {
    if program.contains('/') {
        return std::path::Path::new(program).is_file();
    }
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
        .unwrap_or(false)
}

/// `zoryn build`: the process exit (its error, if any, printed).
pub fn cmd_build(args: BuildArgs, verbose: u8, quiet: bool) -> i32 {
    finish(build(args, verbose, quiet))
}

/// `zoryn build` as a result: how the run ended, or the error that ended
/// it before or around the builds.
pub fn build(args: BuildArgs, verbose: u8, quiet: bool) -> Result<ExitCode, Error> {
    let loaded = match crate::cli::load::load_config() {
        Ok(l) => l,
        // load_config printed its errors already.
        Err(code) => return Ok(ExitCode::from_code(code)),
    };
    let req = args.select.request();
    let builders = choose(&loaded.farm, &loaded.global.builders, &req)?;
    let branch_parallel = match args.select.branch.as_slice() {
        [one] => loaded
            .global
            .builders
            .branches
            .get(one)
            .and_then(|t| t.parallel),
        _ => None,
    };
    let parallel = if args.parallel {
        true
    } else if args.sequential {
        false
    } else {
        branch_parallel.unwrap_or(loaded.global.builders.parallel)
    };
    if parallel && builders.len() == 1 && !quiet {
        eprintln!(
            "zoryn: warning: parallel builds are on, but only `{}` matched; check the pattern with `zoryn builder list -b PATTERN --explain`",
            builders[0].name
        );
    }

    let start_dir = match args.directory.clone() {
        Some(d) => d,
        None => std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
    };
    let git = &loaded.global.commands.git;
    let root = repo::git_root(git, &start_dir)
        .and_then(|r| repo::open(&r))
        .map_err(|e| Error::source(e, ErrorKind::Usage))?;
    if builders.iter().any(|b| b.is_local()) {
        let hsh = loaded
            .global
            .commands
            .hsh
            .first()
            .map(String::as_str)
            .unwrap_or("hsh");
        let template_prog = loaded
            .global
            .build
            .command
            .raw_words()
            .next()
            .unwrap_or("hsh");
        let prog = if template_prog == "hsh" {
            hsh
        } else {
            template_prog
        };
        // -r/--section run hsh-rebuild, which hasher installs next to hsh.
        let in_chroot = args.rebuild || args.section.is_some();
        let prog = if in_chroot && prog.rsplit('/').next() == Some("hsh") {
            crate::hasher::build_mode::rebuild_program(prog)
        } else {
            prog.to_string()
        };
        if !on_path(&prog) {
            return Err(Error::infra(
                format!("`{prog}` is not installed (or not in PATH)"),
                "install hasher: apt-get install hasher (ALT package `hasher`), or set [commands] hsh in ~/.zoryn",
            ));
        }
    }

    if args.top && !top_possible() {
        return Err(Error::usage(
            "--top needs a terminal (stdin and stdout are not both one)",
            "drop --top, or use --json for machine-readable progress",
        ));
    }
    let mode = BuildMode::from_flags(args.rebuild, args.section);
    let skip_checks = args.skip.skip_check.clone().unwrap_or_default();
    let cancel = super::interrupt::token().map_err(|e| Error::new(ErrorKind::Infra, e, None))?;
    let run_token = cancel.child();
    let controls = Controls::new(run_token.clone(), &builders);
    let hosts = Hosts::new(SshSettings::from_config(
        &loaded.global,
        loaded.paths.runtime_dir.clone(),
    ));
    let spec = crate::source::specdeps::SpecText::new(
        std::fs::read_to_string(root.root.join(&root.spec)).unwrap_or_default(),
    );
    let tar_name = gear::tar_name(&root);
    let plan_input = crate::run::remote::PlanInput {
        global: &loaded.global,
        builders_dir: &loaded.paths.builders_dir,
        git_root: &root.root,
        pkg: &spec.name,
        tar_name: &tar_name,
        rpmbuild_args: args.rpmbuild_args.clone(),
        packager: args.packager.clone(),
        chain: false,
        mode,
        skip_checks: skip_checks.clone(),
    };
    let post_build_checks =
        super::output::post_build_checks(args.skip.skip_check.as_ref(), &loaded.global.checks);
    let session = BuildSession {
        loaded: &loaded,
        root: &root,
        builders: &builders,
        plan_input,
        hosts: &hosts,
        rpmbuild_args: args.rpmbuild_args.clone(),
        packager: args.packager.clone(),
        mode,
        skip_checks: skip_checks.clone(),
        busy: if args.fail_if_busy {
            BusyPolicy::Fail
        } else if args.skip_busy {
            BusyPolicy::Skip
        } else {
            BusyPolicy::Wait
        },
        fail_fast: args.fail_fast,
        parallel,
        checks: post_build_checks,
        run_token: run_token.clone(),
        controls: &controls,
    };
    let (tx, rx) = mpsc::channel();
    let started = Instant::now();
    let emitter = Emitter::new(tx, started);
    emitter.emit(EventKind::RunStarted {
        package: spec.name.clone(),
        version: format!("{}-{}", spec.version, spec.release),
        builders: builders.iter().map(|b| info(b)).collect(),
        parallel,
    });
    let outcome = std::thread::scope(|s| {
        let worker = s.spawn(|| {
            let emitter = emitter;
            session.run(&emitter)
        });
        let mode = OutputMode {
            json: args.json,
            top: args.top,
            verbose: verbose > 0,
            quiet,
        };
        show_events(rx, mode, &controls, &cancel, started);
        worker.join()
    });
    let Ok(SessionEnd {
        results,
        source_error,
    }) = outcome
    else {
        return Err(Error::infra(
            "the build runner crashed",
            "please report this with the command line you used",
        ));
    };
    if let Some(e) = source_error {
        if cancel.is_cancelled() {
            return Ok(ExitCode::Interrupted);
        }
        return Err(Error::source(e, ErrorKind::Build));
    }
    let code = exit_class(&results);
    if !args.json {
        // The terminal may be gone (--top closed by a hangup): never panic here.
        let _ = std::io::Write::write_all(
            &mut std::io::stdout(),
            summary::render(
                &results,
                crate::report::color::enabled_for(std::io::IsTerminal::is_terminal(
                    &std::io::stdout(),
                )),
            )
            .as_bytes(),
        );
    }
    if cancel.is_cancelled() {
        return Ok(ExitCode::Interrupted);
    }
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
        &format!("zoryn build {}: {verdict}", spec.name),
        &body.join("\n"),
        !code.is_ok(),
    );
    Ok(code)
}
