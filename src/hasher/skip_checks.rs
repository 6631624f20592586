//! `--skip-check[=LIST]`: which checks a build leaves out.
//!
//! One typed value, parsed once from the flag and read by whoever runs a
//! check: the hsh argv (`%check` through rpmbuild's `--without check`,
//! hasher's own `sisyphus_check` through `--no-sisyphus-check`) and the
//! post-build checks of `[checks] commands` (by tool name). Owns the parsing
//! and the questions; must not run anything or know how a check is run.

use std::collections::BTreeSet;

/// The name in LIST that skips the spec's `%check` (rpmbuild's stage).
pub const RPM_CHECK: &str = "rpmbuild";
/// hasher's own check of a build's input and output.
pub const SISYPHUS_CHECK: &str = "sisyphus_check";

/// What `--skip-check` asked to leave out. The default skips nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SkipChecks {
    /// Skip the spec's `%check` section.
    pub rpm_check: bool,
    /// Post-build check tools (and `sisyphus_check`) skipped by name.
    pub tools: BTreeSet<String>,
    /// `--skip-check` without a value, or with `all`: skip everything.
    pub all: bool,
}

impl SkipChecks {
    /// The flag's value: `None` when the flag is absent; `Some("")` when it
    /// was given without a value (= everything); else a comma-separated
    /// list of `all`, `rpmbuild` (or `%check`) and tool names.
    pub fn parse(value: Option<&str>) -> Result<SkipChecks, String> {
        let Some(value) = value else {
            return Ok(SkipChecks::default());
        };
        let mut s = SkipChecks::default();
        if value.trim().is_empty() {
            s.all = true;
            return Ok(s);
        }
        for name in value.split(',').map(str::trim) {
            match name {
                "" => {
                    return Err(format!(
                        "--skip-check={value}: empty name in the list (names are separated by single commas)"
                    ))
                }
                "all" => s.all = true,
                RPM_CHECK | "%check" => s.rpm_check = true,
                n if n
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-.+".contains(c)) =>
                {
                    s.tools.insert(n.to_string());
                }
                n => {
                    return Err(format!(
                        "--skip-check={value}: `{n}` is not a check name (use `all`, `{RPM_CHECK}` for the spec's %check, or a tool's name such as `{SISYPHUS_CHECK}`)"
                    ))
                }
            }
        }
        Ok(s)
    }

    /// Is the post-build check (or hasher check) `tool` skipped? `tool` is
    /// the basename of the check command's first word.
    pub fn skips(&self, tool: &str) -> bool {
        self.all || self.tools.contains(tool)
    }

    /// Is the spec's `%check` skipped?
    pub fn skips_rpm_check(&self) -> bool {
        self.all || self.rpm_check
    }

    /// Is hasher's `sisyphus_check` (input and output) skipped?
    pub fn skips_sisyphus_check(&self) -> bool {
        self.skips(SISYPHUS_CHECK)
    }

    /// Nothing is skipped.
    pub fn is_empty(&self) -> bool {
        *self == SkipChecks::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_skips_nothing_and_bare_skips_everything() {
        let none = SkipChecks::parse(None).unwrap();
        assert!(none.is_empty());
        assert!(!none.skips("sisyphus_check") && !none.skips_rpm_check());
        for bare in ["", "all", "rpmbuild,all"] {
            let all = SkipChecks::parse(Some(bare)).unwrap();
            assert!(all.all, "{bare}");
            assert!(all.skips("anything") && all.skips_rpm_check() && all.skips_sisyphus_check());
        }
    }

    #[test]
    fn names_skip_only_themselves() {
        let s = SkipChecks::parse(Some("sisyphus_check, rpmlint")).unwrap();
        assert!(s.skips_sisyphus_check() && s.skips("rpmlint"));
        assert!(!s.skips_rpm_check() && !s.skips("repocop"));
        let s = SkipChecks::parse(Some("%check")).unwrap();
        assert!(s.skips_rpm_check() && !s.skips_sisyphus_check());
        assert_eq!(s, SkipChecks::parse(Some("rpmbuild")).unwrap());
    }

    #[test]
    fn bad_lists_are_errors_that_say_what_is_allowed() {
        let e = SkipChecks::parse(Some("a,,b")).unwrap_err();
        assert!(e.contains("empty name"), "{e}");
        let e = SkipChecks::parse(Some("rm -rf")).unwrap_err();
        assert!(
            e.contains("`rm -rf` is not a check name") && e.contains("sisyphus_check"),
            "{e}"
        );
    }
}
