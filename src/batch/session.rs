//! One `zoryn task batch` run (SPEC 7), the orchestration under the
//! command, which only turns flags into a [`BatchRequest`] and renders
//! what comes back.
//!
//! [`Batch::locate`] finds the batch file, its state directory and its
//! chain repo; [`Batch::abort`] stops a running batch; [`Batch::prepare`]
//! chooses the builders and the packages (`skip = true`, `--batch-pkgs`),
//! fetches and opens them and plans the lanes; unless only the plan was
//! asked for, it then takes the batch lock and decides from the journal
//! whether the run is fresh or continued. [`BatchSession::run`] drives the
//! [`BatchRun`] and saves its report (`report.json`, `report.html`).
//!
//! It never prints and never decides order (that is `graph`/`schedule`) or
//! how a job runs (that is `runner`): warnings ([`BatchWarning`]), errors
//! ([`BatchError`]) and the report go back to the command.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::file::{locate, BatchFile, BatchPackage, PackageSource};
use super::history::History;
use super::journal::{now, state_of, AlreadyRunning, BatchLock, Journal, Record, RunStatus};
use super::runner::{builder_infos, plan_json, plan_lanes, render_plan, BatchRun};
use super::runner::{Lane, LeftOut, Package, Start};
use super::sources;
use crate::config::error::ConfigError;
use crate::config::template::Vars;
use crate::farm::loaded::Loaded;
use crate::farm::selection::{choose, SelectionError, SelectionRequest};
use crate::farm::Builder;
use crate::report::batch::BatchReport;
use crate::run::chain::ChainRepo;
use crate::run::context::{BuildOptions, Controls};
use crate::run::emitter::Emitter;
use crate::run::events::EventKind;
use crate::source::SourceError;
use crate::transport::cancel::CancelToken;

/// How long `--abort` waits for the running batch to stop.
const ABORT_WAIT: Duration = Duration::from_secs(120);

/// What `zoryn task batch` was asked to do, in the core's terms.
pub struct BatchRequest {
    /// `-b/-a/-B` as given; what is not given comes from the batch file.
    pub selection: SelectionRequest,
    /// `--batch-pkgs`: build only these (table names); empty: all.
    pub only: Vec<String>,
    /// `--plan`: plan, build nothing (no lock taken).
    pub plan_only: bool,
    pub start: StartAs,
    pub fail_fast: bool,
    pub options: BuildOptions,
}

/// How the run relates to an earlier one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartAs {
    /// A fresh run; refused while an earlier run is unfinished.
    New,
    /// `--continue`: keep the finished jobs with intact results.
    Continue,
    /// `--restart`: forget the earlier run, finished or not.
    Restart,
}

/// (package, lane) → result files kept from an earlier run.
type Kept = HashMap<(String, String), Vec<PathBuf>>;

/// Why a batch could not be run (or aborted).
#[derive(Debug)]
pub enum BatchError {
    /// The batch file cannot be found, read or understood.
    File(ConfigError),
    /// No builder matches the selection.
    Selection(SelectionError),
    /// `--batch-pkgs` names a package the batch does not have.
    NoSuchPackage {
        wanted: String,
        batch: String,
        path: PathBuf,
        names: Vec<String>,
    },
    /// `skip = true` and `--batch-pkgs` leave nothing to build.
    AllLeftOut { batch: String },
    /// A package's source cannot be had (`at`: FILE:LINE of its table).
    Fetch {
        at: String,
        what: String,
        error: SourceError,
    },
    /// A package's repository cannot be opened as the batch asks.
    Open {
        at: String,
        what: String,
        error: String,
    },
    /// Two tables are the same package.
    Duplicate {
        at: String,
        what: String,
        name: String,
        other: String,
    },
    /// Another process runs this batch.
    AlreadyRunning {
        batch: String,
        arg: String,
        pid: Option<u32>,
    },
    /// The lock file cannot be taken.
    Lock { path: PathBuf, error: String },
    /// The journal cannot be read.
    JournalRead(String),
    /// An earlier run did not finish, and neither `--continue` nor
    /// `--restart` says what to do with it.
    Unfinished {
        batch: String,
        arg: String,
        started_ago: Option<f64>,
    },
    /// The journal cannot be written.
    JournalWrite { path: PathBuf, error: String },
    /// `--abort`: the running batch did not stop in time.
    AbortTimeout { batch: String, pid: u32 },
    /// `--abort`: the batch started again while it was being aborted.
    AbortRaced { batch: String },
    /// `--abort`: the chain repo cannot be removed.
    ChainClear { path: PathBuf, error: String },
}

impl BatchError {
    /// A tool, the machine or the state directory is at fault (exit 3),
    /// not the command line or the batch file (exit 2).
    pub fn is_infra(&self) -> bool {
        match self {
            BatchError::Fetch { error, .. } => error.missing_tool,
            BatchError::Lock { .. }
            | BatchError::JournalWrite { .. }
            | BatchError::AbortTimeout { .. }
            | BatchError::AbortRaced { .. }
            | BatchError::ChainClear { .. } => true,
            _ => false,
        }
    }

    /// What to do about it.
    pub fn hint(&self) -> Option<String> {
        let hint = match self {
            BatchError::File(_) => return None,
            BatchError::Selection(e) => e.hint.clone().unwrap_or_default(),
            BatchError::Fetch { error, .. } => error.hint.clone().unwrap_or_default(),
            BatchError::NoSuchPackage { names, .. } => {
                format!("the batch's packages: {}", names.join(", "))
            }
            BatchError::AllLeftOut { .. } => {
                "remove skip = true from a package, or name others with --batch-pkgs".into()
            }
            BatchError::Open { .. } => {
                "check the repository, and the batch's specsubst values".into()
            }
            BatchError::Duplicate { .. } => "list every package once".into(),
            BatchError::AlreadyRunning { arg, .. } => format!(
                "wait for it, watch it, or stop it with `zoryn task batch {arg} --abort`"
            ),
            BatchError::Lock { .. } | BatchError::JournalWrite { .. } => {
                "check $XDG_STATE_HOME".into()
            }
            BatchError::JournalRead(_) => {
                "move the damaged journal away and use --restart".into()
            }
            BatchError::Unfinished { arg, .. } => format!(
                "resume it with `zoryn task batch {arg} --continue`, or `--restart` to start over, or `--abort`"
            ),
            BatchError::AbortTimeout { pid, .. } => format!("kill it: kill {pid}"),
            BatchError::AbortRaced { .. } => "try --abort again".into(),
            BatchError::ChainClear { .. } => "remove it by hand".into(),
        };
        Some(hint).filter(|h| !h.is_empty())
    }
}

impl fmt::Display for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BatchError::File(e) => write!(f, "{e}"),
            BatchError::Selection(e) => f.write_str(&e.message),
            BatchError::NoSuchPackage {
                wanted,
                batch,
                path,
                ..
            } => write!(
                f,
                "--batch-pkgs: no package `{wanted}` in the batch {batch} ({})",
                path.display()
            ),
            BatchError::AllLeftOut { batch } => {
                write!(f, "batch {batch}: every package is left out")
            }
            BatchError::Fetch { at, what, error } => {
                write!(f, "{at}: package {what}: {}", error.message)
            }
            BatchError::Open { at, what, error } => write!(f, "{at}: package {what}: {error}"),
            BatchError::Duplicate {
                at,
                what,
                name,
                other,
            } => write!(
                f,
                "{at}: package {what} is `{name}`, which [{other}] already is"
            ),
            BatchError::AlreadyRunning { batch, pid, .. } => {
                let who = pid.map_or("another process".to_string(), |p| format!("pid {p}"));
                write!(f, "batch {batch} is already running ({who})")
            }
            BatchError::Lock { path, error } => {
                write!(f, "cannot lock {}: {error}", path.display())
            }
            BatchError::JournalRead(e) => f.write_str(e),
            BatchError::Unfinished {
                batch, started_ago, ..
            } => {
                let when = started_ago
                    .map(|s| format!(" (started {s:.0} s ago)"))
                    .unwrap_or_default();
                write!(f, "batch {batch} has an unfinished run{when}")
            }
            BatchError::JournalWrite { path, error } => {
                write!(f, "cannot write {}: {error}", path.display())
            }
            BatchError::AbortTimeout { batch, pid } => write!(
                f,
                "batch {batch} (pid {pid}) did not stop within {} s",
                ABORT_WAIT.as_secs()
            ),
            BatchError::AbortRaced { batch } => {
                write!(f, "batch {batch} started again while aborting")
            }
            BatchError::ChainClear { path, error } => {
                write!(f, "cannot remove {}: {error}", path.display())
            }
        }
    }
}

/// Something worth telling before the run, that does not stop it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BatchWarning {
    /// The journal's last line was cut off mid-write; it is ignored.
    TornJournal { path: PathBuf, bytes: usize },
}

/// A batch file, found, with where its state lives.
pub struct Batch {
    /// The batch as the user named it (for the hints' commands).
    arg: String,
    /// The batch file.
    path: PathBuf,
    file: BatchFile,
    state_dir: PathBuf,
    chain: ChainRepo,
}

/// What [`Batch::prepare`] made: the plan only (`--plan`), or a run ready
/// to go.
pub enum Prepared<'a> {
    Plan(BatchPlan<'a>),
    Ready(Box<BatchSession<'a>>),
}

/// The plan of a batch (`--plan`): lanes, order, what is left out.
pub struct BatchPlan<'a> {
    name: String,
    /// The name, and the display title when the file gives one.
    label: String,
    lanes: Vec<Lane>,
    builders: Vec<&'a Builder>,
    packages: Vec<Package>,
    left_out: Vec<LeftOut>,
}

/// A batch run, ready to go: builders chosen, packages opened, the lock
/// held, the journal open.
pub struct BatchSession<'a> {
    run: BatchRun<'a>,
    /// `[batch] name`, the display title (the file name when not given).
    title: String,
    label: String,
    state_dir: PathBuf,
    cancel: CancelToken,
    controls: Controls,
    lock: BatchLock,
}

/// How a batch run ended: its report, where it was saved. Holds the batch
/// lock until dropped.
pub struct BatchEnd {
    pub report: BatchReport,
    /// `[batch] name`, the display title (the file name when not given).
    pub title: String,
    /// The file name, and the title when there is one (headers).
    pub label: String,
    pub json_path: PathBuf,
    pub html_path: PathBuf,
    _lock: BatchLock,
}

impl Batch {
    /// Find and read the batch named `arg` (a name in `batch_dir` of the
    /// config, or a path).
    pub fn locate(loaded: &Loaded, arg: &str) -> Result<Batch, BatchError> {
        let path = locate(arg, &loaded.paths.config_dir.join("batch")).map_err(BatchError::File)?;
        let file = BatchFile::load(&path, &loaded.paths.home).map_err(BatchError::File)?;
        let state_dir = loaded.paths.state_dir.join("batches").join(&file.name);
        let vars = Vars {
            home: Some(loaded.paths.home.to_string_lossy().into_owned()),
            batch: Some(file.name.clone()),
            ..Vars::default()
        };
        let chain_root =
            PathBuf::from(loaded.global.builders.batch_repo.expand(&vars)).join(&file.name);
        Ok(Batch {
            arg: arg.to_string(),
            path,
            file,
            state_dir,
            chain: ChainRepo::new(chain_root),
        })
    }

    /// The batch's name (its file name without `.conf`).
    pub fn name(&self) -> &str {
        &self.file.name
    }

    /// The batch's chain repository.
    pub fn chain_root(&self) -> &Path {
        self.chain.root()
    }

    fn lock_path(&self) -> PathBuf {
        self.state_dir.join("batch.lock")
    }

    fn journal_path(&self) -> PathBuf {
        self.state_dir.join("journal.jsonl")
    }

    /// `--abort`: stop a running batch (SIGINT to it: it cancels its
    /// builds, remote ones included, and waits for them; `stopping` hears
    /// its pid first), then mark the run aborted and remove the chain repo.
    pub fn abort(&self, stopping: impl FnOnce(u32)) -> Result<(), BatchError> {
        let lock_path = self.lock_path();
        let batch = self.file.name.clone();
        if let Some(pid) = BatchLock::holder(&lock_path) {
            stopping(pid);
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGINT,
            );
            let deadline = Instant::now() + ABORT_WAIT;
            while BatchLock::holder(&lock_path).is_some() {
                if Instant::now() > deadline {
                    return Err(BatchError::AbortTimeout { batch, pid });
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        let Ok(Ok(_lock)) = BatchLock::acquire(&lock_path) else {
            return Err(BatchError::AbortRaced { batch });
        };
        let journal_path = self.journal_path();
        if journal_path.exists() {
            if let Ok(mut j) = Journal::open(&journal_path) {
                let _ = j.append(&Record::RunEnded {
                    at: now(),
                    status: RunStatus::Aborted,
                });
            }
        }
        self.chain.clear().map_err(|e| BatchError::ChainClear {
            path: self.chain.root().to_path_buf(),
            error: e.to_string(),
        })
    }

    /// Choose the builders and packages, open them and plan the lanes;
    /// then (unless `plan_only`) take the lock and open the journal as
    /// `request.start` says. `cancel` is the interrupt token (fetching
    /// stops on it; the run gets a child of it).
    pub fn prepare<'a>(
        self,
        loaded: &'a Loaded,
        request: BatchRequest,
        cancel: &CancelToken,
        warn: &mut dyn FnMut(BatchWarning),
    ) -> Result<Prepared<'a>, BatchError> {
        let selection = self.selection(&request.selection);
        let builders = choose(&loaded.farm, &loaded.global.builders, &selection)
            .map_err(BatchError::Selection)?;
        let (chosen, left_out) = self.choose_packages(&request.only)?;
        let packages = self.open_packages(loaded, &chosen, cancel)?;
        let history = History::load(&loaded.paths.state_dir);
        let lanes = plan_lanes(&packages, &builders, &history);
        if request.plan_only {
            return Ok(Prepared::Plan(BatchPlan {
                name: self.file.name.clone(),
                label: self.file.label(),
                lanes,
                builders,
                packages,
                left_out,
            }));
        }
        let lock = self.lock()?;
        let (start, kept, journal) = self.open_journal(request.start, warn)?;
        let run_token = cancel.child();
        let controls = Controls::new(run_token, &builders);
        let run = BatchRun {
            loaded,
            name: self.file.name.clone(),
            packages,
            builders,
            lanes,
            chain: self.chain,
            journal,
            history,
            start,
            kept,
            fail_fast: request.fail_fast,
            options: request.options,
        };
        Ok(Prepared::Ready(Box::new(BatchSession {
            run,
            title: self.file.title.clone(),
            label: self.file.label(),
            state_dir: self.state_dir,
            cancel: cancel.clone(),
            controls,
            lock,
        })))
    }

    /// `-b/-a/-B` where given, else the batch file's `builders`, `arch`,
    /// `branch`.
    fn selection(&self, given: &SelectionRequest) -> SelectionRequest {
        let or_file = |given: &Vec<String>, file: &Vec<String>| {
            if given.is_empty() {
                file.clone()
            } else {
                given.clone()
            }
        };
        SelectionRequest {
            pattern: given.pattern.clone().or_else(|| self.file.builders.clone()),
            arch: or_file(&given.arch, &self.file.arch),
            branch: or_file(&given.branch, &self.file.branch),
        }
    }

    /// The packages to build, and those `skip = true` or `--batch-pkgs`
    /// leave out (with why).
    fn choose_packages(
        &self,
        only: &[String],
    ) -> Result<(Vec<&BatchPackage>, Vec<LeftOut>), BatchError> {
        let packages = &self.file.packages;
        if let Some(wanted) = only
            .iter()
            .find(|w| !packages.iter().any(|p| &p.name == *w))
        {
            return Err(BatchError::NoSuchPackage {
                wanted: wanted.clone(),
                batch: self.file.name.clone(),
                path: self.path.clone(),
                names: packages.iter().map(|p| p.name.clone()).collect(),
            });
        }
        let mut left_out = Vec::new();
        let mut chosen = Vec::new();
        for p in packages {
            let reason = if p.skip {
                Some("skip = true in the batch")
            } else if !only.is_empty() && !only.contains(&p.name) {
                Some("not in --batch-pkgs")
            } else {
                None
            };
            match reason {
                Some(reason) => left_out.push(LeftOut {
                    name: p.name.clone(),
                    path: describe(p),
                    reason: reason.to_string(),
                }),
                None => chosen.push(p),
            }
        }
        if chosen.is_empty() {
            return Err(BatchError::AllLeftOut {
                batch: self.file.name.clone(),
            });
        }
        Ok((chosen, left_out))
    }

    /// The chosen packages, fetched and opened with the batch's settings;
    /// each package once.
    fn open_packages(
        &self,
        loaded: &Loaded,
        chosen: &[&BatchPackage],
        cancel: &CancelToken,
    ) -> Result<Vec<Package>, BatchError> {
        let mut packages: Vec<Package> = Vec::new();
        for p in chosen {
            let what = format!("[{}] ({})", p.name, describe(p));
            let at = format!("{}:{}", self.path.display(), p.line);
            let git = &loaded.global.commands.git;
            let repo = sources::fetch(p, git, &loaded.paths.home, cancel).map_err(|error| {
                BatchError::Fetch {
                    at: at.clone(),
                    what: what.clone(),
                    error,
                }
            })?;
            let mut pkg = Package::new(repo, p, &self.file).map_err(|error| BatchError::Open {
                at: at.clone(),
                what: what.clone(),
                error,
            })?;
            pkg.use_tarball_cache(
                git,
                Some(super::package::batch_tarball_cache(
                    &loaded.paths.cache_dir,
                    &self.file,
                )),
            );
            if let Some(other) = packages.iter().find(|o| o.name == pkg.name) {
                return Err(BatchError::Duplicate {
                    at,
                    what,
                    name: pkg.name,
                    other: other.batch_name.clone(),
                });
            }
            packages.push(pkg);
        }
        Ok(packages)
    }

    /// One run at a time per batch.
    fn lock(&self) -> Result<BatchLock, BatchError> {
        let path = self.lock_path();
        match BatchLock::acquire(&path) {
            Ok(Ok(lock)) => Ok(lock),
            Ok(Err(AlreadyRunning { pid })) => Err(BatchError::AlreadyRunning {
                batch: self.file.name.clone(),
                arg: self.arg.clone(),
                pid,
            }),
            Err(e) => Err(BatchError::Lock {
                path,
                error: e.to_string(),
            }),
        }
    }

    /// Read the journal and decide how this run starts: continue the last
    /// one (its finished jobs kept), or start fresh, archiving the last
    /// journal and clearing the chain repo; an unfinished last run is
    /// only replaced on `--restart`.
    fn open_journal(
        &self,
        asked: StartAs,
        warn: &mut dyn FnMut(BatchWarning),
    ) -> Result<(Start, Kept, Journal), BatchError> {
        let journal_path = self.journal_path();
        let (records, torn) =
            Journal::read(&journal_path).map_err(|e| BatchError::JournalRead(e.to_string()))?;
        if let Some(t) = torn {
            warn(BatchWarning::TornJournal {
                path: journal_path.clone(),
                bytes: t.len(),
            });
        }
        let previous = state_of(&records);
        let unfinished = previous.has_run
            && previous.last_run_ended != Some(RunStatus::Finished)
            && previous.last_run_ended != Some(RunStatus::Aborted);
        let start = if asked == StartAs::Continue {
            Start::Continue
        } else {
            if unfinished && asked != StartAs::Restart {
                return Err(BatchError::Unfinished {
                    batch: self.file.name.clone(),
                    arg: self.arg.clone(),
                    started_ago: previous.started_at.map(|t| now() - t),
                });
            }
            if previous.has_run {
                let archived = self
                    .state_dir
                    .join(format!("journal.{}.jsonl", now() as u64));
                let _ = std::fs::rename(&journal_path, archived);
                let _ = self.chain.clear();
            }
            Start::Fresh
        };
        let journal = Journal::open(&journal_path).map_err(|e| BatchError::JournalWrite {
            path: journal_path.clone(),
            error: e.to_string(),
        })?;
        let kept = if start == Start::Continue {
            previous.done
        } else {
            Default::default()
        };
        Ok((start, kept, journal))
    }
}

/// Where a package comes from, for messages.
fn describe(p: &BatchPackage) -> String {
    match &p.source {
        PackageSource::Path(d) => d.display().to_string(),
        PackageSource::Git { url, .. } => url.clone(),
    }
}

impl BatchPlan<'_> {
    /// The plan as text (`--plan`).
    pub fn text(&self) -> String {
        render_plan(
            &self.label,
            &self.lanes,
            &self.builders,
            &self.packages,
            &self.left_out,
        )
    }

    /// The plan as one JSON object (`--plan --json`).
    pub fn json(&self) -> serde_json::Value {
        plan_json(&self.name, &self.lanes, &self.packages, &self.left_out)
    }
}

impl BatchSession<'_> {
    /// The run's cancel handles (the `--top` view cancels through them).
    pub fn controls(&self) -> Controls {
        self.controls.clone()
    }

    /// Run the batch to its end (or until cancelled), between
    /// [`EventKind::RunStarted`] and [`EventKind::RunFinished`], and save
    /// its report next to the journal.
    pub fn run(self, emitter: &Emitter) -> BatchEnd {
        let BatchSession {
            run,
            title,
            label,
            state_dir,
            cancel,
            controls,
            lock,
        } = self;
        emitter.emit(EventKind::RunStarted {
            package: format!("batch {label}"),
            version: format!("({} packages)", run.packages.len()),
            builders: builder_infos(&run.builders),
            parallel: true,
        });
        let report = run.run(emitter, &cancel, &controls);
        emitter.emit(EventKind::RunFinished {
            results: vec![],
            exit_code: report.exit_code,
        });
        let json_path = state_dir.join("report.json");
        let html_path = state_dir.join("report.html");
        if let Ok(text) = serde_json::to_string_pretty(&report.to_json(&title)) {
            let _ = crate::config::write_atomic(&json_path, &text);
        }
        let _ = crate::config::write_atomic(
            &html_path,
            &crate::report::batch::html::render_titled(&report, &title),
        );
        BatchEnd {
            report,
            title,
            label,
            json_path,
            html_path,
            _lock: lock,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::journal::JobOutcome;

    const FILE: &str = r#"[batch]
basedir = "/p"
builders = "@branch:sisyphus"
arch = ["x86_64"]

[a]
[b]
skip = true
[c]
"#;

    fn batch(state: &Path) -> Batch {
        let path = Path::new("/c/batch/demo.conf");
        Batch {
            arg: "demo".into(),
            path: path.to_path_buf(),
            file: BatchFile::parse(path, FILE, Path::new("/home/u")).expect("batch file"),
            state_dir: state.to_path_buf(),
            chain: ChainRepo::new(state.join("chain")),
        }
    }

    fn names(chosen: &[&BatchPackage]) -> Vec<String> {
        chosen.iter().map(|p| p.name.clone()).collect()
    }

    #[test]
    fn skip_and_batch_pkgs_leave_packages_out_with_the_reason() {
        let d = tempfile::tempdir().unwrap();
        let b = batch(d.path());
        let (chosen, out) = b.choose_packages(&[]).unwrap();
        assert_eq!(names(&chosen), ["a", "c"]);
        assert_eq!(out.len(), 1);
        assert_eq!(
            (out[0].name.as_str(), out[0].reason.as_str()),
            ("b", "skip = true in the batch")
        );

        let (chosen, out) = b.choose_packages(&["c".to_string()]).unwrap();
        assert_eq!(names(&chosen), ["c"]);
        let reasons: Vec<(&str, &str)> = out
            .iter()
            .map(|l| (l.name.as_str(), l.reason.as_str()))
            .collect();
        assert_eq!(
            reasons,
            [
                ("a", "not in --batch-pkgs"),
                ("b", "skip = true in the batch")
            ]
        );
    }

    #[test]
    fn an_unknown_or_empty_choice_is_a_usage_error_that_names_the_packages() {
        let d = tempfile::tempdir().unwrap();
        let b = batch(d.path());
        let e = b.choose_packages(&["zz".to_string()]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--batch-pkgs: no package `zz` in the batch demo (/c/batch/demo.conf)"
        );
        assert_eq!(e.hint().as_deref(), Some("the batch's packages: a, b, c"));
        assert!(!e.is_infra());
        let e = b.choose_packages(&["b".to_string()]).unwrap_err();
        assert_eq!(e.to_string(), "batch demo: every package is left out");
        assert_eq!(
            e.hint().as_deref(),
            Some("remove skip = true from a package, or name others with --batch-pkgs")
        );
    }

    #[test]
    fn flags_override_the_batch_files_builders_arch_and_branch() {
        let d = tempfile::tempdir().unwrap();
        let b = batch(d.path());
        let from_file = b.selection(&SelectionRequest::default());
        assert_eq!(from_file.pattern.as_deref(), Some("@branch:sisyphus"));
        assert_eq!(from_file.arch, ["x86_64"]);
        assert!(from_file.branch.is_empty());
        let given = SelectionRequest {
            pattern: Some("local1".into()),
            arch: vec!["i586".into()],
            branch: vec!["p11".into()],
        };
        let s = b.selection(&given);
        assert_eq!(s.pattern.as_deref(), Some("local1"));
        assert_eq!(s.arch, ["i586"]);
        assert_eq!(s.branch, ["p11"]);
    }

    fn journal_with(state: &Path, ended: Option<RunStatus>) {
        let mut j = Journal::open(&state.join("journal.jsonl")).unwrap();
        j.append(&Record::RunStarted {
            at: now() - 5.0,
            pid: 1,
            packages: vec!["a".into()],
            lanes: vec!["x86_64/sisyphus".into()],
        })
        .unwrap();
        j.append(&Record::JobFinished {
            at: now(),
            pkg: "a".into(),
            lane: "x86_64/sisyphus".into(),
            builder: Some("local1".into()),
            outcome: JobOutcome::Done,
            secs: 1.0,
            results: vec![PathBuf::from("/r/a.rpm")],
            message: None,
        })
        .unwrap();
        if let Some(status) = ended {
            j.append(&Record::RunEnded { at: now(), status }).unwrap();
        }
    }

    #[test]
    fn an_unfinished_run_is_continued_or_restarted_only_when_asked() {
        let d = tempfile::tempdir().unwrap();
        let b = batch(d.path());
        journal_with(d.path(), None);
        let mut warnings = Vec::new();
        let e = b
            .open_journal(StartAs::New, &mut |w| warnings.push(w))
            .err()
            .expect("refused");
        assert!(e
            .to_string()
            .starts_with("batch demo has an unfinished run (started "));
        assert_eq!(
            e.hint().as_deref(),
            Some("resume it with `zoryn task batch demo --continue`, or `--restart` to start over, or `--abort`")
        );

        let (start, kept, _j) = b.open_journal(StartAs::Continue, &mut |_| {}).unwrap();
        assert_eq!(start, Start::Continue);
        assert_eq!(
            kept.get(&("a".to_string(), "x86_64/sisyphus".to_string())),
            Some(&vec![PathBuf::from("/r/a.rpm")])
        );
        assert!(warnings.is_empty());

        std::fs::create_dir_all(b.chain_root()).unwrap();
        let (start, kept, _j) = b.open_journal(StartAs::Restart, &mut |_| {}).unwrap();
        assert_eq!(start, Start::Fresh);
        assert!(kept.is_empty());
        assert!(
            !b.chain_root().exists(),
            "a fresh run clears the chain repo"
        );
        let archived = std::fs::read_dir(d.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .any(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                n.starts_with("journal.") && n != "journal.jsonl"
            });
        assert!(archived, "the earlier journal is archived");
    }

    #[test]
    fn a_finished_run_starts_fresh_and_a_torn_line_is_a_warning() {
        let d = tempfile::tempdir().unwrap();
        let b = batch(d.path());
        journal_with(d.path(), Some(RunStatus::Finished));
        let path = d.path().join("journal.jsonl");
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("{\"event\":\"job_sta");
        std::fs::write(&path, text).unwrap();
        let mut warnings = Vec::new();
        let (start, kept, _j) = b
            .open_journal(StartAs::New, &mut |w| warnings.push(w))
            .unwrap();
        assert_eq!(start, Start::Fresh);
        assert!(kept.is_empty());
        assert_eq!(
            warnings,
            [BatchWarning::TornJournal {
                path,
                bytes: "{\"event\":\"job_sta".len()
            }]
        );
    }

    #[test]
    fn errors_keep_their_exit_class() {
        let running = BatchError::AlreadyRunning {
            batch: "demo".into(),
            arg: "demo".into(),
            pid: Some(42),
        };
        assert_eq!(
            running.to_string(),
            "batch demo is already running (pid 42)"
        );
        assert!(!running.is_infra());
        let lock = BatchError::Lock {
            path: "/s/batch.lock".into(),
            error: "denied".into(),
        };
        assert!(lock.is_infra());
        assert_eq!(lock.hint().as_deref(), Some("check $XDG_STATE_HOME"));
        let missing = BatchError::Fetch {
            at: "/c/batch/demo.conf:5".into(),
            what: "[a] (/p/a)".into(),
            error: SourceError {
                missing_tool: true,
                ..SourceError::new("`git` is not installed", "")
            },
        };
        assert!(missing.is_infra());
        assert_eq!(missing.hint(), None);
        assert_eq!(
            missing.to_string(),
            "/c/batch/demo.conf:5: package [a] (/p/a): `git` is not installed"
        );
    }
}
