//! Running a batch: the dispatch loop that puts ready jobs on free slots,
//! and what the end of each build means for the rest of the run.
//!
//! The decisions — which job is ready, which goes first, who is blocked —
//! come from the pure [`LaneScheduler`](super::schedule::LaneScheduler) of
//! each lane; which slot a job may take from [`Slots`]; when a job lost
//! with its host may start again from [`Retries`]. This module owns the
//! effects: tarballs, builds on slots (through the same local/remote jobs
//! as `zoryn build`), the chain repository, hosts put on hold, the
//! journal, the events that reporters show, and the report with its exit
//! code. A build that comes back is matched on its typed [`Outcome`] in
//! `Dispatcher::on_finished`, one small method per outcome.
//!
//! Packages, lanes and the plan view live in [`super::package`],
//! [`super::lane`] and [`super::plan_view`] and are re-exported here. It
//! must not parse batch files (`file`), decide order (`graph`,
//! `schedule`) or print.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::mpsc;
use std::thread::Scope;
use std::time::{Duration, Instant};

use super::graph::lower_bound;
use super::history::History;
use super::journal::{now, JobOutcome, Journal, Record, RunStatus};
use super::lane::JobRef;
use super::retry::Retries;
use super::schedule::{simulate, JobState, Policy};
use super::slots::Slots;
use crate::farm::loaded::Loaded;
use crate::farm::{Builder, Location};
use crate::report::batch::{BatchReport, JobReport, JobResult, LaneReport};
use crate::run::busy::BusyPolicy;
use crate::run::chain::ChainRepo;
use crate::run::context::{BuildOptions, Controls, RunContext};
use crate::run::emitter::Emitter;
use crate::run::events::{info, JobStatus};
use crate::run::events::{BuilderResult, EventKind, Outcome};
use crate::run::exit_code::ExitCode;
use crate::source::deps::Capability;
use crate::transport::cancel::CancelToken;
use crate::transport::runner::{capture, CommandSpec};
use crate::transport::ssh::Hosts;

pub use super::lane::{lanes_of, plan_lanes, Lane};
pub use super::package::Package;
pub use super::plan_view::{plan_json, render_plan, waits_on, LeftOut};
pub use super::retry::{HOST_HOLD_AFTER, MAX_ATTEMPTS};

/// How a batch run is started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    Fresh,
    Continue,
}

/// (package, lane) → result files kept from an earlier run.
type Kept = HashMap<(String, String), Vec<PathBuf>>;

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
    /// How every job builds (each job's package decides its mode).
    pub options: BuildOptions,
}

impl<'a> BatchRun<'a> {
    /// Run to the end (or until cancelled). Returns the report.
    pub fn run(self, emit: &Emitter, signal: &CancelToken, controls: &Controls) -> BatchReport {
        let BatchRun {
            loaded,
            name: batch_name,
            packages,
            builders,
            lanes,
            chain,
            journal,
            history,
            start,
            kept,
            fail_fast,
            options,
        } = self;
        let started_unix = now();
        let t0 = Instant::now();
        let hosts = Hosts::new(crate::transport::ssh::SshSettings::from_config(
            &loaded.global,
            loaded.paths.runtime_dir.clone(),
        ));
        let setup = JobSetup {
            loaded,
            packages: &packages,
            builders: &builders,
            chain: &chain,
            hosts,
            emit,
            controls,
            run_token: controls.run.clone(),
            options,
            t0,
        };
        let mut run = Dispatcher::new(&setup, lanes, journal, history, signal, fail_fast);
        run.start_up(started_unix, start, &kept);
        run.dispatch_until_done();
        run.into_report(batch_name, started_unix)
    }
}

/// What every build of the run is made with; the build threads share it.
struct JobSetup<'a> {
    loaded: &'a Loaded,
    packages: &'a [Package],
    builders: &'a [&'a Builder],
    chain: &'a ChainRepo,
    hosts: Hosts,
    emit: &'a Emitter,
    controls: &'a Controls,
    /// The whole run's token (`--fail-fast` fires it).
    run_token: CancelToken,
    /// How every job builds (each job's package decides its mode).
    options: BuildOptions,
    /// When the run started: build times are seconds since.
    t0: Instant,
}

/// A build back from its slot, as its thread sends it.
struct Finished {
    slot: usize,
    job: JobRef,
    result: BuilderResult,
    /// When it started, in seconds since the run started.
    started: f64,
}

impl JobSetup<'_> {
    /// Build `pkg` as `job` on slot `s`, in a thread of `scope`; what
    /// comes back is sent on `tx`.
    fn run_job<'scope>(
        &'scope self,
        scope: &'scope Scope<'scope, '_>,
        s: usize,
        job: JobRef,
        pkg: &'scope Package,
        tx: mpsc::Sender<Finished>,
    ) {
        let loaded = self.loaded;
        let chain = self.chain;
        let emit = self.emit;
        let t0 = self.t0;
        let b: &Builder = self.builders[s];
        let token = self.controls.builder(&b.name).child();
        let hosts = &self.hosts;
        let options = self.options.with_mode(pkg.build_mode);
        let run_token = self.run_token.clone();
        scope.spawn(move || {
            let started = t0.elapsed().as_secs_f64();
            let result = match pkg.tarball(&loaded.global.commands.gear, &run_token) {
                Err(e) => {
                    let mut r = crate::run::executor::cancelled_result(b);
                    r.outcome = Outcome::Failed;
                    r.message = Some(format!("gear could not make the tarball: {e}"));
                    r
                }
                Ok(tarball) => {
                    let ctx = RunContext::new(
                        loaded,
                        &pkg.repo,
                        tarball,
                        options,
                        hosts,
                        run_token.clone(),
                    )
                    .with_policy(BusyPolicy::Fail, false)
                    .with_chain(chain);
                    let r = match &b.location {
                        Location::Local => crate::run::local::build(&ctx, b, emit, &token),
                        Location::Remote { host } => {
                            crate::run::remote::build(&ctx, b, host, emit, &token, None)
                        }
                    };
                    emit.emit(EventKind::Finished(r.clone()));
                    r
                }
            };
            let _ = tx.send(Finished {
                slot: s,
                job,
                result,
                started,
            });
        });
    }
}

/// A build back from its slot as the dispatcher handles it: which
/// builder, how long, and its row of the report so far.
struct BuildEnd {
    job: JobRef,
    slot: usize,
    /// The builder's name and host.
    builder: String,
    host: String,
    result: BuilderResult,
    secs: f64,
    /// Its row of the report, as far as the outcome alone tells.
    report: JobReport,
}

impl BuildEnd {
    /// Its journal line.
    fn line(&self, outcome: JobOutcome, results: Vec<PathBuf>, message: Option<String>) -> Line {
        Line {
            outcome,
            builder: Some(self.builder.clone()),
            secs: self.secs,
            results,
            message,
        }
    }
}

/// The journal line of a job's end or retry.
struct Line {
    outcome: JobOutcome,
    builder: Option<String>,
    secs: f64,
    results: Vec<PathBuf>,
    message: Option<String>,
}

impl Line {
    /// A job that ended without a build on a builder.
    fn unbuilt(outcome: JobOutcome, message: Option<String>) -> Line {
        Line {
            outcome,
            builder: None,
            secs: 0.0,
            results: vec![],
            message,
        }
    }
}

/// A job's new state, for the reporters.
struct JobEvent {
    state: JobStatus,
    builder: Option<String>,
    detail: Option<String>,
}

impl JobEvent {
    fn new(state: JobStatus, builder: Option<&str>, detail: Option<String>) -> JobEvent {
        JobEvent {
            state,
            builder: builder.map(str::to_string),
            detail,
        }
    }
}

/// A running batch: its lanes, slots and retries, and what was reported.
struct Dispatcher<'a> {
    setup: &'a JobSetup<'a>,
    lanes: Vec<Lane>,
    journal: Journal,
    history: History,
    /// Ctrl-C, SIGTERM, SIGHUP.
    signal: &'a CancelToken,
    fail_fast: bool,
    slots: Slots,
    retries: Retries,
    /// Each lane's jobs as indices into the run's packages.
    pkg_index: Vec<Vec<usize>>,
    reports: HashMap<JobRef, JobReport>,
    /// Jobs shown waiting for a slot and not started since.
    reported_waiting: HashSet<JobRef>,
    /// Builds on slots now.
    running: usize,
    /// No new job starts: one was cancelled, or `--fail-fast` fired.
    stopping: bool,
    any_failed: bool,
    /// A host listed results that were not downloaded (exit 3).
    any_rejected: bool,
}

impl<'a> Dispatcher<'a> {
    fn new(
        setup: &'a JobSetup<'a>,
        lanes: Vec<Lane>,
        journal: Journal,
        history: History,
        signal: &'a CancelToken,
        fail_fast: bool,
    ) -> Dispatcher<'a> {
        let pkg_index = package_index(&lanes, setup.packages);
        Dispatcher {
            slots: Slots::for_builders(setup.builders, &setup.loaded.farm),
            setup,
            lanes,
            journal,
            history,
            signal,
            fail_fast,
            retries: Retries::default(),
            pkg_index,
            reports: HashMap::new(),
            reported_waiting: HashSet::new(),
            running: 0,
            stopping: false,
            any_failed: false,
            any_rejected: false,
        }
    }

    /// Before any build: hosts on hold, the run's first journal line, the
    /// jobs the plan skips and, on `--continue`, the jobs kept.
    fn start_up(&mut self, started_unix: f64, start: Start, kept: &Kept) {
        self.hold_hosts_from_history(started_unix);
        let _ = self.journal.append(&Record::RunStarted {
            at: started_unix,
            pid: std::process::id(),
            packages: self.setup.packages.iter().map(|p| p.name.clone()).collect(),
            lanes: self.lanes.iter().map(|l| l.id.clone()).collect(),
        });
        for lane in 0..self.lanes.len() {
            self.end_skipped(lane);
            if start == Start::Continue {
                self.keep_earlier_results(lane, kept);
            }
        }
    }

    /// Hosts still on hold from earlier runs sit out when their lane has others.
    fn hold_hosts_from_history(&mut self, now: f64) {
        let builders = self.setup.builders;
        for lane in &self.lanes {
            let held: Vec<usize> = lane
                .slots
                .iter()
                .copied()
                .filter(|s| self.history.on_hold(builders[*s].host(), now))
                .collect();
            if held.len() < lane.slots.len() {
                for s in held {
                    self.slots.disable(
                        s,
                        format!("{} is on hold after repeated failures", builders[s].host()),
                    );
                }
            }
        }
    }

    /// Jobs the plan skips in lane `li` (arch excluded, branch left out)
    /// end at once.
    fn end_skipped(&mut self, li: usize) {
        for j in 0..self.lanes[li].sched.graph().nodes.len() {
            let job = JobRef { lane: li, job: j };
            let lane = &self.lanes[li];
            if lane.sched.state(j) != JobState::Skipped {
                continue;
            }
            let name = self.name(job);
            let why = lane
                .skip_reasons
                .get(j)
                .cloned()
                .flatten()
                .unwrap_or_else(|| format!("{name} excludes {}", lane.arch));
            let report = self.report_row(job, JobResult::Skip, None, Some(why.clone()));
            let line = Line::unbuilt(JobOutcome::Skipped, None);
            let event = JobEvent::new(JobStatus::Skipped, None, Some(why));
            self.settle(job, Some(line), Some(event), Some(report));
        }
    }

    /// On `--continue`: ready jobs of lane `li` whose results from an
    /// earlier run are all still there count as done, as far down the
    /// graph as that reaches.
    fn keep_earlier_results(&mut self, li: usize, kept: &Kept) {
        let mut progress = true;
        while progress {
            progress = false;
            for j in self.lanes[li].sched.ready() {
                let job = JobRef { lane: li, job: j };
                let key = (self.name(job), self.lanes[li].id.clone());
                let Some(files) = kept.get(&key) else {
                    continue;
                };
                if files.is_empty() || !files.iter().all(|f| f.is_file()) {
                    continue;
                }
                let sched = &mut self.lanes[li].sched;
                sched.start(j);
                if let Some(p) = provides_of(files, self.signal) {
                    sched.update_provides(j, p);
                }
                sched.finish(j, true);
                let why = "built in an earlier run; results intact";
                let mut report = self.report_row(job, JobResult::Kept, None, Some(why.into()));
                report.packages = files.iter().map(|f| f.display().to_string()).collect();
                let detail = Some("kept from the earlier run".into());
                let event = JobEvent::new(JobStatus::Done, None, detail);
                self.settle(job, None, Some(event), Some(report));
                progress = true;
            }
        }
    }

    /// Start ready jobs on free slots and handle the builds that come
    /// back, until every lane is finished or the run stops.
    fn dispatch_until_done(&mut self) {
        let (tx, rx) = mpsc::channel::<Finished>();
        std::thread::scope(|scope| loop {
            let stop_now = self.stop_now();
            if !stop_now {
                self.dispatch_ready(scope, &tx);
            }
            if self.running == 0 && (self.all_finished() || stop_now) {
                break;
            }
            // Wait for a build to end, or for the next retry/cool-down.
            if let Ok(finished) = rx.recv_timeout(self.next_timer()) {
                self.on_finished(finished);
            }
        });
    }

    fn stop_now(&self) -> bool {
        self.stopping || self.signal.is_cancelled() || self.setup.run_token.is_cancelled()
    }

    fn all_finished(&self) -> bool {
        self.lanes.iter().all(|l| l.sched.is_finished())
    }

    /// How long to wait for a build to come back: until the next backoff
    /// or cool-down ends (at least 20 ms), else 500 ms.
    fn next_timer(&self) -> Duration {
        let now = Instant::now();
        self.retries
            .backoffs(now)
            .chain(self.slots.cool_downs(now))
            .min()
            .map(|t| t.saturating_duration_since(Instant::now()))
            .unwrap_or(Duration::from_millis(500))
            .max(Duration::from_millis(20))
    }

    /// Ready jobs, most urgent first, onto free slots.
    fn dispatch_ready<'scope>(
        &mut self,
        scope: &'scope Scope<'scope, '_>,
        tx: &mpsc::Sender<Finished>,
    ) where
        'a: 'scope,
    {
        for li in 0..self.lanes.len() {
            for j in self.lanes[li].sched.ready() {
                self.dispatch(scope, tx, JobRef { lane: li, job: j });
            }
        }
    }

    /// Start `job` on a free slot of its lane, unless it is backing off or
    /// no slot is free; fail it when no usable builder is left.
    fn dispatch<'scope>(
        &mut self,
        scope: &'scope Scope<'scope, '_>,
        tx: &mpsc::Sender<Finished>,
        job: JobRef,
    ) where
        'a: 'scope,
    {
        if self.retries.backing_off(job, Instant::now()) {
            return;
        }
        let lane_slots = &self.lanes[job.lane].slots;
        let usable = self.slots.usable(lane_slots);
        if usable.is_empty() {
            let reason = self.slots.why_unusable(lane_slots);
            self.no_builder_left(job, &reason);
            return;
        }
        let avoid = self.retries.avoid(job);
        match self.slots.pick(&usable, &avoid, Instant::now()) {
            Some(s) => self.start_job(scope, tx, job, s),
            None => {
                if self.reported_waiting.insert(job) {
                    self.event(job, JobEvent::new(JobStatus::WaitingForSlot, None, None));
                }
            }
        }
    }

    /// Every slot of `job`'s lane is disabled: the job fails and what
    /// needs it is blocked.
    fn no_builder_left(&mut self, job: JobRef, reason: &str) {
        let lane = &mut self.lanes[job.lane];
        let msg = format!("no usable builder left in lane {}: {reason}", lane.id);
        lane.sched.start(job.job);
        let blocked = lane.sched.finish(job.job, false);
        self.any_failed = true;
        let report = self.report_row(job, JobResult::Fail, None, Some(msg.clone()));
        let line = Line::unbuilt(JobOutcome::Failed, Some(msg.clone()));
        let event = JobEvent::new(JobStatus::Failed, None, Some(msg));
        self.settle(job, Some(line), Some(event), Some(report));
        self.block(job, &blocked);
    }

    /// Start `job` on slot `s`: its event and journal line, then its build.
    fn start_job<'scope>(
        &mut self,
        scope: &'scope Scope<'scope, '_>,
        tx: &mpsc::Sender<Finished>,
        job: JobRef,
        s: usize,
    ) where
        'a: 'scope,
    {
        self.reported_waiting.remove(&job);
        self.lanes[job.lane].sched.start(job.job);
        self.slots.occupy(s, job);
        self.running += 1;
        let attempt = self.retries.start(job);
        let setup = self.setup;
        let pkg = &setup.packages[self.pkg_index[job.lane][job.job]];
        let builder = &setup.builders[s].name;
        let detail = (attempt > 1).then(|| format!("attempt {attempt}"));
        self.event(
            job,
            JobEvent::new(JobStatus::Running, Some(builder), detail),
        );
        let _ = self.journal.append(&Record::JobStarted {
            at: now(),
            pkg: pkg.name.clone(),
            lane: self.lanes[job.lane].id.clone(),
            builder: builder.clone(),
            attempt,
        });
        setup.run_job(scope, s, job, pkg, tx.clone());
    }

    /// A build came back: free its slot and act on its outcome.
    fn on_finished(&mut self, finished: Finished) {
        let Finished {
            slot,
            job,
            result,
            started,
        } = finished;
        self.running -= 1;
        self.slots.release(slot);
        let ended = self.setup.t0.elapsed().as_secs_f64();
        let b = self.setup.builders[slot];
        let result_of = JobResult::of(result.outcome);
        let mut report = self.report_row(job, result_of, Some(&b.name), result.message.clone());
        report.start = Some(started);
        report.end = Some(ended);
        report.log = result.log.as_ref().map(|p| p.display().to_string());
        let end = BuildEnd {
            job,
            slot,
            builder: b.name.clone(),
            host: b.host().to_string(),
            secs: ended - started,
            result,
            report,
        };
        match end.result.outcome {
            Outcome::Success => self.on_success(end),
            Outcome::Failed => self.on_failure(end),
            Outcome::Cancelled => self.on_cancelled(end),
            Outcome::Busy => self.on_busy(end),
            Outcome::Unusable => self.on_unusable(end),
            Outcome::Lost => self.on_lost(end),
            Outcome::Skipped => self.on_skipped(end),
        }
    }

    /// Built: its packages join the chain repo and tell the lane what
    /// they provide; jobs that became ready are shown.
    fn on_success(&mut self, mut e: BuildEnd) {
        let job = e.job;
        let name = self.name(job);
        self.retries.host_ok(&e.host);
        self.history.host_ok(&e.host);
        let lane = &mut self.lanes[job.lane];
        let added = self
            .setup
            .chain
            .add(&lane.branch, &lane.arch, &e.result.packages)
            .unwrap_or_default();
        if let Some(p) = provides_of(&e.result.packages, self.signal) {
            lane.sched.update_provides(job.job, p);
        }
        let secs = e.result.elapsed.as_secs_f64();
        self.history.record_duration(&name, &lane.arch, secs);
        lane.sched.finish(job.job, true);
        if !e.result.rejected.is_empty() {
            self.any_rejected = true;
            e.report.message = Some(format!(
                "{} rejected result(s): {}",
                e.result.rejected.len(),
                e.result.rejected.join("; ")
            ));
        }
        e.report.packages = e
            .result
            .packages
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        let line = e.line(JobOutcome::Done, added, None);
        let event = JobEvent::new(JobStatus::Done, Some(&e.builder), None);
        self.settle(job, Some(line), Some(event), Some(e.report));
        self.show_ready(job.lane);
    }

    /// Jobs of lane `li` whose dependencies are all built are shown ready
    /// (those already shown waiting for a slot stay so).
    fn show_ready(&self, li: usize) {
        let sched = &self.lanes[li].sched;
        for j in sched.ready() {
            let job = JobRef { lane: li, job: j };
            if sched.waiting_on(j).is_empty() && !self.reported_waiting.contains(&job) {
                self.event(job, JobEvent::new(JobStatus::Ready, None, None));
            }
        }
    }

    /// The build failed: what needs it is blocked; `--fail-fast` stops the run.
    fn on_failure(&mut self, e: BuildEnd) {
        self.any_failed = true;
        self.retries.host_ok(&e.host);
        let message = e.result.message.clone();
        let line = e.line(JobOutcome::Failed, vec![], message.clone());
        let blocked = self.lanes[e.job.lane].sched.finish(e.job.job, false);
        let event = JobEvent::new(JobStatus::Failed, Some(&e.builder), message);
        self.settle(e.job, Some(line), Some(event), Some(e.report));
        self.block(e.job, &blocked);
        if self.fail_fast {
            self.stopping = true;
            self.setup.run_token.cancel();
        }
    }

    /// Interrupted: the job goes back to the queue and nothing new starts.
    fn on_cancelled(&mut self, e: BuildEnd) {
        let line = e.line(JobOutcome::Cancelled, vec![], e.result.message.clone());
        self.lanes[e.job.lane].sched.requeue(e.job.job);
        self.settle(e.job, Some(line), None, Some(e.report));
        self.stopping = true;
    }

    /// Someone else holds this slot: the job tries another one, without
    /// using up an attempt.
    fn on_busy(&mut self, e: BuildEnd) {
        self.lanes[e.job.lane].sched.requeue(e.job.job);
        self.slots
            .cool_down(e.slot, Instant::now() + Duration::from_secs(5));
        self.retries.uncount(e.job);
        let detail = format!("{} is busy", e.builder);
        let event = JobEvent::new(JobStatus::WaitingForSlot, None, Some(detail));
        self.settle(e.job, None, Some(event), None);
    }

    /// A setup problem of this builder: stop using it; the job tries
    /// another slot without using up an attempt.
    fn on_unusable(&mut self, e: BuildEnd) {
        let msg = e.result.message.clone().unwrap_or_default();
        self.slots.disable(e.slot, format!("{}: {msg}", e.builder));
        self.lanes[e.job.lane].sched.requeue(e.job.job);
        self.retries.uncount(e.job);
        let line = e.line(JobOutcome::Retry, vec![], Some(msg.clone()));
        let detail = format!("{} is unusable: {msg}", e.builder);
        let event = JobEvent::new(JobStatus::Retry, None, Some(detail));
        self.settle(e.job, Some(line), Some(event), None);
    }

    /// The host was lost: [`HOST_HOLD_AFTER`] times in a row put it on
    /// hold; the job retries on another slot after a backoff, or is given
    /// up after [`MAX_ATTEMPTS`].
    fn on_lost(&mut self, mut e: BuildEnd) {
        let job = e.job;
        let msg = e.result.message.clone().unwrap_or_default();
        let n = self.retries.host_lost(&e.host);
        self.history.host_failed(&e.host, now());
        if n >= HOST_HOLD_AFTER {
            self.hold_host(
                &e.host,
                &format!("{} is on hold after {n} failures ({msg})", e.host),
            );
        }
        self.retries.lost_on(job, e.slot);
        let attempt = self.retries.attempt(job);
        let line = e.line(JobOutcome::Retry, vec![], Some(msg.clone()));
        if attempt >= MAX_ATTEMPTS {
            self.lanes[job.lane].sched.finish(job.job, false);
            self.any_failed = true;
            e.report.message = Some(format!("gave up after {attempt} transport failures: {msg}"));
            self.settle(job, Some(line), None, Some(e.report));
        } else {
            self.lanes[job.lane].sched.requeue(job.job);
            let wait = self.retries.back_off(job, attempt, Instant::now());
            let detail = format!(
                "{msg}; retrying on another slot in {:.1}s",
                wait.as_secs_f64()
            );
            let event = JobEvent::new(JobStatus::Retry, None, Some(detail));
            self.settle(job, Some(line), Some(event), None);
        }
    }

    /// Every slot on `host` is no longer used.
    fn hold_host(&mut self, host: &str, why: &str) {
        for (k, b) in self.setup.builders.iter().enumerate() {
            if b.host() == host {
                self.slots.disable(k, why.to_string());
            }
        }
    }

    /// The builder's spec check skipped the package: the job counts as done.
    fn on_skipped(&mut self, e: BuildEnd) {
        let line = e.line(JobOutcome::Skipped, vec![], e.result.message.clone());
        self.lanes[e.job.lane].sched.finish(e.job.job, true);
        self.settle(e.job, Some(line), None, Some(e.report));
    }

    /// Jobs of `failed`'s lane blocked by its failure end without running.
    fn block(&mut self, failed: JobRef, blocked: &[usize]) {
        let msg = format!("not built: dependency {} failed", self.name(failed));
        for &b in blocked {
            let job = JobRef {
                lane: failed.lane,
                job: b,
            };
            let report = self.report_row(job, JobResult::Blocked, None, Some(msg.clone()));
            let line = Line::unbuilt(JobOutcome::Blocked, Some(msg.clone()));
            let event = JobEvent::new(JobStatus::Blocked, None, Some(msg.clone()));
            self.settle(job, Some(line), Some(event), Some(report));
        }
    }

    /// What a job's end (or retry) leaves, each when given: its journal
    /// line, then its event for the reporters, then its row of the report.
    fn settle(
        &mut self,
        job: JobRef,
        line: Option<Line>,
        event: Option<JobEvent>,
        report: Option<JobReport>,
    ) {
        if let Some(l) = line {
            let _ = self.journal.append(&Record::JobFinished {
                at: now(),
                pkg: self.name(job),
                lane: self.lanes[job.lane].id.clone(),
                builder: l.builder,
                outcome: l.outcome,
                secs: l.secs,
                results: l.results,
                message: l.message,
            });
        }
        if let Some(e) = event {
            self.event(job, e);
        }
        if let Some(r) = report {
            self.reports.insert(job, r);
        }
    }

    fn event(&self, job: JobRef, e: JobEvent) {
        let lane = &self.lanes[job.lane];
        self.setup.emit.emit(EventKind::Job {
            package: self.name(job),
            lane: lane.id.clone(),
            state: e.state,
            builder: e.builder,
            detail: e.detail,
        });
    }

    /// The package name of `job` in its lane's graph.
    fn name(&self, job: JobRef) -> String {
        self.lanes[job.lane].sched.graph().nodes[job.job]
            .name
            .clone()
    }

    fn report_row(
        &self,
        job: JobRef,
        result: JobResult,
        builder: Option<&str>,
        message: Option<String>,
    ) -> JobReport {
        job_report(
            &self.name(job),
            &self.lanes[job.lane].id,
            result,
            builder,
            message,
        )
    }

    /// The run is over: its last journal line, the host history saved, and
    /// the report of every job (those that never ran too) with the exit code.
    fn into_report(mut self, batch: String, started_unix: f64) -> BatchReport {
        let interrupted = self.signal.is_cancelled() || (self.stopping && !self.any_failed);
        let status = if interrupted {
            RunStatus::Interrupted
        } else {
            RunStatus::Finished
        };
        let _ = self.journal.append(&Record::RunEnded { at: now(), status });
        let _ = self.history.save();
        self.add_never_ran(interrupted);
        let mut jobs: Vec<JobReport> = self.reports.into_values().collect();
        jobs.sort_by(|a, b| a.package.cmp(&b.package).then(a.lane.cmp(&b.lane)));
        let exit_code = exit_code(interrupted, self.any_rejected, &jobs).code();
        let builders = self.setup.builders;
        BatchReport {
            batch,
            started_unix,
            wall_secs: self.setup.t0.elapsed().as_secs_f64(),
            lanes: self
                .lanes
                .iter()
                .map(|l| lane_report(l, builders))
                .collect(),
            packages: self.setup.packages.iter().map(|p| p.name.clone()).collect(),
            jobs,
            exit_code,
        }
    }

    /// A row for every job that never ran.
    fn add_never_ran(&mut self, interrupted: bool) {
        for (li, lane) in self.lanes.iter().enumerate() {
            for j in 0..lane.sched.graph().nodes.len() {
                let job = JobRef { lane: li, job: j };
                self.reports.entry(job).or_insert_with(|| {
                    let (result, msg) = never_ran(lane.sched.state(j), interrupted);
                    let name = &lane.sched.graph().nodes[j].name;
                    job_report(name, &lane.id, result, None, Some(msg.to_string()))
                });
            }
        }
    }
}

/// Each lane's jobs as indices into `packages` (by name).
fn package_index(lanes: &[Lane], packages: &[Package]) -> Vec<Vec<usize>> {
    lanes
        .iter()
        .map(|l| {
            l.sched
                .graph()
                .nodes
                .iter()
                .map(|n| packages.iter().position(|p| p.name == n.name).unwrap_or(0))
                .collect()
        })
        .collect()
}

/// The result of a job that never ran, and why.
fn never_ran(state: JobState, interrupted: bool) -> (JobResult, &'static str) {
    match state {
        JobState::Blocked => (JobResult::Blocked, "not built: a dependency failed"),
        _ if interrupted => (JobResult::NotRun, "interrupted before it ran"),
        _ => (JobResult::NotRun, "stopped by --fail-fast"),
    }
}

/// The exit of a batch (SPEC 8): interrupted; else a failed or blocked
/// job; else a rejected result or a job not run (infra); else ok.
fn exit_code(interrupted: bool, any_rejected: bool, jobs: &[JobReport]) -> ExitCode {
    if interrupted {
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
}

/// A lane's row of the report: its slots, estimates and cycles.
fn lane_report(l: &Lane, builders: &[&Builder]) -> LaneReport {
    LaneReport {
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

/// Every selected builder as reporter rows.
pub fn builder_infos(builders: &[&Builder]) -> Vec<crate::run::events::BuilderInfo> {
    builders.iter().map(|b| info(b)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(result: JobResult) -> JobReport {
        job_report("p", "x86_64/sisyphus", result, None, None)
    }

    #[test]
    fn exit_code_ranks_interrupt_then_failure_then_infra() {
        use JobResult::*;
        let code = |interrupted, rejected, results: &[JobResult]| {
            let jobs: Vec<JobReport> = results.iter().cloned().map(row).collect();
            exit_code(interrupted, rejected, &jobs)
        };
        assert_eq!(code(false, false, &[]), ExitCode::Ok);
        assert_eq!(code(false, false, &[Ok, Skip, Kept]), ExitCode::Ok);
        assert_eq!(code(false, false, &[Ok, Fail]), ExitCode::BuildFailed);
        assert_eq!(code(false, false, &[Ok, Blocked]), ExitCode::BuildFailed);
        assert_eq!(code(false, false, &[Ok, NotRun]), ExitCode::Infra);
        assert_eq!(code(false, true, &[Ok]), ExitCode::Infra);
        assert_eq!(code(false, true, &[Fail, NotRun]), ExitCode::BuildFailed);
        assert_eq!(code(true, true, &[Fail, NotRun]), ExitCode::Interrupted);
        // A cancelled job alone does not decide the exit.
        assert_eq!(code(false, false, &[Cancelled]), ExitCode::Ok);
    }

    #[test]
    fn jobs_that_never_ran_say_why() {
        assert_eq!(
            never_ran(JobState::Blocked, true),
            (JobResult::Blocked, "not built: a dependency failed")
        );
        assert_eq!(
            never_ran(JobState::Ready, true),
            (JobResult::NotRun, "interrupted before it ran")
        );
        assert_eq!(
            never_ran(JobState::WaitingForDeps, false),
            (JobResult::NotRun, "stopped by --fail-fast")
        );
    }
}
