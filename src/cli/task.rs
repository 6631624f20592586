//! `zoryn task batch`: build many packages across the farm in dependency
//! order (SPEC 7). Parses flags, resolves the batch and its builders, takes
//! the batch lock, and hands over to `batch::runner`; renders the plan or the
//! report.

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};

use super::error::{finish, Error, ErrorKind};
use super::output::{show_events, top_possible, OutputMode, SelectionArgs};
use crate::batch::file::{locate, BatchFile, PackageSource};
use crate::batch::history::History;
use crate::batch::journal::{now, state_of, AlreadyRunning, BatchLock, Journal, Record, RunStatus};
use crate::batch::runner::{builder_infos, plan_lanes, render_plan, BatchRun, Package, Start};
use crate::batch::runner::{plan_json, LeftOut};
use crate::batch::sources;
use crate::config::template::Vars;
use crate::farm::selection::{choose, SelectionRequest};
use crate::run::chain::ChainRepo;
use crate::run::context::Controls;
use crate::run::emitter::Emitter;
use crate::run::events::EventKind;
use crate::run::exit_code::ExitCode;

#[derive(Subcommand, Debug)]
pub enum TaskCommand {
    /// Build a batch of packages in dependency order across the farm
    Batch(BatchArgs),
}

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("mode").args(["plan", "resume", "restart", "abort"])))]
pub struct BatchArgs {
    /// A batch name ($XDG_CONFIG_HOME/zoryn/batch/NAME.conf), or the path of a batch file
    #[arg(value_name = "BATCH", add = super::complete::batch())]
    pub batch: String,
    /// Build only these packages of the batch (their table names)
    #[arg(long = "batch-pkgs", value_name = "A,B", value_delimiter = ',')]
    pub batch_pkgs: Vec<String>,
    /// Builders: -b/-a/-B override the batch's `builders`, `arch`, `branch`
    #[command(flatten)]
    pub select: SelectionArgs,
    /// Print the dependency levels, order and estimated makespan; build nothing
    #[arg(long)]
    pub plan: bool,
    /// Resume an interrupted run (finished jobs with intact results are kept)
    #[arg(long = "continue")]
    pub resume: bool,
    /// Forget the earlier run and start over
    #[arg(long)]
    pub restart: bool,
    /// Stop a running batch (its remote builds too) and clean up
    #[arg(long)]
    pub abort: bool,
    /// Stop everything at the first build failure
    #[arg(long)]
    pub fail_fast: bool,
    /// JSON lines of events, then a summary; with --plan: the plan as one JSON object
    #[arg(long, conflicts_with = "top")]
    pub json: bool,
    /// Full-screen live view of every slot
    #[arg(long)]
    pub top: bool,
    /// Extra arguments for rpmbuild (hsh --rpmbuild-args)
    #[arg(long, value_name = "ARGS", allow_hyphen_values = true)]
    pub rpmbuild_args: Option<String>,
    /// Packager tag (hsh --packager)
    #[arg(long, value_name = "NAME <EMAIL>")]
    pub packager: Option<String>,
    #[command(flatten)]
    pub skip: super::skip_check::SkipCheckArg,
}

pub fn cmd_task(cmd: TaskCommand, verbose: u8, quiet: bool) -> i32 {
    match cmd {
        TaskCommand::Batch(a) => cmd_batch(a, verbose, quiet),
    }
}

fn cmd_batch(args: BatchArgs, verbose: u8, quiet: bool) -> i32 {
    finish(batch(args, verbose, quiet))
}

/// `zoryn task batch` as a result: how the batch ended, or the error that
/// ended it.
fn batch(args: BatchArgs, verbose: u8, quiet: bool) -> Result<ExitCode, Error> {
    let loaded = match crate::cli::load::load_config() {
        Ok(l) => l,
        // load_config printed its errors already.
        Err(code) => return Ok(ExitCode::from_code(code)),
    };
    let path = locate(&args.batch, &loaded.paths.config_dir.join("batch"))
        .map_err(|e| Error::new(ErrorKind::Usage, e.to_string(), None))?;
    let file = BatchFile::load(&path, &loaded.paths.home)
        .map_err(|e| Error::new(ErrorKind::Usage, e.to_string(), None))?;
    let state_dir = loaded.paths.state_dir.join("batches").join(&file.name);
    let lock_path = state_dir.join("batch.lock");
    let journal_path = state_dir.join("journal.jsonl");
    let chain_root = {
        let v = Vars {
            home: Some(loaded.paths.home.to_string_lossy().into_owned()),
            batch: Some(file.name.clone()),
            ..Vars::default()
        };
        PathBuf::from(loaded.global.builders.batch_repo.expand(&v)).join(&file.name)
    };
    let chain = ChainRepo::new(chain_root);

    if args.abort {
        return abort(&file.name, &lock_path, &journal_path, &chain);
    }

    let sel = &args.select;
    let req = SelectionRequest {
        pattern: sel.builder.clone().or_else(|| file.builders.clone()),
        arch: if sel.arch.is_empty() {
            file.arch.clone()
        } else {
            sel.arch.clone()
        },
        branch: if sel.branch.is_empty() {
            file.branch.clone()
        } else {
            sel.branch.clone()
        },
    };
    let builders = match choose(&loaded.farm, &loaded.global.builders, &req) {
        Ok(b) => b,
        Err(e) => {
            return Err(Error::new(
                ErrorKind::Usage,
                &e.message,
                Some(e.hint.as_deref().unwrap_or("")),
            ))
        }
    };
    let cancel = match super::interrupt::token() {
        Ok(t) => t,
        Err(e) => return Err(Error::new(ErrorKind::Infra, &e, Some(""))),
    };

    // Which packages: skip = true and --batch-pkgs leave some out.
    let describe = |p: &crate::batch::file::BatchPackage| match &p.source {
        PackageSource::Path(d) => d.display().to_string(),
        PackageSource::Git { url, .. } => url.clone(),
    };
    for wanted in &args.batch_pkgs {
        if !file.packages.iter().any(|p| &p.name == wanted) {
            let names: Vec<&str> = file.packages.iter().map(|p| p.name.as_str()).collect();
            return Err(Error::new(
                ErrorKind::Usage,
                format!(
                    "--batch-pkgs: no package `{wanted}` in the batch {} ({})",
                    file.name,
                    path.display()
                ),
                Some(&format!("the batch's packages: {}", names.join(", "))),
            ));
        }
    }
    let mut left_out: Vec<LeftOut> = Vec::new();
    let mut chosen = Vec::new();
    for p in &file.packages {
        let reason = if p.skip {
            Some("skip = true in the batch".to_string())
        } else if !args.batch_pkgs.is_empty() && !args.batch_pkgs.contains(&p.name) {
            Some("not in --batch-pkgs".to_string())
        } else {
            None
        };
        match reason {
            Some(reason) => left_out.push(LeftOut {
                name: p.name.clone(),
                path: describe(p),
                reason,
            }),
            None => chosen.push(p),
        }
    }
    if chosen.is_empty() {
        return Err(Error::new(
            ErrorKind::Usage,
            format!("batch {}: every package is left out", file.name),
            Some("remove skip = true from a package, or name others with --batch-pkgs"),
        ));
    }

    // The packages, on disk.
    let mut packages: Vec<Package> = Vec::new();
    for p in chosen {
        let what = format!("[{}] ({})", p.name, describe(p));
        let repo = match sources::fetch(p, &loaded.global.commands.git, &loaded.paths.home, &cancel)
        {
            Ok(r) => r,
            Err(e) => {
                let code = if e.missing_tool {
                    ErrorKind::Infra
                } else {
                    ErrorKind::Usage
                };
                return Err(Error::new(
                    code,
                    format!(
                        "{}:{}: package {what}: {}",
                        path.display(),
                        p.line,
                        e.message
                    ),
                    Some(e.hint.as_deref().unwrap_or("")),
                ));
            }
        };
        let pkg = match Package::new(repo, p, &file) {
            Ok(p) => p,
            Err(e) => {
                return Err(Error::new(
                    ErrorKind::Usage,
                    format!("{}:{}: package {what}: {e}", path.display(), p.line),
                    Some("check the repository, and the batch's specsubst values"),
                ))
            }
        };
        if let Some(other) = packages.iter().find(|o| o.name == pkg.name) {
            return Err(Error::new(
                ErrorKind::Usage,
                format!(
                    "{}:{}: package {what} is `{}`, which [{}] already is",
                    path.display(),
                    p.line,
                    pkg.name,
                    other.batch_name
                ),
                Some("list every package once"),
            ));
        }
        packages.push(pkg);
    }
    let history = History::load(&loaded.paths.state_dir);
    let lanes = plan_lanes(&packages, &builders, &history);
    if args.plan {
        if args.json {
            println!("{}", plan_json(&file.name, &lanes, &packages, &left_out));
        } else {
            print!(
                "{}",
                render_plan(&file.name, &lanes, &builders, &packages, &left_out)
            );
        }
        return Ok(ExitCode::Ok);
    }

    // One run at a time per batch.
    let _lock = match BatchLock::acquire(&lock_path) {
        Ok(Ok(l)) => l,
        Ok(Err(AlreadyRunning { pid })) => {
            let who = pid.map_or("another process".to_string(), |p| format!("pid {p}"));
            return Err(Error::new(
                ErrorKind::Usage,
                format!("batch {} is already running ({who})", file.name),
                Some(&format!(
                    "wait for it, watch it, or stop it with `zoryn task batch {} --abort`",
                    args.batch
                )),
            ));
        }
        Err(e) => {
            return Err(Error::new(
                ErrorKind::Infra,
                format!("cannot lock {}: {e}", lock_path.display()),
                Some("check $XDG_STATE_HOME"),
            ))
        }
    };
    let (records, torn) = match Journal::read(&journal_path) {
        Ok(r) => r,
        Err(e) => {
            return Err(Error::new(
                ErrorKind::Usage,
                e.to_string(),
                Some("move the damaged journal away and use --restart"),
            ))
        }
    };
    if let Some(t) = torn {
        eprintln!("zoryn: warning: ignoring a torn last line of {} ({} bytes; the previous run was cut off mid-write)", journal_path.display(), t.len());
    }
    let previous = state_of(&records);
    let unfinished = previous.has_run
        && previous.last_run_ended != Some(RunStatus::Finished)
        && previous.last_run_ended != Some(RunStatus::Aborted);
    let start = if args.resume {
        Start::Continue
    } else {
        if unfinished && !args.restart {
            let when = previous
                .started_at
                .map(|t| format!(" (started {:.0} s ago)", now() - t))
                .unwrap_or_default();
            return Err(Error::new(ErrorKind::Usage, format!("batch {} has an unfinished run{when}", file.name), Some(&format!("resume it with `zoryn task batch {0} --continue`, or `--restart` to start over, or `--abort`", args.batch))));
        }
        if previous.has_run {
            let archived = state_dir.join(format!("journal.{}.jsonl", now() as u64));
            let _ = std::fs::rename(&journal_path, archived);
            let _ = chain.clear();
        }
        Start::Fresh
    };
    let journal = match Journal::open(&journal_path) {
        Ok(j) => j,
        Err(e) => {
            return Err(Error::new(
                ErrorKind::Infra,
                format!("cannot write {}: {e}", journal_path.display()),
                Some("check $XDG_STATE_HOME"),
            ))
        }
    };
    let kept = if start == Start::Continue {
        previous.done.clone()
    } else {
        Default::default()
    };

    if args.top && !top_possible() {
        return Err(Error::new(
            ErrorKind::Usage,
            "--top needs a terminal (stdin and stdout are not both one)",
            Some("drop --top, or use --json"),
        ));
    }
    let run_token = cancel.child();
    let controls = Controls::new(run_token, &builders);
    let batch_run_len = packages.len();
    let batch_run = BatchRun {
        loaded: &loaded,
        name: file.name.clone(),
        packages,
        builders: builders.clone(),
        lanes,
        chain: chain.clone(),
        journal,
        history,
        start,
        kept,
        fail_fast: args.fail_fast,
        rpmbuild_args: args.rpmbuild_args.clone(),
        packager: args.packager.clone(),
        skip_checks: args.skip.skip_check.clone().unwrap_or_default(),
        checks: super::output::post_build_checks(
            args.skip.skip_check.as_ref(),
            &loaded.global.checks,
        ),
    };
    let (tx, rx) = mpsc::channel();
    let started = Instant::now();
    let emitter = Emitter::new(tx, started);
    emitter.emit(EventKind::RunStarted {
        package: format!("batch {}", file.name),
        version: format!("({} packages)", batch_run_len),
        builders: builder_infos(&builders),
        parallel: true,
    });
    let report = std::thread::scope(|s| {
        let worker = s.spawn(|| {
            let emitter = emitter;
            let report = batch_run.run(&emitter, &cancel, &controls);
            emitter.emit(EventKind::RunFinished {
                results: vec![],
                exit_code: report.exit_code,
            });
            report
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
    let Ok(report) = report else {
        return Err(Error::new(
            ErrorKind::Infra,
            "the batch runner crashed",
            Some("run again with --continue"),
        ));
    };
    let json_path = state_dir.join("report.json");
    let html_path = state_dir.join("report.html");
    if let Ok(text) = serde_json::to_string_pretty(&report) {
        let _ = crate::config::write_atomic(&json_path, &text);
    }
    let _ = crate::config::write_atomic(&html_path, &crate::report::batch::html::render(&report));
    if args.json {
        // The last line: the whole report, as in report.json.
        let mut v = serde_json::to_value(&report).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.insert("event".into(), "batch-report".into());
            o.insert("report_html".into(), html_path.display().to_string().into());
        }
        println!("{v}");
    } else {
        let text = format!(
            "{}report: {} ({})\n",
            report.table(),
            html_path.display(),
            json_path.display()
        );
        let _ = std::io::Write::write_all(&mut std::io::stdout(), text.as_bytes());
    }
    if !cancel.is_cancelled() {
        let verdict = if report.exit_code == ExitCode::Ok.code() {
            "OK"
        } else {
            "FAILED"
        };
        crate::report::notify::run_ended(
            &loaded.global.notify,
            started.elapsed(),
            &format!("zoryn task batch {}: {verdict}", report.batch),
            &format!("report: {}", html_path.display()),
            report.exit_code != ExitCode::Ok.code(),
        );
    }
    Ok(ExitCode::from_code(report.exit_code))
}

/// `--abort`: stop a running batch (SIGINT to it: it cancels its builds,
/// remote ones included, and waits for them), then mark the run aborted and
/// remove the batch's chain repository.
fn abort(
    name: &str,
    lock_path: &std::path::Path,
    journal_path: &std::path::Path,
    chain: &ChainRepo,
) -> Result<ExitCode, Error> {
    if let Some(pid) = BatchLock::holder(lock_path) {
        println!("stopping the running batch {name} (pid {pid})...");
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGINT,
        );
        let deadline = Instant::now() + Duration::from_secs(120);
        while BatchLock::holder(lock_path).is_some() {
            if Instant::now() > deadline {
                return Err(Error::new(
                    ErrorKind::Infra,
                    format!("batch {name} (pid {pid}) did not stop within 120 s"),
                    Some(&format!("kill it: kill {pid}")),
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let _lock = match BatchLock::acquire(lock_path) {
        Ok(Ok(l)) => l,
        _ => {
            return Err(Error::new(
                ErrorKind::Infra,
                format!("batch {name} started again while aborting"),
                Some("try --abort again"),
            ))
        }
    };
    if journal_path.exists() {
        if let Ok(mut j) = Journal::open(journal_path) {
            let _ = j.append(&Record::RunEnded {
                at: now(),
                status: RunStatus::Aborted,
            });
        }
    }
    if let Err(e) = chain.clear() {
        return Err(Error::new(
            ErrorKind::Infra,
            format!("cannot remove {}: {e}", chain.root().display()),
            Some("remove it by hand"),
        ));
    }
    println!("aborted batch {name}; removed {}", chain.root().display());
    Ok(ExitCode::Ok)
}
