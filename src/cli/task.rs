//! `zoryn task batch`: build many packages across the farm in dependency
//! order (SPEC 7). Flags → [`Batch`] and its session (the orchestration, in
//! `batch::session`) → rendered: the plan, or progress through [`drive`]
//! and then the report table, the exit code and the end-of-run
//! notification. Must not decide anything about the batch itself.

use std::time::Instant;

use clap::{Args, Subcommand};

use super::error::{Error, ErrorKind};
use super::output::{drive, OutputMode, SelectionArgs};
use crate::batch::session::{Batch, BatchEnd, BatchError, BatchRequest, BatchWarning};
use crate::batch::session::{Prepared, StartAs};
use crate::farm::loaded::Loaded;
use crate::hasher::build_mode::BuildMode;
use crate::run::context::BuildOptions;
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

pub fn cmd_task(cmd: TaskCommand, verbose: u8, quiet: bool) -> Result<ExitCode, Error> {
    match cmd {
        TaskCommand::Batch(a) => batch(a, verbose, quiet),
    }
}

/// `zoryn task batch` as a result: how the batch ended, or the error that
/// ended it.
fn batch(args: BatchArgs, verbose: u8, quiet: bool) -> Result<ExitCode, Error> {
    let loaded = crate::cli::load::load()?;
    let batch = Batch::locate(&loaded, &args.batch).map_err(batch_error)?;
    if args.abort {
        return abort(&batch);
    }
    let cancel = super::interrupt::token().map_err(|e| Error::new(ErrorKind::Infra, e, None))?;
    let mut warn = |w: BatchWarning| eprintln!("zoryn: warning: {}", warning_text(&w));
    let session = match batch.prepare(&loaded, request(&args, &loaded), &cancel, &mut warn) {
        Err(e) => return Err(batch_error(e)),
        Ok(Prepared::Plan(plan)) => {
            if args.json {
                println!("{}", plan.json());
            } else {
                print!("{}", plan.text());
            }
            return Ok(ExitCode::Ok);
        }
        Ok(Prepared::Ready(session)) => *session,
    };
    let mode = OutputMode::of(args.json, args.top, verbose, quiet)?;
    let started = Instant::now();
    let controls = session.controls();
    let end = drive(mode, &controls, &cancel, started, |emitter| {
        session.run(emitter)
    })
    .ok_or_else(|| Error::infra("the batch runner crashed", "run again with --continue"))?;
    print_report(&end, args.json);
    if !cancel.is_cancelled() {
        notify_ended(&loaded, &end, started);
    }
    Ok(ExitCode::from_code(end.report.exit_code))
}

/// The flags, as the core's request.
fn request(args: &BatchArgs, loaded: &Loaded) -> BatchRequest {
    let start = if args.resume {
        StartAs::Continue
    } else if args.restart {
        StartAs::Restart
    } else {
        StartAs::New
    };
    BatchRequest {
        selection: args.select.request(),
        only: args.batch_pkgs.clone(),
        plan_only: args.plan,
        start,
        fail_fast: args.fail_fast,
        options: BuildOptions::new(
            args.rpmbuild_args.clone(),
            args.packager.clone(),
            BuildMode::default(),
            args.skip.skip_check.clone().unwrap_or_default(),
            &loaded.global.checks,
        ),
    }
}

fn warning_text(w: &BatchWarning) -> String {
    match w {
        BatchWarning::TornJournal { path, bytes } => format!(
            "ignoring a torn last line of {} ({bytes} bytes; the previous run was cut off mid-write)",
            path.display()
        ),
    }
}

fn batch_error(e: BatchError) -> Error {
    let kind = if e.is_infra() {
        ErrorKind::Infra
    } else {
        ErrorKind::Usage
    };
    Error::new(kind, e.to_string(), e.hint().as_deref())
}

/// The report table and where the report files are (with `--json`: the
/// whole report as the last line, as in report.json).
fn print_report(end: &BatchEnd, json: bool) {
    let report = &end.report;
    if json {
        let mut v = report.to_json(&end.title);
        if let Some(o) = v.as_object_mut() {
            o.insert("event".into(), "batch-report".into());
            o.insert(
                "report_html".into(),
                end.html_path.display().to_string().into(),
            );
        }
        println!("{v}");
    } else {
        let text = format!(
            "{}report: {} ({})\n",
            report.summary(&end.label),
            end.html_path.display(),
            end.json_path.display()
        );
        let _ = std::io::Write::write_all(&mut std::io::stdout(), text.as_bytes());
    }
}

/// The desktop notification (or bell) of a long run, as configured.
fn notify_ended(loaded: &Loaded, end: &BatchEnd, started: Instant) {
    let failed = end.report.exit_code != ExitCode::Ok.code();
    let verdict = if failed { "FAILED" } else { "OK" };
    crate::report::notify::run_ended(
        &loaded.global.notify,
        started.elapsed(),
        &format!("zoryn task batch {}: {verdict}", end.report.batch),
        &format!("report: {}", end.html_path.display()),
        failed,
    );
}

/// `--abort`: stop the running batch, mark its run aborted and remove its
/// chain repository.
fn abort(batch: &Batch) -> Result<ExitCode, Error> {
    let name = batch.name();
    batch
        .abort(|pid| println!("stopping the running batch {name} (pid {pid})..."))
        .map_err(batch_error)?;
    println!(
        "aborted batch {name}; removed {}",
        batch.chain_root().display()
    );
    Ok(ExitCode::Ok)
}
