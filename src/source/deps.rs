//! Capabilities and requirements as RPM knows them, and RPM's version order.
//!
//! A package (or subpackage) *provides* capabilities (`libfoo`, `libfoo =
//! 1.2-alt1`, `php-ext(json)`); a spec *requires* them for building
//! (`BuildRequires: libfoo-devel >= 1.2`). [`Requirement::satisfied_by`]
//! answers whether one capability meets one requirement, with
//! [`rpmvercmp`]'s ordering of versions. Pure and dependency-free; the spec
//! reader and the batch graph share these types.

use std::cmp::Ordering;
use std::fmt;

/// Comparison in a versioned requirement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
}

impl Op {
    pub fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "<" => Op::Lt,
            "<=" | "=<" => Op::Le,
            "=" | "==" => Op::Eq,
            ">=" | "=>" => Op::Ge,
            ">" => Op::Gt,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Eq => "=",
            Op::Ge => ">=",
            Op::Gt => ">",
        }
    }

    fn accepts(self, ord: Ordering) -> bool {
        match self {
            Op::Lt => ord == Ordering::Less,
            Op::Le => ord != Ordering::Greater,
            Op::Eq => ord == Ordering::Equal,
            Op::Ge => ord != Ordering::Less,
            Op::Gt => ord == Ordering::Greater,
        }
    }
}

/// Something a package provides: a name, maybe with an exact version
/// (`[EPOCH:]VERSION[-RELEASE]`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Capability {
    pub name: String,
    pub version: Option<String>,
}

impl Capability {
    pub fn new(name: impl Into<String>, version: Option<String>) -> Self {
        Capability {
            name: name.into(),
            version,
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.version {
            Some(v) => write!(f, "{} = {v}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// Something a spec needs: a name, maybe with a version constraint.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Requirement {
    pub name: String,
    pub constraint: Option<(Op, String)>,
}

impl Requirement {
    pub fn new(name: impl Into<String>, constraint: Option<(Op, String)>) -> Self {
        Requirement {
            name: name.into(),
            constraint,
        }
    }

    /// Whether `cap` meets this requirement. An unversioned capability meets
    /// any constraint on its name (as rpm treats unversioned provides).
    pub fn satisfied_by(&self, cap: &Capability) -> bool {
        if cap.name != self.name {
            return false;
        }
        match (&self.constraint, &cap.version) {
            (None, _) | (Some(_), None) => true,
            (Some((op, want)), Some(have)) => op.accepts(compare_evr(have, want)),
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.constraint {
            Some((op, v)) => write!(f, "{} {} {v}", self.name, op.as_str()),
            None => f.write_str(&self.name),
        }
    }
}

fn split_evr(evr: &str) -> (u64, &str, Option<&str>) {
    let (epoch, rest) = match evr.split_once(':') {
        Some((e, r)) if e.chars().all(|c| c.is_ascii_digit()) && !e.is_empty() => {
            (e.parse().unwrap_or(0), r)
        }
        _ => (0, evr),
    };
    match rest.rsplit_once('-') {
        Some((v, r)) => (epoch, v, Some(r)),
        None => (epoch, rest, None),
    }
}

/// Compare two `[E:]V[-R]` strings the way rpm does; a side without a release
/// compares equal on release (so `>= 1.2` accepts `1.2-alt3`).
pub fn compare_evr(a: &str, b: &str) -> Ordering {
    let (ea, va, ra) = split_evr(a);
    let (eb, vb, rb) = split_evr(b);
    ea.cmp(&eb)
        .then_with(|| rpmvercmp(va, vb))
        .then_with(|| match (ra, rb) {
            (Some(x), Some(y)) => rpmvercmp(x, y),
            _ => Ordering::Equal,
        })
}

/// rpm's `rpmvercmp`: split into alternating digit and letter runs
/// (separators ignored), numbers compare numerically and beat letters, `~`
/// sorts before anything (pre-releases), `^` after the base version.
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    loop {
        while i < a.len() && !a[i].is_ascii_alphanumeric() && a[i] != b'~' && a[i] != b'^' {
            i += 1;
        }
        while j < b.len() && !b[j].is_ascii_alphanumeric() && b[j] != b'~' && b[j] != b'^' {
            j += 1;
        }
        // Tilde: earlier than everything, even the end.
        let (ta, tb) = (a.get(i) == Some(&b'~'), b.get(j) == Some(&b'~'));
        if ta || tb {
            if !(ta && tb) {
                return if ta {
                    Ordering::Less
                } else {
                    Ordering::Greater
                };
            }
            i += 1;
            j += 1;
            continue;
        }
        // Caret: later than the end, earlier than anything else.
        let (ca, cb) = (a.get(i) == Some(&b'^'), b.get(j) == Some(&b'^'));
        if ca || cb {
            if i >= a.len() {
                return Ordering::Less;
            }
            if j >= b.len() {
                return Ordering::Greater;
            }
            if !(ca && cb) {
                return if ca {
                    Ordering::Less
                } else {
                    Ordering::Greater
                };
            }
            i += 1;
            j += 1;
            continue;
        }
        if i >= a.len() || j >= b.len() {
            break;
        }
        let numeric = a[i].is_ascii_digit();
        let run = |s: &[u8], mut k: usize| {
            let start = k;
            while k < s.len()
                && if numeric {
                    s[k].is_ascii_digit()
                } else {
                    s[k].is_ascii_alphabetic()
                }
            {
                k += 1;
            }
            (start, k)
        };
        let (sa, ea) = run(a, i);
        let (sb, eb) = run(b, j);
        if sb == eb {
            // Different kinds of segment: numbers are newer than letters.
            return if numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let (mut x, y) = (&a[sa..ea], &b[sb..eb]);
        let mut y = y;
        if numeric {
            while x.len() > 1 && x[0] == b'0' {
                x = &x[1..];
            }
            while y.len() > 1 && y[0] == b'0' {
                y = &y[1..];
            }
            let c = x.len().cmp(&y.len()).then_with(|| x.cmp(y));
            if c != Ordering::Equal {
                return c;
            }
        } else {
            let c = x.cmp(y);
            if c != Ordering::Equal {
                return c;
            }
        }
        i = ea;
        j = eb;
    }
    match (i >= a.len(), j >= b.len()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn rpmvercmp_matches_rpm() {
        // Cases from rpm's own test suite (rpmvercmp.at).
        let cases = [
            ("1.0", "1.0", Equal),
            ("1.0", "2.0", Less),
            ("2.0.1", "2.0", Greater),
            ("2.0.1a", "2.0.1", Greater),
            ("5.5p1", "5.5p2", Less),
            ("5.5p10", "5.5p1", Greater),
            ("10xyz", "10.1xyz", Less),
            ("xyz10", "xyz10.1", Less),
            ("1.0aa", "1.0a", Greater),
            ("6.0.rc1", "6.0", Greater),
            ("10b2", "10a1", Greater),
            ("1.0~rc1", "1.0", Less),
            ("1.0~rc1", "1.0~rc2", Less),
            ("1.0~rc1~git123", "1.0~rc1", Less),
            ("1.0^", "1.0", Greater),
            ("1.0^git1", "1.0^git2", Less),
            ("1.0^git1", "1.01", Less),
            ("1.0^20160101", "1.0.1", Less),
            ("a", "1", Less),
            ("1.01", "1.1", Equal),
            ("1.010", "1.9", Greater),
            ("alt1", "alt2", Less),
            ("alt10", "alt9", Greater),
        ];
        for (a, b, want) in cases {
            assert_eq!(rpmvercmp(a, b), want, "{a} vs {b}");
            assert_eq!(rpmvercmp(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn evr_and_requirements() {
        assert_eq!(compare_evr("1:1.0-alt1", "2.0-alt1"), Greater);
        assert_eq!(compare_evr("1.2", "1.2-alt3"), Equal);
        let r = Requirement::new("libfoo", Some((Op::Ge, "1.2".into())));
        assert!(r.satisfied_by(&Capability::new("libfoo", Some("1.3-alt1".into()))));
        assert!(!r.satisfied_by(&Capability::new("libfoo", Some("1.1-alt9".into()))));
        assert!(r.satisfied_by(&Capability::new("libfoo", None)));
        assert!(!r.satisfied_by(&Capability::new("libbar", None)));
        let lt = Requirement::new("x", Some((Op::Lt, "2".into())));
        assert!(lt.satisfied_by(&Capability::new("x", Some("1.9-alt1".into()))));
        assert_eq!(r.to_string(), "libfoo >= 1.2");
    }
}
