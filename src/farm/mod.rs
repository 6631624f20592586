//! The farm: every builder as a plain value, loaded and checked once.
//!
//! [`Farm::load`] merges the built-in `local` builder with
//! `builders.d/*.conf`, fills defaults and runs the farm-wide checks (two
//! builders sharing a workdir; two sharing a hasher number = one slot).
//! A builder file that does not parse or check is kept aside as a
//! [`BrokenBuilder`] instead of failing the whole farm: commands that do not
//! select it warn and work, a selection that names it is an error
//! ([`selection`]), and `builder remove` can still delete it. It never
//! prints; the commands report what it found.
//! Selection of builders by pattern lives in [`selection`].

pub mod apt;
pub mod loaded;
pub mod release;
pub mod selection;

use std::path::{Path, PathBuf};

use crate::config::builder_file::{BuilderFile, BuilderKind};
use crate::config::error::ConfigError;
use crate::config::template::{CommandTemplate, Template, Vars};

pub const BUILTIN_LOCAL: &str = "local";
pub const DEFAULT_BRANCH: &str = "sisyphus";
/// `hasher_dir` when a builder file sets none.
pub const DEFAULT_HASHER_DIR: &str = "~/hasher";
pub const DEFAULT_NUMBERED_HASHER_DIR: &str = "~/hasher_{hasher_number}";
/// How local builders match `@host:` patterns.
pub const LOCALHOST: &str = "localhost";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    Local,
    Remote { host: String },
}

/// One hasher setup = one slot.
#[derive(Clone, Debug)]
pub struct Builder {
    pub name: String,
    pub location: Location,
    pub arch: String,
    pub branch: String,
    pub hasher_dir: Template,
    pub hasher_number: Option<u32>,
    pub repo: Option<String>,
    /// Per-builder override of `[build] command`.
    pub command: Option<CommandTemplate>,
    /// The `.conf` it came from; `None` for the built-in `local`.
    pub file: Option<PathBuf>,
}

impl Builder {
    /// A builder made up in code (test farms, fuzzing): local when `host` is
    /// `None`, else remote on `host`; everything else as the built-in one.
    #[doc(hidden)]
    pub fn sample(
        name: &str,
        host: Option<&str>,
        arch: &str,
        branch: &str,
        hasher_number: Option<u32>,
    ) -> Builder {
        let mut b = Builder::builtin_local("x86_64");
        b.name = name.into();
        b.location = host.map_or(Location::Local, |h| Location::Remote { host: h.into() });
        b.arch = arch.into();
        b.branch = branch.into();
        b.hasher_number = hasher_number;
        b
    }

    pub fn builtin_local(arch: &str) -> Builder {
        Builder {
            name: BUILTIN_LOCAL.into(),
            location: Location::Local,
            arch: arch.into(),
            branch: DEFAULT_BRANCH.into(),
            hasher_dir: Template::parse(DEFAULT_HASHER_DIR).expect("valid built-in template"),
            hasher_number: None,
            repo: None,
            command: None,
            file: None,
        }
    }

    fn from_file(f: BuilderFile, path: &Path, local_arch: &str) -> Builder {
        let default_dir = if f.hasher_number.is_some() {
            DEFAULT_NUMBERED_HASHER_DIR
        } else {
            DEFAULT_HASHER_DIR
        };
        Builder {
            location: match (f.kind, f.host) {
                (BuilderKind::Remote, Some(host)) => Location::Remote { host },
                _ => Location::Local,
            },
            arch: f.arch.unwrap_or_else(|| local_arch.to_string()),
            branch: f.branch.unwrap_or_else(|| DEFAULT_BRANCH.into()),
            hasher_dir: f
                .hasher_dir
                .unwrap_or_else(|| Template::parse(default_dir).expect("valid built-in template")),
            hasher_number: f.hasher_number,
            repo: f.repo,
            command: f.command,
            file: Some(path.to_path_buf()),
            name: f.name,
        }
    }

    pub fn is_local(&self) -> bool {
        self.location == Location::Local
    }

    /// The host as patterns and messages name it.
    pub fn host(&self) -> &str {
        match &self.location {
            Location::Local => LOCALHOST,
            Location::Remote { host } => host,
        }
    }

    /// Template values this builder contributes.
    pub fn vars(&self) -> Vars {
        Vars {
            builder: Some(self.name.clone()),
            arch: Some(self.arch.clone()),
            branch: Some(self.branch.clone()),
            host: Some(self.host().to_string()),
            hasher_number: self.hasher_number,
            ..Vars::default()
        }
    }

    /// `hasher_dir` expanded; `home` is the builder host's home (`None`
    /// leaves `~` for the remote side).
    pub fn hasher_dir_with_home(&self, home: Option<&str>) -> String {
        let mut v = self.vars();
        v.home = home.map(str::to_string);
        self.hasher_dir.expand(&v)
    }

    /// Where this builder is defined, for messages.
    pub fn origin(&self) -> String {
        match &self.file {
            Some(p) => p.display().to_string(),
            None => "built-in".into(),
        }
    }
}

/// A `builders.d/NAME.conf` that cannot be used: it is left out of the
/// farm, and its error is reported by whoever loads the farm.
#[derive(Clone, Debug)]
pub struct BrokenBuilder {
    /// The file stem: the name the builder would have.
    pub name: String,
    pub file: PathBuf,
    pub error: ConfigError,
}

/// All configured builders plus what the checks noticed.
#[derive(Clone, Debug, Default)]
pub struct Farm {
    pub builders: Vec<Builder>,
    /// Builders that share one hasher-priv slot (same host and number,
    /// different dirs): zoryn never runs them at once.
    pub shared_slots: Vec<(String, String)>,
    /// Builder files that do not load; never selected.
    pub broken: Vec<BrokenBuilder>,
}

impl Farm {
    /// Load `builders_dir/*.conf` over the built-in `local`. A file that does
    /// not load goes to [`Farm::broken`] (a broken `local.conf` takes the
    /// built-in `local` with it: its settings are unknown). Errors are only
    /// what breaks the farm as a whole: an unreadable directory, two builders
    /// sharing a workdir.
    pub fn load(
        builders_dir: &Path,
        home: &Path,
        local_arch: &str,
    ) -> Result<Farm, Vec<ConfigError>> {
        let mut builders = vec![Builder::builtin_local(local_arch)];
        let mut errors = Vec::new();
        let mut broken = Vec::new();
        let mut files: Vec<PathBuf> = match std::fs::read_dir(builders_dir) {
            Ok(rd) => rd
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "conf") && p.is_file())
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                return Err(vec![ConfigError::whole_file(
                    builders_dir,
                    format!("cannot read the builders directory: {e}"),
                )])
            }
        };
        files.sort();
        for path in files {
            match BuilderFile::load(&path) {
                Ok(f) => {
                    let b = Builder::from_file(f, &path, local_arch);
                    match builders.iter_mut().find(|x| x.name == b.name) {
                        Some(slot) => *slot = b,
                        None => builders.push(b),
                    }
                }
                Err(error) => broken.push(BrokenBuilder {
                    name: path
                        .file_stem()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    file: path.clone(),
                    error,
                }),
            }
        }
        builders.retain(|b| !broken.iter().any(|x| x.name == b.name));
        let home = home.to_string_lossy();
        let mut shared_slots = Vec::new();
        for (i, a) in builders.iter().enumerate() {
            for b in &builders[i + 1..] {
                if a.host() != b.host() {
                    continue;
                }
                let dir =
                    |x: &Builder| x.hasher_dir_with_home(x.is_local().then_some(home.as_ref()));
                if dir(a) == dir(b) {
                    let (reported, other) = if b.file.is_some() { (b, a) } else { (a, b) };
                    errors.push(
                        ConfigError::whole_file(
                            reported.file.as_deref().unwrap_or(Path::new("builders.d")),
                            format!(
                                "builders `{}` and `{}` use the same hasher_dir {} on {}",
                                a.name,
                                b.name,
                                dir(a),
                                a.host()
                            ),
                        )
                        .with_hint(format!(
                            "give each its own hasher_number and hasher_dir (e.g. \"~/hasher_{{hasher_number}}\"); the other one is defined in {}",
                            other.origin()
                        )),
                    );
                } else if a.hasher_number == b.hasher_number {
                    shared_slots.push((a.name.clone(), b.name.clone()));
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Farm {
            builders,
            shared_slots,
            broken,
        })
    }

    /// The broken builder file named `name`, if there is one.
    pub fn broken(&self, name: &str) -> Option<&BrokenBuilder> {
        self.broken.iter().find(|b| b.name == name)
    }

    pub fn get(&self, name: &str) -> Option<&Builder> {
        self.builders.iter().find(|b| b.name == name)
    }

    /// Other builders that share `name`'s hasher-priv slot.
    pub fn slot_mates(&self, name: &str) -> Vec<&str> {
        self.shared_slots
            .iter()
            .filter_map(|(a, b)| {
                if a == name {
                    Some(b.as_str())
                } else if b == name {
                    Some(a.as_str())
                } else {
                    None
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn farm_with(files: &[(&str, &str)]) -> (tempfile::TempDir, Result<Farm, Vec<ConfigError>>) {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(format!("{name}.conf")), text).unwrap();
        }
        let farm = Farm::load(dir.path(), Path::new("/home/u"), "x86_64");
        (dir, farm)
    }

    #[test]
    fn builtin_local_exists_without_files() {
        let (_d, farm) = farm_with(&[]);
        let farm = farm.unwrap();
        assert_eq!(farm.builders.len(), 1);
        let l = farm.get("local").unwrap();
        assert_eq!(l.hasher_dir_with_home(Some("/home/u")), "/home/u/hasher");
        assert_eq!(l.hasher_number, None);
        assert!(l.file.is_none());
    }

    #[test]
    fn local_conf_overrides_builtin() {
        let (_d, farm) = farm_with(&[("local", "hasher_dir = \"/srv/h\"\nbranch = \"p11\"\n")]);
        let farm = farm.unwrap();
        assert_eq!(farm.builders.len(), 1);
        assert_eq!(farm.get("local").unwrap().branch, "p11");
    }

    #[test]
    fn numbered_builder_gets_its_own_dir() {
        let (_d, farm) = farm_with(&[("local2", "hasher_number = 2\n")]);
        let b = farm.unwrap().get("local2").unwrap().clone();
        assert_eq!(b.hasher_dir_with_home(Some("/home/u")), "/home/u/hasher_2");
    }

    #[test]
    fn same_dir_on_same_host_is_an_error_naming_both() {
        let (_d, farm) = farm_with(&[("other", "hasher_dir = \"/home/u/hasher\"\n")]);
        let errs = farm.unwrap_err();
        assert_eq!(errs.len(), 1);
        let msg = errs[0].to_string();
        assert!(msg.contains("`local` and `other`"), "{msg}");
        assert!(msg.contains("built-in"), "{msg}");
    }

    #[test]
    fn same_number_different_dirs_share_a_slot() {
        let (_d, farm) = farm_with(&[
            ("a", "hasher_number = 3\nhasher_dir = \"~/ha\"\n"),
            ("b", "hasher_number = 3\nhasher_dir = \"~/hb\"\n"),
        ]);
        let farm = farm.unwrap();
        assert_eq!(farm.slot_mates("a"), ["b"]);
    }

    #[test]
    fn broken_files_are_set_aside_and_the_rest_loads() {
        let (_d, farm) = farm_with(&[
            ("x", "bogus = 1\n"),
            ("y", "arch = \"vax\"\n"),
            ("z", "hasher_number = 4\n"),
        ]);
        let farm = farm.unwrap();
        let names: Vec<&str> = farm.builders.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(names, ["local", "z"]);
        let broken: Vec<&str> = farm.broken.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(broken, ["x", "y"]);
        let x = farm.broken("x").unwrap();
        assert_eq!((x.error.line, x.error.key.as_deref()), (1, Some("bogus")));
        assert!(x.file.ends_with("x.conf"));
    }

    #[test]
    fn a_broken_local_conf_takes_the_builtin_local_out() {
        let (_d, farm) = farm_with(&[("local", "hasher_dir = 3\n")]);
        let farm = farm.unwrap();
        assert!(farm.get("local").is_none());
        assert!(farm.broken("local").is_some());
    }
}
