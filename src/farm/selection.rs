//! The builder pattern language (SPEC 4) and how a command's selection is
//! chosen from flags and defaults.
//!
//! ```text
//! selection := term ("," term)*          whitespace around commas ignored
//! term      := ["^"] atom                ^ excludes
//! atom      := "@all"
//!            | "@host:" HOSTGLOB [RANGE]  builders on that host; RANGE filters hasher numbers
//!            | "@arch:" ARCH | "@branch:" BRANCH
//!            | NAMEGLOB [RANGE]           builder names; * and ? globs
//! RANGE     := "[" item ("," item)* "]"   item := N | N "-" M
//! ```
//!
//! Result = union of positive terms minus union of excluded terms; only
//! exclusions start from `@all`. `-a`/`-B` then intersect. Parsing, matching
//! and explaining are pure functions over the farm. A positive name term
//! that matches a broken builder file is an error; other atoms leave broken
//! files out.

use std::fmt;

use crate::config::error::did_you_mean;
use crate::config::global::BuildersSection;

use super::{Builder, Farm};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectionError {
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for SelectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

/// Inclusive ranges of numbers: `[1,3,5-7]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberRange(pub Vec<(u32, u32)>);

impl NumberRange {
    pub fn contains(&self, n: u32) -> bool {
        self.0.iter().any(|(a, b)| (*a..=*b).contains(&n))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Atom {
    All,
    Host {
        glob: String,
        range: Option<NumberRange>,
    },
    Arch(String),
    Branch(String),
    Name {
        glob: String,
        range: Option<NumberRange>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub exclude: bool,
    pub atom: Atom,
    /// As written (without the `^`), for messages.
    pub text: String,
}

/// `*` and `?` globs over chars.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Iterative matcher with backtracking to the last `*`.
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

impl Atom {
    pub fn matches(&self, b: &Builder) -> bool {
        match self {
            Atom::All => true,
            Atom::Host { glob, range } => {
                glob_match(glob, b.host())
                    && range
                        .as_ref()
                        .is_none_or(|r| b.hasher_number.is_some_and(|n| r.contains(n)))
            }
            Atom::Arch(g) => glob_match(g, &b.arch),
            Atom::Branch(g) => glob_match(g, &b.branch),
            Atom::Name { .. } => self.matches_name(&b.name),
        }
    }

    /// Whether a name atom matches `name` (other atoms never do: they need
    /// the builder's settings).
    pub fn matches_name(&self, name: &str) -> bool {
        match self {
            Atom::Name { glob, range: None } => glob_match(glob, name),
            Atom::Name {
                glob,
                range: Some(r),
            } => {
                let digits = name.len() - name.trim_end_matches(|c: char| c.is_ascii_digit()).len();
                if digits == 0 {
                    return false;
                }
                let (stem, num) = name.split_at(name.len() - digits);
                glob_match(glob, stem) && num.parse::<u32>().is_ok_and(|n| r.contains(n))
            }
            _ => false,
        }
    }
}

/// A malformed expression: the message points at the character.
fn malformed(expr: &str, pos: usize, what: &str) -> SelectionError {
    let col = expr[..pos.min(expr.len())].chars().count();
    SelectionError {
        message: format!(
            "malformed builder pattern at column {}: {what}\n  {expr}\n  {}^",
            col + 1,
            " ".repeat(col)
        ),
        hint: Some("patterns look like `local`, `local[2-4]`, `@host:node[1,3]`, `@arch:aarch64`, `@all,^local`".into()),
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '*' | '?')
}

fn is_value_char(c: char) -> bool {
    !c.is_whitespace() && !matches!(c, ',' | '[' | ']' | '^')
}

fn parse_range(expr: &str, start: usize) -> Result<(NumberRange, usize), SelectionError> {
    // expr[start] == '['
    let bytes: Vec<(usize, char)> = expr[start..]
        .char_indices()
        .map(|(i, c)| (i + start, c))
        .collect();
    let mut i = 1;
    let mut items = Vec::new();
    let number = |i: &mut usize| -> Result<u32, SelectionError> {
        let from = *i;
        while *i < bytes.len() && bytes[*i].1.is_ascii_digit() {
            *i += 1;
        }
        let pos = bytes.get(from).map_or(expr.len(), |b| b.0);
        if from == *i {
            return Err(malformed(expr, pos, "expected a number"));
        }
        let end = bytes.get(*i).map_or(expr.len(), |b| b.0);
        expr[pos..end]
            .parse()
            .map_err(|_| malformed(expr, pos, "number too large"))
    };
    loop {
        let item_pos = bytes.get(i).map_or(expr.len(), |b| b.0);
        let a = number(&mut i)?;
        let b = if bytes.get(i).map(|b| b.1) == Some('-') {
            i += 1;
            number(&mut i)?
        } else {
            a
        };
        if b < a {
            return Err(malformed(
                expr,
                item_pos,
                &format!("range {a}-{b} runs backwards"),
            ));
        }
        items.push((a, b));
        match bytes.get(i).map(|b| b.1) {
            Some(',') => i += 1,
            Some(']') => {
                i += 1;
                break;
            }
            Some(_) => {
                return Err(malformed(
                    expr,
                    bytes[i].0,
                    "expected `,`, `-` or `]` in the range",
                ))
            }
            None => return Err(malformed(expr, expr.len(), "unclosed `[`")),
        }
    }
    let end = bytes.get(i).map_or(expr.len(), |b| b.0);
    Ok((NumberRange(items), end))
}

/// Parse an expression into terms.
pub fn parse(expr: &str) -> Result<Vec<Term>, SelectionError> {
    let mut terms = Vec::new();
    let mut pos = 0;
    let len = expr.len();
    let skip_ws = |p: &mut usize| {
        while *p < len && expr[*p..].starts_with(char::is_whitespace) {
            *p += expr[*p..].chars().next().map_or(1, char::len_utf8);
        }
    };
    loop {
        skip_ws(&mut pos);
        if pos >= len || expr[pos..].starts_with(',') {
            return Err(malformed(expr, pos, "empty term"));
        }
        let exclude = expr[pos..].starts_with('^');
        if exclude {
            pos += 1;
        }
        let start = pos;
        let take = |p: &mut usize, ok: fn(char) -> bool| {
            let from = *p;
            while *p < len {
                let c = expr[*p..].chars().next().unwrap_or(' ');
                if !ok(c) {
                    break;
                }
                *p += c.len_utf8();
            }
            expr[from..*p].to_string()
        };
        let atom = if expr[pos..].starts_with('@') {
            let kw_end = expr[pos..].find(':').map(|i| pos + i);
            let word = take(&mut pos, is_value_char);
            if word == "@all" {
                Atom::All
            } else {
                let Some(colon) = kw_end.filter(|c| *c < pos) else {
                    return Err(malformed(
                        expr,
                        start,
                        &format!("unknown `{word}` (use @all, @host:, @arch: or @branch:)"),
                    ));
                };
                let kw = &expr[start..colon];
                let value = &expr[colon + 1..pos];
                if value.is_empty() {
                    return Err(malformed(
                        expr,
                        colon + 1,
                        &format!("`{kw}:` needs a value"),
                    ));
                }
                match kw {
                    "@host" => {
                        let range = if expr[pos..].starts_with('[') {
                            let (r, end) = parse_range(expr, pos)?;
                            pos = end;
                            Some(r)
                        } else {
                            None
                        };
                        Atom::Host {
                            glob: value.to_string(),
                            range,
                        }
                    }
                    "@arch" => Atom::Arch(value.to_string()),
                    "@branch" => Atom::Branch(value.to_string()),
                    _ => {
                        return Err(malformed(
                            expr,
                            start,
                            &format!("unknown `{kw}:` (use @host:, @arch: or @branch:)"),
                        ));
                    }
                }
            }
        } else {
            let glob = take(&mut pos, is_name_char);
            if glob.is_empty() {
                let c = expr[pos..].chars().next().unwrap_or(' ');
                return Err(malformed(expr, pos, &format!("unexpected `{c}`")));
            }
            let range = if expr[pos..].starts_with('[') {
                let (r, end) = parse_range(expr, pos)?;
                pos = end;
                Some(r)
            } else {
                None
            };
            Atom::Name { glob, range }
        };
        terms.push(Term {
            exclude,
            atom,
            text: expr[start..pos].to_string(),
        });
        skip_ws(&mut pos);
        if pos >= len {
            break;
        }
        if !expr[pos..].starts_with(',') {
            let c = expr[pos..].chars().next().unwrap_or(' ');
            return Err(malformed(
                expr,
                pos,
                &format!("unexpected `{c}` (separate terms with commas)"),
            ));
        }
        pos += 1;
    }
    Ok(terms)
}

fn nothing_matches(farm: &Farm, t: &Term) -> SelectionError {
    let list = |v: Vec<String>| {
        let mut v = v;
        v.sort();
        v.dedup();
        v.join(", ")
    };
    let hint = match &t.atom {
        Atom::Host { glob, .. } => {
            let hosts = list(farm.builders.iter().map(|b| b.host().to_string()).collect());
            match did_you_mean(glob, farm.builders.iter().map(|b| b.host())) {
                Some(h) => format!("did you mean `@host:{h}`? hosts: {hosts}"),
                None => format!("hosts: {hosts}"),
            }
        }
        Atom::Arch(_) => format!(
            "arches in the farm: {}",
            list(farm.builders.iter().map(|b| b.arch.clone()).collect())
        ),
        Atom::Branch(_) => format!(
            "branches in the farm: {}",
            list(farm.builders.iter().map(|b| b.branch.clone()).collect())
        ),
        Atom::Name { glob, .. } => {
            let names: Vec<&str> = farm.builders.iter().map(|b| b.name.as_str()).collect();
            match did_you_mean(glob, names.iter().copied()) {
                Some(n) => format!(
                    "did you mean `{n}`? configured builders: {}",
                    names.join(", ")
                ),
                None => format!(
                    "configured builders: {}; add one with `zoryn builder add`",
                    names.join(", ")
                ),
            }
        }
        Atom::All => String::new(),
    };
    SelectionError {
        message: format!("no builder matches `{}`", t.text),
        hint: Some(hint),
    }
}

/// Why a builder was kept or dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub name: String,
    pub kept: bool,
    pub reason: String,
}

/// Evaluate terms against the farm; every term must match something.
/// A positive name term that matches a broken builder file is an error
/// (the user asked for that builder and cannot get it); `@all`, `@host:`,
/// `@arch:`, `@branch:` and exclusions leave broken files out, since their
/// settings are unknown — the loader has warned about them already.
pub fn evaluate<'f>(
    farm: &'f Farm,
    terms: &[Term],
) -> Result<(Vec<&'f Builder>, Vec<Verdict>), SelectionError> {
    for t in terms.iter().filter(|t| !t.exclude) {
        if let Some(bad) = farm.broken.iter().find(|x| t.atom.matches_name(&x.name)) {
            let place = if bad.error.line > 0 {
                format!("{}:{}", bad.file.display(), bad.error.line)
            } else {
                bad.file.display().to_string()
            };
            return Err(SelectionError {
                message: format!(
                    "builder `{}` (selected by `{}`) cannot be used: {place}: {}",
                    bad.name, t.text, bad.error.message
                ),
                hint: Some(format!(
                    "fix {} (or delete it with `zoryn builder remove {}`), or leave it out with ^{}",
                    bad.file.display(),
                    bad.name,
                    bad.name
                )),
            });
        }
    }
    for t in terms {
        // `^broken` is how a user leaves a broken file out: it matches.
        let names_broken = farm.broken.iter().any(|x| t.atom.matches_name(&x.name));
        if !names_broken && !farm.builders.iter().any(|b| t.atom.matches(b)) {
            return Err(nothing_matches(farm, t));
        }
    }
    let only_exclusions = terms.iter().all(|t| t.exclude);
    let mut kept = Vec::new();
    let mut verdicts = Vec::new();
    for b in &farm.builders {
        let included = if only_exclusions {
            Some("@all (the pattern has only exclusions)".to_string())
        } else {
            terms
                .iter()
                .find(|t| !t.exclude && t.atom.matches(b))
                .map(|t| format!("`{}`", t.text))
        };
        let excluded = terms.iter().find(|t| t.exclude && t.atom.matches(b));
        let (k, reason) = match (included, excluded) {
            (None, _) => (false, "not matched by any term".to_string()),
            (Some(i), Some(e)) => (false, format!("matched {i} but excluded by `^{}`", e.text)),
            (Some(i), None) => (true, format!("matched {i}")),
        };
        if k {
            kept.push(b);
        }
        verdicts.push(Verdict {
            name: b.name.clone(),
            kept: k,
            reason,
        });
    }
    Ok((kept, verdicts))
}

/// Resolve `expr` against the farm (no filters).
pub fn select<'f>(farm: &'f Farm, expr: &str) -> Result<Vec<&'f Builder>, SelectionError> {
    let terms = parse(expr)?;
    let (chosen, _) = evaluate(farm, &terms)?;
    if chosen.is_empty() {
        return Err(SelectionError {
            message: format!("builder pattern \"{expr}\" selects no builder"),
            hint: Some("its exclusions (^...) remove every builder it matches".into()),
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

/// The outcome of choosing builders, with the reasoning.
#[derive(Debug, Clone)]
pub struct Choice<'f> {
    pub builders: Vec<&'f Builder>,
    pub expr: String,
    /// Where the expression came from ("-b", "[builders] default", ...).
    pub source: String,
    pub verdicts: Vec<Verdict>,
}

/// The builders a command runs on, with SPEC 4's defaults: no `-b` →
/// `[builders.<branch>].default` when `-B` names one branch with such a table,
/// else `[builders].default`, else `local`; `default_arch` filters only that
/// default; `-a` and `-B` always intersect.
pub fn choose_explained<'f>(
    farm: &'f Farm,
    cfg: &BuildersSection,
    req: &SelectionRequest,
) -> Result<Choice<'f>, SelectionError> {
    let branch_table = match req.branch.as_slice() {
        [one] => cfg.branches.get(one).map(|t| (one, t)),
        _ => None,
    };
    let (expr, default_arch, source) = match &req.pattern {
        Some(p) => (p.clone(), Vec::new(), "-b".to_string()),
        None => match (
            branch_table.and_then(|(n, t)| t.default.clone().map(|d| (n, d, t))),
            &cfg.default,
        ) {
            (Some((n, d, t)), _) => (d, t.default_arch.clone(), format!("[builders.{n}] default")),
            (None, Some(d)) => (
                d.clone(),
                cfg.default_arch.clone(),
                "[builders] default".to_string(),
            ),
            (None, None) => (
                "local".to_string(),
                cfg.default_arch.clone(),
                "the built-in default".to_string(),
            ),
        },
    };
    let terms = parse(&expr)?;
    let (mut chosen, mut verdicts) = evaluate(farm, &terms)?;
    if chosen.is_empty() {
        return Err(SelectionError {
            message: format!("builder pattern \"{expr}\" (from {source}) selects no builder"),
            hint: Some("its exclusions (^...) remove every builder it matches".into()),
        });
    }
    let mut filter = |label: &str,
                      allowed: &[String],
                      field: fn(&Builder) -> &str,
                      chosen: &mut Vec<&'f Builder>|
     -> Result<(), SelectionError> {
        if allowed.is_empty() {
            return Ok(());
        }
        for b in chosen.iter() {
            if !allowed.iter().any(|a| a == field(b)) {
                if let Some(v) = verdicts.iter_mut().find(|v| v.name == b.name) {
                    v.kept = false;
                    v.reason = format!(
                        "{} but dropped by {label} {} (it is {})",
                        v.reason,
                        allowed.join(","),
                        field(b)
                    );
                }
            }
        }
        chosen.retain(|b| allowed.iter().any(|a| a == field(b)));
        if chosen.is_empty() {
            return Err(SelectionError {
                message: format!("{label} {} left none of the builders \"{expr}\" selects (from {source})", allowed.join(",")),
                hint: Some("check the builders' arch and branch with `zoryn builder list -b PATTERN --explain`".into()),
            });
        }
        Ok(())
    };
    let (arch_filter, arch_label) = if req.arch.is_empty() {
        (default_arch, "default_arch")
    } else {
        (req.arch.clone(), "-a/--arch")
    };
    filter(arch_label, &arch_filter, |b| &b.arch, &mut chosen)?;
    filter("-B/--branch", &req.branch, |b| &b.branch, &mut chosen)?;
    Ok(Choice {
        builders: chosen,
        expr,
        source,
        verdicts,
    })
}

pub fn choose<'f>(
    farm: &'f Farm,
    cfg: &BuildersSection,
    req: &SelectionRequest,
) -> Result<Vec<&'f Builder>, SelectionError> {
    choose_explained(farm, cfg, req).map(|c| c.builders)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::farm::Builder;

    /// A farm like the user guide's: local slots, a bignode with numbered
    /// slots for two branches, an ARM host, an i586 host.
    fn guide_farm() -> Farm {
        let mut v = Vec::new();
        let mut add =
            |name: &str, host: Option<&str>, arch: &str, branch: &str, num: Option<u32>| {
                v.push(Builder::sample(name, host, arch, branch, num));
            };
        add("local", None, "x86_64", "sisyphus", None);
        for n in 2..=4 {
            add(&format!("local{n}"), None, "x86_64", "sisyphus", Some(n));
        }
        for n in 1..=8 {
            add(
                &format!("node{n}"),
                Some("bignode"),
                "x86_64",
                if n <= 4 { "sisyphus" } else { "p11" },
                Some(n),
            );
        }
        add(
            "arm64",
            Some("arm.internal"),
            "aarch64",
            "sisyphus",
            Some(1),
        );
        add("i586", Some("i586.internal"), "i586", "sisyphus", Some(1));
        add("p11-arm", Some("arm.internal"), "aarch64", "p11", Some(2));
        Farm {
            builders: v,
            ..Farm::default()
        }
    }

    fn names(f: &Farm, expr: &str) -> Vec<String> {
        select(f, expr)
            .unwrap_or_else(|e| panic!("{expr}: {e}"))
            .into_iter()
            .map(|b| b.name.clone())
            .collect()
    }

    #[test]
    fn a_name_that_matches_a_broken_file_is_an_error_other_terms_skip_it() {
        let mut f = guide_farm();
        f.broken.push(crate::farm::BrokenBuilder {
            name: "riscv".into(),
            file: "/c/builders.d/riscv.conf".into(),
            error: crate::config::error::ConfigError {
                file: "/c/builders.d/riscv.conf".into(),
                line: 2,
                column: 1,
                key: Some("arhc".into()),
                message: "unknown key `arhc` at the top level".into(),
                hint: None,
            },
        });
        let e = select(&f, "local,riscv").unwrap_err();
        assert_eq!(
            e.message,
            "builder `riscv` (selected by `riscv`) cannot be used: /c/builders.d/riscv.conf:2: unknown key `arhc` at the top level"
        );
        assert!(e.hint.unwrap().contains("zoryn builder remove riscv"));
        assert!(select(&f, "r*").is_err());
        assert_eq!(names(&f, "@all").len(), f.builders.len());
        assert_eq!(names(&f, "^riscv").len(), f.builders.len());
        assert_eq!(names(&f, "@host:bignode"), names(&f, "node*"));
    }

    #[test]
    fn guide_examples() {
        let f = guide_farm();
        assert_eq!(names(&f, "local2"), ["local2"]);
        assert_eq!(names(&f, "local[2-4]"), ["local2", "local3", "local4"]);
        assert_eq!(names(&f, "@all,^local").len(), f.builders.len() - 1);
        assert!(!names(&f, "@all,^local").contains(&"local".to_string()));
        assert_eq!(names(&f, "@host:bignode[2-4]"), ["node2", "node3", "node4"]);
        assert_eq!(names(&f, "@arch:aarch64"), ["arm64", "p11-arm"]);
        assert_eq!(
            names(&f, "@branch:p11"),
            ["node5", "node6", "node7", "node8", "p11-arm"]
        );
        assert_eq!(names(&f, "local, arm64, i586"), ["local", "arm64", "i586"]);
        assert_eq!(
            names(&f, "@host:localhost"),
            ["local", "local2", "local3", "local4"]
        );
        assert_eq!(
            names(&f, "node[1,3,5-7]"),
            ["node1", "node3", "node5", "node6", "node7"]
        );
        assert_eq!(names(&f, "^local*"), names(&f, "@all,^local*"));
        assert_eq!(names(&f, "@host:*.internal"), ["arm64", "i586", "p11-arm"]);
        assert_eq!(names(&f, "loc?l[3]"), ["local3"]);
    }

    #[test]
    fn filters_and_defaults() {
        use crate::config::global::{BranchDefaults, GlobalConfig};
        let f = guide_farm();
        let mut cfg = GlobalConfig::default().builders;
        let req = |p: Option<&str>, a: &[&str], b: &[&str]| SelectionRequest {
            pattern: p.map(str::to_string),
            arch: a.iter().map(|s| s.to_string()).collect(),
            branch: b.iter().map(|s| s.to_string()).collect(),
        };
        let got = |c: Result<Vec<&Builder>, SelectionError>| {
            c.unwrap()
                .into_iter()
                .map(|b| b.name.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(got(choose(&f, &cfg, &req(None, &[], &[]))), ["local"]);
        assert_eq!(
            got(choose(&f, &cfg, &req(Some("@all"), &["aarch64"], &[]))),
            ["arm64", "p11-arm"]
        );
        cfg.default = Some("local, arm64, i586".into());
        cfg.default_arch = vec!["x86_64".into(), "aarch64".into()];
        assert_eq!(
            got(choose(&f, &cfg, &req(None, &[], &[]))),
            ["local", "arm64"]
        );
        // -a replaces default_arch.
        assert_eq!(got(choose(&f, &cfg, &req(None, &["i586"], &[]))), ["i586"]);
        cfg.branches.insert(
            "p11".into(),
            BranchDefaults {
                default: Some("@branch:p11".into()),
                default_arch: vec!["aarch64".into()],
                parallel: None,
            },
        );
        assert_eq!(
            got(choose(&f, &cfg, &req(None, &[], &["p11"]))),
            ["p11-arm"]
        );
        let e = choose(&f, &cfg, &req(Some("local*"), &[], &["p10"])).unwrap_err();
        assert!(
            e.message
                .starts_with("-B/--branch p10 left none of the builders \"local*\""),
            "{e}"
        );
        let e = choose(&f, &cfg, &req(Some("local*"), &["riscv64"], &[])).unwrap_err();
        assert!(e.message.starts_with("-a/--arch riscv64 left none"), "{e}");
    }

    #[test]
    fn explain_says_why() {
        let f = guide_farm();
        let cfg = crate::config::global::GlobalConfig::default().builders;
        let c = choose_explained(
            &f,
            &cfg,
            &SelectionRequest {
                pattern: Some("local*,^local3".into()),
                arch: vec![],
                branch: vec![],
            },
        )
        .unwrap();
        let v = |n: &str| c.verdicts.iter().find(|v| v.name == n).unwrap().clone();
        assert_eq!(v("local2").reason, "matched `local*`");
        assert!(!v("local3").kept);
        assert_eq!(
            v("local3").reason,
            "matched `local*` but excluded by `^local3`"
        );
        assert_eq!(v("arm64").reason, "not matched by any term");
    }

    #[test]
    fn errors_point_at_the_problem() {
        let f = guide_farm();
        let e = select(&f, "lcoal2").unwrap_err();
        assert_eq!(e.message, "no builder matches `lcoal2`");
        assert!(e.hint.unwrap().starts_with("did you mean `local2`?"));
        let e = select(&f, "@host:bignod").unwrap_err();
        assert!(e.hint.unwrap().starts_with("did you mean `@host:bignode`?"));
        let e = parse("local[2-a]").unwrap_err();
        assert!(
            e.message
                .starts_with("malformed builder pattern at column 9: expected a number"),
            "{}",
            e.message
        );
        assert!(
            e.message.ends_with("\n  local[2-a]\n          ^"),
            "{}",
            e.message
        );
        for bad in [
            "", "a,,b", "a b", "@foo:x", "@hosts", "x[3-1]", "x[1", "a,^", "@arch:", "x]",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} parsed");
        }
        let e = select(&f, "local,^local").unwrap_err();
        assert!(e.message.contains("selects no builder"));
    }

    #[test]
    fn parses_whitespace_and_ranges() {
        let t = parse(" a , ^b[1,3-4] ,@host:u@h.x[2]").unwrap();
        assert_eq!(t.len(), 3);
        assert!(t[1].exclude);
        assert_eq!(
            t[1].atom,
            Atom::Name {
                glob: "b".into(),
                range: Some(NumberRange(vec![(1, 1), (3, 4)]))
            }
        );
        assert_eq!(
            t[2].atom,
            Atom::Host {
                glob: "u@h.x".into(),
                range: Some(NumberRange(vec![(2, 2)]))
            }
        );
    }

    #[test]
    fn globs() {
        assert!(glob_match("a*c", "abbbc"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "ac"));
        assert!(glob_match("*.internal", "arm.internal"));
        assert!(!glob_match("node", "node1"));
    }

    mod laws {
        use super::*;
        use proptest::prelude::*;

        fn term() -> impl Strategy<Value = String> {
            prop_oneof![
                Just("local".to_string()),
                Just("local*".to_string()),
                Just("node[1-3]".to_string()),
                Just("node[2,5-8]".to_string()),
                Just("@host:bignode".to_string()),
                Just("@host:bignode[4-6]".to_string()),
                Just("@arch:aarch64".to_string()),
                Just("@branch:p11".to_string()),
                Just("@all".to_string()),
                Just("*4".to_string()),
                Just("i586".to_string()),
            ]
        }

        fn set(f: &Farm, expr: &str) -> Option<std::collections::BTreeSet<String>> {
            let terms = parse(expr).ok()?;
            let (v, _) = evaluate(f, &terms).ok()?;
            Some(v.into_iter().map(|b| b.name.clone()).collect())
        }

        proptest! {
            #[test]
            fn order_does_not_matter(mut ts in proptest::collection::vec((term(), any::<bool>()), 1..6), seed in any::<u64>()) {
                let f = guide_farm();
                let render = |ts: &[(String, bool)]| ts.iter().map(|(t, x)| if *x { format!("^{t}") } else { t.clone() }).collect::<Vec<_>>().join(",");
                let a = set(&f, &render(&ts));
                let n = ts.len();
                ts.rotate_left((seed as usize) % n);
                prop_assert_eq!(a, set(&f, &render(&ts)));
            }

            #[test]
            fn union_minus_exclusions(pos in proptest::collection::vec(term(), 1..4), neg in proptest::collection::vec(term(), 0..3)) {
                let f = guide_farm();
                let mut expected = std::collections::BTreeSet::new();
                for p in &pos { expected.extend(set(&f, p).unwrap()); }
                for n in &neg { for x in set(&f, n).unwrap() { expected.remove(&x); } }
                let mut expr = pos.join(",");
                for n in &neg { expr.push_str(&format!(",^{n}")); }
                prop_assert_eq!(set(&f, &expr).unwrap(), expected);
            }

            #[test]
            fn exclusions_alone_start_from_all(neg in proptest::collection::vec(term(), 1..3)) {
                let f = guide_farm();
                let only: Vec<String> = neg.iter().map(|n| format!("^{n}")).collect();
                let with_all = format!("@all,{}", only.join(","));
                prop_assert_eq!(set(&f, &only.join(",")), set(&f, &with_all));
            }

            #[test]
            fn union_is_idempotent(t in term()) {
                let f = guide_farm();
                prop_assert_eq!(set(&f, &format!("{t},{t}")), set(&f, &t));
            }

            #[test]
            fn ranges_equal_their_listing(a in 1u32..9, len in 0u32..5) {
                let f = guide_farm();
                let b = a + len;
                let listed: Vec<String> = (a..=b).map(|n| format!("node{n}")).filter(|n| f.get(n).is_some()).collect();
                let ranged = set(&f, &format!("node[{a}-{b}]"));
                if listed.is_empty() {
                    prop_assert!(ranged.is_none());
                } else {
                    prop_assert_eq!(ranged.unwrap(), listed.iter().cloned().collect());
                    let host = set(&f, &format!("@host:bignode[{a}-{b}]")).unwrap();
                    prop_assert_eq!(host, listed.into_iter().collect());
                }
            }
        }
    }
}
