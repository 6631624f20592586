//! Batch definitions in the format the zoryn family documents (SPEC 7):
//! `$XDG_CONFIG_HOME/zoryn/batch/NAME.conf`, or any path.
//!
//! ```toml
//! [batch]
//! name = "PHP 8.4 extensions"      # display name (default: file name)
//! basedir = "~/packages/php8.4"    # a package's default path: basedir/<table name>
//! specsubst = "phpver=8.4"         # gear specsubst values (@phpver@), VAR=value ...
//! main = "php"                     # the main package
//! main_branch = "8.4"              # accepted (submission)
//! tag_format = "..."               # accepted (submission)
//! tag_message = "..."              # accepted (submission)
//! macros = { _php_suffix = "8.4" } # zoryn: macros every spec of the batch sees
//! # zoryn's extension: default farm selection (-b/-a/-B override them)
//! builders = "@branch:sisyphus"
//! arch = ["x86_64", "aarch64"]
//! branch = "sisyphus"
//!
//! [php]                            # one table per package; the name is a directory
//! [pecl-imagick]
//! path = "~/packages/imagick"      # instead of basedir/pecl-imagick
//! [php-unit]
//! mode = "rebuild"                 # hsh-rebuild in an existing chroot
//! [php-xdebug]
//! skip = true                      # left out
//! [php-pgsql]
//! exclude = ["p10"]                # not for these branches
//! [php-redis]
//! only = ["sisyphus"]              # only for these branches
//! [php-sodium]
//! specsubst = "none"               # no substitution for this package
//! [remote-ext]                     # zoryn's extension: a git URL, cloned
//! git = "https://git.example/gears/ext.git"
//! ref = "sisyphus"
//! ```
//!
//! Parsing and validation only: it must not touch the packages (cloning and
//! reading specs happen in `sources` and the runner).

use std::path::{Path, PathBuf};

use crate::config::error::ConfigError;
use crate::config::toml_reader::{TableReader, TomlFile};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PackageSource {
    Path(PathBuf),
    Git {
        url: String,
        reference: Option<String>,
    },
}

/// How a package is built: a normal hsh build, or `hsh-rebuild` in the
/// chroot an earlier build left.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PackageMode {
    #[default]
    Build,
    Rebuild,
}

impl PackageMode {
    pub fn as_str(self) -> &'static str {
        match self {
            PackageMode::Build => "build",
            PackageMode::Rebuild => "rebuild",
        }
    }
}

/// A package's specsubst setting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Specsubst {
    /// The batch's values (no `specsubst` in the package's table).
    Batch,
    /// `specsubst = "none"`: no substitution.
    Disabled,
    /// Its own values, instead of the batch's.
    Values(Vec<(String, String)>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchPackage {
    /// The table name: the package's name in the batch (`--batch-pkgs`).
    pub name: String,
    pub source: PackageSource,
    /// Line of the table header in the batch file, for messages.
    pub line: usize,
    pub mode: PackageMode,
    pub skip: bool,
    /// Branches this package is not built for.
    pub exclude: Vec<String>,
    /// When not empty: the only branches it is built for.
    pub only: Vec<String>,
    pub specsubst: Specsubst,
}

impl BatchPackage {
    /// Why this package is not built for `branch`, if it is not.
    pub fn branch_skip_reason(&self, branch: &str) -> Option<String> {
        if self.exclude.iter().any(|b| b == branch) {
            return Some(format!("exclude = [..\"{branch}\"..] in the batch"));
        }
        if !self.only.is_empty() && !self.only.iter().any(|b| b == branch) {
            return Some(format!(
                "only = [{}] in the batch",
                self.only
                    .iter()
                    .map(|b| format!("\"{b}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        None
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchFile {
    /// Identifier: the file name without `.conf` (state, journal, chain repo).
    pub name: String,
    /// `name` in `[batch]` (display only); the identifier when not given.
    pub title: String,
    pub path: PathBuf,
    pub basedir: Option<PathBuf>,
    pub specsubst: Vec<(String, String)>,
    pub main: Option<String>,
    pub main_branch: Option<String>,
    pub tag_format: Option<String>,
    pub tag_message: Option<String>,
    pub macros: Vec<(String, String)>,
    pub builders: Option<String>,
    pub arch: Vec<String>,
    pub branch: Vec<String>,
    pub packages: Vec<BatchPackage>,
}

const BATCH_KEYS: &[&str] = &[
    "name",
    "basedir",
    "specsubst",
    "main",
    "main_branch",
    "tag_format",
    "tag_message",
    "macros",
    "builders",
    "arch",
    "branch",
];
const PACKAGE_KEYS: &[&str] = &[
    "path",
    "mode",
    "skip",
    "exclude",
    "only",
    "specsubst",
    "git",
    "ref",
];

/// Names of the batches in `dir` (`*.conf`), sorted.
pub fn known_batches(dir: &Path) -> Vec<String> {
    let mut known: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| e.path().is_file())
                .filter_map(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .strip_suffix(".conf")
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default();
    known.sort();
    known
}

/// Where a batch given on the command line lives: a name under
/// `batch_dir` (`NAME.conf`), or a path to a file.
pub fn locate(arg: &str, batch_dir: &Path) -> Result<PathBuf, ConfigError> {
    let looks_like_name = !arg.contains('/') && !arg.ends_with(".conf") && !arg.is_empty();
    if looks_like_name {
        let named = batch_dir.join(format!("{arg}.conf"));
        if named.is_file() {
            return Ok(named);
        }
        let p = PathBuf::from(arg);
        if p.is_file() {
            return Ok(p);
        }
        let known = known_batches(batch_dir);
        let hint = if known.is_empty() {
            format!(
                "create {} (format: SPEC 7, `zoryn task batch --help`), or give the path of a batch file",
                named.display()
            )
        } else {
            let mut h = format!("batches in {}: {}", batch_dir.display(), known.join(", "));
            if let Some(s) =
                crate::config::error::did_you_mean(arg, known.iter().map(String::as_str))
            {
                h = format!("did you mean `{s}`? {h}");
            }
            h
        };
        return Err(
            ConfigError::whole_file(&named, format!("no batch named `{arg}`")).with_hint(hint),
        );
    }
    let p = PathBuf::from(arg);
    if p.is_file() {
        return Ok(p);
    }
    Err(
        ConfigError::whole_file(&p, "no such batch file").with_hint(format!(
            "give the path of a batch file, or the name of one in {}",
            batch_dir.display()
        )),
    )
}

fn expand_home(p: &str, home: &Path, relative_to: &Path) -> PathBuf {
    match p.strip_prefix("~/") {
        Some(rest) => home.join(rest),
        None if p == "~" => home.to_path_buf(),
        None => relative_to.join(p),
    }
}

/// `"VAR=value VAR2=value2"` as gear's specsubst values. Names as gear
/// allows them in the `specsubst:` directive (letters, digits, `_`).
fn parse_specsubst(
    t: &TableReader<'_>,
    key: &str,
    text: &str,
) -> Result<Vec<(String, String)>, ConfigError> {
    let mut out: Vec<(String, String)> = Vec::new();
    for word in text.split_whitespace() {
        let Some((var, value)) = word.split_once('=') else {
            return Err(t
                .error(key, format!("`{word}` is not VAR=value"))
                .with_hint(
                    "write specsubst = \"VAR=value VAR2=value2\", or \"none\" in a package",
                ));
        };
        if var.is_empty() || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(t
                .error(key, format!("`{var}` cannot name a specsubst variable"))
                .with_hint("gear allows letters, digits and _ in specsubst names"));
        }
        if out.iter().any(|(v, _)| v == var) {
            return Err(t.error(key, format!("`{var}` is given twice")));
        }
        out.push((var.to_string(), value.to_string()));
    }
    Ok(out)
}

fn branch_list(t: &TableReader<'_>, key: &str) -> Result<Vec<String>, ConfigError> {
    let list = t.string_list(key)?.map(|l| l.value).unwrap_or_default();
    if let Some(bad) = list
        .iter()
        .find(|b| b.trim().is_empty() || b.contains(char::is_whitespace))
    {
        return Err(t
            .error(key, format!("\"{bad}\" is not a branch name"))
            .with_hint("branches as in builder files: sisyphus, p11, c10f2 ..."));
    }
    Ok(list)
}

impl BatchFile {
    pub fn load(path: &Path, home: &Path) -> Result<BatchFile, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::whole_file(path, format!("cannot read the batch file: {e}"))
        })?;
        Self::parse(path, &text, home)
    }

    /// How headers name the batch: its identifier (what `zoryn task batch`
    /// takes, `--continue` included) and, when `[batch] name` gives another,
    /// that title: `php-8.4 "PHP 8.4 extensions"`.
    pub fn label(&self) -> String {
        if self.title == self.name {
            self.name.clone()
        } else {
            format!("{} \"{}\"", self.name, self.title)
        }
    }

    /// The specsubst values that apply to `pkg`.
    pub fn specsubst_for<'a>(&'a self, pkg: &'a BatchPackage) -> &'a [(String, String)] {
        match &pkg.specsubst {
            Specsubst::Batch => &self.specsubst,
            Specsubst::Disabled => &[],
            Specsubst::Values(v) => v,
        }
    }

    /// The macros every spec of `pkg` is read with, in SPEC 7's order: the
    /// batch's `macros`, then its specsubst values (later ones win).
    pub fn defines_for(&self, pkg: &BatchPackage) -> Vec<(String, String)> {
        let mut out = self.macros.clone();
        out.extend(self.specsubst_for(pkg).iter().cloned());
        out
    }

    pub fn parse(path: &Path, text: &str, home: &Path) -> Result<BatchFile, ConfigError> {
        let file = TomlFile::parse(path, text)?;
        let root = file.root();
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "batch".into());
        let file_dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let mut out = BatchFile {
            name: stem.clone(),
            title: stem,
            path: path.to_path_buf(),
            basedir: None,
            specsubst: Vec::new(),
            main: None,
            main_branch: None,
            tag_format: None,
            tag_message: None,
            macros: Vec::new(),
            builders: None,
            arch: Vec::new(),
            branch: Vec::new(),
            packages: Vec::new(),
        };
        // Everything at the top level is a table: [batch] or a package.
        for (key, _) in root.keys() {
            if !root.is_table(key) {
                return Err(root
                    .error(key, "a batch file has only tables at the top level")
                    .with_hint(format!(
                        "put `{key}` under [batch], or in the table of a package"
                    )));
            }
        }
        if let Some(b) = root.table("batch")? {
            b.deny_unknown(BATCH_KEYS, |_, _| false)?;
            if let Some(n) = b.string("name")? {
                if n.value.trim().is_empty() {
                    return Err(b.error("name", "the name is empty"));
                }
                if n.value.chars().any(char::is_control) {
                    return Err(b
                        .error(
                            "name",
                            "the name has a control character (a newline, a tab, ...)",
                        )
                        .with_hint("the name is a one-line title shown in headers and reports"));
                }
                out.title = n.value.trim().to_string();
            }
            if let Some(d) = b.string("basedir")? {
                out.basedir = Some(expand_home(&d.value, home, &file_dir));
            }
            if let Some(s) = b.string("specsubst")? {
                if s.value.trim() == "none" {
                    out.specsubst = Vec::new();
                } else {
                    out.specsubst = parse_specsubst(&b, "specsubst", &s.value)?;
                }
            }
            out.main = b.string("main")?.map(|v| v.value);
            out.main_branch = b.string("main_branch")?.map(|v| v.value);
            out.tag_format = b.string("tag_format")?.map(|v| v.value);
            out.tag_message = b.string("tag_message")?.map(|v| v.value);
            if let Some(m) = b.string_map("macros")? {
                for (k, _) in &m.value {
                    let ok = !k.is_empty()
                        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                        && !k.starts_with(|c: char| c.is_ascii_digit());
                    if !ok {
                        return Err(b
                            .error("macros", format!("`{k}` cannot name an rpm macro"))
                            .with_hint("macro names are letters, digits and _ (no leading %)"));
                    }
                }
                out.macros = m.value;
            }
            if let Some(p) = b.string("builders")? {
                crate::farm::selection::parse(&p.value).map_err(|e| {
                    b.error("builders", e.message.clone())
                        .with_hint(e.hint.unwrap_or_default())
                })?;
                out.builders = Some(p.value);
            }
            out.arch = b.string_list("arch")?.map(|l| l.value).unwrap_or_default();
            out.branch = branch_list(&b, "branch")?;
        }
        for (key, _) in root.keys() {
            if key == "batch" {
                continue;
            }
            let Some(t) = root.table(key)? else { continue };
            out.packages
                .push(Self::package(&t, key, &out, home, &file_dir)?);
        }
        if out.packages.is_empty() {
            return Err(ConfigError::whole_file(path, "the batch lists no packages").with_hint(
                "add one table per package: [NAME] (a directory under basedir) or [NAME] with path = \"...\"",
            ));
        }
        if let Some(m) = &out.main {
            if !out.packages.iter().any(|p| &p.name == m) {
                let names: Vec<&str> = out.packages.iter().map(|p| p.name.as_str()).collect();
                let b = root.table("batch")?;
                let e = match &b {
                    Some(b) => b.error("main", format!("no package [{m}] in this batch")),
                    None => ConfigError::whole_file(path, format!("no package [{m}]")),
                };
                return Err(e.with_hint(format!("packages here: {}", names.join(", "))));
            }
        }
        for (i, p) in out.packages.iter().enumerate() {
            if let Some(q) = out.packages[..i].iter().find(|q| q.source == p.source) {
                return Err(ConfigError {
                    line: p.line,
                    ..ConfigError::whole_file(
                        path,
                        format!(
                            "[{}] is the same package as [{}] (line {})",
                            p.name, q.name, q.line
                        ),
                    )
                }
                .with_hint("list every package once"));
            }
        }
        Ok(out)
    }

    fn package(
        t: &TableReader<'_>,
        name: &str,
        batch: &BatchFile,
        home: &Path,
        file_dir: &Path,
    ) -> Result<BatchPackage, ConfigError> {
        // `[php8.4]` is TOML for table "php8" with a sub-table "4".
        for (k, _) in t.keys() {
            if t.is_table(k) {
                return Err(t
                    .error(
                        k,
                        format!("[{name}.{k}] is a table inside the package [{name}]"),
                    )
                    .with_hint(format!(
                        "a package name with a dot must be quoted: [\"{name}.{k}\"]"
                    )));
            }
        }
        t.deny_unknown(PACKAGE_KEYS, |_, _| false)?;
        let line = t.error_here("").line;
        let p = t.string("path")?;
        let g = t.string("git")?;
        let r = t.string("ref")?;
        let source = match (p, g) {
            (Some(_), Some(_)) => {
                return Err(t
                    .error("git", "give either `path` or `git`, not both")
                    .with_hint("one table per package"))
            }
            (Some(p), None) => {
                if r.is_some() {
                    return Err(t
                        .error("ref", "`ref` only goes with `git`")
                        .with_hint("a local path builds its work tree as it is"));
                }
                PackageSource::Path(expand_home(&p.value, home, file_dir))
            }
            (None, Some(g)) => PackageSource::Git {
                url: g.value,
                reference: r.map(|r| r.value),
            },
            (None, None) => {
                if r.is_some() {
                    return Err(t
                        .error("ref", "`ref` only goes with `git`")
                        .with_hint("give git = \"URL\" too, or drop ref"));
                }
                match &batch.basedir {
                    Some(d) => PackageSource::Path(d.join(name)),
                    None => {
                        return Err(t
                            .error_here(format!(
                                "package [{name}] has no path, and [batch] has no basedir"
                            ))
                            .with_hint(format!(
                                "set basedir = \"~/packages\" in [batch] (then [{name}] is basedir/{name}), or path = \"...\" here"
                            )))
                    }
                }
            }
        };
        let mode = match t.string("mode")? {
            None => PackageMode::Build,
            Some(m) => match m.value.as_str() {
                "build" => PackageMode::Build,
                "rebuild" => PackageMode::Rebuild,
                other => {
                    return Err(t
                        .error("mode", format!("unknown mode \"{other}\""))
                        .with_hint(
                            "mode = \"rebuild\" (hsh-rebuild), or leave it out for a build",
                        ))
                }
            },
        };
        let skip = t.switch("skip")?.unwrap_or(false);
        let exclude = branch_list(t, "exclude")?;
        let only = branch_list(t, "only")?;
        if let Some(b) = only.iter().find(|b| exclude.contains(b)) {
            return Err(t
                .error("only", format!("\"{b}\" is both in only and in exclude"))
                .with_hint("keep one of them"));
        }
        let specsubst = match t.string("specsubst")? {
            None => Specsubst::Batch,
            Some(s) if s.value.trim() == "none" => Specsubst::Disabled,
            Some(s) => Specsubst::Values(parse_specsubst(t, "specsubst", &s.value)?),
        };
        Ok(BatchPackage {
            name: name.to_string(),
            source,
            line,
            mode,
            skip,
            exclude,
            only,
            specsubst,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<BatchFile, ConfigError> {
        BatchFile::parse(Path::new("/c/batch/php.conf"), text, Path::new("/home/u"))
    }

    const FULL: &str = r#"[batch]
name = "PHP 8.4 extensions"
basedir = "~/packages/php8.4"
specsubst = "phpver=8.4 flavour=main"
main = "php"
main_branch = "8.4"
tag_format = "{main_name}-{main_version}-{main_release}"
tag_message = "..."
macros = { _php_suffix = "8.4", php_version = "8.4.1" }
builders = "@branch:sisyphus"
arch = ["x86_64", "aarch64"]

[php]
[php-memcached]
[pecl-imagick]
path = "~/packages/imagick"
[php-unit]
mode = "rebuild"
[php-xdebug]
skip = true
[php-pgsql]
exclude = ["p10", "c10f2"]
[php-redis]
only = ["sisyphus", "p11"]
[php-sodium]
specsubst = "none"
[php-own]
specsubst = "phpver=8.3"
[remote]
git = "file:///srv/git/ext.git"
ref = "sisyphus"
"#;

    #[test]
    fn documented_format() {
        let b = parse(FULL).unwrap();
        assert_eq!(b.name, "php");
        assert_eq!(b.title, "PHP 8.4 extensions");
        assert_eq!(b.label(), "php \"PHP 8.4 extensions\"");
        assert_eq!(b.main.as_deref(), Some("php"));
        assert_eq!(b.main_branch.as_deref(), Some("8.4"));
        assert_eq!(b.builders.as_deref(), Some("@branch:sisyphus"));
        assert_eq!(b.arch, ["x86_64", "aarch64"]);
        let names: Vec<&str> = b.packages.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "php",
                "php-memcached",
                "pecl-imagick",
                "php-unit",
                "php-xdebug",
                "php-pgsql",
                "php-redis",
                "php-sodium",
                "php-own",
                "remote"
            ]
        );
        let p = |n: &str| b.packages.iter().find(|p| p.name == n).unwrap();
        assert_eq!(
            p("php").source,
            PackageSource::Path("/home/u/packages/php8.4/php".into())
        );
        assert_eq!(p("php").line, 13);
        assert_eq!(
            p("pecl-imagick").source,
            PackageSource::Path("/home/u/packages/imagick".into())
        );
        assert_eq!(p("php-unit").mode, PackageMode::Rebuild);
        assert_eq!(p("php").mode, PackageMode::Build);
        assert!(p("php-xdebug").skip);
        assert_eq!(
            p("php-pgsql").branch_skip_reason("p10").as_deref(),
            Some("exclude = [..\"p10\"..] in the batch")
        );
        assert_eq!(p("php-pgsql").branch_skip_reason("sisyphus"), None);
        assert!(p("php-redis").branch_skip_reason("p10").is_some());
        assert_eq!(p("php-redis").branch_skip_reason("p11"), None);
        let defs = b.defines_for(p("php"));
        assert_eq!(
            defs,
            [
                ("_php_suffix".to_string(), "8.4".to_string()),
                ("php_version".into(), "8.4.1".into()),
                ("phpver".into(), "8.4".into()),
                ("flavour".into(), "main".into())
            ]
        );
        assert!(b.specsubst_for(p("php-sodium")).is_empty());
        assert_eq!(
            b.specsubst_for(p("php-own")),
            [("phpver".to_string(), "8.3".to_string())]
        );
        assert_eq!(
            p("remote").source,
            PackageSource::Git {
                url: "file:///srv/git/ext.git".into(),
                reference: Some("sisyphus".into())
            }
        );
    }

    #[test]
    fn precise_errors() {
        let e = parse("[batch]\nbasedir = \"/p\"\nmacross = {}\n[a]\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert_eq!(e.hint.as_deref(), Some("did you mean `macros`?"));
        let e = parse("[batch]\nbasedir = \"/p\"\n[a]\npaht = \"x\"\n").unwrap_err();
        assert_eq!(e.line, 4);
        assert!(e.message.contains("unknown key `paht` in [a]"), "{e}");
        assert_eq!(e.hint.as_deref(), Some("did you mean `path`?"));
        let e = parse("[a]\n").unwrap_err();
        assert!(
            e.message.contains("no path, and [batch] has no basedir"),
            "{e}"
        );
        let e = parse("[batch]\nbasedir = \"/p\"\n[a]\nmode = \"rebiuld\"\n").unwrap_err();
        assert!(e.message.contains("unknown mode \"rebiuld\""), "{e}");
        let e = parse("[batch]\nbasedir = \"/p\"\n[php8.4]\n").unwrap_err();
        assert!(
            e.hint.as_deref().unwrap_or("").contains("[\"php8.4\"]"),
            "{e}"
        );
        assert_eq!(
            parse("[batch]\nbasedir = \"/p\"\n[\"php8.4\"]\n")
                .unwrap()
                .packages[0]
                .name,
            "php8.4"
        );
        let e = parse("[batch]\nspecsubst = \"phpver\"\nbasedir = \"/p\"\n[a]\n").unwrap_err();
        assert!(e.message.contains("is not VAR=value"), "{e}");
        let e = parse("[batch]\nmacros = { \"%x\" = \"1\" }\nbasedir = \"/p\"\n[a]\n").unwrap_err();
        assert!(e.message.contains("cannot name an rpm macro"), "{e}");
        let e = parse("basedir = \"/p\"\n[a]\n").unwrap_err();
        assert!(e.message.contains("only tables at the top level"), "{e}");
        assert!(parse("[batch]\nbasedir = \"/p\"\n")
            .unwrap_err()
            .message
            .contains("lists no packages"));
        let e = parse("[batch]\nbasedir = \"/p\"\n[a]\n[b]\npath = \"/p/a\"\n").unwrap_err();
        assert!(e.message.contains("same package as [a]"), "{e}");
        let e = parse("[batch]\nbasedir = \"/p\"\nmain = \"x\"\n[a]\n").unwrap_err();
        assert!(e.message.contains("no package [x]"), "{e}");
        let e = parse("[batch]\nbasedir = \"/p\"\n[a]\nskip = \"maybe\"\n").unwrap_err();
        assert!(e.message.contains("[a] skip"), "{e}");
    }

    #[test]
    fn locate_by_name_or_path() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("php.conf"), "").unwrap();
        std::fs::write(d.path().join("ocaml.conf"), "").unwrap();
        assert_eq!(locate("php", d.path()).unwrap(), d.path().join("php.conf"));
        let e = locate("phq", d.path()).unwrap_err();
        let hint = e.hint.unwrap();
        assert!(hint.starts_with("did you mean `php`?"), "{hint}");
        assert!(hint.ends_with(": ocaml, php"), "{hint}");
        assert!(locate("/nonexistent/x.conf", d.path()).is_err());
        let p = d.path().join("php.conf");
        assert_eq!(locate(p.to_str().unwrap(), d.path()).unwrap(), p);
    }

    #[test]
    fn the_title_defaults_to_the_file_name_and_is_one_line() {
        let b = parse("[batch]\nbasedir = \"/p\"\n[a]\n").unwrap();
        assert_eq!((b.title.as_str(), b.label()), ("php", "php".to_string()));
        let b = parse("[batch]\nname = \" php \"\nbasedir = \"/p\"\n[a]\n").unwrap();
        assert_eq!(b.label(), "php", "the same name twice says nothing");
        let e = parse("[batch]\nname = \"two\\nlines\"\nbasedir = \"/p\"\n[a]\n").unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("php.conf:2") && text.contains("control character"),
            "{text}"
        );
    }
}
