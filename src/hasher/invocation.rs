//! Building the `hsh` command line for one builder (SPEC 3.3).
//!
//! The configured template is expanded word by word; then zoryn adds what the
//! slot needs and the template did not say: `--number=N`, the workdir as the
//! first positional argument, `--target=ARCH` when the builder's arch differs
//! from its host's, `--apt-config=FILE`, and the pass-through options.
//! `--skip-check` adds rpmbuild's `--without check` (how ALT's rpm skips
//! `%check`) and hasher's `--no-sisyphus-check`. In the existing chroot
//! (`-r`, `--section`) the same argv is turned into `hsh-rebuild`'s: its own
//! option list (`--args=` for rpmbuild; no `--apt-config`, `--packager`,
//! `--lazy-cleanup`, `--workdir`) and a section's `--rebuild-prog=`.

use super::build_mode::{rebuild_program, BuildMode};
use super::skip_checks::SkipChecks;

use crate::config::template::{CommandTemplate, Placeholder, Vars};

/// Inputs that are not part of the builder.
#[derive(Clone, Debug, Default)]
pub struct HshOptions {
    /// Architecture of the machine hsh runs on (ALT spelling).
    pub host_arch: String,
    /// Expanded workdir on that machine.
    pub workdir: String,
    /// Generated apt.conf on that machine, if any.
    pub apt_config: Option<String>,
    pub rpmbuild_args: Option<String>,
    pub packager: Option<String>,
    /// The source tarball as hsh will see it.
    pub package: String,
    /// Replacement for a leading `hsh` word (`[commands] hsh`).
    pub hsh_program: Vec<String>,
    /// Add `--no-wait-lock` (zoryn waits for busy workdirs itself) unless
    /// the template chose `--wait-lock`/`--no-wait-lock`.
    pub no_wait_lock: bool,
    /// `hsh`, or `hsh-rebuild` in the existing chroot (`-r`, `--section`).
    pub mode: BuildMode,
    /// `--skip-check`: `%check` and hasher's `sisyphus_check`.
    pub skip: SkipChecks,
    /// A section's `--rebuild-prog` script, as a path on the builder's host.
    pub rebuild_prog: Option<String>,
}

/// rpmbuild's option that ALT's rpm skips `%check` with (it defines
/// `_without_check`, which ALT's rpm and specs test).
pub const WITHOUT_CHECK: &str = "--without check";

/// The rpmbuild arguments with `--skip-check`'s `--without check` added.
pub fn rpmbuild_args(opts: &HshOptions) -> Option<String> {
    match (&opts.rpmbuild_args, opts.skip.skips_rpm_check()) {
        (Some(a), true) => Some(format!("{a} {WITHOUT_CHECK}")),
        (None, true) => Some(WITHOUT_CHECK.into()),
        (a, false) => a.clone(),
    }
}

fn has_option(argv: &[String], name: &str) -> bool {
    argv.iter()
        .any(|a| a == name || a.strip_prefix(name).is_some_and(|r| r.starts_with('=')))
}

/// The full argv. `vars` carries the builder's values; `hasher_dir` is taken
/// from `opts.workdir`.
pub fn hsh_argv(
    template: &CommandTemplate,
    vars: &Vars,
    arch: &str,
    opts: &HshOptions,
) -> Vec<String> {
    let mut vars = vars.clone();
    vars.hasher_dir = Some(opts.workdir.clone());
    let mut words = template.argv(&vars);
    let mut program_len = 1;
    if words.first().map(String::as_str) == Some("hsh") && !opts.hsh_program.is_empty() {
        words.splice(0..1, opts.hsh_program.iter().cloned());
        program_len = opts.hsh_program.len();
    }
    let mut argv = words;
    if !template.uses(Placeholder::HasherNumber) && !has_option(&argv, "--number") {
        if let Some(n) = vars.hasher_number {
            argv.push(format!("--number={n}"));
        }
    }
    if arch != opts.host_arch && !has_option(&argv, "--target") {
        argv.push(format!("--target={arch}"));
    }
    if let Some(apt) = &opts.apt_config {
        if !has_option(&argv, "--apt-config") {
            argv.push(format!("--apt-config={apt}"));
        }
    }
    if opts.no_wait_lock
        && !has_option(&argv, "--wait-lock")
        && !has_option(&argv, "--no-wait-lock")
    {
        argv.push("--no-wait-lock".into());
    }
    if let Some(a) = rpmbuild_args(opts) {
        argv.push(format!("--rpmbuild-args={a}"));
    }
    if opts.skip.skips_sisyphus_check() && !has_option(&argv, "--no-sisyphus-check") {
        argv.push("--no-sisyphus-check".into());
    }
    if let Some(p) = &opts.packager {
        argv.push(format!("--packager={p}"));
    }
    if !template.uses(Placeholder::HasherDir) && !has_option(&argv, "--workdir") {
        argv.push(opts.workdir.clone());
    }
    argv.push(opts.package.clone());
    if opts.mode.in_existing_chroot() {
        argv = for_hsh_rebuild(argv, program_len, opts.rebuild_prog.as_deref());
    }
    argv
}

/// hsh-rebuild's long options (hasher's `hsh-rebuild` getopt list).
const REBUILD_OPTIONS: &[&str] = &[
    "args",
    "excludedocs",
    "hasher-priv-dir",
    "install-only",
    "mountpoints",
    "nodeps",
    "no-lock",
    "no-sisyphus-check",
    "no-sisyphus-check-in",
    "no-sisyphus-check-out",
    "no-stuff",
    "number",
    "query-repackage",
    "query-req-prog",
    "rebuild-prog",
    "repo",
    "repo-bin",
    "repo-src",
    "save-fakeroot",
    "source-only",
    "target",
    "wait-lock",
    "no-wait-lock",
    "without-stuff",
    "with-stuff",
    "quiet",
    "verbose",
    "version",
    "help",
];

/// hsh's long options (hasher's `hsh` getopt list) and whether each
/// requires a value (which may then be the next word).
const HSH_OPTIONS: &[(&str, bool)] = &[
    ("apt-config", true),
    ("apt-prefix", true),
    ("build-args", true),
    ("build-srpm-only", false),
    ("cache-compress", true),
    ("cache-dir", true),
    ("cleanup-only", false),
    ("contents-index-all", true),
    ("contents-index-bin", true),
    ("eager-cleanup", false),
    ("excludedocs", false),
    ("hasher-priv-dir", true),
    ("initroot-only", false),
    ("install-langs", true),
    ("lazy-cleanup", false),
    ("mountpoints", true),
    ("no-cache", false),
    ("no-contents-indices", false),
    ("no-repackage-source", false),
    ("no-sisyphus-check", false),
    ("no-sisyphus-check-in", false),
    ("no-sisyphus-check-out", false),
    ("no-stuff", false),
    ("nprocs", true),
    ("number", true),
    ("packager", true),
    ("pkg-build-list", true),
    ("pkg-init-list", true),
    ("query-repackage", false),
    ("query-req-prog", true),
    ("printenv", false),
    ("rebuild-prog", true),
    ("repackage-source", false),
    ("repo", true),
    ("repo-bin", true),
    ("repo-src", true),
    ("rpmbuild-args", true),
    ("save-fakeroot", false),
    ("target", true),
    ("wait-lock", false),
    ("no-wait-lock", false),
    ("without-stuff", false),
    ("with-stuff", false),
    ("with-qemu", true),
    ("workdir", true),
    ("quiet", false),
    ("verbose", false),
    ("version", false),
    ("help", false),
];

/// An hsh long option's full name the way getopt finds it: the exact name,
/// else the only option that starts with it. `None`: unknown or ambiguous
/// (hsh itself would refuse the command; hsh-rebuild is not given it).
fn hsh_option(name: &str) -> Option<(&'static str, bool)> {
    if let Some(o) = HSH_OPTIONS.iter().find(|(n, _)| *n == name) {
        return Some(*o);
    }
    let mut matches = HSH_OPTIONS.iter().filter(|(n, _)| n.starts_with(name));
    match (matches.next(), matches.next()) {
        (Some(o), None) if !name.is_empty() => Some(*o),
        _ => None,
    }
}

/// An hsh argv as `hsh-rebuild`'s: the program's name, `--args=` for
/// rpmbuild's arguments, `--workdir=` as the positional workdir, options
/// hsh-rebuild does not have dropped (they concern the chroot's creation),
/// and `--rebuild-prog=` for a section. The first `program_len` words are the
/// program (`[commands] hsh` may put a wrapper such as `nice -n5` before hsh
/// itself, which is its last word). The last word stays the package.
fn for_hsh_rebuild(
    argv: Vec<String>,
    program_len: usize,
    rebuild_prog: Option<&str>,
) -> Vec<String> {
    let mut words = argv.into_iter();
    let mut out: Vec<String> = words.by_ref().take(program_len.max(1)).collect();
    if let Some(hsh) = out.last_mut() {
        *hsh = rebuild_program(hsh);
    }
    let mut workdir = None;
    while let Some(w) = words.next() {
        let Some(long) = w.strip_prefix("--").filter(|l| !l.is_empty()) else {
            out.push(w);
            continue;
        };
        let (given, inline) = match long.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (long, None),
        };
        let Some((name, needs_value)) = hsh_option(given) else {
            continue;
        };
        let value = match inline {
            Some(v) => Some(v),
            None if needs_value => words.next(),
            None => None,
        };
        match (name, value) {
            ("rpmbuild-args" | "build-args", Some(v)) => out.push(format!("--args={v}")),
            ("workdir", v) => workdir = v,
            (n, Some(v)) if REBUILD_OPTIONS.contains(&n) => out.push(format!("--{n}={v}")),
            (n, None) if REBUILD_OPTIONS.contains(&n) => out.push(format!("--{n}")),
            _ => {}
        }
    }
    let package = out.pop();
    if let Some(p) = rebuild_prog {
        out.push(format!("--rebuild-prog={p}"));
    }
    out.extend(workdir);
    out.extend(package);
    out
}

/// The value of `--name=VALUE` (or `--name VALUE`) in an argv.
pub fn option_value<'a>(argv: &'a [String], name: &str) -> Option<&'a str> {
    let mut it = argv.iter();
    let mut found = None;
    while let Some(a) = it.next() {
        if let Some(v) = a.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
            found = Some(v);
        } else if a == name {
            found = it.next().map(String::as_str);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> HshOptions {
        HshOptions {
            host_arch: "x86_64".into(),
            workdir: "/home/u/hasher 2".into(),
            package: "/tmp/z/hello.tar".into(),
            ..HshOptions::default()
        }
    }

    fn vars(n: Option<u32>) -> Vars {
        Vars {
            hasher_number: n,
            builder: Some("b".into()),
            ..Vars::default()
        }
    }

    #[test]
    fn builtin_local_gets_workdir_and_no_number() {
        let t = CommandTemplate::parse("hsh --lazy-cleanup").unwrap();
        assert_eq!(
            hsh_argv(&t, &vars(None), "x86_64", &opts()),
            [
                "hsh",
                "--lazy-cleanup",
                "/home/u/hasher 2",
                "/tmp/z/hello.tar"
            ]
        );
    }

    #[test]
    fn number_target_apt_and_passthrough_are_added() {
        let t = CommandTemplate::parse("hsh --lazy-cleanup").unwrap();
        let mut o = opts();
        o.apt_config = Some("/c/apt.conf".into());
        o.rpmbuild_args = Some("--with foo".into());
        o.packager = Some("Me <me@x>".into());
        assert_eq!(
            hsh_argv(&t, &vars(Some(2)), "aarch64", &o),
            [
                "hsh",
                "--lazy-cleanup",
                "--number=2",
                "--target=aarch64",
                "--apt-config=/c/apt.conf",
                "--rpmbuild-args=--with foo",
                "--packager=Me <me@x>",
                "/home/u/hasher 2",
                "/tmp/z/hello.tar"
            ]
        );
    }

    #[test]
    fn template_placeholders_suppress_additions() {
        let t = CommandTemplate::parse(
            "hsh --number={hasher_number} --workdir={hasher_dir} --target=i586",
        )
        .unwrap();
        assert_eq!(
            hsh_argv(&t, &vars(Some(3)), "aarch64", &opts()),
            [
                "hsh",
                "--number=3",
                "--workdir=/home/u/hasher 2",
                "--target=i586",
                "/tmp/z/hello.tar"
            ]
        );
    }

    #[test]
    fn no_wait_lock_unless_the_template_chose() {
        let mut o = opts();
        o.no_wait_lock = true;
        let t = CommandTemplate::parse("hsh").unwrap();
        assert!(hsh_argv(&t, &vars(None), "x86_64", &o).contains(&"--no-wait-lock".to_string()));
        let t = CommandTemplate::parse("hsh --wait-lock").unwrap();
        assert!(!hsh_argv(&t, &vars(None), "x86_64", &o).contains(&"--no-wait-lock".to_string()));
    }

    #[test]
    fn hsh_program_override() {
        let t = CommandTemplate::parse("hsh -v").unwrap();
        let mut o = opts();
        o.hsh_program = vec!["/opt/hsh".into(), "--x".into()];
        assert_eq!(
            hsh_argv(&t, &vars(None), "x86_64", &o)[..3],
            ["/opt/hsh", "--x", "-v"]
        );
    }

    #[test]
    fn skip_check_reaches_rpmbuild_and_sisyphus_check() {
        let t = CommandTemplate::parse("hsh").unwrap();
        let mut o = opts();
        o.rpmbuild_args = Some("--with foo".into());
        o.skip = SkipChecks::parse(Some("")).unwrap();
        let argv = hsh_argv(&t, &vars(None), "x86_64", &o);
        assert!(
            argv.contains(&"--rpmbuild-args=--with foo --without check".to_string()),
            "{argv:?}"
        );
        assert!(
            argv.contains(&"--no-sisyphus-check".to_string()),
            "{argv:?}"
        );
        o.skip = SkipChecks::parse(Some("sisyphus_check")).unwrap();
        let argv = hsh_argv(&t, &vars(None), "x86_64", &o);
        assert!(
            argv.contains(&"--rpmbuild-args=--with foo".to_string()),
            "{argv:?}"
        );
        assert!(
            argv.contains(&"--no-sisyphus-check".to_string()),
            "{argv:?}"
        );
    }

    #[test]
    fn rebuild_runs_hsh_rebuild_with_its_own_options() {
        let t = CommandTemplate::parse(
            "hsh --lazy-cleanup -v --packager X --mountpoint=/proc --repo /r --eager",
        )
        .unwrap();
        let mut o = opts();
        o.mode = BuildMode::Rebuild;
        o.apt_config = Some("/c/apt.conf".into());
        o.rpmbuild_args = Some("--with foo".into());
        o.packager = Some("Me <me@x>".into());
        o.no_wait_lock = true;
        assert_eq!(
            hsh_argv(&t, &vars(Some(2)), "aarch64", &o),
            [
                "hsh-rebuild",
                "-v",
                "--mountpoints=/proc",
                "--repo=/r",
                "--number=2",
                "--target=aarch64",
                "--no-wait-lock",
                "--args=--with foo",
                "/home/u/hasher 2",
                "/tmp/z/hello.tar"
            ]
        );
    }

    #[test]
    fn a_wrapper_before_hsh_keeps_its_place() {
        let t = CommandTemplate::parse("hsh").unwrap();
        let mut o = opts();
        o.mode = BuildMode::Rebuild;
        o.hsh_program = vec!["nice".into(), "-n5".into(), "/usr/bin/hsh".into()];
        assert_eq!(
            hsh_argv(&t, &vars(None), "x86_64", &o)[..3],
            ["nice", "-n5", "/usr/bin/hsh-rebuild"]
        );
    }

    #[test]
    fn section_adds_the_rebuild_prog_and_keeps_a_workdir_option() {
        let t = CommandTemplate::parse("/opt/hsh --workdir={hasher_dir}").unwrap();
        let mut o = opts();
        o.mode = BuildMode::Section(super::super::build_mode::Section::Build);
        o.rebuild_prog = Some("/up/section.sh".into());
        assert_eq!(
            hsh_argv(&t, &vars(None), "x86_64", &o),
            [
                "/opt/hsh-rebuild",
                "--rebuild-prog=/up/section.sh",
                "/home/u/hasher 2",
                "/tmp/z/hello.tar"
            ]
        );
    }

    #[test]
    fn option_values() {
        let a: Vec<String> = ["hsh", "--repo=/r", "--target", "i586"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(option_value(&a, "--repo"), Some("/r"));
        assert_eq!(option_value(&a, "--target"), Some("i586"));
        assert_eq!(option_value(&a, "--repo-bin"), None);
    }
}
