//! Batch definitions: which packages, and which builders by default.
//!
//! A batch is a TOML file, given by path or by name
//! (`$XDG_CONFIG_HOME/zoryn/batches/NAME.toml`):
//!
//! ```toml
//! [batch]
//! builders = "@branch:sisyphus"   # default selection; -b overrides
//! arch = ["x86_64", "aarch64"]    # default -a
//! branch = "sisyphus"             # default -B
//!
//! [[package]]
//! path = "~/src/libfoo"           # a gear repository on this machine
//!
//! [[package]]
//! git = "https://git.example/gears/app.git"   # cloned into the cache
//! ref = "sisyphus"                # branch, tag or commit (default: HEAD)
//! ```
//!
//! Parsing only; cloning and reading specs happen in the runner.

use std::path::{Path, PathBuf};

use crate::config::error::ConfigError;
use crate::config::toml_reader::TomlFile;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PackageSource {
    Path(PathBuf),
    Git {
        url: String,
        reference: Option<String>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchPackage {
    pub source: PackageSource,
    /// Line in the batch file, for messages.
    pub line: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchFile {
    pub name: String,
    pub path: PathBuf,
    pub builders: Option<String>,
    pub arch: Vec<String>,
    pub branch: Vec<String>,
    pub packages: Vec<BatchPackage>,
}

/// Where a batch given on the command line lives: an existing path, or a
/// name under `batches_dir`.
pub fn locate(arg: &str, batches_dir: &Path) -> Result<PathBuf, ConfigError> {
    let p = PathBuf::from(arg);
    if p.is_file() {
        return Ok(p);
    }
    let looks_like_name = !arg.contains('/') && !arg.ends_with(".toml");
    if looks_like_name {
        let named = batches_dir.join(format!("{arg}.toml"));
        if named.is_file() {
            return Ok(named);
        }
        let known: Vec<String> = std::fs::read_dir(batches_dir)
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .filter_map(|e| {
                        e.file_name()
                            .to_string_lossy()
                            .strip_suffix(".toml")
                            .map(str::to_string)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let hint = if known.is_empty() {
            format!(
                "create {} (see `zoryn task batch --help`), or give a path",
                named.display()
            )
        } else {
            format!("batches there: {}", known.join(", "))
        };
        return Err(
            ConfigError::whole_file(&named, format!("no batch named `{arg}`")).with_hint(hint),
        );
    }
    Err(ConfigError::whole_file(&p, "no such batch file")
        .with_hint("give the path of a batch .toml file or the name of one in batches/"))
}

fn expand_home(p: &str, home: &Path) -> PathBuf {
    match p.strip_prefix("~/") {
        Some(rest) => home.join(rest),
        None if p == "~" => home.to_path_buf(),
        None => PathBuf::from(p),
    }
}

impl BatchFile {
    pub fn load(path: &Path, home: &Path) -> Result<BatchFile, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::whole_file(path, format!("cannot read the batch file: {e}"))
        })?;
        Self::parse(path, &text, home)
    }

    pub fn parse(path: &Path, text: &str, home: &Path) -> Result<BatchFile, ConfigError> {
        let file = TomlFile::parse(path, text)?;
        let root = file.root();
        root.deny_unknown(&["batch", "package"], |_, _| false)?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "batch".into());
        let mut out = BatchFile {
            name,
            path: path.to_path_buf(),
            builders: None,
            arch: Vec::new(),
            branch: Vec::new(),
            packages: Vec::new(),
        };
        if let Some(b) = root.table("batch")? {
            b.deny_unknown(&["name", "builders", "arch", "branch"], |_, _| false)?;
            if let Some(n) = b.string("name")? {
                if n.value.is_empty() || n.value.contains(['/', '\0']) || n.value.starts_with('.') {
                    return Err(b
                        .error("name", format!("\"{}\" cannot name a batch", n.value))
                        .with_hint("use letters, digits, dots, - and _"));
                }
                out.name = n.value;
            }
            if let Some(p) = b.string("builders")? {
                crate::farm::selection::parse(&p.value).map_err(|e| {
                    b.error("builders", e.message.clone())
                        .with_hint(e.hint.unwrap_or_default())
                })?;
                out.builders = Some(p.value);
            }
            out.arch = b.string_list("arch")?.map(|l| l.value).unwrap_or_default();
            out.branch = b
                .string_list("branch")?
                .map(|l| l.value)
                .unwrap_or_default();
        }
        let tables = root.array_of_tables("package")?;
        if tables.is_empty() {
            return Err(ConfigError::whole_file(path, "the batch lists no packages")
                .with_hint("add [[package]] sections with path = \"...\" or git = \"...\""));
        }
        for t in tables {
            t.deny_unknown(&["path", "git", "ref"], |_, _| false)?;
            let p = t.string("path")?;
            let g = t.string("git")?;
            let r = t.string("ref")?;
            let line = p.as_ref().or(g.as_ref()).map_or(0, |l| l.line);
            let source =
                match (p, g) {
                    (Some(p), None) => {
                        if r.is_some() {
                            return Err(t
                                .error("ref", "`ref` only goes with `git`")
                                .with_hint("a local path builds its work tree as it is"));
                        }
                        PackageSource::Path(expand_home(&p.value, home))
                    }
                    (None, Some(g)) => PackageSource::Git {
                        url: g.value,
                        reference: r.map(|r| r.value),
                    },
                    (Some(_), Some(_)) => {
                        return Err(t
                            .error("git", "give either `path` or `git`, not both")
                            .with_hint("one [[package]] section per package"))
                    }
                    (None, None) => return Err(t.error_here(
                        "a package needs `path` (a gear repository here) or `git` (a URL to clone)",
                    )),
                };
            if out.packages.iter().any(|x| x.source == source) {
                return Err(t
                    .error_here("this package is listed twice")
                    .with_hint("remove the duplicate [[package]] section"));
            }
            out.packages.push(BatchPackage { source, line });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<BatchFile, ConfigError> {
        BatchFile::parse(Path::new("/c/batches/php.toml"), text, Path::new("/home/u"))
    }

    #[test]
    fn full_file() {
        let b = parse(
            "[batch]\nbuilders = \"@branch:sisyphus\"\narch = [\"x86_64\", \"aarch64\"]\n\n[[package]]\npath = \"~/src/php\"\n\n[[package]]\ngit = \"file:///srv/git/ext.git\"\nref = \"sisyphus\"\n",
        )
        .unwrap();
        assert_eq!(b.name, "php");
        assert_eq!(b.builders.as_deref(), Some("@branch:sisyphus"));
        assert_eq!(b.arch, ["x86_64", "aarch64"]);
        assert_eq!(
            b.packages[0].source,
            PackageSource::Path("/home/u/src/php".into())
        );
        assert_eq!(b.packages[0].line, 6);
        assert_eq!(
            b.packages[1].source,
            PackageSource::Git {
                url: "file:///srv/git/ext.git".into(),
                reference: Some("sisyphus".into())
            }
        );
    }

    #[test]
    fn precise_errors() {
        let e = parse("[[package]]\npaht = \"x\"\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert_eq!(e.hint.as_deref(), Some("did you mean `path`?"));
        let e = parse("[[package]]\npath = \"a\"\ngit = \"b\"\n").unwrap_err();
        assert!(e.message.contains("either `path` or `git`"), "{e}");
        let e = parse("[[package]]\nref = \"x\"\n").unwrap_err();
        assert!(
            e.message.contains("`ref` only goes with `git`") || e.message.contains("needs `path`"),
            "{e}"
        );
        let e = parse("[batch]\nbuilders = \"local[1-\"\n[[package]]\npath = \"a\"\n").unwrap_err();
        assert!(e.message.contains("malformed builder pattern"), "{e}");
        assert!(parse("[batch]\n")
            .unwrap_err()
            .message
            .contains("lists no packages"));
        assert!(
            parse("[[package]]\npath = \"a\"\n[[package]]\npath = \"a\"\n")
                .unwrap_err()
                .message
                .contains("twice")
        );
        let e = parse("[[package]]\n").unwrap_err();
        assert!(
            e.message
                .starts_with("[package #1]: a package needs `path`"),
            "{e}"
        );
    }

    #[test]
    fn locate_by_name_or_path() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("php.toml"), "").unwrap();
        assert_eq!(locate("php", d.path()).unwrap(), d.path().join("php.toml"));
        let e = locate("pyhton", d.path()).unwrap_err();
        assert_eq!(e.hint.as_deref(), Some("batches there: php"));
        assert!(locate("/nonexistent/x.toml", d.path()).is_err());
    }
}
