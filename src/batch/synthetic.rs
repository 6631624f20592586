//! Synthetic batches shaped like a distribution rebuild, for benchmarks
//! and tests of the scheduler (SPEC 7 "Measure").
//!
//! [`synthetic_graph`] produces, deterministically from a seed:
//! - a few deep chains of core libraries, each link build-requiring the
//!   previous one's `-devel` (a toolchain, a core library stack);
//! - a few families with wide fan-out: a base package (long build) whose
//!   `-devel` is needed by 10–50 extensions, some extensions also needing
//!   another extension's `-devel` (diamonds), the base itself sometimes
//!   needing the end of a core chain (depth under the fan-out);
//! - diamonds of ordinary libraries, and leaf applications needing 0–3
//!   earlier packages;
//! - one php/pear-style 2-cycle when the batch is large enough, and about
//!   2% of packages excluded on the lane's arch.
//!
//! Durations are log-normal (median 3 min, sigma 0.9) clamped to 30 s–1 h;
//! family bases and half of the chain roots are long (15–45 min), and ~1%
//! of the rest very long (40–60 min). Randomness comes from [`SplitMix64`]; the node order is shuffled
//! so indices carry no hint.

use super::graph::{Graph, Node};
use crate::source::deps::{Capability, Requirement};

/// Small deterministic PRNG (Steele, Lea, Flood: SplitMix64).
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [0, n); 0 when n == 0.
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    /// Uniform in [lo, hi] (inclusive).
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi.saturating_sub(lo) + 1)
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.next_f64() < p
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.next_f64().max(f64::MIN_POSITIVE);
        let u2 = self.next_f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

struct Pkg {
    name: String,
    provides: Vec<String>,
    requires: Vec<String>,
    duration: f64,
    excluded: bool,
}

const MIN_DURATION: f64 = 30.0;
const MAX_DURATION: f64 = 3600.0;

fn ordinary_duration(rng: &mut SplitMix64) -> f64 {
    if rng.chance(0.01) {
        return 2400.0 + 1200.0 * rng.next_f64();
    }
    (180f64.ln() + 0.9 * rng.normal())
        .exp()
        .clamp(MIN_DURATION, MAX_DURATION)
}

fn long_duration(rng: &mut SplitMix64) -> f64 {
    900.0 + 1800.0 * rng.next_f64()
}

/// A batch of `n` packages shaped like a distribution rebuild (see the
/// module doc) and its durations in seconds.
pub fn synthetic_graph(n: usize, seed: u64) -> (Graph, Vec<f64>) {
    let mut rng = SplitMix64::new(seed ^ 0x5EED_0000_2024);
    let mut pkgs: Vec<Pkg> = Vec::with_capacity(n);
    // Capabilities worth depending on: (-devel of) libraries so far.
    let mut libs: Vec<String> = Vec::new();
    let mut chain_ends: Vec<String> = Vec::new();

    // Deep chains: ~1 per 60 packages, 4–9 links.
    let chains = (n / 60).clamp(1, 6);
    'chains: for c in 0..chains {
        let depth = rng.range(4, 9);
        let mut prev: Option<String> = None;
        for k in 0..depth {
            if pkgs.len() >= n {
                break 'chains;
            }
            let name = format!("libcore{c}-{k}");
            let devel = format!("{name}-devel");
            let mut requires: Vec<String> = prev.iter().cloned().collect();
            if k > 1 && rng.chance(0.3) {
                requires.push(format!("libcore{c}-{}-devel", k - 2));
            }
            let duration = if k == 0 && rng.chance(0.5) {
                long_duration(&mut rng)
            } else {
                ordinary_duration(&mut rng)
            };
            pkgs.push(Pkg {
                name: name.clone(),
                provides: vec![name, devel.clone()],
                requires,
                duration,
                excluded: false,
            });
            libs.push(devel.clone());
            prev = Some(devel);
        }
        if let Some(p) = prev {
            chain_ends.push(p);
        }
    }

    // Fan-out families: ~1 per 70 packages, 10–50 extensions each.
    let families = (n / 70).clamp(1, 8);
    let mut budget = n.saturating_sub(pkgs.len()) * 3 / 5;
    for f in 0..families {
        if budget < 3 || pkgs.len() >= n {
            break;
        }
        let base = format!("fam{f}");
        let devel = format!("{base}-devel");
        let mut requires = Vec::new();
        if !chain_ends.is_empty() && rng.chance(0.4) {
            requires.push(chain_ends[rng.below(chain_ends.len())].clone());
        }
        pkgs.push(Pkg {
            name: base.clone(),
            provides: vec![base.clone(), devel.clone(), format!("{base}-cli")],
            requires,
            duration: long_duration(&mut rng),
            excluded: false,
        });
        budget -= 1;
        let width = rng.range(10, 50).min(budget);
        let mut ext_devels: Vec<String> = Vec::new();
        for e in 0..width {
            if pkgs.len() >= n {
                break;
            }
            let name = format!("{base}-ext{e}");
            let mut requires = vec![devel.clone()];
            if !ext_devels.is_empty() && rng.chance(0.2) {
                requires.push(ext_devels[rng.below(ext_devels.len())].clone());
            }
            if !libs.is_empty() && rng.chance(0.3) {
                requires.push(libs[rng.below(libs.len())].clone());
            }
            let edevel = format!("{name}-devel");
            if rng.chance(0.25) {
                ext_devels.push(edevel.clone());
            }
            pkgs.push(Pkg {
                name: name.clone(),
                provides: vec![name, edevel],
                requires,
                duration: ordinary_duration(&mut rng),
                excluded: false,
            });
            budget = budget.saturating_sub(1);
        }
        libs.push(devel);
    }

    // A php8.4 <-> php8.4-pear style cycle.
    if n >= 100 && pkgs.len() + 2 <= n {
        pkgs.push(Pkg {
            name: "cyc-php".into(),
            provides: vec!["cyc-php".into(), "cyc-php-devel".into()],
            requires: vec!["cyc-php-pear".into()],
            duration: long_duration(&mut rng),
            excluded: false,
        });
        pkgs.push(Pkg {
            name: "cyc-php-pear".into(),
            provides: vec!["cyc-php-pear".into()],
            requires: vec!["cyc-php-devel".into()],
            duration: ordinary_duration(&mut rng),
            excluded: false,
        });
        libs.push("cyc-php-devel".into());
    }

    // The rest: libraries (some diamonds) and leaf applications.
    let mut i = 0;
    while pkgs.len() < n {
        let is_lib = rng.chance(0.35);
        let name = if is_lib {
            format!("lib{i}")
        } else {
            format!("app{i}")
        };
        i += 1;
        let k = if libs.is_empty() { 0 } else { rng.range(0, 3) };
        let mut requires: Vec<String> = Vec::new();
        for _ in 0..k {
            // Prefer recent libraries (deeper stacks), sometimes any.
            let idx = if rng.chance(0.25) {
                libs.len() - 1 - rng.below(libs.len().min(8))
            } else {
                rng.below(libs.len())
            };
            let r = libs[idx].clone();
            if !requires.contains(&r) {
                requires.push(r);
            }
        }
        let devel = format!("{name}-devel");
        let excluded = rng.chance(0.02);
        pkgs.push(Pkg {
            name: name.clone(),
            provides: vec![name, devel.clone()],
            requires,
            duration: ordinary_duration(&mut rng),
            excluded,
        });
        if is_lib {
            libs.push(devel);
        }
    }

    // Shuffle (Fisher–Yates) so the index order means nothing.
    for k in (1..pkgs.len()).rev() {
        let j = rng.below(k + 1);
        pkgs.swap(k, j);
    }
    let durations = pkgs.iter().map(|p| p.duration).collect();
    let nodes = pkgs
        .into_iter()
        .map(|p| Node {
            provides: p
                .provides
                .into_iter()
                .map(|c| Capability::new(c, Some("1.0-alt1".into())))
                .collect(),
            requires: p
                .requires
                .into_iter()
                .map(|r| Requirement::new(r, None))
                .collect(),
            name: p.name,
            excluded: p.excluded,
        })
        .collect();
    (Graph::build(nodes), durations)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_sized() {
        for n in [0, 1, 5, 60, 200, 1000] {
            let (g, d) = synthetic_graph(n, 7);
            assert_eq!(g.nodes.len(), n);
            assert_eq!(d.len(), n);
            assert!(d
                .iter()
                .all(|&x| (MIN_DURATION..=MAX_DURATION).contains(&x)));
            assert_eq!(g.topological_order().len(), n);
        }
        let (a, da) = synthetic_graph(200, 1);
        let (b, db) = synthetic_graph(200, 1);
        assert_eq!(a.nodes, b.nodes);
        assert_eq!(da, db);
        let (c, _) = synthetic_graph(200, 2);
        assert_ne!(a.nodes, c.nodes);
    }

    #[test]
    fn realistic_shape() {
        let (g, d) = synthetic_graph(200, 3);
        let levels = g.levels();
        assert!(levels.len() >= 5, "some depth: {} levels", levels.len());
        let widest = g
            .nodes
            .iter()
            .enumerate()
            .map(|(i, _)| g.dependents(i).len())
            .max();
        assert!(widest >= Some(10), "some fan-out");
        assert_eq!(g.cycles.len(), 1, "the php/pear cycle");
        assert!(g.nodes.iter().any(|n| n.excluded));
        assert!(d.iter().any(|&x| x >= 1200.0), "a few long builds");
        let cp = g.critical_path(&d);
        let total: f64 = d.iter().sum();
        assert!(
            cp < total / 4.0,
            "parallelism exists: cp {cp} total {total}"
        );
    }

    #[test]
    fn splitmix_known_values() {
        // Reference outputs of SplitMix64 seeded with 1234567.
        let mut r = SplitMix64::new(1234567);
        assert_eq!(r.next_u64(), 6457827717110365317);
        assert_eq!(r.next_u64(), 3203168211198807973);
        let mut r = SplitMix64::new(9);
        for _ in 0..1000 {
            let x = r.next_f64();
            assert!((0.0..1.0).contains(&x));
            assert!(r.below(7) < 7);
        }
    }
}
