//! Building the `hsh` command line for one builder (SPEC 3.3).
//!
//! The configured template is expanded word by word; then zoryn adds what the
//! slot needs and the template did not say: `--number=N`, the workdir as the
//! first positional argument, `--target=ARCH` when the builder's arch differs
//! from its host's, `--apt-config=FILE`, and the pass-through options.

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
    if words.first().map(String::as_str) == Some("hsh") && !opts.hsh_program.is_empty() {
        words.splice(0..1, opts.hsh_program.iter().cloned());
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
    if let Some(a) = &opts.rpmbuild_args {
        argv.push(format!("--rpmbuild-args={a}"));
    }
    if let Some(p) = &opts.packager {
        argv.push(format!("--packager={p}"));
    }
    if !template.uses(Placeholder::HasherDir) && !has_option(&argv, "--workdir") {
        argv.push(opts.workdir.clone());
    }
    argv.push(opts.package.clone());
    argv
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
