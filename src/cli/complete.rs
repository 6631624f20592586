//! Dynamic shell completion: the candidates for `-b PATTERN` (builder names,
//! `@all`, `@host:` hosts, `@arch:`/`@branch:` values, after `^` and `,`),
//! builder names, `-a` arches, `-B` branches and batch names.
//!
//! Called by clap_complete's engine while the shell asks (see
//! `generate::COMPLETE_VAR`), so it must be fast and must never fail or
//! print: a broken builder file is skipped here (the real command reports
//! it), nothing is run, no host is contacted. Pure functions over a
//! [`Known`] do the work and are unit-tested; only [`Known::load`] reads files.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::path::Path;

use clap_complete::engine::{ArgValueCompleter, CompletionCandidate};

use crate::config::arch;
use crate::config::builder_file::{BuilderFile, BuilderKind};
use crate::config::paths::Paths;
use crate::farm::{BUILTIN_LOCAL, DEFAULT_BRANCH, LOCALHOST};

/// What the farm's files name, read leniently.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Known {
    pub builders: BTreeSet<String>,
    pub hosts: BTreeSet<String>,
    pub arches: BTreeSet<String>,
    pub branches: BTreeSet<String>,
    pub batches: BTreeSet<String>,
}

impl Known {
    /// The built-in `local` plus every readable `builders.d/*.conf`, and the
    /// batches in `batch/*.conf` (and the older `batches/*.toml`).
    pub fn load() -> Known {
        let mut k = Known::default();
        let local_arch = arch::local();
        k.builders.insert(BUILTIN_LOCAL.into());
        k.hosts.insert(LOCALHOST.into());
        k.arches.insert(local_arch.clone());
        k.branches.insert(DEFAULT_BRANCH.into());
        let Ok(paths) = Paths::from_env() else {
            return k;
        };
        for path in files_with(&paths.builders_dir, "conf") {
            let Ok(f) = BuilderFile::load(&path) else {
                continue;
            };
            k.builders.insert(f.name);
            match (f.kind, f.host) {
                (BuilderKind::Remote, Some(h)) => k.hosts.insert(h),
                _ => k.hosts.insert(LOCALHOST.into()),
            };
            k.arches
                .insert(f.arch.unwrap_or_else(|| local_arch.clone()));
            k.branches
                .insert(f.branch.unwrap_or_else(|| DEFAULT_BRANCH.into()));
        }
        for (dir, ext) in [("batch", "conf"), ("batches", "toml")] {
            for path in files_with(&paths.config_dir.join(dir), ext) {
                if let Some(stem) = path.file_stem() {
                    k.batches.insert(stem.to_string_lossy().into_owned());
                }
            }
        }
        k
    }
}

fn files_with(dir: &Path, ext: &str) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == ext) && p.is_file())
                .collect()
        })
        .unwrap_or_default()
}

/// Completions of a whole `-b` value: the last `,`-separated term is
/// completed, everything before it (and a `^`) is kept as typed.
pub fn pattern_candidates(known: &Known, current: &str) -> Vec<String> {
    let (before, term) = match current.rfind(',') {
        Some(i) => current.split_at(i + 1),
        None => ("", current),
    };
    let spaces = term.len() - term.trim_start().len();
    let (lead, term) = term.split_at(spaces);
    let (neg, term) = match term.strip_prefix('^') {
        Some(rest) => ("^", rest),
        None => ("", term),
    };
    let keep = format!("{before}{lead}{neg}");
    let mut out: Vec<String> = Vec::new();
    let kinds: [(&str, &BTreeSet<String>); 3] = [
        ("@host:", &known.hosts),
        ("@arch:", &known.arches),
        ("@branch:", &known.branches),
    ];
    if let Some((prefix, values)) = kinds.iter().find(|(p, _)| term.starts_with(p)) {
        out.extend(values.iter().map(|v| format!("{prefix}{v}")));
    } else {
        out.extend(known.builders.iter().cloned());
        out.push("@all".into());
        out.extend(kinds.iter().map(|(p, _)| p.to_string()));
    }
    out.retain(|c| c.starts_with(term));
    out.into_iter().map(|c| format!("{keep}{c}")).collect()
}

/// Builder names starting with `current`.
pub fn name_candidates(known: &Known, current: &str) -> Vec<String> {
    known
        .builders
        .iter()
        .filter(|n| n.starts_with(current))
        .cloned()
        .collect()
}

/// Architectures for `-a` (the farm's and every one hasher knows).
pub fn arch_candidates(known: &Known, current: &str) -> Vec<String> {
    let mut all: BTreeSet<String> = known.arches.clone();
    all.extend(arch::KNOWN.iter().map(|a| a.to_string()));
    all.into_iter().filter(|a| a.starts_with(current)).collect()
}

/// Branches for `-B` (those the farm's builders are for).
pub fn branch_candidates(known: &Known, current: &str) -> Vec<String> {
    known
        .branches
        .iter()
        .filter(|b| b.starts_with(current))
        .cloned()
        .collect()
}

/// Batch names starting with `current`.
pub fn batch_candidates(known: &Known, current: &str) -> Vec<String> {
    known
        .batches
        .iter()
        .filter(|n| n.starts_with(current))
        .cloned()
        .collect()
}

fn engine(f: fn(&Known, &str) -> Vec<String>, current: &OsStr) -> Vec<CompletionCandidate> {
    let Some(current) = current.to_str() else {
        return Vec::new();
    };
    f(&Known::load(), current)
        .into_iter()
        .map(CompletionCandidate::new)
        .collect()
}

/// For `-b PATTERN`.
pub fn pattern() -> ArgValueCompleter {
    ArgValueCompleter::new(|c: &OsStr| engine(pattern_candidates, c))
}

/// For an argument that names one builder.
pub fn builder_name() -> ArgValueCompleter {
    ArgValueCompleter::new(|c: &OsStr| engine(name_candidates, c))
}

/// For `-a ARCH[,ARCH]` (the engine completes the last `,` piece).
pub fn arch() -> ArgValueCompleter {
    ArgValueCompleter::new(|c: &OsStr| engine(arch_candidates, c))
}

/// For `-B BRANCH[,BRANCH]`.
pub fn branch() -> ArgValueCompleter {
    ArgValueCompleter::new(|c: &OsStr| engine(branch_candidates, c))
}

/// For `zoryn task batch BATCH`: batch names (paths are typed by hand).
pub fn batch() -> ArgValueCompleter {
    ArgValueCompleter::new(|c: &OsStr| engine(batch_candidates, c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> Known {
        let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        Known {
            builders: set(&["arm64", "local", "local2", "node1"]),
            hosts: set(&["bignode", "arm.internal", "localhost"]),
            arches: set(&["aarch64", "x86_64"]),
            branches: set(&["p11", "sisyphus"]),
            batches: set(&["php8.4"]),
        }
    }

    #[test]
    fn names_and_kinds() {
        assert_eq!(pattern_candidates(&known(), "lo"), ["local", "local2"]);
        assert_eq!(
            pattern_candidates(&known(), "@"),
            ["@all", "@host:", "@arch:", "@branch:"]
        );
    }

    #[test]
    fn values_after_a_kind() {
        assert_eq!(pattern_candidates(&known(), "@host:b"), ["@host:bignode"]);
        assert_eq!(
            pattern_candidates(&known(), "@arch:"),
            ["@arch:aarch64", "@arch:x86_64"]
        );
        assert_eq!(pattern_candidates(&known(), "@branch:p"), ["@branch:p11"]);
    }

    #[test]
    fn last_term_after_comma_and_caret() {
        assert_eq!(
            pattern_candidates(&known(), "@all,^lo"),
            ["@all,^local", "@all,^local2"]
        );
        assert_eq!(
            pattern_candidates(&known(), "arm64, @host:a"),
            ["arm64, @host:arm.internal"]
        );
        assert!(pattern_candidates(&known(), "zz").is_empty());
    }

    #[test]
    fn arches_and_branches() {
        assert_eq!(arch_candidates(&known(), "aa"), ["aarch64"]);
        assert!(arch_candidates(&known(), "").contains(&"riscv64".to_string()));
        assert_eq!(branch_candidates(&known(), "p"), ["p11"]);
    }
}
