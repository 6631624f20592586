//! Upstream versions: tag names mapped to versions, prerelease detection,
//! and picking the newest one in rpm's version order.
//!
//! Pure functions only; must not run git or read files.

use std::cmp::Ordering;

use crate::source::deps::rpmvercmp;

/// A version found upstream and where it came from (a tag name or an
/// archive URL).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub version: String,
    /// The tag name (git scheme) or the archive URL (tarball scheme).
    pub origin: String,
}

/// Words that mark a prerelease (case-insensitive), as upstreams write them.
const PRERELEASE_WORDS: [&str; 5] = ["rc", "beta", "alpha", "pre", "dev"];

/// The version a tag names, with the usual prefixes taken off: `v1.2`,
/// `V1.2`, `NAME-1.2`, `NAME_1.2`, `NAME-v1.2`, `release-1.2`, `1.2`.
/// `None` for tags that do not name a version (`latest`, `debian/1.0-1`).
/// A `-` inside is turned into `.` (rpm versions cannot hold `-`), and
/// `1_2_3` into `1.2.3`.
pub fn version_from_tag(tag: &str, package: &str) -> Option<String> {
    let mut rest = tag;
    for prefix in [
        format!("{package}-"),
        format!("{package}_"),
        "release-".to_string(),
    ] {
        if let Some(r) = rest.strip_prefix(prefix.as_str()) {
            rest = r;
            break;
        }
    }
    if let Some(r) = rest.strip_prefix(['v', 'V']) {
        rest = r;
    }
    if !rest.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    if !rest
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | '~'))
    {
        return None;
    }
    let mut v = rest.replace('-', ".");
    if !v.contains('.') && v.contains('_') {
        v = v.replace('_', ".");
    }
    Some(v)
}

/// The version a tag names when `.gear/rules` fixes the tag's form
/// (`tar: PREFIX@version@:.`): the rest after PREFIX, verbatim, so that
/// gear finds the tag again from the spec's Version. `None` for tags of
/// another form, or whose rest is no rpm version (empty, not starting with
/// a digit, or holding `-`).
pub fn version_from_tag_with_prefix(tag: &str, prefix: &str) -> Option<String> {
    let rest = tag.strip_prefix(prefix)?;
    let ok = rest.starts_with(|c: char| c.is_ascii_digit())
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '~'));
    ok.then(|| rest.to_string())
}

/// Whether a version is a prerelease (`1.3rc1`, `1.3.beta2`, `2.0-alpha`).
pub fn is_prerelease(version: &str) -> bool {
    let lower = version.to_ascii_lowercase();
    // Letters runs only: `1.3rc1` has the run `rc`.
    lower
        .split(|c: char| !c.is_ascii_alphabetic())
        .any(|run| PRERELEASE_WORDS.contains(&run))
}

/// What [`choose`] decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Choice {
    /// Nothing newer than the current version.
    UpToDate {
        /// Newer prereleases that were left out (shown with a `-f` hint).
        skipped_prereleases: Vec<String>,
    },
    Newer(Candidate),
}

/// The newest candidate newer than `current` in rpm's order. Prereleases
/// are left out unless `force`; with `force`, a current prerelease may also
/// move to its stable release (`1.3rc1` → `1.3`), which rpm orders lower.
pub fn choose(current: &str, candidates: &[Candidate], force: bool) -> Choice {
    let newer = |c: &&Candidate| rpmvercmp(&c.version, current) == Ordering::Greater;
    let best = candidates
        .iter()
        .filter(|c| force || !is_prerelease(&c.version))
        .filter(newer)
        .max_by(|a, b| rpmvercmp(&a.version, &b.version));
    if let Some(b) = best {
        return Choice::Newer(b.clone());
    }
    if force && is_prerelease(current) {
        let stable = candidates
            .iter()
            .filter(|c| !is_prerelease(&c.version) && c.version != current)
            .filter(|c| current.starts_with(c.version.as_str()))
            .max_by(|a, b| rpmvercmp(&a.version, &b.version));
        if let Some(s) = stable {
            return Choice::Newer(s.clone());
        }
    }
    let mut skipped: Vec<String> = candidates
        .iter()
        .filter(|c| is_prerelease(&c.version))
        .filter(newer)
        .map(|c| c.version.clone())
        .collect();
    skipped.sort_by(|a, b| rpmvercmp(a, b));
    skipped.dedup();
    Choice::UpToDate {
        skipped_prereleases: skipped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cands(tags: &[&str]) -> Vec<Candidate> {
        tags.iter()
            .filter_map(|t| {
                version_from_tag(t, "hello").map(|v| Candidate {
                    version: v,
                    origin: t.to_string(),
                })
            })
            .collect()
    }

    #[test]
    fn usual_prefixes_map_to_versions() {
        assert_eq!(version_from_tag("v1.2", "hello").as_deref(), Some("1.2"));
        assert_eq!(version_from_tag("1.2", "hello").as_deref(), Some("1.2"));
        assert_eq!(
            version_from_tag("hello-1.2", "hello").as_deref(),
            Some("1.2")
        );
        assert_eq!(
            version_from_tag("hello_1_2_3", "hello").as_deref(),
            Some("1.2.3")
        );
        assert_eq!(
            version_from_tag("hello-v2.0", "hello").as_deref(),
            Some("2.0")
        );
        assert_eq!(
            version_from_tag("v1.3-rc1", "hello").as_deref(),
            Some("1.3.rc1")
        );
        assert_eq!(version_from_tag("latest", "hello"), None);
        assert_eq!(version_from_tag("other-1.2", "hello"), None);
        assert_eq!(version_from_tag("debian/1.0-1", "hello"), None);
    }

    #[test]
    fn rules_prefix_maps_tags_verbatim() {
        let p = "libssh2-";
        assert_eq!(
            version_from_tag_with_prefix("libssh2-1.11.0", p).as_deref(),
            Some("1.11.0")
        );
        assert_eq!(version_from_tag_with_prefix("v1.11.0", p), None);
        assert_eq!(version_from_tag_with_prefix("libssh2-1.11.0-rc1", p), None);
        assert_eq!(
            version_from_tag_with_prefix("v2.0rc1", "v").as_deref(),
            Some("2.0rc1")
        );
        assert_eq!(
            version_from_tag_with_prefix("1.2", "").as_deref(),
            Some("1.2")
        );
    }

    #[test]
    fn prereleases_are_recognised() {
        for v in [
            "1.3rc1",
            "1.3.rc1",
            "2.0.beta",
            "2.0alpha2",
            "1.0.pre3",
            "1.0.dev1",
        ] {
            assert!(is_prerelease(v), "{v}");
        }
        for v in ["1.3", "1.3.1", "2.0b", "1.0.p1", "7.0.precise"] {
            assert!(!is_prerelease(v), "{v}");
        }
    }

    #[test]
    fn newest_in_rpm_order_not_string_order() {
        let c = cands(&["v1.0", "v1.9", "v1.10", "v1.2"]);
        assert_eq!(
            choose("1.0", &c, false),
            Choice::Newer(Candidate {
                version: "1.10".into(),
                origin: "v1.10".into()
            })
        );
    }

    #[test]
    fn prereleases_skipped_unless_forced() {
        let c = cands(&["v1.0", "v1.1", "v1.2-rc1"]);
        match choose("1.0", &c, false) {
            Choice::Newer(n) => assert_eq!(n.origin, "v1.1"),
            other => panic!("{other:?}"),
        }
        match choose("1.0", &c, true) {
            Choice::Newer(n) => assert_eq!(n.origin, "v1.2-rc1"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            choose("1.1", &c, false),
            Choice::UpToDate {
                skipped_prereleases: vec!["1.2.rc1".into()]
            }
        );
    }

    #[test]
    fn force_moves_a_prerelease_to_its_stable_release() {
        let c = cands(&["v1.3", "v1.3-rc1"]);
        assert!(matches!(
            choose("1.3.rc1", &c, false),
            Choice::UpToDate { .. }
        ));
        match choose("1.3.rc1", &c, true) {
            Choice::Newer(n) => assert_eq!(n.version, "1.3"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn up_to_date_when_nothing_is_newer() {
        let c = cands(&["v0.9", "v1.0"]);
        assert_eq!(
            choose("1.0", &c, false),
            Choice::UpToDate {
                skipped_prereleases: vec![]
            }
        );
    }
}
