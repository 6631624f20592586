//! Running a batch: lanes, slots, dispatch, chain repo, retries, journal.
//!
//! The decisions — which job is ready, which goes first, who is blocked —
//! come from the pure [`LaneScheduler`] of each lane; this module owns the
//! effects: tarballs, builds on slots (through the same local/remote jobs as
//! `zoryn build`), the chain repository, retries of transport failures on
//! other slots with backoff and jitter, hosts put on hold, the journal, and
//! the events that reporters show.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::chain::ChainRepo;
use super::deps::Capability;
use super::graph::{lower_bound, Graph, Node};
use super::history::History;
use super::journal::{now, JobOutcome, Journal, Record, RunStatus};
use super::report::{BatchReport, JobReport, LaneReport};
use super::schedule::{estimate_durations, simulate, JobState, LaneScheduler, Policy};
use crate::config::Loaded;
use crate::farm::{Builder, Location};
use crate::run::busy::BusyPolicy;
use crate::run::cancel::CancelToken;
use crate::run::events::{BuilderResult, EventKind, Outcome};
use crate::run::executor::{info, Controls, Emitter, RunContext};
use crate::source::gear::{make_tarball, Tarball};
use crate::source::repo::GearRepo;
use crate::source::specdeps::{read_spec, SpecDeps};
use crate::transport::runner::{capture, CommandSpec};
use crate::transport::ssh::Hosts;

/// Transport attempts per job before it is given up.
pub const MAX_ATTEMPTS: u32 = 5;
/// Consecutive transport failures after which a host is put on hold.
pub const HOST_HOLD_AFTER: u32 = 3;

/// One package of the batch, opened.
pub struct Package {
    pub name: String,
    pub repo: GearRepo,
    pub spec_text: String,
    tarball: OnceLock<Result<Tarball, String>>,
}

impl Package {
    pub fn new(repo: GearRepo) -> Result<Package, String> {
        let spec_text = std::fs::read_to_string(repo.root.join(&repo.spec))
            .map_err(|e| format!("cannot read {}: {e}", repo.spec.display()))?;
        let name = read_spec(&spec_text, "noarch", &[]).name;
        Ok(Package {
            name,
            repo,
            spec_text,
            tarball: OnceLock::new(),
        })
    }

    fn tarball(&self, gear: &[String], cancel: &CancelToken) -> Result<&Tarball, String> {
        self.tarball
            .get_or_init(|| make_tarball(gear, &self.repo, cancel).map_err(|e| e.message))
            .as_ref()
            .map_err(Clone::clone)
    }
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
                .map(|p| read_spec(&p.spec_text, &arch, &[]))
                .collect();
            let nodes: Vec<Node> = specs
                .iter()
                .map(|s| Node {
                    name: s.name.clone(),
                    provides: s.all_provides(),
                    requires: s.build_requires.clone(),
                    excluded: s.excludes(&arch),
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
            }
        })
        .collect()
}

fn hms(secs: f64) -> String {
    crate::report::human_duration(secs)
}

/// `--plan`: levels, order, makespan estimate and its lower bound per lane.
pub fn render_plan(batch: &str, lanes: &[Lane], builders: &[&Builder]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let n = lanes.first().map_or(0, |l| l.specs.len());
    let _ = writeln!(out, "batch {batch}: {n} packages, {} lane(s)", lanes.len());
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
        if !skipped.is_empty() {
            let _ = writeln!(out, "  skipped (arch excluded): {}", names(&skipped));
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
        let sim = simulate(g, &lane.durations, lane.slots.len(), Policy::CriticalPath);
        let mut order: Vec<_> = sim.placements.iter().collect();
        order.sort_by(|a, b| a.start.total_cmp(&b.start).then(a.slot.cmp(&b.slot)));
        let order: Vec<usize> = order.iter().map(|p| p.job).collect();
        let _ = writeln!(out, "  order: {}", names(&order));
        let lb = lower_bound(g, &lane.durations, lane.slots.len());
        let cp = g.critical_path(&lane.durations);
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
                         state: &str,
                         builder: Option<&str>,
                         detail: Option<String>| {
            emit.emit(EventKind::Job {
                package: lane.sched.graph().nodes[job].name.clone(),
                lane: lane.id.clone(),
                state: state.to_string(),
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
                    job_event(
                        lane,
                        j,
                        "skipped",
                        None,
                        Some(format!("{name} excludes {}", lane.arch)),
                    );
                    reports.insert(
                        (li, j),
                        job_report(
                            &name,
                            &lane.id,
                            "SKIP",
                            None,
                            Some(format!("{name} excludes {}", lane.arch)),
                        ),
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
                            "KEPT",
                            None,
                            Some("built in an earlier run; results intact".into()),
                        );
                        r.packages = files.iter().map(|f| f.display().to_string()).collect();
                        reports.insert((li, j), r);
                        job_event(
                            lane,
                            j,
                            "done",
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
                                        "FAIL",
                                        None,
                                        Some(msg.clone()),
                                    ),
                                );
                                job_event(&lanes[li], j, "failed", None, Some(msg.clone()));
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
                                    job_event(lane, j, "waiting-for-slot", None, None);
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
                                "running",
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
                                            host_arch: crate::farm::arch::local(),
                                            tarball,
                                            rpmbuild_args,
                                            packager,
                                            cancel: run_token.clone(),
                                            controls: Controls::new(run_token.clone(), &[]),
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
                                                &ctx, b, host, emit, &token,
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
                    result.outcome.label(),
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
                        rep.result = "OK".into();
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
                        job_event(&lanes[li], job, "done", Some(&builders[slot].name), None);
                        for r in lanes[li].sched.ready() {
                            let deps_done = lanes[li].sched.waiting_on(r).is_empty();
                            if deps_done && !reported_waiting.contains(&(li, r)) {
                                job_event(&lanes[li], r, "ready", None, None);
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
                        rep.result = "FAIL".into();
                        job_event(
                            &lanes[li],
                            job,
                            "failed",
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
                        rep.result = "CANCELLED".into();
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
                            "waiting-for-slot",
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
                            "retry",
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
                            rep.result = "FAIL".into();
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
                                "retry",
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
                        rep.result = "SKIP".into();
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
                            "BLOCKED",
                            Some("not built: a dependency failed".to_string()),
                        ),
                        _ => (
                            "NOT RUN",
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
            130
        } else if jobs
            .iter()
            .any(|j| matches!(j.result.as_str(), "FAIL" | "BLOCKED"))
        {
            1
        } else if any_rejected || jobs.iter().any(|j| j.result == "NOT RUN") {
            3
        } else {
            0
        };
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
    result: &str,
    builder: Option<&str>,
    message: Option<String>,
) -> JobReport {
    JobReport {
        package: pkg.to_string(),
        lane: lane.to_string(),
        result: result.to_string(),
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
            state: "blocked".into(),
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
            job_report(&name, &lane.id, "BLOCKED", None, Some(msg)),
        );
    }
}

/// Every selected builder as reporter rows.
pub fn builder_infos(builders: &[&Builder]) -> Vec<crate::run::events::BuilderInfo> {
    builders.iter().map(|b| info(b)).collect()
}
