//! `zoryn builder clean`: remove hasher workdir contents (chroot, aptbox,
//! cache, repo — through `hsh --cleanup-only`, which takes the workdir lock)
//! and zoryn's upload directories on remote hosts. `--dry-run` lists exactly
//! what would go. A builder that is busy is skipped, never cleaned under a
//! running build.

use std::collections::BTreeSet;

use clap::Args;

use super::pick::{hosts, load, select_builders};
use crate::cli::error::{Error, Failures};
use crate::farm::Builder;
use crate::run::exit_code::ExitCode;
use crate::run::remote::REMOTE_BASE;
use crate::transport::cancel::CancelToken;
use crate::transport::site::Site;

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["builder", "all_remote"])))]
pub struct CleanArgs {
    /// Builders to clean
    #[arg(
        short = 'b',
        long = "builder",
        value_name = "PATTERN",
        add = crate::cli::complete::pattern()
    )]
    pub builder: Option<String>,
    /// Every remote builder
    #[arg(long = "all-remote")]
    pub all_remote: bool,
    /// List what would be removed, remove nothing
    #[arg(long = "dry-run")]
    pub dry_run: bool,
}

/// Lists which of the given paths exist.
const EXISTING_SCRIPT: &str =
    r#"for p in "$@"; do [ -e "$p" ] && printf '%s\n' "$p"; done; exit 0"#;

fn existing(site: &Site, paths: &[String], cancel: &CancelToken) -> Result<Vec<String>, Error> {
    let mut argv = vec![
        "sh".to_string(),
        "-c".to_string(),
        EXISTING_SCRIPT.to_string(),
        "zoryn-ls".to_string(),
    ];
    argv.extend(paths.iter().cloned());
    let out = site
        .query(&argv, cancel)
        .map_err(|e| Error::infra(format!("{e} ({})", e.hint), ""))?;
    Ok(out.stdout.lines().map(str::to_string).collect())
}

pub fn cmd_clean(args: CleanArgs) -> Result<ExitCode, Error> {
    let loaded = load()?;
    let chosen: Vec<&Builder> = if args.all_remote {
        loaded
            .farm
            .builders
            .iter()
            .filter(|b| !b.is_local())
            .collect()
    } else {
        select_builders(&loaded.farm, args.builder.as_deref())?
    };
    if chosen.is_empty() {
        println!("no remote builders are configured; nothing to clean");
        return Ok(ExitCode::Ok);
    }
    let hosts = hosts(&loaded);
    // Without handlers (very unlikely) a signal ends the command at once.
    let cancel = crate::cli::interrupt::token().unwrap_or_default();
    let home = loaded.paths.home.to_string_lossy().into_owned();
    let mut failures = Failures::default();
    let mut uploads_done = BTreeSet::new();
    for b in chosen {
        let site = match Site::for_builder(b, &hosts, &home, &cancel) {
            Ok(s) => s,
            Err(e) => {
                failures.report(Error::from(e).prefixed(&format!("{}: ", b.name)));
                continue;
            }
        };
        let wd = site.workdir(b);
        let mut targets: Vec<String> = ["chroot", "aptbox", "cache", "repo"]
            .iter()
            .map(|d| format!("{wd}/{d}"))
            .collect();
        let upload = format!("{}/{REMOTE_BASE}/upload", site.home);
        let clean_upload = site.host.is_some() && uploads_done.insert(site.name());
        if clean_upload {
            targets.push(upload.clone());
        }
        let found = match existing(&site, &targets, &cancel) {
            Ok(f) => f,
            Err(e) => {
                failures.report(e.prefixed(&format!("{}: ", b.name)));
                continue;
            }
        };
        let place = |p: &str| match &site.host {
            Some(h) => format!("{}:{p}", h.destination),
            None => p.to_string(),
        };
        if found.is_empty() {
            println!("{}: nothing to clean", b.name);
            continue;
        }
        if args.dry_run {
            for p in &found {
                println!("{}: would remove {}", b.name, place(p));
            }
            continue;
        }
        let in_workdir: Vec<&String> = found
            .iter()
            .filter(|p| p.starts_with(&format!("{wd}/")))
            .collect();
        if !in_workdir.is_empty() {
            let mut argv = vec![
                "hsh".to_string(),
                "--cleanup-only".to_string(),
                "--no-wait-lock".to_string(),
            ];
            if let Some(n) = b.hasher_number {
                argv.push(format!("--number={n}"));
            }
            argv.push(wd.clone());
            match site.query(&argv, &cancel) {
                Ok(out) if out.success() => {
                    for p in &in_workdir {
                        println!("{}: removed {}", b.name, place(p));
                    }
                }
                Ok(out) => {
                    let msg = format!("{}{}", out.stderr, out.stdout);
                    let busy = msg.contains("already locked") || msg.contains("Unable to lock");
                    let reason = if busy {
                        "busy (a build holds the workdir lock); skipped".to_string()
                    } else {
                        msg.lines()
                            .last()
                            .unwrap_or("hsh --cleanup-only failed")
                            .to_string()
                    };
                    failures.report(Error::infra(format!("{}: {reason}", b.name), ""));
                    continue;
                }
                Err(e) => {
                    failures.report(Error::from(e).prefixed(&format!("{}: ", b.name)));
                    continue;
                }
            }
        }
        if clean_upload && found.contains(&upload) {
            let argv = vec![
                "rm".to_string(),
                "-rf".to_string(),
                "--".to_string(),
                upload.clone(),
            ];
            match site.query(&argv, &cancel) {
                Ok(out) if out.success() => println!("{}: removed {}", b.name, place(&upload)),
                _ => failures.report(Error::infra(
                    format!("{}: could not remove {}", b.name, place(&upload)),
                    "",
                )),
            }
        }
    }
    Ok(failures.exit())
}
