//! Running a batch: lanes, slots, dispatch, chain repo, retries, journal.
//!
//! The decisions — which job is ready, which goes first, who is blocked —
//! come from the pure [`LaneScheduler`] of each lane; this module owns the
//! effects: tarballs, builds on slots (through the same local/remote jobs as
//! `zoryn build`), the chain repository, retries of transport failures on
//! other slots with backoff and jitter, hosts put on hold, the journal, and
//! the events that reporters show.
//!
//! Opening a package ([`Package::new`]) applies the batch file's settings:
//! every spec is read with the batch's `macros` and specsubst values as
//! defines (the reader itself is `source::specdeps`, untouched here), and a
//! repository whose gear rules ask for `specsubst:` gets `@VAR@` replaced in
//! the spec zoryn reads and in its tarball. [`plan_lanes`] marks a package
//! SKIP in a lane when its spec excludes the arch or the batch's
//! `exclude`/`only` leave out the branch; [`render_plan`] and [`plan_json`]
//! show the plan (what each package waits on and via which capability).
//! It must not parse batch files (`file`) or decide order (`graph`,
//! `schedule`).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::file::{BatchFile, BatchPackage, PackageMode, Specsubst};
use super::graph::{lower_bound, Graph, Node};
use super::history::History;
use super::journal::{now, JobOutcome, Journal, Record, RunStatus};
use super::schedule::{estimate_durations, simulate, JobState, LaneScheduler, Policy};
use crate::farm::loaded::Loaded;
use crate::farm::{Builder, Location};
use crate::hasher::build_mode::BuildMode;
use crate::hasher::skip_checks::SkipChecks;
use crate::report::batch::{BatchReport, JobReport, JobResult, LaneReport};
use crate::run::busy::BusyPolicy;
use crate::run::chain::ChainRepo;
use crate::run::context::{Controls, RunContext};
use crate::run::emitter::Emitter;
use crate::run::events::{info, JobStatus};
use crate::run::events::{BuilderResult, EventKind, Outcome};
use crate::run::exit_code::ExitCode;
use crate::source::cache::TarballCache;
use crate::source::deps::Capability;
use crate::source::gear::{make_tarball_reusing_with, make_tarball_with, Tarball};
use crate::source::repo::GearRepo;
use crate::source::specdeps::{read_spec, SpecDeps};
use crate::source::specsubst::{directive as specsubst_directive, substitute};
use crate::transport::cancel::CancelToken;
use crate::transport::runner::{capture, CommandSpec};
use crate::transport::ssh::Hosts;

/// Transport attempts per job before it is given up.
pub const MAX_ATTEMPTS: u32 = 5;
/// Consecutive transport failures after which a host is put on hold.
pub const HOST_HOLD_AFTER: u32 = 3;

/// One package of the batch, opened.
pub struct Package {
    /// The spec's Name (with the batch's macros).
    pub name: String,
    /// Its table in the batch file (`--batch-pkgs` names).
    pub batch_name: String,
    pub repo: GearRepo,
    /// The spec as zoryn reads it and hsh gets it: `@VAR@` replaced when
    /// the repository's gear rules have `specsubst:`.
    pub spec_text: String,
    /// Macros every read of this spec gets (batch `macros`, then specsubst values).
    pub defines: Vec<(String, String)>,
    /// `mode` of the batch file, as the plan shows it.
    pub mode: PackageMode,
    /// How this package's jobs run hasher: `Full`, or `Rebuild` for a
    /// batch package with `mode = "rebuild"` (hsh-rebuild in the builder's
    /// existing chroot).
    pub build_mode: BuildMode,
    /// Branches it is built for (`exclude`, `only` of the batch file).
    pub entry: BatchPackage,
    /// Values for the tarball's spec: `Some` when the rules have `specsubst:`.
    specsubst: Option<Vec<(String, String)>>,
    /// The git command for the tarball's reuse key and specsubst.
    git: Vec<String>,
    /// Where the tarball of an unchanged source is kept between runs (the
    /// batch's, see [`batch_tarball_cache`]); `None`: gear runs every time.
    cache: Option<TarballCache>,
    tarball: OnceLock<Result<Tarball, String>>,
}

impl Package {
    /// Open a package of `batch`: read its spec with the batch's macros, and
    /// apply the batch's specsubst values when its gear rules ask for them.
    /// Its tarball is reused when unchanged, from the batch's tarball cache
    /// ([`batch_tarball_cache`] under `$XDG_CACHE_HOME/zoryn`, git from
    /// PATH; [`Package::use_tarball_cache`] sets the configured ones).
    pub fn new(repo: GearRepo, entry: &BatchPackage, batch: &BatchFile) -> Result<Package, String> {
        let raw = std::fs::read_to_string(repo.root.join(&repo.spec))
            .map_err(|e| format!("cannot read {}: {e}", repo.spec.display()))?;
        let values = batch.specsubst_for(entry);
        let specsubst = match specsubst_directive(&repo.root)? {
            None => None,
            Some(_) if entry.specsubst == Specsubst::Disabled => Some(Vec::new()),
            Some(d) => {
                let mut chosen = Vec::new();
                for v in &d.vars {
                    match values.iter().find(|(k, _)| k == v) {
                        Some(kv) => chosen.push(kv.clone()),
                        None => {
                            return Err(format!(
                                "{} line {} has `specsubst: {v}`, but the batch gives no value for {v}; \
                                 add {v}=VALUE to specsubst in [batch] or in [{}] (or specsubst = \"none\" there)",
                                d.rules.display(),
                                d.line,
                                entry.name
                            ))
                        }
                    }
                }
                Some(chosen)
            }
        };
        let spec_text = match &specsubst {
            Some(v) => substitute(&raw, v),
            None => raw,
        };
        let defines = batch.defines_for(entry);
        let name = read_spec(&spec_text, "noarch", &defines).name;
        Ok(Package {
            name,
            batch_name: entry.name.clone(),
            repo,
            spec_text,
            defines,
            mode: entry.mode,
            build_mode: match entry.mode {
                PackageMode::Rebuild => BuildMode::Rebuild,
                PackageMode::Build => BuildMode::Full,
            },
            entry: entry.clone(),
            specsubst,
            git: vec!["git".into()],
            cache: crate::config::paths::Paths::from_env()
                .ok()
                .map(|p| batch_tarball_cache(&p.cache_dir, batch)),
            tarball: OnceLock::new(),
        })
    }

    /// Compute tarball keys (and the specsubst index) with `git`, and keep
    /// tarballs in `cache` (`None`: gear runs every time), e.g.
    /// `batch_tarball_cache(&loaded.paths.cache_dir, &file)`.
    pub fn use_tarball_cache(&mut self, git: &[String], cache: Option<TarballCache>) {
        self.git = git.to_vec();
        self.cache = cache;
    }

    /// The package's tarball, made once per run: taken from the cache when
    /// gear would pack the same thing as last time (the specsubst values
    /// included), else packed by gear.
    fn tarball(&self, gear: &[String], cancel: &CancelToken) -> Result<&Tarball, String> {
        self.tarball
            .get_or_init(|| {
                let specsubst = self.specsubst.as_deref();
                match &self.cache {
                    Some(cache) => make_tarball_reusing_with(
                        gear, &self.git, cache, &self.repo, specsubst, cancel,
                    ),
                    None => make_tarball_with(gear, &self.git, &self.repo, specsubst, cancel),
                }
                .map_err(|e| e.message)
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// A batch's tarball cache: `CACHE_DIR/tarballs/batch-NAME` (beside the one
/// `zoryn build` uses, which keeps 16), two tarballs per package of the
/// batch — the current and one earlier — so a run of many packages does not
/// evict its own before the next run.
pub fn batch_tarball_cache(cache_dir: &std::path::Path, batch: &BatchFile) -> TarballCache {
    TarballCache::with_limits(
        cache_dir
            .join("tarballs")
            .join(format!("batch-{}", batch.name)),
        2 * batch.packages.len(),
        u64::MAX,
    )
}

/// An (arch, branch) pair and its interchangeable slots.
pub struct Lane {
    pub id: String,
    pub arch: String,
    pub branch: String,
    pub slots: Vec<usize>,
    pub sched: LaneScheduler,
    pub specs: Vec<SpecDeps>,
    pub durations: Vec<f64>,
    /// Why each package is not built in this lane (its spec excludes the
    /// arch, or the batch's `exclude`/`only` leave out the branch).
    pub skip_reasons: Vec<Option<String>>,
}

/// Lanes from the selected builders, in the order they first appear.
pub fn lanes_of(builders: &[&Builder]) -> Vec<(String, String, Vec<usize>)> {
    let mut lanes: Vec<(String, String, Vec<usize>)> = Vec::new();
    for (i, b) in builders.iter().enumerate() {
        match lanes.iter_mut().find(|l| l.0 == b.arch && l.1 == b.branch) {
            Some(l) => l.2.push(i),
            None => lanes.push((b.arch.clone(), b.branch.clone(), vec![i])),
        }
    }
    lanes
}

/// Build the lanes' graphs and schedulers from the packages' specs.
pub fn plan_lanes(packages: &[Package], builders: &[&Builder], history: &History) -> Vec<Lane> {
    lanes_of(builders)
        .into_iter()
        .map(|(arch, branch, slots)| {
            let specs: Vec<SpecDeps> = packages
                .iter()
                .map(|p| read_spec(&p.spec_text, &arch, &p.defines))
                .collect();
            let skip_reasons: Vec<Option<String>> = packages
                .iter()
                .zip(&specs)
                .map(|(p, s)| {
                    // The same reason `zoryn build` gives: the deciding tag.
                    if let Some(tag) = s.arch_refusal(&arch) {
                        Some(format!("{} excludes {arch} ({tag})", s.name))
                    } else {
                        p.entry.branch_skip_reason(&branch)
                    }
                })
                .collect();
            let nodes: Vec<Node> = specs
                .iter()
                .zip(&skip_reasons)
                .map(|(s, why)| Node {
                    name: s.name.clone(),
                    provides: s.all_provides(),
                    requires: s.build_requires.clone(),
                    excluded: why.is_some(),
                })
                .collect();
            let names: Vec<String> = specs.iter().map(|s| s.name.clone()).collect();
            let durations = estimate_durations(&names, &history.durations_for(&arch));
            let graph = Graph::build(nodes);
            let n = slots.len();
            Lane {
                id: format!("{arch}/{branch}"),
                arch,
                branch,
                slots,
                sched: LaneScheduler::new(graph, durations.clone(), n),
                specs,
                durations,
                skip_reasons,
            }
        })
        .collect()
}

fn hms(secs: f64) -> String {
    crate::report::human_duration(secs)
}

/// A package of the batch file that is not built at all (`skip = true`,
/// or not named by `--batch-pkgs`), for the plan.
#[derive(Clone, Debug)]
pub struct LeftOut {
    pub name: String,
    pub path: String,
    pub reason: String,
}

/// What node `i` of `g` waits on, after cycle breaking: each dependency
/// with the capabilities (requirement names) that made the edge.
pub fn waits_on(g: &Graph, i: usize) -> Vec<(usize, Vec<String>)> {
    g.deps[i]
        .iter()
        .map(|&d| {
            let mut via: Vec<String> = g.edges[i]
                .iter()
                .filter(|(_, j)| *j == d)
                .map(|(r, _)| r.name.clone())
                .collect();
            via.dedup();
            (d, via)
        })
        .collect()
}

/// The build order the plan shows: the simulated schedule's start order.
fn plan_order(lane: &Lane) -> Vec<usize> {
    let g = lane.sched.graph();
    let sim = simulate(g, &lane.durations, lane.slots.len(), Policy::CriticalPath);
    let mut order: Vec<_> = sim.placements.iter().collect();
    order.sort_by(|a, b| a.start.total_cmp(&b.start).then(a.slot.cmp(&b.slot)));
    order.iter().map(|p| p.job).collect()
}

/// `--plan`: levels, order, what each package waits on (and why),
/// makespan estimate and its lower bound per lane.
pub fn render_plan(
    batch: &str,
    lanes: &[Lane],
    builders: &[&Builder],
    packages: &[Package],
    left_out: &[LeftOut],
) -> String {
    use std::fmt::Write;
    let modes: Vec<PackageMode> = packages.iter().map(|p| p.mode).collect();
    let mut out = String::new();
    let n = lanes.first().map_or(0, |l| l.specs.len());
    let _ = writeln!(out, "batch {batch}: {n} packages, {} lane(s)", lanes.len());
    for l in left_out {
        let _ = writeln!(out, "left out: {} ({})", l.name, l.reason);
    }
    for lane in lanes {
        let g = lane.sched.graph();
        let names = |v: &[usize]| {
            v.iter()
                .map(|i| g.nodes[*i].name.clone())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let slot_names: Vec<&str> = lane
            .slots
            .iter()
            .map(|i| builders[*i].name.as_str())
            .collect();
        let _ = writeln!(
            out,
            "\nlane {}: {} slot(s): {}",
            lane.id,
            slot_names.len(),
            slot_names.join(", ")
        );
        let skipped: Vec<usize> = (0..g.nodes.len())
            .filter(|i| g.nodes[*i].excluded)
            .collect();
        for &i in &skipped {
            let why = lane
                .skip_reasons
                .get(i)
                .cloned()
                .flatten()
                .unwrap_or_default();
            let _ = writeln!(out, "  skipped: {} ({why})", g.nodes[i].name);
        }
        for c in &g.cycles {
            let _ = writeln!(out, "  cycle: {}", c.explanation);
        }
        for s in &lane.specs {
            for u in &s.unresolved {
                let _ = writeln!(out, "  unresolved in {}: {u}", s.name);
            }
        }
        for (i, level) in g.levels().iter().enumerate() {
            let level: Vec<usize> = level
                .iter()
                .copied()
                .filter(|j| !g.nodes[*j].excluded)
                .collect();
            if !level.is_empty() {
                let _ = writeln!(out, "  level {i}: {}", names(&level));
            }
        }
        let order = plan_order(lane);
        let _ = writeln!(out, "  order: {}", names(&order));
        let rebuilds: Vec<usize> = (0..g.nodes.len())
            .filter(|&i| !g.nodes[i].excluded && modes.get(i) == Some(&PackageMode::Rebuild))
            .collect();
        if !rebuilds.is_empty() {
            let _ = writeln!(out, "  mode rebuild (hsh-rebuild): {}", names(&rebuilds));
        }
        for &i in &order {
            let w = waits_on(g, i);
            let text = if w.is_empty() {
                "nothing in the batch".to_string()
            } else {
                w.iter()
                    .map(|(d, via)| {
                        format!("{} (BuildRequires {})", g.nodes[*d].name, via.join(", "))
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let _ = writeln!(out, "  {} waits on {text}", g.nodes[i].name);
        }
        let lb = lower_bound(g, &lane.durations, lane.slots.len());
        let cp = g.critical_path(&lane.durations);
        let sim = simulate(g, &lane.durations, lane.slots.len(), Policy::CriticalPath);
        let work: f64 = (0..g.nodes.len())
            .filter(|i| !g.nodes[*i].excluded)
            .map(|i| lane.durations[i])
            .sum();
        let _ = writeln!(
            out,
            "  estimated makespan {} (lower bound {}: critical path {}, work/slots {})",
            hms(sim.makespan),
            hms(lb),
            hms(cp),
            hms(work / lane.slots.len().max(1) as f64)
        );
    }
    out
}

/// `--plan --json`: one JSON object (SPEC 7): per lane its order and, per
/// package, path, level, what it depends on and via which capability,
/// unresolved items, and why it is skipped (or null).
pub fn plan_json(
    batch: &str,
    lanes: &[Lane],
    packages: &[Package],
    left_out: &[LeftOut],
) -> serde_json::Value {
    use serde_json::{json, Value};
    let lanes_json: Vec<Value> = lanes
        .iter()
        .map(|lane| {
            let g = lane.sched.graph();
            let level = g.level_of();
            let order: Vec<&str> = plan_order(lane)
                .into_iter()
                .map(|i| g.nodes[i].name.as_str())
                .collect();
            let mut pkgs: Vec<Value> = (0..g.nodes.len())
                .map(|i| {
                    let depends_on: Vec<Value> = waits_on(g, i)
                        .into_iter()
                        .flat_map(|(d, via)| {
                            let dep = g.nodes[d].name.clone();
                            via.into_iter()
                                .map(move |v| json!({"package": dep.clone(), "via": v}))
                        })
                        .collect();
                    json!({
                        "name": g.nodes[i].name,
                        "path": packages.get(i).map(|p| p.repo.root.display().to_string()),
                        "level": level[i],
                        "depends_on": depends_on,
                        "unresolved": lane.specs.get(i).map(|s| s.unresolved.clone()).unwrap_or_default(),
                        "skipped": lane.skip_reasons.get(i).cloned().flatten(),
                    })
                })
                .collect();
            for l in left_out {
                pkgs.push(json!({
                    "name": l.name,
                    "path": l.path,
                    "level": null,
                    "depends_on": [],
                    "unresolved": [],
                    "skipped": l.reason,
                }));
            }
            json!({
                "arch": lane.arch,
                "branch": lane.branch,
                "order": order,
                "packages": pkgs,
            })
        })
        .collect();
    json!({"batch": batch, "lanes": lanes_json})
}

/// How a batch run is started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    Fresh,
    Continue,
}

pub struct BatchRun<'a> {
    pub loaded: &'a Loaded,
    pub name: String,
    pub packages: Vec<Package>,
    pub builders: Vec<&'a Builder>,
    pub lanes: Vec<Lane>,
    pub chain: ChainRepo,
    pub journal: Journal,
    pub history: History,
    pub start: Start,
    /// (package, lane) → result files kept from an earlier run.
    pub kept: HashMap<(String, String), Vec<PathBuf>>,
    pub fail_fast: bool,
    pub rpmbuild_args: Option<String>,
    pub packager: Option<String>,
    /// `--skip-check`, for every job.
    pub skip_checks: SkipChecks,
    /// Post-build checks run on each job's packages (skipped ones left out).
    pub checks: Vec<crate::run::checks::PostBuildCheck>,
}

struct Slot {
    disabled: Option<String>,
    cool_until: Option<Instant>,
    running: Option<(usize, usize)>,
}

enum Msg {
    Finished {
        slot: usize,
        lane: usize,
        job: usize,
        result: BuilderResult,
        started: f64,
    },
}

fn provides_of(rpms: &[PathBuf], cancel: &CancelToken) -> Option<Vec<Capability>> {
    let bins: Vec<&PathBuf> = rpms
        .iter()
        .filter(|p| !p.to_string_lossy().ends_with(".src.rpm"))
        .collect();
    if bins.is_empty() {
        return None;
    }
    let spec = CommandSpec::new(["rpm", "-qp", "--nosignature", "--provides"])
        .args(bins.iter().map(|p| p.as_os_str().to_owned()));
    let out = capture(&spec, cancel).ok().filter(|o| o.success())?;
    Some(
        out.stdout
            .lines()
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                let name = w.next()?.to_string();
                let version = match (w.next(), w.next()) {
                    (Some("="), Some(v)) => Some(v.to_string()),
                    _ => None,
                };
                Some(Capability::new(name, version))
            })
            .collect(),
    )
}

fn backoff(attempt: u32, seed: u64) -> Duration {
    let base = 1000u64 << attempt.min(5).saturating_sub(1);
    // Jitter ±25% so retries of many jobs do not line up.
    let mut x = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    let jitter = (x % (base / 2 + 1)) as i64 - (base / 4) as i64;
    Duration::from_millis((base as i64 + jitter).max(100) as u64)
}

impl<'a> BatchRun<'a> {
    /// Run to the end (or until cancelled). Returns the report.
    pub fn run(self, emit: &Emitter, signal: &CancelToken, controls: &Controls) -> BatchReport {
        let BatchRun {
            loaded,
            name: batch_name,
            packages,
            builders,
            mut lanes,
            chain,
            mut journal,
            mut history,
            start,
            kept,
            fail_fast,
            rpmbuild_args,
            packager,
            skip_checks,
            checks,
        } = self;
        let started_unix = now();
        let t0 = Instant::now();
        let hosts = Hosts::new(crate::transport::ssh::SshSettings::from_config(
            &loaded.global,
            loaded.paths.runtime_dir.clone(),
        ));
        let run_token = controls.run.clone();
        let mut slots: Vec<Slot> = builders
            .iter()
            .map(|_| Slot {
                disabled: None,
                cool_until: None,
                running: None,
            })
            .collect();
        // Hosts still on hold from earlier runs sit out when their lane has others.
        for lane in &lanes {
            let held: Vec<usize> = lane
                .slots
                .iter()
                .copied()
                .filter(|s| history.on_hold(builders[*s].host(), started_unix))
                .collect();
            if held.len() < lane.slots.len() {
                for s in held {
                    slots[s].disabled = Some(format!(
                        "{} is on hold after repeated failures",
                        builders[s].host()
                    ));
                }
            }
        }
        let _ = journal.append(&Record::RunStarted {
            at: started_unix,
            pid: std::process::id(),
            packages: packages.iter().map(|p| p.name.clone()).collect(),
            lanes: lanes.iter().map(|l| l.id.clone()).collect(),
        });
        let mut reports: HashMap<(usize, usize), JobReport> = HashMap::new();
        let job_event = |lane: &Lane,
                         job: usize,
                         state: JobStatus,
                         builder: Option<&str>,
                         detail: Option<String>| {
            emit.emit(EventKind::Job {
                package: lane.sched.graph().nodes[job].name.clone(),
                lane: lane.id.clone(),
                state,
                builder: builder.map(str::to_string),
                detail,
            });
        };
        // Initial states, and jobs kept from an earlier run.
        for (li, lane) in lanes.iter_mut().enumerate() {
            let n = lane.sched.graph().nodes.len();
            for j in 0..n {
                let name = lane.sched.graph().nodes[j].name.clone();
                if lane.sched.state(j) == JobState::Skipped {
                    let why = lane
                        .skip_reasons
                        .get(j)
                        .cloned()
                        .flatten()
                        .unwrap_or_else(|| format!("{name} excludes {}", lane.arch));
                    job_event(lane, j, JobStatus::Skipped, None, Some(why.clone()));
                    reports.insert(
                        (li, j),
                        job_report(&name, &lane.id, JobResult::Skip, None, Some(why)),
                    );
                    let _ = journal.append(&Record::JobFinished {
                        at: now(),
                        pkg: name.clone(),
                        lane: lane.id.clone(),
                        builder: None,
                        outcome: JobOutcome::Skipped,
                        secs: 0.0,
                        results: vec![],
                        message: None,
                    });
                }
            }
            if start == Start::Continue {
                let mut progress = true;
                while progress {
                    progress = false;
                    for j in lane.sched.ready() {
                        let name = lane.sched.graph().nodes[j].name.clone();
                        let Some(files) = kept.get(&(name.clone(), lane.id.clone())) else {
                            continue;
                        };
                        if files.is_empty() || !files.iter().all(|f| f.is_file()) {
                            continue;
                        }
                        lane.sched.start(j);
                        if let Some(p) = provides_of(files, signal) {
                            lane.sched.update_provides(j, p);
                        }
                        lane.sched.finish(j, true);
                        let mut r = job_report(
                            &name,
                            &lane.id,
                            JobResult::Kept,
                            None,
                            Some("built in an earlier run; results intact".into()),
                        );
                        r.packages = files.iter().map(|f| f.display().to_string()).collect();
                        reports.insert((li, j), r);
                        job_event(
                            lane,
                            j,
                            JobStatus::Done,
                            None,
                            Some("kept from the earlier run".into()),
                        );
                        progress = true;
                    }
                }
            }
        }

        let (tx, rx) = mpsc::channel::<Msg>();
        let attempts: Mutex<HashMap<(usize, usize), u32>> = Mutex::new(HashMap::new());
        // A job moved off a busy or unusable slot did not use up an attempt.
        let uncount = |li: usize, job: usize| {
            attempts
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .entry((li, job))
                .and_modify(|a| *a -= 1);
        };
        let mut not_before: HashMap<(usize, usize), Instant> = HashMap::new();
        let mut failed_on: HashMap<(usize, usize), HashSet<usize>> = HashMap::new();
        let mut host_failures: HashMap<String, u32> = HashMap::new();
        let mut stopping = false;
        let mut any_failed = false;
        // A host listed results that were not downloaded (exit 3).
        let mut any_rejected = false;
        let mut reported_waiting: HashSet<(usize, usize)> = HashSet::new();
        let packages = &packages;
        let chain = &chain;
        let builders = &builders;
        let pkg_index: Vec<Vec<usize>> = lanes
            .iter()
            .map(|l| {
                l.sched
                    .graph()
                    .nodes
                    .iter()
                    .map(|n| packages.iter().position(|p| p.name == n.name).unwrap_or(0))
                    .collect()
            })
            .collect();

        std::thread::scope(|scope| {
            let mut running = 0usize;
            loop {
                let stop_now = stopping || signal.is_cancelled() || run_token.is_cancelled();
                // Dispatch ready jobs, most urgent first, onto free slots.
                if !stop_now {
                    for li in 0..lanes.len() {
                        let ready = lanes[li].sched.ready();
                        for j in ready {
                            if not_before
                                .get(&(li, j))
                                .is_some_and(|t| *t > Instant::now())
                            {
                                continue;
                            }
                            let lane = &lanes[li];
                            let usable: Vec<usize> = lane
                                .slots
                                .iter()
                                .copied()
                                .filter(|s| slots[*s].disabled.is_none())
                                .collect();
                            if usable.is_empty() {
                                let reason = lane
                                    .slots
                                    .iter()
                                    .rev()
                                    .find_map(|s| slots[*s].disabled.clone())
                                    .unwrap_or_else(|| "no builder".into());
                                let name = lane.sched.graph().nodes[j].name.clone();
                                let msg =
                                    format!("no usable builder left in lane {}: {reason}", lane.id);
                                lanes[li].sched.start(j);
                                let blocked = lanes[li].sched.finish(j, false);
                                any_failed = true;
                                reports.insert(
                                    (li, j),
                                    job_report(
                                        &name,
                                        &lanes[li].id,
                                        JobResult::Fail,
                                        None,
                                        Some(msg.clone()),
                                    ),
                                );
                                job_event(
                                    &lanes[li],
                                    j,
                                    JobStatus::Failed,
                                    None,
                                    Some(msg.clone()),
                                );
                                let _ = journal.append(&Record::JobFinished {
                                    at: now(),
                                    pkg: name.clone(),
                                    lane: lanes[li].id.clone(),
                                    builder: None,
                                    outcome: JobOutcome::Failed,
                                    secs: 0.0,
                                    results: vec![],
                                    message: Some(msg),
                                });
                                block(
                                    &lanes,
                                    &mut journal,
                                    li,
                                    &blocked,
                                    &name,
                                    &mut reports,
                                    emit,
                                );
                                continue;
                            }
                            let avoid = failed_on.get(&(li, j)).cloned().unwrap_or_default();
                            let free = |s: &usize| {
                                let sl = &slots[*s];
                                sl.disabled.is_none() && sl.running.is_none() && sl.cool_until.is_none_or(|t| t <= Instant::now())
                                    // hasher-priv slot mates never run together
                                    && !loaded.farm.slot_mates(&builders[*s].name).iter().any(|m| {
                                        builders.iter().position(|b| b.name == *m).is_some_and(|k| slots[k].running.is_some())
                                    })
                            };
                            let pick = usable
                                .iter()
                                .copied()
                                .filter(free)
                                .min_by_key(|s| avoid.contains(s));
                            let Some(s) = pick else {
                                if reported_waiting.insert((li, j)) {
                                    job_event(lane, j, JobStatus::WaitingForSlot, None, None);
                                }
                                continue;
                            };
                            reported_waiting.remove(&(li, j));
                            lanes[li].sched.start(j);
                            slots[s].running = Some((li, j));
                            running += 1;
                            let attempt = {
                                let mut a = attempts.lock().unwrap_or_else(|p| p.into_inner());
                                let e = a.entry((li, j)).or_insert(0);
                                *e += 1;
                                *e
                            };
                            let lane = &lanes[li];
                            let pkg = &packages[pkg_index[li][j]];
                            job_event(
                                lane,
                                j,
                                JobStatus::Running,
                                Some(&builders[s].name),
                                (attempt > 1).then(|| format!("attempt {attempt}")),
                            );
                            let _ = journal.append(&Record::JobStarted {
                                at: now(),
                                pkg: pkg.name.clone(),
                                lane: lane.id.clone(),
                                builder: builders[s].name.clone(),
                                attempt,
                            });
                            let tx = tx.clone();
                            let b: &Builder = builders[s];
                            let token = controls.builder(&b.name).child();
                            let hosts = &hosts;
                            let rpmbuild_args = rpmbuild_args.clone();
                            let checks = &checks;
                            let packager = packager.clone();
                            let skip_checks = skip_checks.clone();
                            let run_token = run_token.clone();
                            scope.spawn(move || {
                                let started = t0.elapsed().as_secs_f64();
                                let result = match pkg
                                    .tarball(&loaded.global.commands.gear, &run_token)
                                {
                                    Err(e) => {
                                        let mut r = crate::run::executor::cancelled_result(b);
                                        r.outcome = Outcome::Failed;
                                        r.message =
                                            Some(format!("gear could not make the tarball: {e}"));
                                        r
                                    }
                                    Ok(tarball) => {
                                        let ctx = RunContext {
                                            chain: Some(chain),
                                            global: &loaded.global,
                                            git_root: pkg.repo.root.clone(),
                                            home: loaded.paths.home.clone(),
                                            host_arch: crate::config::arch::local(),
                                            tarball,
                                            rpmbuild_args,
                                            packager,
                                            mode: pkg.build_mode,
                                            skip_checks,
                                            cancel: run_token.clone(),
                                            busy: BusyPolicy::Fail,
                                            fail_fast: false,
                                            hosts,
                                            builders_dir: loaded.paths.builders_dir.clone(),
                                            checks: checks.clone(),
                                            uploads: Default::default(),
                                        };
                                        let r = match &b.location {
                                            Location::Local => {
                                                crate::run::local::build(&ctx, b, emit, &token)
                                            }
                                            Location::Remote { host } => crate::run::remote::build(
                                                &ctx, b, host, emit, &token, None,
                                            ),
                                        };
                                        emit.emit(EventKind::Finished(r.clone()));
                                        r
                                    }
                                };
                                let _ = tx.send(Msg::Finished {
                                    slot: s,
                                    lane: li,
                                    job: j,
                                    result,
                                    started,
                                });
                            });
                        }
                    }
                }
                if running == 0 {
                    let all_done = lanes.iter().all(|l| l.sched.is_finished());
                    if all_done || stop_now {
                        break;
                    }
                }
                // Wait for a build to end, or for the next retry/cool-down.
                let next_timer = not_before
                    .values()
                    .chain(slots.iter().filter_map(|s| s.cool_until.as_ref()))
                    .filter(|t| **t > Instant::now())
                    .min()
                    .map(|t| t.saturating_duration_since(Instant::now()))
                    .unwrap_or(Duration::from_millis(500));
                let Ok(Msg::Finished {
                    slot,
                    lane: li,
                    job,
                    result,
                    started,
                }) = rx.recv_timeout(next_timer.max(Duration::from_millis(20)))
                else {
                    continue;
                };
                running -= 1;
                slots[slot].running = None;
                let ended = t0.elapsed().as_secs_f64();
                let lane_id = lanes[li].id.clone();
                let name = lanes[li].sched.graph().nodes[job].name.clone();
                let host = builders[slot].host().to_string();
                let mut rep = job_report(
                    &name,
                    &lane_id,
                    JobResult::of(result.outcome),
                    Some(&builders[slot].name),
                    result.message.clone(),
                );
                rep.start = Some(started);
                rep.end = Some(ended);
                rep.log = result.log.as_ref().map(|p| p.display().to_string());
                let record = |outcome: JobOutcome,
                              results: Vec<PathBuf>,
                              message: Option<String>,
                              journal: &mut Journal| {
                    let _ = journal.append(&Record::JobFinished {
                        at: now(),
                        pkg: name.clone(),
                        lane: lane_id.clone(),
                        builder: Some(builders[slot].name.clone()),
                        outcome,
                        secs: ended - started,
                        results,
                        message,
                    });
                };
                match result.outcome {
                    Outcome::Success => {
                        host_failures.remove(&host);
                        history.host_ok(&host);
                        let lane = &lanes[li];
                        let added = chain
                            .add(&lane.branch, &lane.arch, &result.packages)
                            .unwrap_or_default();
                        if let Some(p) = provides_of(&result.packages, signal) {
                            lanes[li].sched.update_provides(job, p);
                        }
                        history.record_duration(
                            &name,
                            &lanes[li].arch,
                            result.elapsed.as_secs_f64(),
                        );
                        record(JobOutcome::Done, added, None, &mut journal);
                        lanes[li].sched.finish(job, true);
                        if !result.rejected.is_empty() {
                            any_rejected = true;
                            rep.message = Some(format!(
                                "{} rejected result(s): {}",
                                result.rejected.len(),
                                result.rejected.join("; ")
                            ));
                        }
                        rep.packages = result
                            .packages
                            .iter()
                            .map(|p| p.display().to_string())
                            .collect();
                        job_event(
                            &lanes[li],
                            job,
                            JobStatus::Done,
                            Some(&builders[slot].name),
                            None,
                        );
                        for r in lanes[li].sched.ready() {
                            let deps_done = lanes[li].sched.waiting_on(r).is_empty();
                            if deps_done && !reported_waiting.contains(&(li, r)) {
                                job_event(&lanes[li], r, JobStatus::Ready, None, None);
                            }
                        }
                        reports.insert((li, job), rep);
                    }
                    Outcome::Failed => {
                        any_failed = true;
                        host_failures.remove(&host);
                        record(
                            JobOutcome::Failed,
                            vec![],
                            result.message.clone(),
                            &mut journal,
                        );
                        let blocked = lanes[li].sched.finish(job, false);
                        job_event(
                            &lanes[li],
                            job,
                            JobStatus::Failed,
                            Some(&builders[slot].name),
                            result.message.clone(),
                        );
                        reports.insert((li, job), rep);
                        block(
                            &lanes,
                            &mut journal,
                            li,
                            &blocked,
                            &name,
                            &mut reports,
                            emit,
                        );
                        if fail_fast {
                            stopping = true;
                            run_token.cancel();
                        }
                    }
                    Outcome::Cancelled => {
                        record(
                            JobOutcome::Cancelled,
                            vec![],
                            result.message.clone(),
                            &mut journal,
                        );
                        lanes[li].sched.requeue(job);
                        reports.insert((li, job), rep);
                        stopping = true;
                    }
                    Outcome::Busy => {
                        // Someone else holds this slot: try another one.
                        lanes[li].sched.requeue(job);
                        slots[slot].cool_until = Some(Instant::now() + Duration::from_secs(5));
                        uncount(li, job);
                        job_event(
                            &lanes[li],
                            job,
                            JobStatus::WaitingForSlot,
                            None,
                            Some(format!("{} is busy", builders[slot].name)),
                        );
                    }
                    Outcome::Unusable => {
                        // A setup problem of this builder: stop using it.
                        let msg = result.message.clone().unwrap_or_default();
                        slots[slot].disabled = Some(format!("{}: {msg}", builders[slot].name));
                        lanes[li].sched.requeue(job);
                        uncount(li, job);
                        record(JobOutcome::Retry, vec![], Some(msg.clone()), &mut journal);
                        job_event(
                            &lanes[li],
                            job,
                            JobStatus::Retry,
                            None,
                            Some(format!("{} is unusable: {msg}", builders[slot].name)),
                        );
                    }
                    Outcome::Lost => {
                        let msg = result.message.clone().unwrap_or_default();
                        let n = host_failures.entry(host.clone()).or_insert(0);
                        *n += 1;
                        let held = *n >= HOST_HOLD_AFTER;
                        history.host_failed(&host, now());
                        if held {
                            for (k, b) in builders.iter().enumerate() {
                                if b.host() == host {
                                    slots[k].disabled = Some(format!(
                                        "{host} is on hold after {n} failures ({msg})"
                                    ));
                                }
                            }
                        }
                        failed_on.entry((li, job)).or_default().insert(slot);
                        let attempt = attempts
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .get(&(li, job))
                            .copied()
                            .unwrap_or(1);
                        record(JobOutcome::Retry, vec![], Some(msg.clone()), &mut journal);
                        if attempt >= MAX_ATTEMPTS {
                            lanes[li].sched.finish(job, false);
                            any_failed = true;
                            rep.message =
                                Some(format!("gave up after {attempt} transport failures: {msg}"));
                            reports.insert((li, job), rep);
                        } else {
                            lanes[li].sched.requeue(job);
                            let wait = backoff(attempt, (li * 7919 + job) as u64 + attempt as u64);
                            not_before.insert((li, job), Instant::now() + wait);
                            job_event(
                                &lanes[li],
                                job,
                                JobStatus::Retry,
                                None,
                                Some(format!(
                                    "{msg}; retrying on another slot in {:.1}s",
                                    wait.as_secs_f64()
                                )),
                            );
                        }
                    }
                    Outcome::Skipped => {
                        record(
                            JobOutcome::Skipped,
                            vec![],
                            result.message.clone(),
                            &mut journal,
                        );
                        lanes[li].sched.finish(job, true);
                        reports.insert((li, job), rep);
                    }
                }
            }
        });
        let interrupted = signal.is_cancelled() || (stopping && !any_failed);
        let status = if interrupted {
            RunStatus::Interrupted
        } else {
            RunStatus::Finished
        };
        let _ = journal.append(&Record::RunEnded { at: now(), status });
        let _ = history.save();
        // Jobs that never ran.
        for (li, lane) in lanes.iter().enumerate() {
            for j in 0..lane.sched.graph().nodes.len() {
                reports.entry((li, j)).or_insert_with(|| {
                    let name = lane.sched.graph().nodes[j].name.clone();
                    let (res, msg) = match lane.sched.state(j) {
                        JobState::Blocked => (
                            JobResult::Blocked,
                            Some("not built: a dependency failed".to_string()),
                        ),
                        _ => (
                            JobResult::NotRun,
                            Some(if interrupted {
                                "interrupted before it ran".to_string()
                            } else {
                                "stopped by --fail-fast".to_string()
                            }),
                        ),
                    };
                    job_report(&name, &lane.id, res, None, msg)
                });
            }
        }
        let mut jobs: Vec<JobReport> = reports.into_values().collect();
        jobs.sort_by(|a, b| a.package.cmp(&b.package).then(a.lane.cmp(&b.lane)));
        let exit_code = if interrupted {
            ExitCode::Interrupted
        } else if jobs
            .iter()
            .any(|j| matches!(j.result, JobResult::Fail | JobResult::Blocked))
        {
            ExitCode::BuildFailed
        } else if any_rejected || jobs.iter().any(|j| j.result == JobResult::NotRun) {
            ExitCode::Infra
        } else {
            ExitCode::Ok
        }
        .code();
        BatchReport {
            batch: batch_name.clone(),
            started_unix,
            wall_secs: t0.elapsed().as_secs_f64(),
            lanes: lanes
                .iter()
                .map(|l| LaneReport {
                    lane: l.id.clone(),
                    slots: l.slots.iter().map(|s| builders[*s].name.clone()).collect(),
                    estimated_makespan: simulate(
                        l.sched.graph(),
                        &l.durations,
                        l.slots.len(),
                        Policy::CriticalPath,
                    )
                    .makespan,
                    lower_bound: lower_bound(l.sched.graph(), &l.durations, l.slots.len()),
                    cycles: l
                        .sched
                        .graph()
                        .cycles
                        .iter()
                        .map(|c| c.explanation.clone())
                        .collect(),
                })
                .collect(),
            packages: packages.iter().map(|p| p.name.clone()).collect(),
            jobs,
            exit_code,
        }
    }
}

fn job_report(
    pkg: &str,
    lane: &str,
    result: JobResult,
    builder: Option<&str>,
    message: Option<String>,
) -> JobReport {
    JobReport {
        package: pkg.to_string(),
        lane: lane.to_string(),
        result,
        builder: builder.map(str::to_string),
        start: None,
        end: None,
        message,
        log: None,
        packages: vec![],
    }
}

/// Record jobs blocked by a failure of `failed`.
fn block(
    lanes: &[Lane],
    journal: &mut Journal,
    li: usize,
    blocked: &[usize],
    failed: &str,
    reports: &mut HashMap<(usize, usize), JobReport>,
    emit: &Emitter,
) {
    for b in blocked {
        let lane = &lanes[li];
        let name = lane.sched.graph().nodes[*b].name.clone();
        let msg = format!("not built: dependency {failed} failed");
        emit.emit(EventKind::Job {
            package: name.clone(),
            lane: lane.id.clone(),
            state: JobStatus::Blocked,
            builder: None,
            detail: Some(msg.clone()),
        });
        let _ = journal.append(&Record::JobFinished {
            at: now(),
            pkg: name.clone(),
            lane: lane.id.clone(),
            builder: None,
            outcome: JobOutcome::Blocked,
            secs: 0.0,
            results: vec![],
            message: Some(msg.clone()),
        });
        reports.insert(
            (li, *b),
            job_report(&name, &lane.id, JobResult::Blocked, None, Some(msg)),
        );
    }
}

/// Every selected builder as reporter rows.
pub fn builder_infos(builders: &[&Builder]) -> Vec<crate::run::events::BuilderInfo> {
    builders.iter().map(|b| info(b)).collect()
}
