//! `~/.zoryn`: the global settings (SPEC 3.1), parsed into typed values.
//!
//! Every key has a default, so a missing file is an empty one. Unknown keys,
//! wrong types and unknown template placeholders are [`ConfigError`]s at the
//! exact line. Per-branch tables `[builders.<branch>]` are any sub-table of
//! `[builders]`.
//!
//! The file is shared with the rest of the zoryn family: their sections
//! (`[gitery]`, `[gyle]`, `[sources]`, `[rebuild]`, `[sandbox]`, the keys of
//! `[add_changelog]` other than `up_template`) and dotted command keys
//! (`[commands] git.fetch = ...`, read by TOML as sub-tables) are accepted
//! without looking inside and listed in [`GlobalConfig::ignored`], so `-v`
//! can name them. Sections the farm reads keep rejecting unknown keys. This
//! module never prints.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::ConfigError;
use super::template::{CommandTemplate, Template, TemplateError};
use super::toml_reader::{line_col, Located, TableReader, TomlFile};

pub const DEFAULT_COMMAND: &str = "hsh --lazy-cleanup";
pub const DEFAULT_LOG_FILENAME: &str = "build.{batch}.{builder}.log";
pub const DEFAULT_LOG_DIR: &str = "{git_root}/.gear";
pub const DEFAULT_RESULTS_DIR: &str = "{git_root}/hasher_out";
pub const DEFAULT_BATCH_REPO: &str = "~/zoryn-batch-repo";

#[derive(Clone, Debug)]
pub struct BuildSection {
    pub command: CommandTemplate,
    pub log_filename: Template,
    pub log_dir: Template,
}

/// `[builders.<branch>]`.
#[derive(Clone, Debug, Default)]
pub struct BranchDefaults {
    pub default: Option<String>,
    pub default_arch: Vec<String>,
    pub parallel: Option<bool>,
}

#[derive(Clone, Debug)]
pub struct BuildersSection {
    pub default: Option<String>,
    pub default_arch: Vec<String>,
    pub parallel: bool,
    pub results_download_dir: Template,
    pub batch_repo: Template,
    pub branches: BTreeMap<String, BranchDefaults>,
}

#[derive(Clone, Debug)]
pub struct SshSection {
    pub multiplexing: bool,
    pub persist: Duration,
    /// Concurrent sessions zoryn opens to one host (below sshd's MaxSessions).
    pub max_sessions: u32,
    /// ssh `ServerAliveInterval` (seconds): how often an idle link is probed.
    pub alive_interval: u32,
    /// ssh `ServerAliveCountMax`: unanswered probes before ssh gives up, so a
    /// hung or cut link is noticed after about `alive_interval × alive_count`.
    pub alive_count: u32,
}

pub const DEFAULT_ALIVE_INTERVAL: u32 = 30;
pub const DEFAULT_ALIVE_COUNT: u32 = 3;

/// Program (and leading arguments) used for each external tool.
#[derive(Clone, Debug)]
pub struct Commands {
    pub gear: Vec<String>,
    pub hsh: Vec<String>,
    pub ssh: Vec<String>,
    pub rsync: Vec<String>,
    pub git: Vec<String>,
}

/// `[checks]`: post-build checks (SPEC 5.1). Each entry is a command line
/// run locally with the paths of the RPMs a builder brought back appended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChecksSection {
    pub commands: Vec<String>,
}

pub const DEFAULT_NOTIFY_AFTER: Duration = Duration::from_secs(30);

/// `[notify]`: tell the desktop when a run ends that took at least `after`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotifySection {
    pub enabled: bool,
    pub after: Duration,
}

impl Default for NotifySection {
    fn default() -> Self {
        NotifySection {
            enabled: true,
            after: DEFAULT_NOTIFY_AFTER,
        }
    }
}

/// Sections of `~/.zoryn` that belong to other commands of the zoryn family.
pub const FAMILY_SECTIONS: &[&str] = &["gitery", "gyle", "sources", "rebuild", "sandbox"];

/// A setting the farm accepted but does not use (for `-v`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IgnoredSetting {
    /// 1-based line in the file (0 when unknown).
    pub line: usize,
    /// How the user wrote it: `[gitery]`, `[commands] git.fetch`, ...
    pub what: String,
}

#[derive(Clone, Debug)]
pub struct GlobalConfig {
    /// The file it came from, when one existed.
    pub source: Option<PathBuf>,
    pub build: BuildSection,
    pub builders: BuildersSection,
    pub ssh: SshSection,
    pub commands: Commands,
    pub checks: ChecksSection,
    pub notify: NotifySection,
    /// `[add_changelog] up_template`, for `zoryn up`.
    pub add_changelog_up_template: Option<String>,
    /// The family's settings the farm skipped, in file order.
    pub ignored: Vec<IgnoredSetting>,
}

fn template(s: &str) -> Template {
    Template::parse(s).expect("built-in template is valid")
}

impl Default for GlobalConfig {
    fn default() -> Self {
        GlobalConfig {
            source: None,
            build: BuildSection {
                command: CommandTemplate::parse(DEFAULT_COMMAND)
                    .expect("built-in command is valid"),
                log_filename: template(DEFAULT_LOG_FILENAME),
                log_dir: template(DEFAULT_LOG_DIR),
            },
            builders: BuildersSection {
                default: None,
                default_arch: Vec::new(),
                parallel: false,
                results_download_dir: template(DEFAULT_RESULTS_DIR),
                batch_repo: template(DEFAULT_BATCH_REPO),
                branches: BTreeMap::new(),
            },
            ssh: SshSection {
                multiplexing: true,
                persist: Duration::from_secs(120),
                max_sessions: 8,
                alive_interval: DEFAULT_ALIVE_INTERVAL,
                alive_count: DEFAULT_ALIVE_COUNT,
            },
            commands: Commands {
                gear: vec!["gear".into()],
                hsh: vec!["hsh".into()],
                ssh: vec!["ssh".into()],
                rsync: vec!["rsync".into()],
                git: vec!["git".into()],
            },
            checks: ChecksSection::default(),
            notify: NotifySection::default(),
            add_changelog_up_template: None,
            ignored: Vec::new(),
        }
    }
}

/// Turn a template error inside a string value into a positioned error.
pub(super) fn template_error(
    path: &Path,
    text: &str,
    table: &TableReader<'_>,
    key: &str,
    loc: &Located<String>,
    e: TemplateError,
) -> ConfigError {
    let mut err = table.error(key, format!("{} in \"{}\"", e.message, loc.value));
    if let Some(span) = &loc.span {
        // +1 skips the opening quote; exact for strings without escapes
        // (the offset counts in the unescaped value), and never past the
        // string's end.
        let at = (span.start + 1 + e.offset).min(span.end.saturating_sub(1));
        let (line, col) = line_col(text, at);
        err.line = line;
        err.column = col;
    }
    err.file = path.to_path_buf();
    err.hint = Some(e.hint);
    err
}

pub(super) fn read_template(
    path: &Path,
    text: &str,
    t: &TableReader<'_>,
    key: &str,
) -> Result<Option<Template>, ConfigError> {
    match t.string(key)? {
        None => Ok(None),
        Some(loc) => Template::parse(&loc.value)
            .map(Some)
            .map_err(|e| template_error(path, text, t, key, &loc, e)),
    }
}

pub(super) fn read_command(
    path: &Path,
    text: &str,
    t: &TableReader<'_>,
    key: &str,
) -> Result<Option<CommandTemplate>, ConfigError> {
    match t.string(key)? {
        None => Ok(None),
        Some(loc) => CommandTemplate::parse(&loc.value)
            .map(Some)
            .map_err(|e| template_error(path, text, t, key, &loc, e)),
    }
}

fn read_program(t: &TableReader<'_>, key: &str) -> Result<Option<Vec<String>>, ConfigError> {
    if t.keys().any(|(k, item)| k == key && item.is_table()) {
        // Dotted keys (`git.fetch = ...`): the family's, see `ignored`.
        return Ok(None);
    }
    match t.string(key)? {
        None => Ok(None),
        Some(loc) => match shell_words::split(&loc.value) {
            Ok(words) if !words.is_empty() => Ok(Some(words)),
            Ok(_) => Err(t
                .error(key, "empty command")
                .with_hint(format!("remove the key to use `{key}` from PATH"))),
            Err(e) => Err(t.error(key, format!("cannot split into words: {e}"))),
        },
    }
}

fn read_branch_defaults(t: &TableReader<'_>) -> Result<BranchDefaults, ConfigError> {
    t.deny_unknown(&["default", "default_arch", "parallel"], |_, _| false)?;
    Ok(BranchDefaults {
        default: t.string("default")?.map(|l| l.value),
        default_arch: t
            .string_list("default_arch")?
            .map(|l| l.value)
            .unwrap_or_default(),
        parallel: t.switch("parallel")?,
    })
}

impl GlobalConfig {
    /// Load from `path`; a missing file gives the defaults unless `must_exist`.
    pub fn load(path: &Path, must_exist: bool) -> Result<GlobalConfig, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(path, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !must_exist => {
                Ok(GlobalConfig::default())
            }
            Err(e) => Err(ConfigError::whole_file(
                path,
                format!("cannot read the config file: {e}"),
            )
            .with_hint("check the path in $ZORYN_CONFIG, or unset it to use ~/.zoryn")),
        }
    }

    pub fn parse(path: &Path, text: &str) -> Result<GlobalConfig, ConfigError> {
        let file = TomlFile::parse(path, text)?;
        let root = file.root();
        let farm_sections = [
            "build",
            "builders",
            "ssh",
            "commands",
            "checks",
            "notify",
            "add_changelog",
        ];
        let known: Vec<&str> = farm_sections
            .iter()
            .chain(FAMILY_SECTIONS)
            .copied()
            .collect();
        root.deny_unknown(&known, |_, _| false)?;
        let mut cfg = GlobalConfig {
            source: Some(path.to_path_buf()),
            ..GlobalConfig::default()
        };
        for (name, _) in root.keys() {
            if FAMILY_SECTIONS.contains(&name) {
                // Any shape is theirs to check; only a table is a section.
                root.table(name)?;
                cfg.ignored.push(IgnoredSetting {
                    line: root.key_line(name),
                    what: format!("[{name}]"),
                });
            }
        }

        if let Some(b) = root.table("build")? {
            b.deny_unknown(&["command", "log_filename", "log_dir"], |_, _| false)?;
            if let Some(c) = read_command(path, text, &b, "command")? {
                cfg.build.command = c;
            }
            if let Some(t) = read_template(path, text, &b, "log_filename")? {
                if t.raw().contains('/') {
                    return Err(b
                        .error("log_filename", "must be a file name, not a path")
                        .with_hint("set the directory with log_dir = \"...\" and keep log_filename a plain name"));
                }
                cfg.build.log_filename = t;
            }
            if let Some(t) = read_template(path, text, &b, "log_dir")? {
                cfg.build.log_dir = t;
            }
        }

        if let Some(b) = root.table("builders")? {
            let known = [
                "default",
                "default_arch",
                "parallel",
                "results_download_dir",
                "batch_repo",
            ];
            b.deny_unknown(&known, |_, item| item.is_table())?;
            cfg.builders.default = b.string("default")?.map(|l| l.value);
            cfg.builders.default_arch = b
                .string_list("default_arch")?
                .map(|l| l.value)
                .unwrap_or_default();
            cfg.builders.parallel = b.switch("parallel")?.unwrap_or(false);
            if let Some(t) = read_template(path, text, &b, "results_download_dir")? {
                cfg.builders.results_download_dir = t;
            }
            if let Some(t) = read_template(path, text, &b, "batch_repo")? {
                cfg.builders.batch_repo = t;
            }
            let branch_names: Vec<&str> = b
                .keys()
                .filter(|(_, i)| i.is_table())
                .map(|(k, _)| k)
                .collect();
            for name in branch_names {
                if let Some(t) = b.table(name)? {
                    cfg.builders
                        .branches
                        .insert(name.to_string(), read_branch_defaults(&t)?);
                }
            }
        }

        if let Some(s) = root.table("ssh")? {
            s.deny_unknown(
                &[
                    "multiplexing",
                    "persist",
                    "max_sessions",
                    "alive_interval",
                    "alive_count",
                ],
                |_, _| false,
            )?;
            if let Some(m) = s.switch("multiplexing")? {
                cfg.ssh.multiplexing = m;
            }
            if let Some(p) = s.string("persist")? {
                cfg.ssh.persist = humantime::parse_duration(&p.value).map_err(|e| {
                    s.error("persist", format!("not a duration: {e}"))
                        .with_hint("write a duration like \"2m\", \"30s\" or \"1h\"")
                })?;
            }
            if let Some(n) = s.integer("max_sessions")? {
                if !(1..=64).contains(&n.value) {
                    return Err(s
                        .error(
                            "max_sessions",
                            format!("{} is out of range 1..=64", n.value),
                        )
                        .with_hint("keep it below the host sshd's MaxSessions (10 by default)"));
                }
                cfg.ssh.max_sessions = n.value as u32;
            }
            if let Some(n) = s.integer("alive_interval")? {
                if !(1..=3600).contains(&n.value) {
                    return Err(s
                        .error(
                            "alive_interval",
                            format!("{} is out of range 1..=3600 (seconds)", n.value),
                        )
                        .with_hint(
                            "a lost host is noticed after alive_interval × alive_count seconds; \
                             the default is 30",
                        ));
                }
                cfg.ssh.alive_interval = n.value as u32;
            }
            if let Some(n) = s.integer("alive_count")? {
                if !(1..=100).contains(&n.value) {
                    return Err(s
                        .error(
                            "alive_count",
                            format!("{} is out of range 1..=100", n.value),
                        )
                        .with_hint("unanswered keepalives before ssh gives up; the default is 3"));
                }
                cfg.ssh.alive_count = n.value as u32;
            }
        }

        if let Some(c) = root.table("commands")? {
            // `git.fetch = "..."` makes `git` a table: the family's
            // per-subcommand overrides, not a program for the farm.
            c.deny_unknown(&["gear", "hsh", "ssh", "rsync", "git"], |_, item| {
                item.is_table()
            })?;
            for (tool, item) in c.keys() {
                if let Some(sub) = item.as_table() {
                    for (key, _) in sub.iter() {
                        cfg.ignored.push(IgnoredSetting {
                            line: c.dotted_key_line(tool, key),
                            what: format!("[commands] {tool}.{key}"),
                        });
                    }
                }
            }
            if let Some(v) = read_program(&c, "gear")? {
                cfg.commands.gear = v;
            }
            if let Some(v) = read_program(&c, "hsh")? {
                cfg.commands.hsh = v;
            }
            if let Some(v) = read_program(&c, "ssh")? {
                cfg.commands.ssh = v;
            }
            if let Some(v) = read_program(&c, "rsync")? {
                cfg.commands.rsync = v;
            }
            if let Some(v) = read_program(&c, "git")? {
                cfg.commands.git = v;
            }
        }

        if let Some(c) = root.table("checks")? {
            c.deny_unknown(&["commands"], |_, _| false)?;
            if let Some(list) = c.string_list("commands")? {
                for (i, command) in list.value.iter().enumerate() {
                    match shell_words::split(command) {
                        Ok(words) if !words.is_empty() => {}
                        Ok(_) => {
                            return Err(c
                                .error("commands", format!("entry {} is empty", i + 1))
                                .with_hint("remove the empty string from the list"))
                        }
                        Err(e) => {
                            return Err(c
                                .error(
                                    "commands",
                                    format!(
                                        "entry {} (\"{command}\") cannot be split into words: {e}",
                                        i + 1
                                    ),
                                )
                                .with_hint(
                                    "close the quote; the command is split like a shell would",
                                ))
                        }
                    }
                }
                cfg.checks.commands = list.value;
            }
        }

        if let Some(n) = root.table("notify")? {
            n.deny_unknown(&["enabled", "after"], |_, _| false)?;
            if let Some(e) = n.switch("enabled")? {
                cfg.notify.enabled = e;
            }
            if let Some(a) = n.string("after")? {
                cfg.notify.after = humantime::parse_duration(&a.value).map_err(|e| {
                    n.error("after", format!("not a duration: {e}")).with_hint(
                        "write how long a run must take to be notified, like \"30s\" or \"5m\"",
                    )
                })?;
            }
        }

        if let Some(a) = root.table("add_changelog")? {
            // The family owns this section; the farm keeps `up_template`
            // for `zoryn up` and passes over the rest.
            cfg.add_changelog_up_template = a.string("up_template")?.map(|l| l.value);
            for (key, _) in a.keys() {
                if key != "up_template" {
                    cfg.ignored.push(IgnoredSetting {
                        line: a.key_line(key),
                        what: format!("[add_changelog] {key}"),
                    });
                }
            }
        }
        cfg.ignored.sort_by_key(|i| i.line);
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::template::Placeholder;

    fn parse(text: &str) -> Result<GlobalConfig, ConfigError> {
        GlobalConfig::parse(Path::new("/home/u/.zoryn"), text)
    }

    #[test]
    fn empty_file_gives_defaults() {
        let c = parse("").unwrap();
        assert_eq!(c.build.command.raw(), "hsh --lazy-cleanup");
        assert!(!c.builders.parallel);
        assert!(c.ssh.multiplexing);
        assert_eq!(c.ssh.persist, Duration::from_secs(120));
        assert_eq!((c.ssh.alive_interval, c.ssh.alive_count), (30, 3));
        assert_eq!(
            c.builders.results_download_dir.raw(),
            "{git_root}/hasher_out"
        );
    }

    #[test]
    fn full_example_parses() {
        let c = parse(
            r#"
[build]
command = "hsh --lazy-cleanup --mountpoints=/proc"
log_filename = "build.{batch}.{builder}.log"

[builders]
default = "local, arm64"
default_arch = ["x86_64", "aarch64"]
parallel = "on"
results_download_dir = "{git_root}/out"
batch_repo = "~/chain"

[builders.p11]
default = "p11-x86, p11-arm"
default_arch = "x86_64"

[ssh]
multiplexing = false
persist = "5m"

[commands]
gear = "/opt/gear/bin/gear -v"
"#,
        )
        .unwrap();
        assert!(c.builders.parallel);
        assert_eq!(c.builders.default.as_deref(), Some("local, arm64"));
        assert_eq!(c.builders.default_arch, ["x86_64", "aarch64"]);
        assert_eq!(c.builders.branches["p11"].default_arch, ["x86_64"]);
        assert!(!c.ssh.multiplexing);
        assert_eq!(c.ssh.persist, Duration::from_secs(300));
        assert_eq!(c.commands.gear, ["/opt/gear/bin/gear", "-v"]);
        assert!(!c.build.command.uses(Placeholder::HasherDir));
    }

    #[test]
    fn unknown_key_names_line_and_suggests() {
        let e = parse("[builders]\ndefault = \"local\"\nparalel = \"on\"\n").unwrap_err();
        assert_eq!((e.line, e.column), (3, 1));
        assert_eq!(e.key.as_deref(), Some("paralel"));
        assert_eq!(e.message, "unknown key `paralel` in [builders]");
        assert_eq!(e.hint.as_deref(), Some("did you mean `parallel`?"));
    }

    #[test]
    fn unknown_top_level_table() {
        let e = parse("[biuld]\ncommand = \"hsh\"\n").unwrap_err();
        assert_eq!(e.line, 1);
        assert_eq!(e.hint.as_deref(), Some("did you mean `build`?"));
    }

    #[test]
    fn wrong_types_are_errors() {
        let e = parse("[builders]\nparallel = 3\n").unwrap_err();
        assert_eq!(
            e.message,
            "[builders] parallel: expected \"on\"/\"off\" or true/false, found an integer"
        );
        let e = parse("[builders]\nparallel = \"maybe\"\n").unwrap_err();
        assert!(e.message.contains("expected \"on\" or \"off\""), "{e}");
        let e = parse("[ssh]\npersist = \"soon\"\n").unwrap_err();
        assert!(
            e.message.starts_with("[ssh] persist: not a duration"),
            "{e}"
        );
    }

    #[test]
    fn keepalive_keys_parse_and_are_checked() {
        let c = parse("[ssh]\nalive_interval = 5\nalive_count = 2\n").unwrap();
        assert_eq!((c.ssh.alive_interval, c.ssh.alive_count), (5, 2));
        let e = parse("[ssh]\nalive_interval = 0\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert_eq!(e.key.as_deref(), Some("alive_interval"));
        assert!(e.message.contains("0 is out of range 1..=3600"), "{e}");
        let e = parse("[ssh]\npersist = \"1m\"\nalive_count = \"3\"\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("alive_count"), "{e}");
        let e = parse("[ssh]\nalive_count = 1000\n").unwrap_err();
        assert!(e.message.contains("out of range 1..=100"), "{e}");
    }

    #[test]
    fn unknown_placeholder_points_into_the_string() {
        let e = parse("[build]\ncommand = \"hsh --number={hasher_num}\"\n").unwrap_err();
        assert_eq!((e.line, e.column), (2, 25));
        assert!(
            e.message.contains("unknown placeholder `{hasher_num}`"),
            "{e}"
        );
        assert!(e.hint.unwrap().contains("{hasher_number}"));
    }

    /// The family's full example (tests/fixtures) loads unchanged: the
    /// farm's sections typed, the family's ones listed for `-v`.
    #[test]
    fn the_familys_full_example_loads() {
        let c = parse(include_str!("../../tests/fixtures/zoryn-family-full.toml")).unwrap();
        assert!(c
            .build
            .command
            .raw()
            .contains("--mountpoint=/proc,/dev/pts,/dev/kvm"));
        assert_eq!(c.checks.commands, ["sisyphus_check"]);
        assert_eq!(
            c.notify,
            NotifySection {
                enabled: true,
                after: Duration::from_secs(45)
            }
        );
        assert_eq!(
            c.add_changelog_up_template.as_deref(),
            Some("- {old_version} -> {new_version} {cves}")
        );
        // Dotted command keys are the family's; the farm's programs stay.
        assert_eq!(c.commands.git, ["git"]);
        assert_eq!(c.commands.ssh, ["ssh"]);
        let ignored: Vec<&str> = c.ignored.iter().map(|i| i.what.as_str()).collect();
        assert_eq!(
            ignored,
            [
                "[gitery]",
                "[gyle]",
                "[sources]",
                "[rebuild]",
                "[sandbox]",
                "[commands] git.fetch",
                "[commands] ssh.gitery"
            ]
        );
        assert!(c.ignored.iter().all(|i| i.line > 0));
    }

    #[test]
    fn checks_and_notify_defaults_and_values() {
        let c = parse("").unwrap();
        assert!(c.checks.commands.is_empty());
        assert!(c.notify.enabled);
        assert_eq!(c.notify.after, Duration::from_secs(30));
        assert_eq!(c.add_changelog_up_template, None);
        let c = parse(
            "[checks]\ncommands = [\"sisyphus_check\", \"rpmlint -i\"]\n[notify]\nenabled = \"off\"\n",
        )
        .unwrap();
        assert_eq!(c.checks.commands, ["sisyphus_check", "rpmlint -i"]);
        assert!(!c.notify.enabled);
        assert_eq!(c.notify.after, Duration::from_secs(30));
    }

    #[test]
    fn errors_in_the_new_sections_name_line_and_key() {
        let e = parse("[notify]\nenabled = true\nafter = \"soonish\"\n").unwrap_err();
        assert_eq!((e.line, e.key.as_deref()), (3, Some("after")));
        assert!(
            e.message.starts_with("[notify] after: not a duration"),
            "{e}"
        );
        let e = parse("[notify]\nenabeld = true\n").unwrap_err();
        assert_eq!(e.message, "unknown key `enabeld` in [notify]");
        assert_eq!(e.hint.as_deref(), Some("did you mean `enabled`?"));
        let e = parse("[checks]\ncommand = [\"x\"]\n").unwrap_err();
        assert_eq!((e.line, e.key.as_deref()), (2, Some("command")));
        assert_eq!(e.hint.as_deref(), Some("did you mean `commands`?"));
        let e = parse("[checks]\ncommands = [\"ok\", \"\"]\n").unwrap_err();
        assert_eq!(e.message, "[checks] commands: entry 2 is empty");
        let e = parse("[checks]\ncommands = \"check 'x\"\n").unwrap_err();
        assert!(e.message.contains("cannot be split into words"), "{e}");
        let e = parse("[checks]\ncommands = 1\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(
            e.message.contains("expected a string or a list of strings"),
            "{e}"
        );
        // The family's section names are known, so typos are still caught.
        let e = parse("[gitry]\nhost = \"g\"\n").unwrap_err();
        assert_eq!(e.message, "unknown key `gitry` at the top level");
        assert_eq!(e.hint.as_deref(), Some("did you mean `gitery`?"));
        let e = parse("gitery = \"x\"\n").unwrap_err();
        assert!(e.message.contains("expected a [gitery] table"), "{e}");
        // A plain unknown key in [commands] is still an error; a dotted one
        // is the family's.
        let e = parse("[commands]\ngearr = \"gear\"\n").unwrap_err();
        assert_eq!(e.hint.as_deref(), Some("did you mean `gear`?"));
        let e = parse("[add_changelog]\nup_template = 3\n").unwrap_err();
        assert_eq!(e.line, 2);
    }

    #[test]
    fn unknown_key_in_branch_table() {
        let e = parse("[builders.p11]\ndefualt = \"x\"\n").unwrap_err();
        assert_eq!(e.message, "unknown key `defualt` in [builders.p11]");
        assert_eq!(e.line, 2);
    }
}
