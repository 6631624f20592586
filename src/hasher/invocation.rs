//! Building the `hsh` command line for one builder (SPEC 3.3).
//!
//! The configured template is expanded word by word and read with hsh's own
//! getopt rules ([`super::hsh_options`]); then zoryn adds what the slot needs
//! and the template did not say: `--number=N`, `--target=ARCH` when the
//! builder's arch differs from its host's, `--apt-config=FILE`,
//! `--no-wait-lock`, the pass-through options (before a template's `--`),
//! and the workdir as the first positional argument only when the template
//! has neither `--workdir` nor a positional one. The result carries the
//! parsed options, so every check sees what hsh will see. Starts nothing.
//!
//! `--skip-check` adds rpmbuild's `--without check` (how ALT's rpm skips
//! `%check`) and hasher's `--no-sisyphus-check`. In the existing chroot
//! (`-r`, `--section`) the same argv is turned into `hsh-rebuild`'s: its own
//! option list (`--args=` for rpmbuild; no `--apt-config`, `--packager`,
//! `--lazy-cleanup`, `--workdir`) and a section's `--rebuild-prog=`.

use super::build_mode::{rebuild_program, BuildMode};
use super::hsh_options::{self, HshArgs, HshOptionError};
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

/// The argv zoryn runs and the options hsh will parse out of it.
#[derive(Clone, Debug)]
pub struct HshCommand {
    pub argv: Vec<String>,
    /// hsh's view of `argv` (after the program words).
    pub args: HshArgs,
}

impl HshCommand {
    /// The workdir hsh will use: `--workdir`, else its first positional.
    pub fn workdir(&self) -> Option<&str> {
        self.args.workdir()
    }

    /// The hasher-priv subconfig number hsh will ask for: `--number`, else
    /// the builder's (`None`: the default slot).
    pub fn number(&self, builder_number: Option<u32>) -> Option<u32> {
        match self.args.value("--number") {
            Some(v) => v.parse().ok().filter(|n| *n != 0),
            None => builder_number,
        }
    }

    /// The target hsh builds for.
    pub fn target<'a>(&'a self, builder_arch: &'a str) -> &'a str {
        self.args.value("--target").unwrap_or(builder_arch)
    }
}

/// Remove a `--number` whose value is empty (a `{hasher_number}` of a
/// builder without one) from `argv`; true when something was removed.
fn drop_empty_number(argv: &mut Vec<String>, given: &HshArgs, program_words: usize) -> bool {
    let mut drop: Vec<usize> = Vec::new();
    for o in &given.options {
        if o.name == "--number" && o.value.as_deref() == Some("") {
            let at = o.index + program_words.max(1);
            drop.push(at);
            if argv.get(at).is_some_and(|w| !w.contains('=')) {
                drop.push(at + 1);
            }
        }
    }
    drop.sort_unstable();
    for at in drop.iter().rev() {
        if *at < argv.len() {
            argv.remove(*at);
        }
    }
    !drop.is_empty()
}

/// The full command. `vars` carries the builder's values; `hasher_dir` is
/// taken from `opts.workdir`. Fails when the template itself is not a
/// command line hsh accepts (getopt's own message).
pub fn hsh_argv(
    template: &CommandTemplate,
    vars: &Vars,
    arch: &str,
    opts: &HshOptions,
) -> Result<HshCommand, HshOptionError> {
    let mut vars = vars.clone();
    vars.hasher_dir = Some(opts.workdir.clone());
    let mut argv = template.argv(&vars);
    let mut program_words = 1;
    if argv.first().map(String::as_str) == Some("hsh") && !opts.hsh_program.is_empty() {
        argv.splice(0..1, opts.hsh_program.iter().cloned());
        program_words = opts.hsh_program.len();
    }
    let mut given = hsh_options::parse_argv(&argv, program_words)?;
    if vars.hasher_number.is_none() && drop_empty_number(&mut argv, &given, program_words) {
        // The built-in `local` has no hasher number and passes none, even
        // through a template written for numbered slots (SPEC 3.3).
        given = hsh_options::parse_argv(&argv, program_words)?;
    }
    let mut added: Vec<String> = Vec::new();
    if !template.uses(Placeholder::HasherNumber) && !given.has("--number") {
        if let Some(n) = vars.hasher_number {
            added.push(format!("--number={n}"));
        }
    }
    if arch != opts.host_arch && !given.has("--target") {
        added.push(format!("--target={arch}"));
    }
    if let Some(apt) = &opts.apt_config {
        if !given.has("--apt-config") {
            added.push(format!("--apt-config={apt}"));
        }
    }
    if opts.no_wait_lock && !given.has("--wait-lock") && !given.has("--no-wait-lock") {
        added.push("--no-wait-lock".into());
    }
    if let Some(a) = rpmbuild_args(opts) {
        added.push(format!("--rpmbuild-args={a}"));
    }
    if opts.skip.skips_sisyphus_check() && !given.has("--no-sisyphus-check") {
        added.push("--no-sisyphus-check".into());
    }
    if let Some(p) = &opts.packager {
        added.push(format!("--packager={p}"));
    }
    // Options go before a `--` of the template, where getopt still reads them.
    let at = given
        .end_of_options
        .map_or(argv.len(), |i| i + program_words.max(1));
    argv.splice(at..at, added);
    // The workdir reaches hsh exactly once: as the template's --workdir or
    // first positional, else as the first positional zoryn adds.
    if given.workdir().is_none() {
        argv.push(opts.workdir.clone());
    }
    argv.push(opts.package.clone());
    let args = hsh_options::parse_argv(&argv, program_words)?;
    if opts.mode.in_existing_chroot() {
        argv = for_hsh_rebuild(&argv, program_words, &args, opts.rebuild_prog.as_deref());
    }
    Ok(HshCommand { argv, args })
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

/// An hsh command as `hsh-rebuild`'s: the program's name, `--args=` for
/// rpmbuild's arguments, the workdir (hsh's `--workdir` or first positional)
/// as the positional one, options hsh-rebuild does not have dropped (they
/// concern the chroot's creation), and `--rebuild-prog=` for a section. The
/// first `program_words` words are the program (`[commands] hsh` may put a
/// wrapper such as `nice -n5` before hsh itself, which is its last word).
fn for_hsh_rebuild(
    argv: &[String],
    program_words: usize,
    args: &HshArgs,
    rebuild_prog: Option<&str>,
) -> Vec<String> {
    let mut out: Vec<String> = argv.iter().take(program_words.max(1)).cloned().collect();
    if let Some(hsh) = out.last_mut() {
        *hsh = rebuild_program(hsh);
    }
    for o in &args.options {
        let Some(name) = o.name.strip_prefix("--") else {
            out.push(o.name.clone()); // -v, -q
            continue;
        };
        // An optional value given empty is no value (`--no-sisyphus-check`).
        let value = o
            .value
            .as_deref()
            .filter(|v| !v.is_empty() || name == "args");
        match (name, value) {
            ("rpmbuild-args" | "build-args", Some(v)) => out.push(format!("--args={v}")),
            ("workdir", _) => {}
            (n, Some(v)) if REBUILD_OPTIONS.contains(&n) => out.push(format!("--{n}={v}")),
            (n, None) if REBUILD_OPTIONS.contains(&n) => out.push(format!("--{n}")),
            _ => {}
        }
    }
    if let Some(p) = rebuild_prog {
        out.push(format!("--rebuild-prog={p}"));
    }
    out.extend(args.workdir().map(str::to_string));
    out.extend(args.positionals.last().cloned());
    out
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
            hsh_argv(&t, &vars(None), "x86_64", &opts()).unwrap().argv,
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
            hsh_argv(&t, &vars(Some(2)), "aarch64", &o).unwrap().argv,
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
            hsh_argv(&t, &vars(Some(3)), "aarch64", &opts())
                .unwrap()
                .argv,
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
        assert!(hsh_argv(&t, &vars(None), "x86_64", &o)
            .unwrap()
            .argv
            .contains(&"--no-wait-lock".to_string()));
        let t = CommandTemplate::parse("hsh --wait-lock").unwrap();
        assert!(!hsh_argv(&t, &vars(None), "x86_64", &o)
            .unwrap()
            .argv
            .contains(&"--no-wait-lock".to_string()));
    }

    #[test]
    fn hsh_program_override() {
        let t = CommandTemplate::parse("hsh -v").unwrap();
        let mut o = opts();
        o.hsh_program = vec!["/opt/hsh".into(), "--x".into()];
        assert_eq!(
            hsh_argv(&t, &vars(None), "x86_64", &o).unwrap().argv[..3],
            ["/opt/hsh", "--x", "-v"]
        );
    }

    /// SPEC 3.3's documented template: the workdir reaches hsh once, the
    /// number comes from the template, `--mountpoint=` is `--mountpoints`.
    #[test]
    fn documented_template() {
        let t = CommandTemplate::parse(
            "hsh -v --number={hasher_number} --mountpoint=/proc,/dev/pts,/dev/kvm --lazy-cleanup {hasher_dir}",
        )
        .unwrap();
        let mut o = opts();
        o.apt_config = Some("/c/apt.conf".into());
        let c = hsh_argv(&t, &vars(Some(2)), "x86_64", &o).unwrap();
        assert_eq!(
            c.argv,
            [
                "hsh",
                "-v",
                "--number=2",
                "--mountpoint=/proc,/dev/pts,/dev/kvm",
                "--lazy-cleanup",
                "/home/u/hasher 2",
                "--apt-config=/c/apt.conf",
                "/tmp/z/hello.tar"
            ]
        );
        assert_eq!(c.args.mountpoints(), ["/proc", "/dev/pts", "/dev/kvm"]);
        assert_eq!(c.workdir(), Some("/home/u/hasher 2"));
        assert_eq!(c.number(None), Some(2));
    }

    #[test]
    fn a_builder_without_a_number_passes_none_through_a_numbered_template() {
        for raw in [
            "hsh -v --number={hasher_number} --lazy-cleanup {hasher_dir}",
            "hsh -v --numb {hasher_number} --lazy-cleanup {hasher_dir}",
        ] {
            let t = CommandTemplate::parse(raw).unwrap();
            let c = hsh_argv(&t, &vars(None), "x86_64", &opts()).unwrap();
            assert_eq!(
                c.argv,
                [
                    "hsh",
                    "-v",
                    "--lazy-cleanup",
                    "/home/u/hasher 2",
                    "/tmp/z/hello.tar"
                ],
                "{raw}"
            );
            assert_eq!(c.number(None), None);
        }
    }

    #[test]
    fn prefixes_in_the_template_win_and_double_dash_is_respected() {
        let t = CommandTemplate::parse("hsh --apt-c=/mine.conf --nu 5 --targ i586 --wo /w -- ")
            .unwrap();
        let mut o = opts();
        o.apt_config = Some("/c/apt.conf".into());
        let c = hsh_argv(&t, &vars(Some(2)), "aarch64", &o).unwrap();
        assert_eq!(c.args.value("--apt-config"), Some("/mine.conf"));
        assert_eq!(c.number(Some(2)), Some(5));
        assert_eq!(c.target("aarch64"), "i586");
        assert_eq!(c.workdir(), Some("/w"));
        assert_eq!(c.args.positionals, ["/tmp/z/hello.tar"]);
        let t = CommandTemplate::parse("hsh -- {hasher_dir}").unwrap();
        let c = hsh_argv(&t, &vars(Some(2)), "aarch64", &opts()).unwrap();
        assert_eq!(
            c.argv,
            [
                "hsh",
                "--number=2",
                "--target=aarch64",
                "--",
                "/home/u/hasher 2",
                "/tmp/z/hello.tar"
            ]
        );
    }

    #[test]
    fn a_template_hsh_refuses_is_an_error() {
        let t = CommandTemplate::parse("hsh --w {hasher_dir}").unwrap();
        let e = hsh_argv(&t, &vars(None), "x86_64", &opts()).unwrap_err();
        assert!(
            e.to_string().starts_with("option '--w' is ambiguous"),
            "{e}"
        );
    }

    #[test]
    fn skip_check_reaches_rpmbuild_and_sisyphus_check() {
        let t = CommandTemplate::parse("hsh").unwrap();
        let mut o = opts();
        o.rpmbuild_args = Some("--with foo".into());
        o.skip = SkipChecks::parse(Some("")).unwrap();
        let argv = hsh_argv(&t, &vars(None), "x86_64", &o).unwrap().argv;
        assert!(
            argv.contains(&"--rpmbuild-args=--with foo --without check".to_string()),
            "{argv:?}"
        );
        assert!(
            argv.contains(&"--no-sisyphus-check".to_string()),
            "{argv:?}"
        );
        o.skip = SkipChecks::parse(Some("sisyphus_check")).unwrap();
        let argv = hsh_argv(&t, &vars(None), "x86_64", &o).unwrap().argv;
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
            hsh_argv(&t, &vars(Some(2)), "aarch64", &o).unwrap().argv,
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
            hsh_argv(&t, &vars(None), "x86_64", &o).unwrap().argv[..3],
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
            hsh_argv(&t, &vars(None), "x86_64", &o).unwrap().argv,
            [
                "/opt/hsh-rebuild",
                "--rebuild-prog=/up/section.sh",
                "/home/u/hasher 2",
                "/tmp/z/hello.tar"
            ]
        );
    }
}
