//! Dispatching the jobs of one lane (SPEC 7): which ready job goes to the
//! next free slot, and what a whole batch would take.
//!
//! [`LaneScheduler`] is the live dispatcher's brain: the runtime tells it
//! what started, finished, failed or must be retried, and asks it for the
//! ready jobs in priority order; it never decides the order itself.
//! Priority: the longest *remaining critical path* (the job's duration plus
//! the longest chain of durations of jobs waiting for it) first; ties: more
//! transitive dependents first, then the smaller package name.
//!
//! [`simulate`] runs the same scheduler against known durations (a discrete
//! event simulation) for `--plan` and for the benchmarks, next to two
//! baselines: level-by-level waves and one job at a time.
//!
//! [`estimate_durations`] states where durations come from: the history
//! where known, else the upper quartile of the batch's known durations, else
//! [`DEFAULT_DURATION`] (300 s).

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeSet, BinaryHeap, HashMap};

use super::graph::{duration_of, lower_bound, Graph};
use crate::source::deps::Capability;

/// What a job of the lane is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JobState {
    /// Some dependency is not done yet.
    WaitingForDeps,
    /// Every dependency is done; waiting for a slot.
    Ready,
    Running,
    Done,
    Failed,
    /// A dependency failed or was blocked: not built.
    Blocked,
    /// The spec excludes the lane's arch.
    Skipped,
}

impl JobState {
    /// Running or finished: its dependencies are frozen.
    pub fn is_started(self) -> bool {
        matches!(self, JobState::Running | JobState::Done | JobState::Failed)
    }
}

/// f64 ordered by `total_cmp`, for priority keys.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Total(f64);

impl Eq for Total {}

impl PartialOrd for Total {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Total {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// Smaller = dispatched first.
type Key = (Reverse<Total>, Reverse<usize>, usize, usize);

/// Job states and the ready queue, over a graph owned elsewhere (so
/// [`simulate`] needs no copy of the graph).
#[derive(Clone, Debug)]
struct Dispatch {
    states: Vec<JobState>,
    rcp: Vec<f64>,
    tdeps: Vec<usize>,
    name_rank: Vec<usize>,
    ready: BTreeSet<Key>,
}

impl Dispatch {
    fn new(graph: &Graph, durations: &[f64]) -> Dispatch {
        let n = graph.nodes.len();
        let mut by_name: Vec<usize> = (0..n).collect();
        by_name.sort_by(|&a, &b| graph.nodes[a].name.cmp(&graph.nodes[b].name));
        let mut name_rank = vec![0; n];
        for (r, i) in by_name.into_iter().enumerate() {
            name_rank[i] = r;
        }
        let mut d = Dispatch {
            states: vec![JobState::WaitingForDeps; n],
            rcp: Vec::new(),
            tdeps: Vec::new(),
            name_rank,
            ready: BTreeSet::new(),
        };
        d.replan(graph, durations);
        d
    }

    fn key(&self, i: usize) -> Key {
        (
            Reverse(Total(self.rcp[i])),
            Reverse(self.tdeps[i]),
            self.name_rank[i],
            i,
        )
    }

    /// Recompute priorities and the states of every job not started, from
    /// the graph and the states of started jobs.
    fn replan(&mut self, graph: &Graph, durations: &[f64]) {
        self.rcp = graph.remaining_critical_path(durations);
        self.tdeps = graph.transitive_dependent_counts();
        self.ready.clear();
        for i in graph.topological_order() {
            if self.states[i].is_started() {
                continue;
            }
            let s = if graph.nodes[i].excluded {
                JobState::Skipped
            } else if graph.deps[i]
                .iter()
                .any(|&d| matches!(self.states[d], JobState::Failed | JobState::Blocked))
            {
                JobState::Blocked
            } else if graph.deps[i]
                .iter()
                .all(|&d| self.states[d] == JobState::Done)
            {
                JobState::Ready
            } else {
                JobState::WaitingForDeps
            };
            self.states[i] = s;
            if s == JobState::Ready {
                self.ready.insert(self.key(i));
            }
        }
    }

    fn best(&self) -> Option<usize> {
        self.ready.first().map(|k| k.3)
    }

    fn start(&mut self, i: usize) -> bool {
        if self.states.get(i) != Some(&JobState::Ready) {
            return false;
        }
        self.ready.remove(&self.key(i));
        self.states[i] = JobState::Running;
        true
    }

    fn requeue(&mut self, i: usize) -> bool {
        if self.states.get(i) != Some(&JobState::Running) {
            return false;
        }
        self.states[i] = JobState::Ready;
        self.ready.insert(self.key(i));
        true
    }

    fn finish(&mut self, graph: &Graph, i: usize, ok: bool) -> Vec<usize> {
        if self.states.get(i) != Some(&JobState::Running) {
            return Vec::new();
        }
        let mut out = Vec::new();
        if ok {
            self.states[i] = JobState::Done;
            for &j in graph.dependents_slice(i) {
                if self.states[j] == JobState::WaitingForDeps
                    && graph.deps[j]
                        .iter()
                        .all(|&d| self.states[d] == JobState::Done)
                {
                    self.states[j] = JobState::Ready;
                    self.ready.insert(self.key(j));
                    out.push(j);
                }
            }
        } else {
            self.states[i] = JobState::Failed;
            let mut stack = vec![i];
            while let Some(x) = stack.pop() {
                for &j in graph.dependents_slice(x) {
                    match self.states[j] {
                        JobState::WaitingForDeps | JobState::Ready => {
                            if self.states[j] == JobState::Ready {
                                self.ready.remove(&self.key(j));
                            }
                            self.states[j] = JobState::Blocked;
                            out.push(j);
                            stack.push(j);
                        }
                        _ => {}
                    }
                }
            }
        }
        out.sort_unstable();
        out
    }
}

/// The live dispatcher's brain for one lane; the runtime calls it and never
/// decides order itself.
///
/// Misuse by the caller (starting a job that is not ready, finishing one
/// that is not running, an index out of range) trips a `debug_assert!` and
/// is otherwise ignored with an error in the log, so a runtime bug cannot
/// crash a batch half way.
#[derive(Clone, Debug)]
pub struct LaneScheduler {
    graph: Graph,
    durations: Vec<f64>,
    slots: usize,
    d: Dispatch,
}

impl LaneScheduler {
    /// `durations[i]` is the estimate for job i (see [`estimate_durations`]);
    /// `slots` the number of builders of the lane, used by the estimates
    /// ([`LaneScheduler::estimated_makespan`], [`LaneScheduler::lower_bound`]).
    pub fn new(graph: Graph, durations: Vec<f64>, slots: usize) -> Self {
        let d = Dispatch::new(&graph, &durations);
        LaneScheduler {
            graph,
            durations,
            slots,
            d,
        }
    }

    pub fn state(&self, i: usize) -> JobState {
        self.d.states[i]
    }

    /// Unfinished deps of `i` (not Done), ascending.
    pub fn waiting_on(&self, i: usize) -> Vec<usize> {
        self.graph
            .deps
            .get(i)
            .map(|ds| {
                ds.iter()
                    .copied()
                    .filter(|&d| self.d.states[d] != JobState::Done)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Ready jobs ordered by priority: longest remaining critical path
    /// first (ties: more transitive dependents, then name).
    pub fn ready(&self) -> Vec<usize> {
        self.d.ready.iter().map(|k| k.3).collect()
    }

    /// The first of [`LaneScheduler::ready`], without building the list.
    pub fn next_ready(&self) -> Option<usize> {
        self.d.best()
    }

    /// Remaining critical path of job `i` in seconds (its priority).
    pub fn priority(&self, i: usize) -> f64 {
        self.d.rcp[i]
    }

    /// Ready -> Running.
    pub fn start(&mut self, i: usize) {
        if !self.d.start(i) {
            let s = self.d.states.get(i).copied();
            debug_assert!(false, "start({i}) of a job in state {s:?}");
            tracing::error!(job = i, state = ?s, "batch scheduler: start of a job that is not ready, ignored");
        }
    }

    /// Running -> Done/Failed. Returns the newly Ready jobs on success; on
    /// failure every transitive dependent becomes Blocked and those newly
    /// Blocked are returned. Ascending.
    pub fn finish(&mut self, i: usize, ok: bool) -> Vec<usize> {
        if self.d.states.get(i) != Some(&JobState::Running) {
            let s = self.d.states.get(i).copied();
            debug_assert!(false, "finish({i}) of a job in state {s:?}");
            tracing::error!(job = i, state = ?s, "batch scheduler: finish of a job that is not running, ignored");
            return Vec::new();
        }
        self.d.finish(&self.graph, i, ok)
    }

    /// Running -> Ready (transport failure, will retry elsewhere).
    pub fn requeue(&mut self, i: usize) {
        if !self.d.requeue(i) {
            let s = self.d.states.get(i).copied();
            debug_assert!(false, "requeue({i}) of a job in state {s:?}");
            tracing::error!(job = i, state = ?s, "batch scheduler: requeue of a job that is not running, ignored");
        }
    }

    /// The real provides of job `i`'s RPMs replace the predicted ones;
    /// jobs not started (not Running, Done or Failed) get their deps and
    /// states recomputed — a Ready job may go back to waiting, a Blocked one
    /// may be freed if it no longer depends on the failure. Priorities are
    /// recomputed. Best called before [`LaneScheduler::finish`] of the same
    /// job, so no job is reported ready that is about to wait again.
    pub fn update_provides(&mut self, i: usize, provides: Vec<Capability>) {
        if i >= self.graph.nodes.len() {
            debug_assert!(false, "update_provides({i}) out of range");
            return;
        }
        let started: Vec<bool> = self.d.states.iter().map(|s| s.is_started()).collect();
        let changed = self.graph.update_provides(i, provides, &started);
        if !changed.is_empty() {
            self.d.replan(&self.graph, &self.durations);
        }
    }

    /// No job waiting, ready or running.
    pub fn is_finished(&self) -> bool {
        !self.d.states.iter().any(|s| {
            matches!(
                s,
                JobState::WaitingForDeps | JobState::Ready | JobState::Running
            )
        })
    }

    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    pub fn durations(&self) -> &[f64] {
        &self.durations
    }

    pub fn slots(&self) -> usize {
        self.slots
    }

    /// [`lower_bound`] of the whole lane.
    pub fn lower_bound(&self) -> f64 {
        lower_bound(&self.graph, &self.durations, self.slots)
    }

    /// Makespan of the whole lane as [`simulate`]d with this scheduler's
    /// policy ([`Policy::CriticalPath`]).
    pub fn estimated_makespan(&self) -> f64 {
        simulate(
            &self.graph,
            &self.durations,
            self.slots,
            Policy::CriticalPath,
        )
        .makespan
    }
}

/// Which ready job a simulation starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// [`LaneScheduler`]'s order: longest remaining critical path first.
    CriticalPath,
    /// Level by level: a level starts when the previous is all finished.
    Waves,
    /// One job per lane at a time, topological order.
    OneAtATime,
}

/// Job `job` ran on slot `slot` from `start` to `end` (seconds from the
/// start of the batch).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Placement {
    pub job: usize,
    pub slot: usize,
    pub start: f64,
    pub end: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Simulation {
    pub makespan: f64,
    /// In start order.
    pub placements: Vec<Placement>,
}

/// Discrete-event simulation with known durations: at every moment a slot
/// is free and a job is ready (per policy), start the best ready job on the
/// lowest-numbered free slot. Every job succeeds; excluded jobs are not
/// placed. Jobs ending at the same moment all finish before the next
/// dispatch. `slots == 0` counts as 1; invalid durations as 0.
pub fn simulate(graph: &Graph, durations: &[f64], slots: usize, policy: Policy) -> Simulation {
    let n = graph.nodes.len();
    let slots = match policy {
        Policy::OneAtATime => 1,
        _ => slots.max(1),
    };
    let mut d = Dispatch::new(graph, durations);
    let level = graph.level_of();
    let mut wave_left: Vec<usize> = Vec::new();
    for l in level.iter().flatten() {
        if wave_left.len() <= *l {
            wave_left.resize(l + 1, 0);
        }
        wave_left[*l] += 1;
    }
    let mut wave = 0usize;
    let mut free: BTreeSet<usize> = (0..slots).collect();
    let mut running: BinaryHeap<Reverse<(Total, usize, usize)>> = BinaryHeap::new();
    let mut placements = Vec::with_capacity(n);
    let mut now = 0.0f64;
    loop {
        while let Some(&slot) = free.first() {
            let job = match policy {
                Policy::Waves => d
                    .ready
                    .iter()
                    .map(|k| k.3)
                    .find(|&j| level[j] == Some(wave)),
                _ => d.best(),
            };
            let Some(job) = job else { break };
            free.remove(&slot);
            d.start(job);
            let end = now + duration_of(graph, durations, job);
            placements.push(Placement {
                job,
                slot,
                start: now,
                end,
            });
            running.push(Reverse((Total(end), slot, job)));
        }
        let Some(Reverse((Total(t), _, _))) = running.peek().copied() else {
            break;
        };
        now = t;
        while let Some(&Reverse((Total(e), slot, job))) = running.peek() {
            if e != now {
                break;
            }
            running.pop();
            d.finish(graph, job, true);
            free.insert(slot);
            if let Some(l) = level[job] {
                wave_left[l] -= 1;
            }
        }
        while wave < wave_left.len() && wave_left[wave] == 0 {
            wave += 1;
        }
    }
    let makespan = placements.iter().map(|p| p.end).fold(0.0, f64::max);
    Simulation {
        makespan,
        placements,
    }
}

/// Estimate when a package has no history: 5 minutes.
pub const DEFAULT_DURATION: f64 = 300.0;

/// Durations for `names`: from `history` (seconds of the last known build)
/// where known, else the upper quartile of the known durations of this
/// batch's packages, else [`DEFAULT_DURATION`]. History entries that are not finite
/// and positive count as unknown.
pub fn estimate_durations(names: &[String], history: &HashMap<String, f64>) -> Vec<f64> {
    let known: Vec<Option<f64>> = names
        .iter()
        .map(|n| {
            history
                .get(n)
                .copied()
                .filter(|d| d.is_finite() && *d > 0.0)
        })
        .collect();
    let mut ks: Vec<f64> = known.iter().flatten().copied().collect();
    ks.sort_by(f64::total_cmp);
    let fallback = match ks.len() {
        0 => DEFAULT_DURATION,
        // The upper quartile, not the median: an unknown package that turns
        // out short costs little when it starts early, one that turns out
        // long and starts late stretches the whole batch (synthetic graphs,
        // 8 slots, 30 % unknown: makespan 1.115 → 1.004 of the lower bound).
        l => ks[((l - 1) * 3).div_ceil(4)],
    };
    known.into_iter().map(|k| k.unwrap_or(fallback)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::graph::Node;
    use crate::source::deps::Requirement;
    use proptest::prelude::*;

    fn node(name: &str, requires: &[String]) -> Node {
        Node {
            name: name.into(),
            provides: vec![Capability::new(name, None)],
            requires: requires.iter().map(|r| Requirement::new(r, None)).collect(),
            excluded: false,
        }
    }

    fn chain_graph() -> Graph {
        // 0 <- 1 <- 3, 0 <- 2, 4 alone
        Graph::build(vec![
            node("a", &[]),
            node("b", &["a".into()]),
            node("c", &["a".into()]),
            node("d", &["b".into()]),
            node("e", &[]),
        ])
    }

    #[test]
    fn ready_order_and_transitions() {
        let g = chain_graph();
        let mut s = LaneScheduler::new(g, vec![10.0, 10.0, 1.0, 10.0, 25.0], 2);
        // rcp: a=30, e=25.
        assert_eq!(s.ready(), vec![0, 4]);
        assert_eq!(s.state(1), JobState::WaitingForDeps);
        assert_eq!(s.waiting_on(3), vec![1]);
        s.start(0);
        assert_eq!(s.state(0), JobState::Running);
        assert_eq!(s.ready(), vec![4]);
        assert_eq!(s.finish(0, true), vec![1, 2]);
        assert_eq!(s.ready(), vec![4, 1, 2]);
        s.start(1);
        s.requeue(1);
        assert_eq!(s.state(1), JobState::Ready);
        s.start(1);
        assert_eq!(s.finish(1, false), vec![3]);
        assert_eq!(s.state(3), JobState::Blocked);
        assert!(!s.is_finished());
        for j in [4, 2] {
            s.start(j);
            s.finish(j, true);
        }
        assert!(s.is_finished());
    }

    #[test]
    fn ties_by_transitive_dependents_then_name() {
        // All durations equal 1: z (rcp 2, 1 dependent) vs y (rcp 2, 1) vs
        // x (rcp 1, 0).  z and y tie on rcp and dependents → name.
        let g = Graph::build(vec![
            node("z", &[]),
            node("y", &[]),
            node("x", &[]),
            node("w", &["z".into(), "y".into()]),
        ]);
        let s = LaneScheduler::new(g, vec![1.0; 4], 1);
        assert_eq!(s.ready(), vec![1, 0, 2]);
        // More transitive dependents wins at equal rcp.
        let g = Graph::build(vec![
            node("a", &[]),
            node("b", &[]),
            node("a1", &["a".into()]),
            node("b1", &["b".into()]),
            node("b2", &["b".into()]),
        ]);
        let s = LaneScheduler::new(g, vec![1.0; 5], 1);
        assert_eq!(s.ready(), vec![1, 0]);
    }

    #[test]
    fn excluded_jobs_are_skipped() {
        let mut ex = node("x", &[]);
        ex.excluded = true;
        let g = Graph::build(vec![ex, node("y", &["x".into()])]);
        let s = LaneScheduler::new(g.clone(), vec![1.0, 1.0], 1);
        assert_eq!(s.state(0), JobState::Skipped);
        assert_eq!(s.ready(), vec![1]);
        let sim = simulate(&g, &[1.0, 1.0], 1, Policy::CriticalPath);
        assert_eq!(sim.placements.len(), 1);
        assert_eq!(sim.makespan, 1.0);
    }

    #[test]
    fn update_provides_makes_ready_job_wait_and_never_touches_started() {
        // app and tool need "libnew"; lib turns out to provide it.
        let g = Graph::build(vec![
            node("lib", &[]),
            node("app", &["libnew".into()]),
            node("tool", &["libnew".into()]),
        ]);
        let mut s = LaneScheduler::new(g, vec![5.0, 1.0, 1.0], 2);
        assert_eq!(s.ready(), vec![0, 1, 2]);
        s.start(0);
        s.start(2);
        s.update_provides(
            0,
            vec![
                Capability::new("lib", None),
                Capability::new("libnew", None),
            ],
        );
        assert_eq!(s.state(1), JobState::WaitingForDeps);
        assert_eq!(s.waiting_on(1), vec![0]);
        assert_eq!(s.state(2), JobState::Running, "started job unchanged");
        assert!(s.graph().deps[2].is_empty());
        assert_eq!(s.priority(0), 6.0);
        assert_eq!(s.finish(0, true), vec![1]);
        s.start(1);
        s.finish(1, true);
        s.finish(2, true);
        assert!(s.is_finished());
    }

    #[test]
    fn update_provides_after_failure_unblocks_when_dependency_moves() {
        // app needs "x": from bad (x = 2) rather than good (x = 1).
        let mut bad = node("bad", &[]);
        bad.provides.push(Capability::new("x", Some("2".into())));
        let mut good = node("good", &[]);
        good.provides.push(Capability::new("x", Some("1".into())));
        let g = Graph::build(vec![bad, good, node("app", &["x".into()])]);
        let mut s = LaneScheduler::new(g, vec![1.0; 3], 2);
        s.start(0);
        s.start(1);
        assert_eq!(s.finish(0, false), vec![2]);
        assert_eq!(s.state(2), JobState::Blocked);
        s.finish(1, true);
        // bad's provides are dropped (it built nothing): app now needs good.
        s.update_provides(0, vec![]);
        assert_eq!(s.state(2), JobState::Ready);
    }

    #[test]
    fn simulate_policies_on_a_small_graph() {
        let g = chain_graph();
        let d = [10.0, 10.0, 1.0, 10.0, 25.0];
        let cp = simulate(&g, &d, 2, Policy::CriticalPath);
        assert_eq!(cp.makespan, 30.0);
        assert_eq!(lower_bound(&g, &d, 2), 30.0);
        let waves = simulate(&g, &d, 2, Policy::Waves);
        // Level 0: a, e (25); level 1: b, c (10); level 2: d (10).
        assert_eq!(waves.makespan, 45.0);
        let one = simulate(&g, &d, 2, Policy::OneAtATime);
        assert_eq!(one.makespan, 56.0);
        assert!(one.placements.iter().all(|p| p.slot == 0));
    }

    #[test]
    fn estimates() {
        let names: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
        let mut h = HashMap::new();
        assert_eq!(estimate_durations(&names, &h), vec![300.0; 4]);
        h.insert("a".to_string(), 100.0);
        h.insert("b".to_string(), 400.0);
        h.insert("c".to_string(), f64::NAN);
        h.insert("zzz".to_string(), 9999.0);
        // Unknown: the upper quartile of the known ones.
        assert_eq!(
            estimate_durations(&names, &h),
            vec![100.0, 400.0, 400.0, 400.0]
        );
        h.insert("c".to_string(), 50.0);
        assert_eq!(
            estimate_durations(&names, &h),
            vec![100.0, 400.0, 50.0, 400.0]
        );
    }

    /// A random DAG: node i may need nodes < i; some nodes excluded; some
    /// requirements on `x{k}` names nobody provides (yet).
    fn arb_case() -> impl Strategy<Value = (Vec<Node>, Vec<f64>, usize)> {
        (1usize..60).prop_flat_map(|n| {
            (
                proptest::collection::vec(
                    (
                        proptest::collection::vec(any::<prop::sample::Index>(), 0..4),
                        proptest::collection::vec(0usize..5, 0..2),
                        prop::bool::weighted(0.08),
                    ),
                    n,
                ),
                proptest::collection::vec(1u32..1000, n),
                1usize..8,
            )
                .prop_map(|(specs, durs, slots)| {
                    let nodes = specs
                        .into_iter()
                        .enumerate()
                        .map(|(i, (deps, extra, excluded))| {
                            let mut reqs: Vec<String> = if i == 0 {
                                vec![]
                            } else {
                                deps.iter().map(|d| format!("p{}", d.index(i))).collect()
                            };
                            reqs.extend(extra.iter().map(|k| format!("x{k}")));
                            let mut nd = node(&format!("p{i}"), &reqs);
                            nd.excluded = excluded;
                            nd
                        })
                        .collect();
                    (nodes, durs.into_iter().map(f64::from).collect(), slots)
                })
        })
    }

    fn check_simulation(g: &Graph, d: &[f64], slots: usize, policy: Policy, sim: &Simulation) {
        let n = g.nodes.len();
        let eff_slots = if policy == Policy::OneAtATime {
            1
        } else {
            slots
        };
        let mut at: Vec<Option<Placement>> = vec![None; n];
        for p in &sim.placements {
            assert!(at[p.job].is_none(), "placed twice");
            assert!(p.slot < eff_slots);
            assert_eq!(p.end - p.start, d[p.job]);
            at[p.job] = Some(*p);
        }
        for (i, a) in at.iter().enumerate() {
            assert_eq!(
                a.is_some(),
                !g.nodes[i].excluded,
                "job {i} placed iff built"
            );
        }
        // Deps done before start.
        for p in &sim.placements {
            for &dep in &g.deps[p.job] {
                let dp = at[dep].expect("dep placed");
                assert!(dp.end <= p.start, "job {} started before dep {dep}", p.job);
            }
        }
        // One job per slot at a time.
        let mut by_slot: Vec<Vec<Placement>> = vec![Vec::new(); eff_slots];
        for p in &sim.placements {
            by_slot[p.slot].push(*p);
        }
        for ps in &mut by_slot {
            ps.sort_by(|a, b| a.start.total_cmp(&b.start));
            for w in ps.windows(2) {
                assert!(w[0].end <= w[1].start, "overlap on slot {}", w[0].slot);
            }
        }
        let lb = lower_bound(g, d, eff_slots);
        assert!(
            sim.makespan >= lb - 1e-9,
            "makespan {} < lb {lb}",
            sim.makespan
        );
        assert!(sim.makespan >= lower_bound(g, d, slots) - 1e-9);
        let busy = |t: f64| {
            sim.placements
                .iter()
                .filter(|p| p.start <= t && t < p.end)
                .count()
        };
        match policy {
            Policy::CriticalPath | Policy::OneAtATime => {
                // Work-conserving: from the moment a job is ready until it
                // starts, every slot is busy. Busy count only drops at ends,
                // so check at the ready time and at every end in between.
                for p in &sim.placements {
                    let ready_at = g.deps[p.job]
                        .iter()
                        .filter_map(|&dep| at[dep].map(|x| x.end))
                        .fold(0.0, f64::max);
                    if ready_at >= p.start {
                        continue;
                    }
                    let mut points = vec![ready_at];
                    points.extend(
                        sim.placements
                            .iter()
                            .map(|q| q.end)
                            .filter(|&e| e >= ready_at && e < p.start),
                    );
                    for t in points {
                        assert_eq!(
                            busy(t),
                            eff_slots,
                            "job {} ready at {ready_at}, started {}, slot idle at {t}",
                            p.job,
                            p.start
                        );
                    }
                }
            }
            Policy::Waves => {
                let level = g.level_of();
                for p in &sim.placements {
                    let l = level[p.job].expect("built");
                    for q in &sim.placements {
                        if level[q.job].expect("built") < l {
                            assert!(q.end <= p.start, "wave {l} started before wave end");
                        }
                    }
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn simulate_invariants((nodes, d, slots) in arb_case()) {
            let g = Graph::build(nodes);
            for policy in [Policy::CriticalPath, Policy::Waves, Policy::OneAtATime] {
                let sim = simulate(&g, &d, slots, policy);
                check_simulation(&g, &d, slots, policy, &sim);
            }
            let cp = simulate(&g, &d, slots, Policy::CriticalPath).makespan;
            let one = simulate(&g, &d, slots, Policy::OneAtATime).makespan;
            prop_assert!(cp <= one + 1e-9);
            let total: f64 = (0..g.nodes.len()).filter(|&i| !g.nodes[i].excluded).map(|i| d[i]).sum();
            prop_assert_eq!(one, total);
        }

        /// Drive the scheduler by hand like the runtime does: slots, random
        /// completion order, random failures, transport requeues, and real
        /// provides that differ from the predicted ones.
        #[test]
        fn lane_scheduler_by_hand(
            (nodes, d, slots) in arb_case(),
            ops in proptest::collection::vec((any::<usize>(), 0u8..100, 0usize..5, any::<bool>()), 0..400),
            fail_pct in prop_oneof![Just(0u8), 0u8..30],
        ) {
            let g = Graph::build(nodes);
            let n = g.nodes.len();
            let mut s = LaneScheduler::new(g, d, slots);
            let mut slot_of: Vec<Option<usize>> = vec![None; n];
            let mut free: BTreeSet<usize> = (0..slots).collect();
            let mut ops = ops.into_iter();
            let mut steps = 0;
            loop {
                steps += 1;
                prop_assert!(steps < 10_000, "no progress");
                // Check ready() against the graph.
                let ready = s.ready();
                let rcp = s.graph().remaining_critical_path(s.durations());
                for i in 0..n {
                    let want = !s.state(i).is_started()
                        && s.state(i) != JobState::Skipped
                        && s.state(i) != JobState::Blocked
                        && s.graph().deps[i].iter().all(|&x| s.state(x) == JobState::Done);
                    prop_assert_eq!(ready.contains(&i), want, "job {} ready", i);
                    prop_assert_eq!(s.state(i) == JobState::Ready, want);
                }
                for w in ready.windows(2) {
                    let (a, b) = (w[0], w[1]);
                    let ka = (Reverse(Total(rcp[a])), Reverse(s.graph().transitive_dependents(a).len()), &s.graph().nodes[a].name);
                    let kb = (Reverse(Total(rcp[b])), Reverse(s.graph().transitive_dependents(b).len()), &s.graph().nodes[b].name);
                    prop_assert!(ka < kb, "ready order");
                }
                // Work-conserving driver: fill every free slot.
                while let (Some(&slot), Some(job)) = (free.first(), s.next_ready()) {
                    for &x in &s.graph().deps[job] {
                        prop_assert_eq!(s.state(x), JobState::Done, "dep not done at start");
                    }
                    prop_assert!(slot_of[job].is_none());
                    free.remove(&slot);
                    s.start(job);
                    slot_of[job] = Some(slot);
                }
                let running: Vec<usize> = (0..n).filter(|&i| s.state(i) == JobState::Running).collect();
                prop_assert_eq!(running.len() + free.len(), slots, "one job per slot");
                if running.is_empty() {
                    break;
                }
                let (pick, roll, extra, provides_more) = ops.next().unwrap_or((0, 99, 0, false));
                let job = running[pick % running.len()];
                let slot = slot_of[job].take().expect("running job has a slot");
                free.insert(slot);
                if roll < 5 {
                    s.requeue(job);
                    continue;
                }
                if provides_more {
                    let mut p = s.graph().nodes[job].provides.clone();
                    p.push(Capability::new(format!("x{extra}"), None));
                    let before: Vec<Vec<usize>> = (0..n).map(|i| s.graph().deps[i].clone()).collect();
                    let started: Vec<bool> = (0..n).map(|i| s.state(i).is_started()).collect();
                    s.update_provides(job, p);
                    for i in 0..n {
                        if started[i] {
                            prop_assert_eq!(&s.graph().deps[i], &before[i], "started job changed");
                        }
                    }
                    prop_assert_eq!(s.graph().topological_order().len(), n);
                }
                let ok = roll >= 5 + fail_pct;
                s.finish(job, ok);
            }
            prop_assert!(s.is_finished());
            let failed: Vec<usize> = (0..n).filter(|&i| s.state(i) == JobState::Failed).collect();
            if fail_pct == 0 {
                prop_assert!(failed.is_empty());
            }
            let mut doomed = BTreeSet::new();
            for &f in &failed {
                doomed.extend(s.graph().transitive_dependents(f));
            }
            for i in 0..n {
                let st = s.state(i);
                if s.graph().nodes[i].excluded {
                    prop_assert_eq!(st, JobState::Skipped);
                } else if doomed.contains(&i) {
                    prop_assert_eq!(st, JobState::Blocked, "job {} depends on a failure", i);
                } else {
                    prop_assert!(matches!(st, JobState::Done | JobState::Failed), "job {} ended {:?}", i, st);
                }
            }
        }
    }
}
