//! Lanes of a batch: an (arch, branch) pair, its interchangeable slots and
//! its pure scheduler, and the typed key of one job in one lane.
//!
//! [`plan_lanes`] reads every package's spec for the lane's arch and marks
//! a package SKIP in a lane when its spec excludes the arch or the batch's
//! `exclude`/`only` leave out the branch. It must not run anything or
//! decide order (`graph`, `schedule`).

use super::graph::{Graph, Node};
use super::history::History;
use super::package::Package;
use super::schedule::{estimate_durations, LaneScheduler};
use crate::farm::Builder;
use crate::source::specdeps::{read_spec, SpecDeps};

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

/// One job of a run: package `job` of lane `lane` (indices into the
/// run's lanes and the lane's graph).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobRef {
    pub lane: usize,
    pub job: usize,
}
