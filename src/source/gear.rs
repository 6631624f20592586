//! Making the source tarball with `gear --commit --no-compress`.
//!
//! Run once per `zoryn build`, in a private temporary directory (mode 0700)
//! that lives as long as the [`Tarball`]. Uncompressed, so rsync can send
//! deltas of it to remote builders.
//!
//! **specsubst.** A repository whose `.gear/rules` has `specsubst: VAR...`
//! gets `@VAR@` in its spec replaced by gear — with values gear reads from
//! the `X-gear-specsubst: VAR=value` lines of the tag it builds, and without
//! a tag (`gear --commit` on a work tree) gear refuses: "specsubst directive
//! requires a tag". A batch supplies the values itself:
//! [`make_tarball_with`] runs `gear --disable-specsubst` and replaces
//! `@VAR@` in the spec inside the tarball, as gear would have. It owns
//! making the tarball only; it must not build or upload.

use std::path::{Path, PathBuf};

use super::repo::GearRepo;
use super::spec::SpecInfo;
use super::SourceError;
use crate::run::cancel::CancelToken;
use crate::transport::runner::{run, CommandSpec, Outcome};

/// The packed source of one package.
pub struct Tarball {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
    pub spec: SpecInfo,
    pub size: u64,
}

/// Pack `repo` with gear. `gear` is the configured gear command.
pub fn make_tarball(
    gear: &[String],
    repo: &GearRepo,
    cancel: &CancelToken,
) -> Result<Tarball, SourceError> {
    make_tarball_with(gear, repo, None, cancel)
}

/// The `specsubst:` directive of a repository's gear rules: its line and
/// variable names. The rules file is gear's: `.gear-rules`, else
/// `.gear/rules`, read from the work tree (gear --commit packs the work tree).
pub fn rules_specsubst(root: &Path) -> Result<Option<(PathBuf, usize, Vec<String>)>, String> {
    let Some(rules) = [".gear-rules", ".gear/rules"]
        .iter()
        .map(|r| root.join(r))
        .find(|p| p.is_file())
    else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(&rules)
        .map_err(|e| format!("cannot read {}: {e}", rules.display()))?;
    let mut found: Option<(PathBuf, usize, Vec<String>)> = None;
    for (i, line) in text.lines().enumerate() {
        // gear normalises "directive : args" to "directive: args".
        let Some((directive, args)) = line.trim_start().split_once(':') else {
            continue;
        };
        if directive.trim_end() != "specsubst" {
            continue;
        }
        if let Some((_, first, _)) = &found {
            return Err(format!(
                "{} line {}: more than one \"specsubst\" directive (the first is on line {first}), which gear refuses",
                rules.display(),
                i + 1
            ));
        }
        let vars: Vec<String> = args.split_whitespace().map(str::to_string).collect();
        if let Some(bad) = vars
            .iter()
            .find(|v| !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        {
            return Err(format!(
                "{} line {}: invalid specsubst variable \"{bad}\" (gear allows letters, digits and _)",
                rules.display(),
                i + 1
            ));
        }
        if !vars.is_empty() {
            found = Some((rules.clone(), i + 1, vars));
        }
    }
    Ok(found)
}

/// `@VAR@` replaced by its value, for every (VAR, value), as gear's
/// `substitute_vars_in_spec` does.
pub fn substitute(spec: &str, values: &[(String, String)]) -> String {
    let mut out = spec.to_string();
    for (var, value) in values {
        out = out.replace(&format!("@{var}@"), value);
    }
    out
}

/// Replace the top-level spec file `spec_name` inside the tar at `path`
/// with `text`, keeping every other member (the volume label hsh reads
/// the spec name from included) as it is. Written beside and renamed over,
/// so a failure never leaves half a tarball.
fn replace_spec_in_tar(path: &Path, spec_name: &str, text: &str) -> Result<(), String> {
    let tmp = path.with_extension("tar.subst");
    let result = (|| -> std::io::Result<bool> {
        let input = std::fs::File::open(path)?;
        let mut archive = tar::Archive::new(input);
        let output = std::fs::File::create(&tmp)?;
        let mut builder = tar::Builder::new(output);
        let mut replaced = false;
        for entry in archive.entries()? {
            let mut entry = entry?;
            let mut header = entry.header().clone();
            let entry_path = entry.path()?.into_owned();
            let top = entry_path
                .strip_prefix(".")
                .unwrap_or(&entry_path)
                .to_path_buf();
            if header.entry_type().is_file() && top == Path::new(spec_name) {
                header.set_size(text.len() as u64);
                header.set_cksum();
                builder.append(&header, text.as_bytes())?;
                replaced = true;
            } else {
                let mut data = Vec::new();
                std::io::Read::read_to_end(&mut entry, &mut data)?;
                builder.append(&header, data.as_slice())?;
            }
        }
        builder.into_inner()?.sync_all()?;
        Ok(replaced)
    })();
    match result {
        Ok(true) => std::fs::rename(&tmp, path)
            .map_err(|e| format!("cannot replace {}: {e}", path.display())),
        Ok(false) => {
            let _ = std::fs::remove_file(&tmp);
            Err(format!(
                "gear's tarball {} has no {spec_name} to substitute in",
                path.display()
            ))
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(format!("cannot rewrite {}: {e}", path.display()))
        }
    }
}

/// [`make_tarball`], with gear's specsubst done by zoryn: when `specsubst`
/// is given, gear runs with `--disable-specsubst` and `@VAR@` is replaced
/// in the spec inside the tarball (and in [`Tarball::spec`]).
pub fn make_tarball_with(
    gear: &[String],
    repo: &GearRepo,
    specsubst: Option<&[(String, String)]>,
    cancel: &CancelToken,
) -> Result<Tarball, SourceError> {
    let dir = tempfile::Builder::new()
        .prefix("zoryn-src.")
        .tempdir()
        .map_err(|e| {
            SourceError::new(
                format!("cannot create a temporary directory: {e}"),
                "check $TMPDIR",
            )
        })?;
    let stem = repo
        .spec
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "pkg".into());
    let path = dir.path().join(format!("{stem}.tar"));
    let mut cmd = CommandSpec::new(gear.iter().cloned()).args(["--commit", "--no-compress"]);
    if specsubst.is_some() {
        cmd = cmd.arg("--disable-specsubst");
    }
    let cmd = cmd.arg(&path).cwd(&repo.root);
    let mut output = Vec::new();
    let outcome = run(&cmd, cancel, |b| output.extend_from_slice(b)).map_err(|e| {
        if e.not_found() {
            SourceError {
                message: format!("`{}` is not installed (or not in PATH)", e.program),
                hint: Some("install it: apt-get install gear (ALT package `gear`), or set [commands] gear in ~/.zoryn".into()),
                missing_tool: true,
            }
        } else {
            SourceError::new(e.to_string(), "check [commands] gear in ~/.zoryn")
        }
    })?;
    match outcome {
        Outcome::Cancelled | Outcome::TimedOut => {
            return Err(SourceError::new("interrupted while making the tarball", ""));
        }
        o if !o.success() => {
            let text = String::from_utf8_lossy(&output);
            let tail: Vec<&str> = text
                .lines()
                .rev()
                .take(10)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            return Err(SourceError::new(
                format!(
                    "gear failed to make the source tarball in {} (exit {}):\n{}",
                    repo.root.display(),
                    o.code().unwrap_or(-1),
                    tail.join("\n")
                ),
                "fix the problem gear reports; `gear --commit --no-compress /tmp/pkg.tar` reproduces it",
            ));
        }
        _ => {}
    }
    let mut spec_text = std::fs::read_to_string(repo.root.join(&repo.spec)).unwrap_or_default();
    if let Some(values) = specsubst {
        spec_text = substitute(&spec_text, values);
        let spec_name = repo
            .spec
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        replace_spec_in_tar(&path, &spec_name, &spec_text).map_err(|e| {
            SourceError::new(
                format!("specsubst in {}: {e}", repo.root.display()),
                "check the disk space of $TMPDIR",
            )
        })?;
    }
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    Ok(Tarball {
        _dir: dir,
        path,
        spec: SpecInfo::parse(&spec_text),
        size,
    })
}
