//! `zoryn up`: update the package to a new upstream version, then build it
//! exactly as `zoryn build` does (its flags are flattened in, and the build
//! stage is one call to [`super::build::build`]).
//!
//! Parses flags, runs `crate::up::pipeline` and renders its events; must not
//! hold pipeline logic.

use std::path::PathBuf;

use clap::Args;

use super::build::{build, BuildArgs};
use super::error::{Error, ErrorKind};
use crate::run::exit_code::ExitCode;
use crate::up::git::Git;
use crate::up::journal::Stage;
use crate::up::pipeline::{self, Context, Event, Mode, Options, Outcome};

/// `zoryn up --help` and the man page's DESCRIPTION.
pub const LONG_ABOUT: &str = "Update the package in the current gear repository to its newest upstream \
version, then build it on the farm exactly as `zoryn build` does (same flags, results, logs and exit codes). \
Nothing is pushed, tagged for release or submitted.

Stages, in order: detect, fetch, merge (git scheme) or import (tarball scheme), hooks, spec, commit, build.

detect: git scheme (upstream history in the repository; `tar: v@version@:.` in .gear/rules or a remote \
named `upstream`, whose tags are fetched first): versions from tags of the form the rules fix \
(`v1.2` for `tar: v@version@:.`), else `v1.2`, `NAME-1.2`, `1.2`; tarball scheme \
(-t, or a .gear/*.watch file): versions from the archives the uscan-style watch file matches, read over \
http(s)://, ftp:// or file:// with curl. Versions compare as rpm compares them; prereleases (rc, beta, alpha, \
pre, dev) only with -f. An up-to-date package exits 0 and nothing changes.
fetch: the tag is checked, or the archive downloaded.
merge: the tag is merged into the current branch and stored in .gear/tags (as gear-store-tags does). \
import: the archive replaces the directory the `tar:` rule names (as gear-update does), committed.
hooks: executable files in .gear/merge-up.d/, then in .gear/up.d/, run in name order in the repository \
root with the new version as $1 and ZORYN_UP_OLD_VERSION, ZORYN_UP_NEW_VERSION, ZORYN_UP_REPO (git scheme: \
also TAG, COMMIT, SHORTCOMMIT) set; a failing hook stops the update.
spec: Version (or the macro it names), Release: alt1, a %changelog entry from [add_changelog] up_template \
(default `- {old_version} -> {new_version}`; also {name}) by --packager or git's user.name/user.email.
commit: a commit in gear-commit style (VERSION-RELEASE, then the entry).
build: `zoryn build` with the given flags.

A conflict, a failing hook, a failed build or Ctrl-C stop the update; its journal \
($XDG_STATE_HOME/zoryn/up/) keeps the state: --continue goes on, --abort puts the branch, index, work tree \
and tags back as they were, --restart starts over, --stage S runs one stage, --from S runs from S on. \
Build flags are taken from the command line of each run.";

#[derive(Args, Debug)]
pub struct UpArgs {
    /// Tarball scheme: take new versions from the watch file's release
    /// archives and import them (instead of merging an upstream git tag)
    #[arg(short = 't', long)]
    pub tarball: bool,
    /// Merge this upstream tag (skips version detection)
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,
    /// Also take prereleases (rc, beta, alpha, pre, dev), and move a
    /// prerelease to its stable release
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Merge an upstream history unrelated to the packaging branch
    #[arg(long)]
    pub allow_unrelated_histories: bool,
    /// Go on after a conflict, a failing hook, a failed build or Ctrl-C
    #[arg(long = "continue", group = "action")]
    pub continue_: bool,
    /// Undo the update: branch, index, work tree and tags as before `up`
    #[arg(long, group = "action")]
    pub abort: bool,
    /// Undo the update in progress and start again
    #[arg(long, group = "action")]
    pub restart: bool,
    /// Run one stage of the update in progress
    #[arg(long, value_enum, value_name = "STAGE", group = "action")]
    pub stage: Option<Stage>,
    /// Run the update in progress from this stage on
    #[arg(long, value_enum, value_name = "STAGE", group = "action")]
    pub from: Option<Stage>,
    #[command(flatten)]
    pub build: BuildArgs,
}

pub fn cmd_up(args: UpArgs, verbose: u8, quiet: bool) -> Result<ExitCode, Error> {
    let loaded = crate::cli::load::load()?;
    let start_dir = match args.build.directory.clone() {
        Some(d) => d,
        None => std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
    };
    let git_cmd = loaded.global.commands.git.clone();
    let root = crate::source::repo::git_root(&git_cmd, &start_dir)?;
    let cancel = super::interrupt::token().map_err(|e| Error::infra(e, ""))?;
    let git = Git::new(&git_cmd, &root, cancel.clone());
    let ctx = Context::new(git, &loaded.paths.state_dir)?;
    let mode = if args.continue_ {
        Mode::Continue
    } else if args.abort {
        Mode::Abort
    } else if args.restart {
        Mode::Restart
    } else if let Some(s) = args.stage {
        Mode::Only(s)
    } else if let Some(s) = args.from {
        Mode::From(s)
    } else {
        Mode::Start
    };
    let opts = Options {
        force: args.force,
        tarball: args.tarball,
        tag: args.tag.clone(),
        allow_unrelated: args.allow_unrelated_histories,
        packager: args.build.packager.clone(),
        template: loaded.global.add_changelog_up_template.clone(),
        now_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0),
    };
    let mut on_event = |e: Event| {
        if quiet {
            return;
        }
        match e {
            Event::StageStarted(s) if verbose > 0 => eprintln!("zoryn: up: {} ...", s.name()),
            Event::StageDone {
                stage,
                seconds,
                note,
            } => {
                let time = if verbose > 0 {
                    format!(" ({seconds:.2} s)")
                } else {
                    String::new()
                };
                match note {
                    Some(n) => eprintln!("zoryn: up: {}: {n}{time}", stage.name()),
                    None => eprintln!("zoryn: up: {}: done{time}", stage.name()),
                }
            }
            _ => {}
        }
    };
    // The build stage is `zoryn build`, in the repository, with the flags
    // given to this `up`.
    let json = args.build.json;
    let mut build_args = Some(args.build);
    let root_for_build = root.clone();
    let mut build = || {
        let Some(mut b) = build_args.take() else {
            return ExitCode::Infra.code();
        };
        b.directory = Some(root_for_build.clone());
        // Its error is printed here; the pipeline keeps the exit class.
        super::error::finish(build(b, verbose, quiet))
    };
    match pipeline::run(&ctx, mode, &opts, &mut on_event, &mut build)? {
        Outcome::UpToDate {
            current,
            skipped_prereleases,
        } => {
            if !quiet {
                // stdout carries only JSON with --json.
                if json {
                    eprintln!("zoryn: up: already up to date: {current}");
                } else {
                    println!("already up to date: {current}");
                }
                if !skipped_prereleases.is_empty() {
                    eprintln!(
                        "zoryn: note: newer prereleases skipped: {} (take them with -f)",
                        skipped_prereleases.join(", ")
                    );
                }
            }
            Ok(ExitCode::Ok)
        }
        Outcome::Aborted => {
            if !quiet {
                eprintln!(
                    "zoryn: up: aborted; {} is as it was before `zoryn up`",
                    root.display()
                );
            }
            Ok(ExitCode::Ok)
        }
        Outcome::Finished(j) => {
            if !quiet && verbose > 0 {
                let total: f64 = j.stages.iter().filter_map(|r| r.seconds).sum();
                eprintln!("zoryn: up: all stages in {total:.2} s");
            }
            Ok(ExitCode::Ok)
        }
        Outcome::BuildFailed(code, j) => Err(Error::new(
            ErrorKind::of_exit(ExitCode::from_code(code)),
            format!(
                "the build of {} {} failed; the update commit is kept",
                j.package,
                j.new_version.as_deref().unwrap_or("")
            ),
            Some("fix the package (amend the commit if needed), then `zoryn up --continue` builds again; `zoryn up --abort` undoes the update"),
        )),
    }
}
