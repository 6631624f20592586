//! Batch scheduler benchmark (SPEC 7 "Measure"): on synthetic batches
//! shaped like a distribution rebuild, the makespan of zoryn's scheduler
//! (longest remaining critical path first) against the lower bound
//! max(critical path, total work / slots), next to two baselines run in the
//! same program: level-by-level waves, and one package at a time per lane.
//! Then the time the scheduler itself takes to plan a batch.
//!
//!     cargo bench --bench batch           # also part of scripts/bench

mod common;

use std::hint::black_box;
use std::time::Instant;

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap};

use zoryn::batch::graph::{lower_bound, Graph};
use zoryn::batch::schedule::{estimate_durations, simulate, LaneScheduler, Policy};
use zoryn::batch::synthetic::{synthetic_graph, SplitMix64};

/// What the live scheduler achieves when it only knows estimates: 70% of
/// packages have a history within a log-normal error (sigma 0.4) of the
/// truth, the rest get `estimate_durations`' fallback (the median). Jobs
/// take their real duration. Driven through `LaneScheduler` as the runtime
/// does.
fn run_with_estimates(g: &Graph, real: &[f64], slots: usize, seed: u64) -> f64 {
    let mut rng = SplitMix64::new(seed.wrapping_mul(0x9E37_79B9));
    let names: Vec<String> = g.nodes.iter().map(|n| n.name.clone()).collect();
    let mut history = HashMap::new();
    for (i, name) in names.iter().enumerate() {
        if rng.chance(0.7) {
            history.insert(name.clone(), real[i] * (0.4 * rng.normal()).exp());
        }
    }
    let est = estimate_durations(&names, &history);
    let mut s = LaneScheduler::new(g.clone(), est, slots);
    let mut free: BTreeSet<usize> = (0..slots).collect();
    // (end in ms, slot, job)
    let mut running: BinaryHeap<Reverse<(u64, usize, usize)>> = BinaryHeap::new();
    let mut now = 0u64;
    loop {
        while let (Some(&slot), Some(job)) = (free.first(), s.next_ready()) {
            free.remove(&slot);
            s.start(job);
            running.push(Reverse((now + (real[job] * 1000.0) as u64, slot, job)));
        }
        let Some(Reverse((end, slot, job))) = running.pop() else {
            break;
        };
        now = end;
        s.finish(job, true);
        free.insert(slot);
    }
    now as f64 / 1000.0
}

fn hm(secs: f64) -> String {
    let m = (secs / 60.0).round() as u64;
    format!("{}h{:02}", m / 60, m % 60)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() {
    let n = 200;
    let seeds = [1u64, 2, 3];
    println!("Makespan on synthetic batches of {n} packages (simulated, known durations)");
    println!();
    println!(
        "| slots | seed | levels | work | crit. path | lower bound | critical-path | CP, estimated durations | waves | one-at-a-time | CP/LB | CP est./LB | waves/LB | one/LB |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut rows = Vec::new();
    for slots in [8usize, 24, 64] {
        let mut ratios = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
        for seed in seeds {
            let (g, d) = synthetic_graph(n, seed);
            let work: f64 = (0..g.nodes.len())
                .filter(|&i| !g.nodes[i].excluded)
                .map(|i| d[i])
                .sum();
            let lb = lower_bound(&g, &d, slots);
            let cp = simulate(&g, &d, slots, Policy::CriticalPath).makespan;
            let wv = simulate(&g, &d, slots, Policy::Waves).makespan;
            let one = simulate(&g, &d, slots, Policy::OneAtATime).makespan;
            let est = run_with_estimates(&g, &d, slots, seed);
            ratios[0].push(cp / lb);
            ratios[1].push(est / lb);
            ratios[2].push(wv / lb);
            ratios[3].push(one / lb);
            println!(
                "| {slots} | {seed} | {} | {} | {} | {} | {} | {} | {} | {} | {:.3} | {:.3} | {:.3} | {:.2} |",
                g.levels().len(),
                hm(work),
                hm(g.critical_path(&d)),
                hm(lb),
                hm(cp),
                hm(est),
                hm(wv),
                hm(one),
                cp / lb,
                est / lb,
                wv / lb,
                one / lb
            );
        }
        let mean = |v: &Vec<f64>| v.iter().sum::<f64>() / v.len() as f64;
        let (cp, est, waves, one) = (
            common::median(&ratios[0]),
            common::median(&ratios[1]),
            common::median(&ratios[2]),
            common::median(&ratios[3]),
        );
        let ids: [&'static str; 3] = match slots {
            8 => ["batch-8", "batch-8-est", "batch-8-one"],
            24 => ["batch-24", "batch-24-est", "batch-24-one"],
            _ => ["batch-64", "batch-64-est", "batch-64-one"],
        };
        rows.push(common::Row {
            id: ids[0],
            scenario: format!("batch makespan / lower bound, {n} packages, {slots} slots"),
            unit: "x",
            zoryn: ratios[0].clone(),
            baseline: Some(("level-by-level waves".into(), ratios[2].clone())),
            ratio: Some((waves / cp, "waves/zoryn")),
            limit: Some("1.0".into()),
            target: Some(common::Target {
                text: "<= 1.10, waves/zoryn >= 1.3".into(),
                met: cp <= 1.10 && waves / cp >= 1.3,
            }),
        });
        rows.push(common::Row {
            id: ids[1],
            scenario: format!("same, durations only estimated ({slots} slots)"),
            unit: "x",
            zoryn: ratios[1].clone(),
            baseline: Some(("level-by-level waves".into(), ratios[2].clone())),
            ratio: Some((waves / est, "waves/zoryn")),
            limit: Some("1.0".into()),
            target: Some(common::Target {
                text: "<= 1.10".into(),
                met: est <= 1.10,
            }),
        });
        rows.push(common::Row {
            id: ids[2],
            scenario: format!("same, vs one package at a time ({slots} slots)"),
            unit: "x",
            zoryn: ratios[0].clone(),
            baseline: Some(("one at a time".into(), ratios[3].clone())),
            ratio: Some((one / cp, "one-at-a-time/zoryn")),
            limit: Some("1.0".into()),
            target: None,
        });
        println!(
            "| {slots} | mean | | | | | | | | | **{:.3}** | **{:.3}** | **{:.3}** | **{:.2}** |",
            mean(&ratios[0]),
            mean(&ratios[1]),
            mean(&ratios[2]),
            mean(&ratios[3])
        );
    }

    println!();
    println!("Planning time (median of runs; graph = Graph::build from nodes, plan = simulate CriticalPath)");
    println!();
    println!("| packages | slots | edges | graph build ms | plan ms | runs |");
    let mut plan_10k = Vec::new();
    println!("|---:|---:|---:|---:|---:|---:|");
    for (size, runs) in [(200usize, 51usize), (2000, 15), (10000, 5)] {
        for slots in [24usize, 64] {
            let (g, d) = synthetic_graph(size, 1);
            let nodes = g.nodes.clone();
            let edges: usize = g.deps.iter().map(Vec::len).sum();
            let mut build_ms = Vec::new();
            let mut plan_ms = Vec::new();
            for _ in 0..runs {
                let t = Instant::now();
                let g2 = Graph::build(black_box(nodes.clone()));
                build_ms.push(t.elapsed().as_secs_f64() * 1e3);
                black_box(&g2);
                let t = Instant::now();
                let sim = simulate(black_box(&g), black_box(&d), slots, Policy::CriticalPath);
                plan_ms.push(t.elapsed().as_secs_f64() * 1e3);
                black_box(sim);
            }
            if size == 10000 && slots == 64 {
                plan_10k = build_ms.iter().zip(&plan_ms).map(|(a, b)| a + b).collect();
            }
            println!(
                "| {size} | {slots} | {edges} | {:.2} | {:.2} | {runs} |",
                median(build_ms),
                median(plan_ms)
            );
        }
    }
    rows.push(common::Row {
        id: "batch-plan-10k",
        scenario: "planning 10,000 packages on 64 slots (graph + schedule)".into(),
        unit: "ms",
        zoryn: plan_10k,
        baseline: None,
        ratio: None,
        limit: None,
        target: None,
    });
    common::emit("batch scheduler on synthetic graphs", &rows);
}
