//! `builders.d/NAME.conf`: one builder per file (SPEC 3.2).
//!
//! Parses and checks one file on its own (name, keys, types, templates,
//! arch, type/host consistency). Checks that need the whole farm — two
//! builders sharing a workdir — live in `farm`.

use std::path::Path;

use super::error::ConfigError;
use super::global::{read_command, read_template};
use super::template::{CommandTemplate, Template};
use super::toml_reader::TomlFile;
use crate::config::arch;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuilderKind {
    Local,
    Remote,
}

/// What one `.conf` file says, checked but not yet merged with defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuilderFile {
    pub name: String,
    pub kind: BuilderKind,
    pub host: Option<String>,
    pub arch: Option<String>,
    pub branch: Option<String>,
    pub hasher_dir: Option<Template>,
    pub hasher_number: Option<u32>,
    pub repo: Option<String>,
    pub command: Option<CommandTemplate>,
}

pub const KEYS: &[&str] = &[
    "type",
    "host",
    "arch",
    "branch",
    "hasher_dir",
    "hasher_number",
    "repo",
    "command",
];

/// Why a builder name is not allowed, if it is not.
pub fn check_name(name: &str) -> Result<(), String> {
    // Shown escaped: the name may hold a newline or an escape sequence.
    let shown = name.escape_debug();
    let Some(first) = name.chars().next() else {
        return Err("a builder name cannot be empty".into());
    };
    if !first.is_ascii_alphabetic() {
        return Err(format!("builder name `{shown}` must start with a letter"));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(format!(
            "builder name `{shown}` contains `{}`; only ASCII letters, digits, `-` and `_` are allowed",
            bad.escape_debug()
        ));
    }
    Ok(())
}

impl BuilderFile {
    /// The `.conf` text for this builder: keys in a fixed order, values
    /// quoted as TOML strings, so the same settings give the same bytes.
    pub fn render(&self) -> String {
        let q = |s: &str| toml_edit::Value::from(s).to_string();
        let mut out = String::from("# Builder definition for zoryn (see `zoryn builder list`).\n");
        out.push_str(&format!(
            "type = {}\n",
            q(match self.kind {
                BuilderKind::Local => "local",
                BuilderKind::Remote => "remote",
            })
        ));
        if let Some(h) = &self.host {
            out.push_str(&format!("host = {}\n", q(h)));
        }
        if let Some(a) = &self.arch {
            out.push_str(&format!("arch = {}\n", q(a)));
        }
        if let Some(b) = &self.branch {
            out.push_str(&format!("branch = {}\n", q(b)));
        }
        if let Some(d) = &self.hasher_dir {
            out.push_str(&format!("hasher_dir = {}\n", q(d.raw())));
        }
        if let Some(n) = self.hasher_number {
            out.push_str(&format!("hasher_number = {n}\n"));
        }
        if let Some(r) = &self.repo {
            out.push_str(&format!("repo = {}\n", q(r)));
        }
        if let Some(c) = &self.command {
            out.push_str(&format!("command = {}\n", q(c.raw())));
        }
        out
    }

    pub fn load(path: &Path) -> Result<BuilderFile, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::whole_file(path, format!("cannot read the builder file: {e}"))
        })?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<BuilderFile, ConfigError> {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        check_name(&name).map_err(|msg| {
            ConfigError::whole_file(path, msg).with_hint(
                "rename the file: the builder's name is the file name without .conf, and @ ^ , [ ] * ? belong to patterns",
            )
        })?;
        let file = TomlFile::parse(path, text)?;
        let t = file.root();
        t.deny_unknown(KEYS, |_, _| false)?;

        let host = t.string("host")?.map(|l| l.value);
        let kind = match t.string("type")?.map(|l| l.value) {
            None if host.is_some() => BuilderKind::Remote,
            None => BuilderKind::Local,
            Some(k) if k == "local" => BuilderKind::Local,
            Some(k) if k == "remote" => BuilderKind::Remote,
            Some(k) => {
                return Err(t
                    .error("type", format!("unknown builder type \"{k}\""))
                    .with_hint("use type = \"local\" or type = \"remote\""))
            }
        };
        match (kind, &host) {
            (BuilderKind::Remote, None) => {
                return Err(ConfigError::whole_file(
                    path,
                    format!("remote builder `{name}` has no host"),
                )
                .with_hint(
                    "add host = \"user@machine\" (an ssh destination or ~/.ssh/config alias)",
                ))
            }
            (BuilderKind::Remote, Some(h)) if h.trim().is_empty() || h.starts_with('-') => {
                return Err(t
                    .error("host", format!("\"{h}\" is not an ssh destination"))
                    .with_hint("write the host name or ~/.ssh/config alias"))
            }
            (BuilderKind::Local, Some(_)) => {
                return Err(t.error("host", "a local builder has no host").with_hint(
                    "remove host, or set type = \"remote\" to build on that machine over SSH",
                ))
            }
            _ => {}
        }

        let arch = match t.string("arch")? {
            Some(a) if !arch::is_known(&a.value) => {
                let hint = match super::error::did_you_mean(&a.value, arch::KNOWN.iter().copied()) {
                    Some(s) => format!(
                        "did you mean \"{s}\"? hasher knows: {}",
                        arch::KNOWN.join(", ")
                    ),
                    None => format!("hasher knows: {}", arch::KNOWN.join(", ")),
                };
                return Err(t
                    .error("arch", format!("unknown architecture \"{}\"", a.value))
                    .with_hint(hint));
            }
            a => a.map(|l| l.value),
        };
        if kind == BuilderKind::Remote && arch.is_none() {
            return Err(ConfigError::whole_file(
                path,
                format!("remote builder `{name}` has no arch"),
            )
            .with_hint(
                "add arch = \"aarch64\" (or the host's arch); `zoryn builder add` detects it",
            ));
        }

        let hasher_number = match t.integer("hasher_number")? {
            None => None,
            Some(n) if (1..=9999).contains(&n.value) => Some(n.value as u32),
            Some(n) => {
                return Err(t
                    .error("hasher_number", format!("{} is not a valid hasher number", n.value))
                    .with_hint("hasher numbers start at 1 (hasher-useradd --number=N); remove the key for the default pair"))
            }
        };
        let branch = t.string("branch")?.map(|l| l.value);
        if let Some(b) = &branch {
            if b.is_empty() || b.chars().any(|c| c.is_whitespace() || c == ',' || c == '/') {
                return Err(t
                    .error("branch", format!("\"{b}\" is not a branch name"))
                    .with_hint("write a branch like \"sisyphus\" or \"p11\""));
            }
        }
        Ok(BuilderFile {
            name,
            kind,
            host,
            arch,
            branch,
            hasher_dir: read_template(path, text, &t, "hasher_dir")?,
            hasher_number,
            repo: t.string("repo")?.map(|l| l.value),
            command: read_command(path, text, &t, "command")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(name: &str, text: &str) -> Result<BuilderFile, ConfigError> {
        BuilderFile::parse(
            &Path::new("/c/builders.d").join(format!("{name}.conf")),
            text,
        )
    }

    #[test]
    fn render_round_trips() {
        let b = parse(
            "arm64",
            "type = \"remote\"\nhost = \"arm \\\"x\\\"\"\narch = \"aarch64\"\nhasher_dir = \"~/h_{hasher_number}\"\nhasher_number = 3\nrepo = \"/srv/r\"\n",
        )
        .unwrap();
        let text = b.render();
        let again = parse("arm64", &text).unwrap();
        assert_eq!(again.render(), text);
        assert_eq!(again.host.as_deref(), Some("arm \"x\""));
        assert_eq!(again.hasher_number, Some(3));
    }

    #[test]
    fn remote_builder_parses() {
        let b = parse(
            "arm64",
            "type = \"remote\"\nhost = \"arm.internal\"\narch = \"aarch64\"\nbranch = \"sisyphus\"\nhasher_dir = \"~/hasher_{hasher_number}\"\nhasher_number = 1\nrepo = \"/srv/repo\"\n",
        )
        .unwrap();
        assert_eq!(b.kind, BuilderKind::Remote);
        assert_eq!(b.host.as_deref(), Some("arm.internal"));
        assert_eq!(b.hasher_number, Some(1));
    }

    #[test]
    fn local_builder_defaults_type() {
        let b = parse("local2", "hasher_number = 2\n").unwrap();
        assert_eq!(b.kind, BuilderKind::Local);
        assert!(b.arch.is_none());
    }

    #[test]
    fn names_are_checked() {
        for bad in ["2fast", "a.b", "x@y", "all*", "-x"] {
            let e = parse(bad, "").unwrap_err();
            assert!(e.hint.unwrap().contains("rename the file"), "{bad}");
        }
        assert!(check_name("p11-x86_64").is_ok());
        // Control characters are shown escaped, never raw.
        let e = check_name("a\nzoryn: error: forged").unwrap_err();
        assert!(!e.contains('\n') && e.contains("a\\nzoryn"), "{e}");
    }

    #[test]
    fn type_and_host_must_agree() {
        let e = parse("r", "type = \"remote\"\narch = \"aarch64\"\n").unwrap_err();
        assert_eq!(e.message, "remote builder `r` has no host");
        let e = parse("l", "type = \"local\"\nhost = \"x\"\n").unwrap_err();
        assert_eq!(
            (e.line, e.message.as_str()),
            (2, "host: a local builder has no host")
        );
        let e = parse("l", "type = \"cloud\"\n").unwrap_err();
        assert_eq!(e.message, "type: unknown builder type \"cloud\"");
    }

    #[test]
    fn unknown_arch_suggests() {
        let e = parse("l", "arch = \"aarch46\"\n").unwrap_err();
        assert_eq!(e.message, "arch: unknown architecture \"aarch46\"");
        assert!(e.hint.unwrap().starts_with("did you mean \"aarch64\"?"));
    }

    #[test]
    fn unknown_key_and_bad_number() {
        let e = parse("l", "hasher_nubmer = 2\n").unwrap_err();
        assert_eq!(e.hint.as_deref(), Some("did you mean `hasher_number`?"));
        let e = parse("l", "hasher_number = 0\n").unwrap_err();
        assert!(e.message.contains("not a valid hasher number"));
    }

    /// A template error after an escape and a multi-byte character: found
    /// by the `builder_file` fuzz target (it panicked slicing the file text).
    #[test]
    fn template_error_after_escape_and_multibyte_char() {
        let err = parse("b", "command = \"hsh\\t€{nope}\"\n").err().unwrap();
        assert_eq!(err.line, 1);
        assert!(err.message.contains("nope"), "{err}");
        let _ = err.to_string();
    }
}
