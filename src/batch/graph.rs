//! The dependency graph of a batch inside one lane (SPEC 7).
//!
//! Every package of the batch is a [`Node`], read for the lane's arch: what
//! its binary packages provide, what it build-requires, and whether the spec
//! excludes the arch. [`Graph::build`] links requirements to the batch
//! members that satisfy them, then breaks dependency cycles so the result is
//! a DAG the scheduler can order.
//!
//! **Which provider.** A requirement is satisfied *inside the batch* when
//! another, non-excluded node provides a matching capability
//! ([`Requirement::satisfied_by`]). A node never depends on itself: it is
//! not a candidate for its own requirements (one met only by its own
//! subpackages is a bootstrap one and comes from the repository; other
//! members that also provide it still count). When several nodes match, the node
//! depends on exactly one: the one whose matching capability has the highest
//! version ([`compare_evr`]; an unversioned capability ranks below any
//! versioned one), ties broken by the smaller package name. That is the one
//! apt would install from the chain repo once everything is built.
//! Requirements nobody in the batch satisfies come from the repository and
//! create no edge.
//!
//! **Cycle breaking.** Strongly connected components are found with an
//! iterative Tarjan (no recursion, fine for 10k+ nodes). Each component of
//! two or more members is ordered greedily: *repeatedly, the member with
//! the fewest BuildRequires on members not yet placed goes next (ties: the
//! smaller name)*; the BuildRequires it has on members not yet placed are
//! dropped — that member is built against the repository's versions of
//! them. Only edges pointing to earlier members remain, so the component,
//! and with it the whole graph, becomes acyclic. Each broken component is
//! reported as a [`BrokenCycle`] with a one-line explanation, e.g.
//! `cycle php8.4 -> php8.4-pear -> php8.4: built php8.4 first; its
//! BuildRequires php8.4-pear is ignored (taken from the repository)`.
//! After [`Graph::update_provides`], nodes already started keep their
//! dependencies; they are placed before any not-started member of a
//! component.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fmt::Write as _;

use crate::source::deps::{compare_evr, Capability, Requirement};

/// One package of the batch, as read for this lane's arch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// Source package name (unique in the batch).
    pub name: String,
    /// What its binary packages provide (names with versions, explicit Provides).
    pub provides: Vec<Capability>,
    /// Its BuildRequires.
    pub requires: Vec<Requirement>,
    /// The spec excludes this lane's arch: SKIP, provides nothing, not a
    /// dependency target, no dependencies of its own.
    pub excluded: bool,
}

/// A dependency cycle found in the batch and how it was broken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokenCycle {
    /// The members of the strongly connected component, in the build order
    /// chosen for them.
    pub members: Vec<usize>,
    /// `(dependent, dependency)` edges removed to break the cycle.
    pub dropped: Vec<(usize, usize)>,
    /// One line for humans: a cycle, the order chosen, what is ignored.
    pub explanation: String,
}

/// The dependency graph of one lane. Fields are public for reading; change
/// it only through [`Graph::build`] and [`Graph::update_provides`], which
/// keep the internal indexes in step.
#[derive(Clone, Debug)]
pub struct Graph {
    pub nodes: Vec<Node>,
    /// `deps[i]` = sorted, deduplicated indices that node i must wait for
    /// (after cycle breaking).
    pub deps: Vec<Vec<usize>>,
    /// For each node, the requirements satisfied inside the batch and by
    /// which node (for messages / `--plan`). Before cycle breaking: an edge
    /// dropped to break a cycle is still listed here (and in
    /// [`BrokenCycle::dropped`]), but not in `deps`.
    pub edges: Vec<Vec<(Requirement, usize)>>,
    pub cycles: Vec<BrokenCycle>,
    /// `rdeps[j]` = sorted nodes whose `deps` contain j.
    rdeps: Vec<Vec<usize>>,
    /// Capability name → non-excluded nodes providing it (ascending, unique).
    providers: HashMap<String, Vec<usize>>,
    /// Requirement name → non-excluded nodes requiring it (ascending, unique).
    requirers: HashMap<String, Vec<usize>>,
}

/// Sanitised duration of node `i`: 0 for excluded nodes, missing entries,
/// NaN and negative values.
pub(crate) fn duration_of(graph: &Graph, durations: &[f64], i: usize) -> f64 {
    if graph.nodes[i].excluded {
        return 0.0;
    }
    match durations.get(i) {
        Some(&d) if d.is_finite() && d > 0.0 => d,
        _ => 0.0,
    }
}

impl Graph {
    /// Link every requirement to its provider in the batch and break cycles.
    pub fn build(nodes: Vec<Node>) -> Graph {
        let n = nodes.len();
        let mut providers: HashMap<String, Vec<usize>> = HashMap::new();
        let mut requirers: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, node) in nodes.iter().enumerate() {
            if node.excluded {
                continue;
            }
            for c in &node.provides {
                push_unique(providers.entry(c.name.clone()).or_default(), i);
            }
            for r in &node.requires {
                push_unique(requirers.entry(r.name.clone()).or_default(), i);
            }
        }
        let mut g = Graph {
            nodes,
            deps: vec![Vec::new(); n],
            edges: vec![Vec::new(); n],
            cycles: Vec::new(),
            rdeps: vec![Vec::new(); n],
            providers,
            requirers,
        };
        for i in 0..n {
            g.edges[i] = g.compute_edges(i);
        }
        let raw: Vec<Vec<usize>> = (0..n).map(|i| g.raw_deps(i)).collect();
        let (deps, cycles) = g.break_cycles(raw, &vec![false; n]);
        g.deps = deps;
        g.cycles = cycles;
        g.rebuild_rdeps();
        g
    }

    /// Re-evaluate after a node finished: its real provides (from the built
    /// RPMs) replace the predicted ones; edges of nodes NOT yet started
    /// (`started[i] == false`) are recomputed, and cycles among them broken
    /// again. Nodes started keep their `edges` and `deps` (a missing entry
    /// in `started` counts as not started). Returns the nodes whose deps
    /// changed, ascending.
    pub fn update_provides(
        &mut self,
        node: usize,
        provides: Vec<Capability>,
        started: &[bool],
    ) -> Vec<usize> {
        let n = self.nodes.len();
        if node >= n {
            return Vec::new();
        }
        let is_started = |i: usize| started.get(i).copied().unwrap_or(false);
        let mut names: BTreeSet<String> = BTreeSet::new();
        for c in self.nodes[node].provides.iter().chain(provides.iter()) {
            names.insert(c.name.clone());
        }
        if !self.nodes[node].excluded {
            for c in &self.nodes[node].provides {
                if let Some(v) = self.providers.get_mut(&c.name) {
                    v.retain(|&x| x != node);
                }
            }
            for c in &provides {
                let v = self.providers.entry(c.name.clone()).or_default();
                if let Err(pos) = v.binary_search(&node) {
                    v.insert(pos, node);
                }
            }
        }
        self.nodes[node].provides = provides;

        let mut affected: BTreeSet<usize> = BTreeSet::new();
        for name in &names {
            if let Some(v) = self.requirers.get(name) {
                affected.extend(v.iter().copied().filter(|&j| !is_started(j)));
            }
        }
        let mut changed_edges = false;
        for j in affected {
            let e = self.compute_edges(j);
            if e != self.edges[j] {
                self.edges[j] = e;
                changed_edges = true;
            }
        }
        if !changed_edges {
            return Vec::new();
        }
        let started_v: Vec<bool> = (0..n).map(is_started).collect();
        let raw: Vec<Vec<usize>> = (0..n)
            .map(|i| {
                if started_v[i] {
                    self.deps[i].clone()
                } else {
                    self.raw_deps(i)
                }
            })
            .collect();
        let (deps, fresh) = self.break_cycles(raw, &started_v);
        // Cycles decided for a node already started are history the user
        // has seen acted upon: keep them; the rest were recomputed.
        let mut cycles: Vec<BrokenCycle> = self
            .cycles
            .drain(..)
            .filter(|c| c.members.iter().any(|&m| started_v[m]))
            .collect();
        for c in fresh {
            if !cycles.contains(&c) {
                cycles.push(c);
            }
        }
        self.cycles = cycles;
        let changed: Vec<usize> = (0..n).filter(|&i| deps[i] != self.deps[i]).collect();
        self.deps = deps;
        self.rebuild_rdeps();
        changed
    }

    /// Topological levels: level 0 = no deps, level k = 1 + the highest
    /// level among its deps. Excluded nodes are not built and appear in no
    /// level. Each level is ascending by index.
    pub fn levels(&self) -> Vec<Vec<usize>> {
        let level = self.level_of();
        let mut out: Vec<Vec<usize>> = Vec::new();
        for (i, l) in level.iter().enumerate() {
            if let Some(l) = *l {
                if out.len() <= l {
                    out.resize(l + 1, Vec::new());
                }
                out[l].push(i);
            }
        }
        out
    }

    /// Level of each node (`None` for excluded nodes), see [`Graph::levels`].
    pub fn level_of(&self) -> Vec<Option<usize>> {
        let mut level: Vec<Option<usize>> = vec![None; self.nodes.len()];
        for i in self.topological_order() {
            if self.nodes[i].excluded {
                continue;
            }
            let l = self.deps[i]
                .iter()
                .filter_map(|&d| level[d])
                .map(|l| l + 1)
                .max()
                .unwrap_or(0);
            level[i] = Some(l);
        }
        level
    }

    /// Every node, dependencies before dependents (Kahn's algorithm, smaller
    /// index first among the available ones).
    pub fn topological_order(&self) -> Vec<usize> {
        let n = self.nodes.len();
        let mut indeg: Vec<usize> = self.deps.iter().map(Vec::len).collect();
        let mut queue: BTreeSet<usize> = (0..n).filter(|&i| indeg[i] == 0).collect();
        let mut order = Vec::with_capacity(n);
        while let Some(i) = queue.pop_first() {
            order.push(i);
            for &j in &self.rdeps[i] {
                indeg[j] -= 1;
                if indeg[j] == 0 {
                    queue.insert(j);
                }
            }
        }
        debug_assert_eq!(order.len(), n, "deps must be acyclic");
        order
    }

    /// Direct dependents of `i`, ascending.
    pub fn dependents(&self, i: usize) -> Vec<usize> {
        self.rdeps.get(i).cloned().unwrap_or_default()
    }

    pub(crate) fn dependents_slice(&self, i: usize) -> &[usize] {
        &self.rdeps[i]
    }

    /// Every node that directly or indirectly waits for `i`, ascending.
    pub fn transitive_dependents(&self, i: usize) -> Vec<usize> {
        let n = self.nodes.len();
        if i >= n {
            return Vec::new();
        }
        let mut seen = vec![false; n];
        let mut queue = VecDeque::from([i]);
        let mut out = Vec::new();
        while let Some(x) = queue.pop_front() {
            for &j in &self.rdeps[x] {
                if !seen[j] {
                    seen[j] = true;
                    out.push(j);
                    queue.push_back(j);
                }
            }
        }
        out.sort_unstable();
        out
    }

    /// Number of transitive dependents of every node, computed at once with
    /// bitsets (blocks of 4096 nodes, so memory stays linear).
    pub fn transitive_dependent_counts(&self) -> Vec<usize> {
        let n = self.nodes.len();
        let mut counts = vec![0usize; n];
        if n == 0 {
            return counts;
        }
        let order = self.topological_order();
        let words = n.div_ceil(64).min(64);
        let block = words * 64;
        let mut bits = vec![0u64; n * words];
        for base in (0..n).step_by(block) {
            bits.iter_mut().for_each(|w| *w = 0);
            for &i in order.iter().rev() {
                for &j in &self.rdeps[i] {
                    for w in 0..words {
                        bits[i * words + w] |= bits[j * words + w];
                    }
                    if (base..base + block).contains(&j) {
                        let b = j - base;
                        bits[i * words + b / 64] |= 1 << (b % 64);
                    }
                }
                counts[i] += bits[i * words..(i + 1) * words]
                    .iter()
                    .map(|w| w.count_ones() as usize)
                    .sum::<usize>();
            }
        }
        counts
    }

    /// Longest path (sum of durations) from each node to the end of the
    /// graph, including itself. Excluded nodes and missing or invalid
    /// durations count as 0.
    pub fn remaining_critical_path(&self, durations: &[f64]) -> Vec<f64> {
        let mut rcp = vec![0.0f64; self.nodes.len()];
        for &i in self.topological_order().iter().rev() {
            let tail = self.rdeps[i].iter().map(|&j| rcp[j]).fold(0.0f64, f64::max);
            rcp[i] = duration_of(self, durations, i) + tail;
        }
        rcp
    }

    /// The longest chain of durations through the graph.
    pub fn critical_path(&self, durations: &[f64]) -> f64 {
        self.remaining_critical_path(durations)
            .into_iter()
            .fold(0.0, f64::max)
    }

    /// The requirement texts of `dependent` that `dependency` satisfies.
    pub fn requirements_between(&self, dependent: usize, dependency: usize) -> Vec<String> {
        self.edges
            .get(dependent)
            .map(|e| {
                e.iter()
                    .filter(|(_, j)| *j == dependency)
                    .map(|(r, _)| r.to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn rebuild_rdeps(&mut self) {
        let n = self.nodes.len();
        let mut rdeps = vec![Vec::new(); n];
        for (i, ds) in self.deps.iter().enumerate() {
            for &d in ds {
                rdeps[d].push(i);
            }
        }
        self.rdeps = rdeps;
    }

    /// Which batch member satisfies each requirement of node `i`.
    fn compute_edges(&self, i: usize) -> Vec<(Requirement, usize)> {
        let node = &self.nodes[i];
        if node.excluded {
            return Vec::new();
        }
        let mut out = Vec::new();
        for r in &node.requires {
            let Some(cands) = self.providers.get(&r.name) else {
                continue;
            };
            // (version of the best matching capability, node)
            let mut best: Option<(Option<&str>, usize)> = None;
            for &p in cands {
                if p == i || self.nodes[p].excluded {
                    continue;
                }
                let Some(v) = best_matching_version(&self.nodes[p].provides, r) else {
                    continue;
                };
                let better = match best {
                    None => true,
                    Some((bv, bp)) => match cmp_version(v, bv) {
                        std::cmp::Ordering::Greater => true,
                        std::cmp::Ordering::Less => false,
                        std::cmp::Ordering::Equal => {
                            (self.nodes[p].name.as_str(), p) < (self.nodes[bp].name.as_str(), bp)
                        }
                    },
                };
                if better {
                    best = Some((v, p));
                }
            }
            if let Some((_, p)) = best {
                out.push((r.clone(), p));
            }
        }
        out
    }

    fn raw_deps(&self, i: usize) -> Vec<usize> {
        let mut d: Vec<usize> = self.edges[i].iter().map(|&(_, j)| j).collect();
        d.sort_unstable();
        d.dedup();
        d
    }

    /// Break every cycle of `raw` (see the module doc); returns acyclic,
    /// sorted deps and the reports.
    fn break_cycles(
        &self,
        mut raw: Vec<Vec<usize>>,
        started: &[bool],
    ) -> (Vec<Vec<usize>>, Vec<BrokenCycle>) {
        let n = raw.len();
        let mut cycles = Vec::new();
        let mut comp_of = vec![usize::MAX; n];
        for (ci, comp) in tarjan_scc(&raw).into_iter().enumerate() {
            if comp.len() < 2 {
                continue;
            }
            for &m in &comp {
                comp_of[m] = ci;
            }
            // remaining[m] = deps of m inside the component not yet placed.
            let mut remaining: HashMap<usize, usize> = HashMap::new();
            let mut in_dependents: HashMap<usize, Vec<usize>> = HashMap::new();
            for &m in &comp {
                let inside: Vec<usize> = raw[m]
                    .iter()
                    .copied()
                    .filter(|&d| comp_of[d] == ci)
                    .collect();
                remaining.insert(m, inside.len());
                for d in inside {
                    in_dependents.entry(d).or_default().push(m);
                }
            }
            let key = |m: usize, rem: usize| {
                (
                    !started.get(m).copied().unwrap_or(false),
                    rem,
                    self.nodes[m].name.as_str(),
                    m,
                )
            };
            let mut queue: BTreeSet<(bool, usize, &str, usize)> =
                comp.iter().map(|&m| key(m, remaining[&m])).collect();
            let mut placed: HashMap<usize, usize> = HashMap::new();
            let mut order = Vec::with_capacity(comp.len());
            while let Some((_, _, _, m)) = queue.pop_first() {
                placed.insert(m, order.len());
                order.push(m);
                for &dep in in_dependents.get(&m).map(Vec::as_slice).unwrap_or(&[]) {
                    if placed.contains_key(&dep) {
                        continue;
                    }
                    if let Some(r) = remaining.get_mut(&dep) {
                        queue.remove(&key(dep, *r));
                        *r -= 1;
                        queue.insert(key(dep, *r));
                    }
                }
            }
            let mut dropped = Vec::new();
            for &m in &order {
                let pm = placed[&m];
                raw[m].retain(|&d| {
                    let keep = match placed.get(&d) {
                        Some(&pd) => pd < pm,
                        None => true,
                    };
                    if !keep {
                        dropped.push((m, d));
                    }
                    keep
                });
            }
            let explanation = self.explain(&order, &dropped);
            cycles.push(BrokenCycle {
                members: order,
                dropped,
                explanation,
            });
        }
        for d in &mut raw {
            d.sort_unstable();
            d.dedup();
        }
        (raw, cycles)
    }

    fn explain(&self, order: &[usize], dropped: &[(usize, usize)]) -> String {
        let name = |i: usize| self.nodes[i].name.as_str();
        let members: BTreeSet<usize> = order.iter().copied().collect();
        let first = order[0];
        // Shortest cycle through the first member, along the original edges.
        let mut prev: HashMap<usize, usize> = HashMap::new();
        let mut queue = VecDeque::from([first]);
        let mut closing = None;
        'bfs: while let Some(x) = queue.pop_front() {
            for (_, d) in &self.edges[x] {
                let d = *d;
                if !members.contains(&d) {
                    continue;
                }
                if d == first {
                    closing = Some(x);
                    break 'bfs;
                }
                if let std::collections::hash_map::Entry::Vacant(e) = prev.entry(d) {
                    e.insert(x);
                    queue.push_back(d);
                }
            }
        }
        let mut path = vec![first];
        if let Some(mut x) = closing {
            let mut back = Vec::new();
            while x != first {
                back.push(x);
                x = prev.get(&x).copied().unwrap_or(first);
            }
            path.extend(back.into_iter().rev());
        }
        path.push(first);
        let mut s = String::from("cycle ");
        s.push_str(
            &path
                .iter()
                .map(|&i| name(i))
                .collect::<Vec<_>>()
                .join(" -> "),
        );
        if path.len() - 1 < order.len() {
            let _ = write!(
                s,
                " (among {} packages that need each other: {})",
                order.len(),
                order
                    .iter()
                    .map(|&i| name(i))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        if order.len() == 2 {
            let _ = write!(s, ": built {} first", name(first));
        } else {
            let _ = write!(
                s,
                ": built in the order {}",
                order
                    .iter()
                    .map(|&i| name(i))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        for &(a, b) in dropped {
            let reqs = self.requirements_between(a, b);
            let who = if a == first && order.len() == 2 {
                "its".to_string()
            } else {
                format!("{}'s", name(a))
            };
            let via = if reqs.len() == 1 && reqs[0] == name(b) {
                String::new()
            } else {
                format!(" (provided by {})", name(b))
            };
            let verb = if reqs.len() == 1 { "is" } else { "are" };
            let _ = write!(
                s,
                "; {who} BuildRequires {}{via} {verb} ignored",
                reqs.join(", ")
            );
        }
        s.push_str(" (taken from the repository)");
        s
    }
}

fn push_unique(v: &mut Vec<usize>, i: usize) {
    if v.last() != Some(&i) {
        v.push(i);
    }
}

/// `None` < any version; versions by rpm order.
fn cmp_version(a: Option<&str>, b: Option<&str>) -> std::cmp::Ordering {
    match (a, b) {
        (Some(x), Some(y)) => compare_evr(x, y),
        (x, y) => x.is_some().cmp(&y.is_some()),
    }
}

/// The highest version among `provides` that meets `r`: `None` if nothing
/// matches, `Some(None)` if only unversioned capabilities match.
#[allow(clippy::option_option)]
fn best_matching_version<'a>(
    provides: &'a [Capability],
    r: &Requirement,
) -> Option<Option<&'a str>> {
    let mut best: Option<Option<&str>> = None;
    for c in provides.iter().filter(|c| r.satisfied_by(c)) {
        let v = c.version.as_deref();
        best = match best {
            Some(b) if cmp_version(v, b) != std::cmp::Ordering::Greater => Some(b),
            _ => Some(v),
        };
    }
    best
}

/// Strongly connected components of `adj` (Tarjan, with an explicit stack).
fn tarjan_scc(adj: &[Vec<usize>]) -> Vec<Vec<usize>> {
    const UNSEEN: usize = usize::MAX;
    let n = adj.len();
    let mut index = vec![UNSEEN; n];
    let mut low = vec![0usize; n];
    let mut on_stack = vec![false; n];
    let mut stack: Vec<usize> = Vec::new();
    let mut call: Vec<(usize, usize)> = Vec::new();
    let mut next = 0usize;
    let mut sccs = Vec::new();
    for root in 0..n {
        if index[root] != UNSEEN {
            continue;
        }
        index[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on_stack[root] = true;
        call.push((root, 0));
        while let Some(&mut (v, ref mut ei)) = call.last_mut() {
            if let Some(&w) = adj[v].get(*ei) {
                *ei += 1;
                if index[w] == UNSEEN {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    call.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
            } else {
                call.pop();
                if let Some(&(u, _)) = call.last() {
                    low[u] = low[u].min(low[v]);
                }
                if low[v] == index[v] {
                    let mut comp = Vec::new();
                    while let Some(w) = stack.pop() {
                        on_stack[w] = false;
                        comp.push(w);
                        if w == v {
                            break;
                        }
                    }
                    comp.sort_unstable();
                    sccs.push(comp);
                }
            }
        }
    }
    sccs
}

/// Lower bound of the makespan: max(critical path, total work / slots).
/// `slots == 0` counts as 1.
pub fn lower_bound(graph: &Graph, durations: &[f64], slots: usize) -> f64 {
    let total: f64 = (0..graph.nodes.len())
        .map(|i| duration_of(graph, durations, i))
        .sum();
    graph
        .critical_path(durations)
        .max(total / slots.max(1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::deps::Op;

    pub(crate) fn node(name: &str, provides: &[&str], requires: &[&str]) -> Node {
        Node {
            name: name.into(),
            provides: std::iter::once(name)
                .chain(provides.iter().copied())
                .map(|p| Capability::new(p, None))
                .collect(),
            requires: requires
                .iter()
                .map(|r| Requirement::new(*r, None))
                .collect(),
            excluded: false,
        }
    }

    fn assert_dag(g: &Graph) {
        assert_eq!(g.topological_order().len(), g.nodes.len());
        for (i, ds) in g.deps.iter().enumerate() {
            assert!(!ds.contains(&i));
            assert!(ds.windows(2).all(|w| w[0] < w[1]), "sorted, unique");
        }
        assert!(tarjan_scc(&g.deps).iter().all(|c| c.len() == 1));
    }

    #[test]
    fn simple_chain_and_subpackages() {
        let g = Graph::build(vec![
            node("app", &[], &["libfoo-devel", "gcc"]),
            node("libfoo", &["libfoo-devel"], &[]),
        ]);
        assert_eq!(g.deps, vec![vec![1], vec![]]);
        assert_eq!(g.edges[0].len(), 1, "gcc comes from the repository");
        assert_eq!(g.edges[0][0].0.name, "libfoo-devel");
        assert!(g.cycles.is_empty());
        assert_eq!(g.dependents(1), vec![0]);
    }

    #[test]
    fn two_cycle_is_broken_with_explanation() {
        let g = Graph::build(vec![
            node("php8.4-pear", &[], &["php8.4"]),
            node("php8.4", &["php8.4-devel"], &["php8.4-pear"]),
        ]);
        assert_dag(&g);
        assert_eq!(g.cycles.len(), 1);
        let c = &g.cycles[0];
        assert_eq!(c.members, vec![1, 0]);
        assert_eq!(c.dropped, vec![(1, 0)]);
        assert_eq!(
            c.explanation,
            "cycle php8.4 -> php8.4-pear -> php8.4: built php8.4 first; its BuildRequires \
             php8.4-pear is ignored (taken from the repository)"
        );
        assert_eq!(g.deps, vec![vec![1], vec![]]);
        // The original edge is still listed for messages.
        assert_eq!(g.edges[1].len(), 1);
    }

    #[test]
    fn three_cycle_drops_a_single_edge() {
        let g = Graph::build(vec![
            node("a", &[], &["b"]),
            node("b", &[], &["c"]),
            node("c", &[], &["a"]),
        ]);
        assert_dag(&g);
        assert_eq!(g.cycles.len(), 1);
        let c = &g.cycles[0];
        // All have one in-cycle dep: a (name) first, dropping a -> b; then c
        // (no unplaced deps left), then b.
        assert_eq!(c.members, vec![0, 2, 1]);
        assert_eq!(c.dropped, vec![(0, 1)]);
        assert_eq!(g.deps, vec![vec![], vec![2], vec![0]]);
        assert!(
            c.explanation
                .starts_with("cycle a -> b -> c -> a: built in the order a, c, b; a's BuildRequires b is ignored"),
            "{}",
            c.explanation
        );
    }

    #[test]
    fn fewest_in_cycle_deps_goes_first() {
        // x needs y and z; y needs x; z needs x. y and z have 1, x has 2.
        let g = Graph::build(vec![
            node("x", &[], &["y", "z"]),
            node("y", &[], &["x"]),
            node("z", &[], &["x"]),
        ]);
        assert_dag(&g);
        let c = &g.cycles[0];
        assert_eq!(c.members[0], 1, "y first");
        // y placed: x still has z unplaced (1), z has x unplaced (1): x by name.
        assert_eq!(c.members, vec![1, 0, 2]);
        assert_eq!(c.dropped, vec![(1, 0), (0, 2)]);
        assert!(
            c.explanation.contains("among 3 packages"),
            "{}",
            c.explanation
        );
        assert!(c.explanation.contains("x's BuildRequires z is ignored"));
    }

    #[test]
    fn self_requirement_is_no_edge_and_no_cycle() {
        let g = Graph::build(vec![
            node("gcc", &["gcc-c++"], &["gcc-c++", "libstdc++-devel"]),
            node("libstdc++", &["libstdc++-devel"], &[]),
        ]);
        assert_eq!(g.deps, vec![vec![1], vec![]]);
        assert!(g.cycles.is_empty());
        assert_dag(&g);
    }

    #[test]
    fn two_separate_cycles() {
        let g = Graph::build(vec![
            node("a", &[], &["b"]),
            node("b", &[], &["a"]),
            node("c", &[], &["d", "a"]),
            node("d", &[], &["c"]),
            node("e", &[], &["c", "b"]),
        ]);
        assert_dag(&g);
        assert_eq!(g.cycles.len(), 2);
        let mut members: Vec<Vec<usize>> = g.cycles.iter().map(|c| c.members.clone()).collect();
        members.sort();
        assert_eq!(members, vec![vec![0, 1], vec![2, 3]]);
        // d has 1 in-cycle dep, c has 1 (a is outside): c by name first.
        let cd = g
            .cycles
            .iter()
            .find(|c| c.members.contains(&2))
            .expect("c-d");
        assert_eq!(cd.members, vec![2, 3]);
        assert_eq!(cd.dropped, vec![(2, 3)]);
        assert_eq!(g.deps[2], vec![0]);
        assert_eq!(g.deps[4], vec![1, 2]);
    }

    #[test]
    fn big_cycle_no_recursion_overflow() {
        let n = 20_000;
        let nodes: Vec<Node> = (0..n)
            .map(|i| {
                let next = format!("n{}", (i + 1) % n);
                node(&format!("n{i}"), &[], &[&next])
            })
            .collect();
        let g = Graph::build(nodes);
        assert_dag(&g);
        assert_eq!(g.cycles.len(), 1);
        assert_eq!(g.cycles[0].dropped.len(), 1);
    }

    fn versioned(name: &str, cap: &str, ver: &str) -> Node {
        Node {
            name: name.into(),
            provides: vec![Capability::new(cap, Some(ver.into()))],
            requires: vec![],
            excluded: false,
        }
    }

    #[test]
    fn versioned_requirements() {
        let ext = Node {
            name: "php-ext".into(),
            provides: vec![],
            requires: vec![Requirement::new("php", Some((Op::Ge, "8.4".into())))],
            excluded: false,
        };
        let g = Graph::build(vec![ext.clone(), versioned("php8.4", "php", "8.4.1-alt1")]);
        assert_eq!(g.deps[0], vec![1]);
        let g = Graph::build(vec![ext.clone(), versioned("php8.3", "php", "8.3.9-alt1")]);
        assert!(g.deps[0].is_empty(), "8.3.9 does not satisfy >= 8.4");
        assert!(g.edges[0].is_empty());
        // Several providers: the highest matching version wins.
        let g = Graph::build(vec![
            ext.clone(),
            versioned("php8.3", "php", "8.3.9-alt1"),
            versioned("php8.5", "php", "8.5.0-alt1"),
            versioned("php8.4", "php", "8.4.1-alt1"),
        ]);
        assert_eq!(g.deps[0], vec![2]);
        // Unversioned ranks below versioned; equal versions: smaller name.
        let mut unv = node("aaa", &["php"], &[]);
        unv.provides.push(Capability::new("php", None));
        let g = Graph::build(vec![
            ext,
            unv,
            versioned("php-b", "php", "8.4.1-alt1"),
            versioned("php-a", "php", "8.4.1-alt1"),
        ]);
        assert_eq!(g.deps[0], vec![3]);
    }

    #[test]
    fn excluded_nodes_provide_nothing_and_need_nothing() {
        let mut lib = node("libfoo", &["libfoo-devel"], &["zlib-devel"]);
        lib.excluded = true;
        let g = Graph::build(vec![
            node("app", &[], &["libfoo-devel"]),
            lib,
            node("zlib", &["zlib-devel"], &[]),
        ]);
        assert!(g.deps.iter().all(Vec::is_empty));
        assert!(g.edges[1].is_empty());
        assert_eq!(g.levels(), vec![vec![0, 2]]);
        assert_eq!(g.critical_path(&[5.0, 100.0, 7.0]), 7.0);
    }

    #[test]
    fn levels_and_critical_path() {
        // d -> b -> a, d -> c -> a, e alone
        let g = Graph::build(vec![
            node("a", &["a-devel"], &[]),
            node("b", &[], &["a-devel"]),
            node("c", &[], &["a-devel"]),
            node("d", &[], &["b", "c"]),
            node("e", &[], &[]),
        ]);
        assert_eq!(g.levels(), vec![vec![0, 4], vec![1, 2], vec![3]]);
        let d = [10.0, 5.0, 20.0, 1.0, 30.0];
        assert_eq!(
            g.remaining_critical_path(&d),
            vec![31.0, 6.0, 21.0, 1.0, 30.0]
        );
        assert_eq!(g.critical_path(&d), 31.0);
        assert_eq!(lower_bound(&g, &d, 1), 66.0);
        assert_eq!(lower_bound(&g, &d, 4), 31.0);
        assert_eq!(g.transitive_dependents(0), vec![1, 2, 3]);
        assert_eq!(g.transitive_dependent_counts(), vec![3, 1, 1, 0, 0]);
        assert_eq!(g.dependents(0), vec![1, 2]);
        assert_eq!(g.topological_order(), vec![0, 1, 2, 3, 4]);
        // Missing / invalid durations count as 0.
        assert_eq!(g.critical_path(&[f64::NAN, -1.0]), 0.0);
    }

    #[test]
    fn transitive_counts_match_bfs_across_blocks() {
        // More than one 4096-node block.
        let n = 5000;
        let nodes: Vec<Node> = (0..n)
            .map(|i| {
                let reqs: Vec<String> = [i / 2, i / 3]
                    .into_iter()
                    .filter(|&j| j != i)
                    .map(|j| format!("n{j}"))
                    .collect();
                let reqs: Vec<&str> = reqs.iter().map(String::as_str).collect();
                node(&format!("n{i}"), &[], &reqs)
            })
            .collect();
        let g = Graph::build(nodes);
        let counts = g.transitive_dependent_counts();
        for i in [0, 1, 2, 7, 100, 2047, 4095, 4096, 4999] {
            assert_eq!(counts[i], g.transitive_dependents(i).len(), "node {i}");
        }
    }

    #[test]
    fn update_provides_makes_unstarted_job_wait_and_keeps_started() {
        // "app" and "tool" both need "libnew", which nobody is predicted to
        // provide; "lib" turns out to provide it.
        let g0 = vec![
            node("lib", &["lib-devel"], &[]),
            node("app", &[], &["libnew"]),
            node("tool", &[], &["libnew"]),
        ];
        let mut g = Graph::build(g0);
        assert!(g.deps.iter().all(Vec::is_empty));
        let real = vec![
            Capability::new("lib", Some("1.0-alt1".into())),
            Capability::new("lib-devel", Some("1.0-alt1".into())),
            Capability::new("libnew", Some("1.0-alt1".into())),
        ];
        // "tool" already started: it is never changed.
        let changed = g.update_provides(0, real, &[true, false, true]);
        assert_eq!(changed, vec![1]);
        assert_eq!(g.deps, vec![vec![], vec![0], vec![]]);
        assert!(g.edges[2].is_empty());
        assert_eq!(g.dependents(0), vec![1]);
        // A provide disappearing frees the job again.
        let changed =
            g.update_provides(0, vec![Capability::new("lib", None)], &[true, false, true]);
        assert_eq!(changed, vec![1]);
        assert!(g.deps.iter().all(Vec::is_empty));
        // No change → nothing reported.
        assert!(g
            .update_provides(0, vec![Capability::new("lib", None)], &[true, false, false])
            .is_empty());
    }

    #[test]
    fn update_provides_new_cycle_is_broken() {
        // a needs x: c's x = 2 beats b's x = 1. b needs a. Then c turns out
        // not to provide x: a falls back to b, and a <-> b is a cycle.
        let mut a = node("a", &[], &[]);
        a.requires.push(Requirement::new("x", None));
        let mut b = node("b", &[], &["a"]);
        b.provides.push(Capability::new("x", Some("1-alt1".into())));
        let mut c = node("c", &[], &[]);
        c.provides.push(Capability::new("x", Some("2-alt1".into())));
        let mut g = Graph::build(vec![a, b, c]);
        assert_eq!(g.deps, vec![vec![2], vec![0], vec![]]);
        assert!(g.cycles.is_empty());
        let changed = g.update_provides(2, vec![Capability::new("c", None)], &[false, false, true]);
        assert_eq!(changed, vec![0]);
        assert_dag(&g);
        assert_eq!(g.cycles.len(), 1);
        assert_eq!(g.cycles[0].members, vec![0, 1]);
        assert_eq!(g.deps, vec![vec![], vec![0], vec![]]);
        assert!(
            g.cycles[0]
                .explanation
                .contains("its BuildRequires x (provided by b) is ignored"),
            "{}",
            g.cycles[0].explanation
        );
    }
}
