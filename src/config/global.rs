//! `~/.zoryn`: the global settings (SPEC 3.1), parsed into typed values.
//!
//! Every key has a default, so a missing file is an empty one. Unknown keys,
//! wrong types and unknown template placeholders are [`ConfigError`]s at the
//! exact line. Per-branch tables `[builders.<branch>]` are any sub-table of
//! `[builders]`.

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

/// `[checks]`: post-build checks run on the RPMs each builder brought back
/// (SPEC 3.1, 5.1). Each entry is a command line (split like a shell would,
/// never run through one); the paths of the RPMs are appended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChecksSection {
    pub commands: Vec<String>,
}

/// `[notify]`: tell the user when a long run ends (SPEC 3.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotifySection {
    pub enabled: bool,
    /// Only runs that took longer than this notify.
    pub after: std::time::Duration,
}

impl Default for NotifySection {
    fn default() -> Self {
        NotifySection {
            enabled: true,
            after: Duration::from_secs(30),
        }
    }
}

/// Program (and leading arguments) used for each external tool.
#[derive(Clone, Debug)]
pub struct Commands {
    pub gear: Vec<String>,
    pub hsh: Vec<String>,
    pub ssh: Vec<String>,
    pub rsync: Vec<String>,
    pub git: Vec<String>,
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
        root.deny_unknown(
            &["build", "builders", "ssh", "commands", "checks", "notify"],
            |_, _| false,
        )?;
        let mut cfg = GlobalConfig {
            source: Some(path.to_path_buf()),
            ..GlobalConfig::default()
        };

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
            c.deny_unknown(&["gear", "hsh", "ssh", "rsync", "git"], |_, _| false)?;
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
                for cmd in &list.value {
                    match shell_words::split(cmd) {
                        Ok(words) if !words.is_empty() => {}
                        Ok(_) => {
                            return Err(c
                                .error("commands", "an empty check command")
                                .with_hint("remove the empty string from the list"))
                        }
                        Err(e) => {
                            return Err(c
                                .error(
                                    "commands",
                                    format!("cannot split \"{cmd}\" into words: {e}"),
                                )
                                .with_hint("close the quote"))
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
                    n.error("after", format!("not a duration: {e}"))
                        .with_hint("write a duration like \"30s\", \"2m\" or \"1h\"")
                })?;
            }
        }
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

    #[test]
    fn checks_and_notify_parse() {
        let c = parse("").unwrap();
        assert!(c.checks.commands.is_empty());
        assert_eq!(c.notify, NotifySection::default());
        assert!(c.notify.enabled);
        assert_eq!(c.notify.after, Duration::from_secs(30));
        let c = parse(
            "[checks]\ncommands = [\"sisyphus_check --no-check=changelog\", \"/usr/bin/rpmlint -i\"]\n\
             [notify]\nenabled = false\nafter = \"2m\"\n",
        )
        .unwrap();
        assert_eq!(c.checks.commands.len(), 2);
        assert!(!c.notify.enabled);
        assert_eq!(c.notify.after, Duration::from_secs(120));
        let e = parse("[checks]\ncommands = [\"rpmlint 'x\"]\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("cannot split"), "{e}");
        let e = parse("[notify]\nafter = \"soon\"\n").unwrap_err();
        assert!(
            e.message.starts_with("[notify] after: not a duration"),
            "{e}"
        );
        let e = parse("[checks]\ncomands = []\n").unwrap_err();
        assert_eq!(e.hint.as_deref(), Some("did you mean `commands`?"));
    }

    #[test]
    fn unknown_key_in_branch_table() {
        let e = parse("[builders.p11]\ndefualt = \"x\"\n").unwrap_err();
        assert_eq!(e.message, "unknown key `defualt` in [builders.p11]");
        assert_eq!(e.line, 2);
    }
}
