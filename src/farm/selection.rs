//! Builder selection from `-b/--builder` patterns.
//!
//! This is the first cut of the pattern language (SPEC 4): comma lists of
//! builder names with `*`/`?` globs, `@all`, and `^` exclusions. A term that
//! matches nothing is an error listing the closest names. The result keeps
//! farm order.

use crate::config::error::did_you_mean;
use crate::config::global::BuildersSection;

use super::{Builder, Farm};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectionError {
    pub message: String,
    pub hint: Option<String>,
}

impl std::fmt::Display for SelectionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)?;
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

fn glob_match(pattern: &str, name: &str) -> bool {
    fn rec(p: &[char], n: &[char]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some('*'), _) => rec(&p[1..], n) || (!n.is_empty() && rec(p, &n[1..])),
            (Some('?'), Some(_)) => rec(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a == b => rec(&p[1..], &n[1..]),
            _ => false,
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    rec(&p, &n)
}

fn term_matches(term: &str, b: &Builder) -> bool {
    term == "@all" || glob_match(term, &b.name)
}

/// Resolve `expr` against the farm.
pub fn select<'f>(farm: &'f Farm, expr: &str) -> Result<Vec<&'f Builder>, SelectionError> {
    let terms: Vec<&str> = expr.split(',').map(str::trim).collect();
    if terms.iter().any(|t| t.is_empty() || *t == "^") {
        return Err(SelectionError {
            message: format!("empty term in builder pattern \"{expr}\""),
            hint: Some("separate builder names with single commas, e.g. -b local,arm64".into()),
        });
    }
    let (excl, incl): (Vec<&str>, Vec<&str>) = terms.iter().partition(|t| t.starts_with('^'));
    let excl: Vec<&str> = excl.iter().map(|t| &t[1..]).collect();
    for term in incl.iter().chain(excl.iter()) {
        if term.starts_with('@') && *term != "@all" {
            return Err(SelectionError {
                message: format!("unsupported pattern term `{term}`"),
                hint: Some(
                    "this version supports names, * and ? globs, @all and ^exclusion".into(),
                ),
            });
        }
        if !farm.builders.iter().any(|b| term_matches(term, b)) {
            let names: Vec<&str> = farm.builders.iter().map(|b| b.name.as_str()).collect();
            let hint = match did_you_mean(term, names.iter().copied()) {
                Some(n) => format!(
                    "did you mean `{n}`? configured builders: {}",
                    names.join(", ")
                ),
                None => format!(
                    "configured builders: {}; add one with `zoryn builder add`",
                    names.join(", ")
                ),
            };
            return Err(SelectionError {
                message: format!("no builder matches `{term}`"),
                hint: Some(hint),
            });
        }
    }
    let chosen: Vec<&Builder> = farm
        .builders
        .iter()
        .filter(|b| incl.is_empty() || incl.iter().any(|t| term_matches(t, b)))
        .filter(|b| !excl.iter().any(|t| term_matches(t, b)))
        .collect();
    if chosen.is_empty() {
        return Err(SelectionError {
            message: format!("builder pattern \"{expr}\" selects no builder"),
            hint: Some("the exclusions (^...) removed every match".into()),
        });
    }
    Ok(chosen)
}

/// What the command line asked for.
#[derive(Clone, Debug, Default)]
pub struct SelectionRequest {
    /// `-b`; `None` uses the configured default.
    pub pattern: Option<String>,
    /// `-a` (comma lists already split).
    pub arch: Vec<String>,
    /// `-B`.
    pub branch: Vec<String>,
}

/// The builders a command runs on, with SPEC 4's defaults: no `-b` →
/// `[builders.<branch>].default` when `-B` names one branch with such a table,
/// else `[builders].default`, else `local`; `default_arch` filters only that
/// default; `-a` and `-B` always intersect.
pub fn choose<'f>(
    farm: &'f Farm,
    cfg: &BuildersSection,
    req: &SelectionRequest,
) -> Result<Vec<&'f Builder>, SelectionError> {
    let branch_table = match req.branch.as_slice() {
        [one] => cfg.branches.get(one),
        _ => None,
    };
    let (expr, default_arch, source) = match &req.pattern {
        Some(p) => (p.clone(), Vec::new(), "-b"),
        None => match (branch_table.and_then(|t| t.default.clone()), &cfg.default) {
            (Some(d), _) => (
                d,
                branch_table
                    .map(|t| t.default_arch.clone())
                    .unwrap_or_default(),
                "[builders.BRANCH] default",
            ),
            (None, Some(d)) => (d.clone(), cfg.default_arch.clone(), "[builders] default"),
            (None, None) => (
                "local".to_string(),
                cfg.default_arch.clone(),
                "the built-in default",
            ),
        },
    };
    let mut chosen = select(farm, &expr)?;
    let arch_filter = if req.arch.is_empty() {
        default_arch
    } else {
        req.arch.clone()
    };
    if !arch_filter.is_empty() {
        chosen.retain(|b| arch_filter.contains(&b.arch));
        if chosen.is_empty() {
            let flag = if req.arch.is_empty() {
                "default_arch"
            } else {
                "-a/--arch"
            };
            return Err(SelectionError {
                message: format!(
                    "{flag} {} left no builder of \"{expr}\" (from {source})",
                    arch_filter.join(",")
                ),
                hint: Some("check the builders' arch with `zoryn builder list`".into()),
            });
        }
    }
    if !req.branch.is_empty() {
        chosen.retain(|b| req.branch.contains(&b.branch));
        if chosen.is_empty() {
            return Err(SelectionError {
                message: format!(
                    "-B/--branch {} left no builder of \"{expr}\" (from {source})",
                    req.branch.join(",")
                ),
                hint: Some("check the builders' branch with `zoryn builder list`".into()),
            });
        }
    }
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::farm::Builder;

    fn farm(names: &[&str]) -> Farm {
        Farm {
            builders: names
                .iter()
                .map(|n| {
                    let mut b = Builder::builtin_local("x86_64");
                    b.name = n.to_string();
                    b
                })
                .collect(),
            shared_slots: vec![],
        }
    }

    fn names(v: Vec<&Builder>) -> Vec<String> {
        v.into_iter().map(|b| b.name.clone()).collect()
    }

    #[test]
    fn names_globs_and_exclusions() {
        let f = farm(&["local", "local2", "local3", "arm64"]);
        assert_eq!(names(select(&f, "local2").unwrap()), ["local2"]);
        assert_eq!(
            names(select(&f, "local*").unwrap()),
            ["local", "local2", "local3"]
        );
        assert_eq!(names(select(&f, "local?").unwrap()), ["local2", "local3"]);
        assert_eq!(
            names(select(&f, "@all, ^local").unwrap()),
            ["local2", "local3", "arm64"]
        );
        assert_eq!(names(select(&f, "^local*").unwrap()), ["arm64"]);
        assert_eq!(
            names(select(&f, "arm64,local").unwrap()),
            ["local", "arm64"]
        );
    }

    #[test]
    fn unknown_name_suggests_closest() {
        let f = farm(&["local", "local2", "arm64"]);
        let e = select(&f, "lcoal2").unwrap_err();
        assert_eq!(e.message, "no builder matches `lcoal2`");
        assert!(e.hint.unwrap().starts_with("did you mean `local2`?"));
    }

    #[test]
    fn defaults_and_filters() {
        use crate::config::global::{BranchDefaults, GlobalConfig};
        let mut f = farm(&["local", "arm", "p11x"]);
        f.builders[1].arch = "aarch64".into();
        f.builders[2].branch = "p11".into();
        let mut cfg = GlobalConfig::default().builders;
        let none = SelectionRequest::default();
        assert_eq!(names(choose(&f, &cfg, &none).unwrap()), ["local"]);
        cfg.default = Some("local, arm".into());
        cfg.default_arch = vec!["aarch64".into()];
        assert_eq!(names(choose(&f, &cfg, &none).unwrap()), ["arm"]);
        let a = SelectionRequest {
            arch: vec!["x86_64".into()],
            ..none.clone()
        };
        assert_eq!(names(choose(&f, &cfg, &a).unwrap()), ["local"]);
        cfg.branches.insert(
            "p11".into(),
            BranchDefaults {
                default: Some("p11x".into()),
                ..Default::default()
            },
        );
        let b = SelectionRequest {
            branch: vec!["p11".into()],
            ..none.clone()
        };
        assert_eq!(names(choose(&f, &cfg, &b).unwrap()), ["p11x"]);
        let bad = SelectionRequest {
            pattern: Some("local".into()),
            branch: vec!["p10".into()],
            ..none
        };
        assert!(choose(&f, &cfg, &bad)
            .unwrap_err()
            .message
            .starts_with("-B/--branch p10 left no builder"));
    }

    #[test]
    fn empty_results_and_terms_are_errors() {
        let f = farm(&["local"]);
        assert!(select(&f, "^local").is_err());
        assert!(select(&f, "local,,x").is_err());
    }
}
