//! The plan of a batch as the user sees it (`task batch --plan`): levels,
//! build order, what each package waits on and via which capability, the
//! makespan estimate and its lower bound, as text or one JSON object.
//!
//! It only reads planned [`Lane`]s; it must not plan, run or print.

use super::file::PackageMode;
use super::graph::{lower_bound, Graph};
use super::lane::Lane;
use super::package::Package;
use super::schedule::{simulate, Policy};
use crate::farm::Builder;

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
