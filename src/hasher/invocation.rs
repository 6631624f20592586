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

use super::hsh_options::{self, HshArgs, HshOptionError};
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
    if let Some(a) = &opts.rpmbuild_args {
        added.push(format!("--rpmbuild-args={a}"));
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
    Ok(HshCommand { argv, args })
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
}
