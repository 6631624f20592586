//! Making the source tarball with `gear --commit --no-compress`.
//!
//! Run once per `zoryn build`, in a private temporary directory (mode 0700)
//! that lives as long as the [`Tarball`]. Uncompressed, so rsync can send
//! deltas of it to remote builders. [`make_tarball_reusing`] first asks
//! [`super::cache`] whether gear would pack exactly what it packed last
//! time, and then hands out that tarball instead of running gear again;
//! this module runs gear, it must not decide what the key of a tarball is.
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

use super::cache::{source_key, TarballCache};
use super::repo::GearRepo;
use super::specdeps::SpecText;
use super::SourceError;
use crate::transport::cancel::CancelToken;
use crate::transport::runner::{run, CommandSpec, Outcome};

/// The packed source of one package.
pub struct Tarball {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
    pub spec: SpecText,
    pub size: u64,
    /// Taken from the tarball cache: gear did not run.
    pub reused: bool,
    /// Its SHA-256 (hex) when known (a reused tarball): a remote host that
    /// already has this source is not sent it again.
    pub sha256: Option<String>,
}

/// Like [`make_tarball`], but reuse the cached tarball when what gear would
/// pack is unchanged (see [`super::cache`]), and cache a new one. `git` is
/// the configured git command.
pub fn make_tarball_reusing(
    gear: &[String],
    git: &[String],
    cache: &TarballCache,
    repo: &GearRepo,
    cancel: &CancelToken,
) -> Result<Tarball, SourceError> {
    let Some(key) = source_key(git, gear, &repo.root, &repo.spec, cancel) else {
        return make_tarball(gear, repo, cancel);
    };
    let Ok(dir) = cache.scratch() else {
        return make_tarball(gear, repo, cancel);
    };
    let path = dir.path().join(tar_name(repo));
    if cache.take(&key, &path) {
        tracing::info!(
            "source unchanged (tree {}): reusing the last tarball",
            key.tree
        );
        let spec_text = std::fs::read_to_string(repo.root.join(&repo.spec)).unwrap_or_default();
        let mut t = finish(dir, path, spec_text, true);
        t.sha256 = cache.sha256(&key, cancel);
        return Ok(t);
    }
    let tarball = make_tarball_in(gear, repo, dir, None, cancel)?;
    cache.store(&key, &tarball.path);
    // The next unchanged build tells the host this source by its SHA-256:
    // work it out now, beside this build's upload and hsh (which take far
    // longer), so that build need not. Unfinished when zoryn exits: the
    // next build computes it.
    let kept = TarballCache::new(cache.dir().to_path_buf());
    std::thread::spawn(move || kept.sha256(&key, &CancelToken::new()));
    Ok(tarball)
}

/// The tarball's file name: the spec's stem, `.tar` (the one rule, for the
/// local file and its remote upload alike).
pub fn tar_name(repo: &GearRepo) -> String {
    let stem = repo
        .spec
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "pkg".into());
    format!("{stem}.tar")
}

fn finish(dir: tempfile::TempDir, path: PathBuf, spec_text: String, reused: bool) -> Tarball {
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    Tarball {
        _dir: dir,
        path,
        spec: SpecText::new(spec_text),
        size,
        reused,
        sha256: None,
    }
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
        let input = std::io::BufReader::new(std::fs::File::open(path)?);
        let mut output = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        let replaced = rewrite_tar_member(input, &mut output, spec_name, text.as_bytes())?;
        let f = output.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
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

/// Copy a ustar/GNU tar from `input` to `output` block by block, replacing
/// the regular file `name` (or `./name`) at the top with `content`; true if
/// it was there. Works on the raw blocks, streaming (source tarballs are
/// big), because GNU tar's volume label (which hsh reads the spec name
/// from) has a size field tar libraries reject.
fn rewrite_tar_member(
    mut input: impl std::io::Read,
    output: &mut impl std::io::Write,
    name: &str,
    content: &[u8],
) -> std::io::Result<bool> {
    use std::io::{Error, ErrorKind, Read};
    const BLOCK: usize = 512;
    let mut replaced = false;
    let mut header = [0u8; BLOCK];
    loop {
        match input.read_exact(&mut header) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(replaced),
            Err(e) => return Err(e),
        }
        if header.iter().all(|&b| b == 0) {
            // End of archive: the rest as it is.
            output.write_all(&header)?;
            std::io::copy(&mut input, output)?;
            return Ok(replaced);
        }
        let field = |r: std::ops::Range<usize>| {
            let f = &header[r];
            let end = f.iter().position(|&b| b == 0).unwrap_or(f.len());
            String::from_utf8_lossy(&f[..end]).trim().to_string()
        };
        let typeflag = header[156];
        let size_text = field(124..136);
        let size = if size_text.is_empty() || typeflag == b'V' {
            0
        } else {
            u64::from_str_radix(&size_text, 8).map_err(|_| {
                Error::new(
                    ErrorKind::InvalidData,
                    format!("bad size field \"{size_text}\""),
                )
            })?
        };
        let member = field(0..100);
        let is_file = typeflag == b'0' || typeflag == 0;
        let padded = size.div_ceil(BLOCK as u64) * BLOCK as u64;
        if is_file && !replaced && member.strip_prefix("./").unwrap_or(&member) == name {
            let mut h = header;
            let size_field = format!("{:011o}\0", content.len());
            h[124..136].copy_from_slice(size_field.as_bytes());
            h[148..156].copy_from_slice(b"        ");
            let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
            h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
            output.write_all(&h)?;
            output.write_all(content)?;
            let pad = content.len().div_ceil(BLOCK) * BLOCK - content.len();
            output.write_all(&vec![0u8; pad])?;
            let skipped = std::io::copy(&mut (&mut input).take(padded), &mut std::io::sink())?;
            if skipped != padded {
                return Err(Error::new(
                    ErrorKind::UnexpectedEof,
                    format!("truncated member {member}"),
                ));
            }
            replaced = true;
        } else {
            output.write_all(&header)?;
            let copied = std::io::copy(&mut (&mut input).take(padded), output)?;
            if copied != padded {
                return Err(Error::new(
                    ErrorKind::UnexpectedEof,
                    format!("truncated member {member}"),
                ));
            }
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
    make_tarball_in(gear, repo, dir, specsubst, cancel)
}

/// Run gear into `dir` (private; kept as long as the tarball), then do the
/// specsubst when asked.
fn make_tarball_in(
    gear: &[String],
    repo: &GearRepo,
    dir: tempfile::TempDir,
    specsubst: Option<&[(String, String)]>,
    cancel: &CancelToken,
) -> Result<Tarball, SourceError> {
    let path = dir.path().join(tar_name(repo));
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
    Ok(finish(dir, path, spec_text, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_specsubst_reads_gears_directive() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(rules_specsubst(d.path()).unwrap(), None);
        std::fs::create_dir(d.path().join(".gear")).unwrap();
        std::fs::write(
            d.path().join(".gear/rules"),
            "tar: .\nspecsubst : phpver  flavour\n",
        )
        .unwrap();
        let (file, line, vars) = rules_specsubst(d.path()).unwrap().unwrap();
        assert_eq!(file, d.path().join(".gear/rules"));
        assert_eq!(line, 2);
        assert_eq!(vars, ["phpver", "flavour"]);
        std::fs::write(d.path().join(".gear/rules"), "specsubst: a\nspecsubst: b\n").unwrap();
        assert!(rules_specsubst(d.path())
            .unwrap_err()
            .contains("line 2: more than one \"specsubst\""));
        std::fs::write(d.path().join(".gear/rules"), "specsubst: a-b\n").unwrap();
        assert!(rules_specsubst(d.path())
            .unwrap_err()
            .contains("invalid specsubst variable"));
    }

    #[test]
    fn spec_in_a_labelled_tar_is_replaced_and_the_rest_kept() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src");
        std::fs::create_dir(&src).unwrap();
        std::fs::write(src.join("x.spec"), "Name: x@v@\n").unwrap();
        std::fs::write(src.join("x-1.tar"), vec![7u8; 3000]).unwrap();
        let tar_path = d.path().join("x.tar");
        // As gear's tar helper makes it: a volume label naming the spec.
        let st = std::process::Command::new("tar")
            .arg("--create")
            .arg(format!("--file={}", tar_path.display()))
            .arg(format!("--directory={}", src.display()))
            .args(["--label=x.spec", "."])
            .status()
            .unwrap();
        assert!(st.success());
        let text = substitute("Name: x@v@\n", &[("v".into(), "8.4-longer".into())]);
        assert_eq!(text, "Name: x8.4-longer\n");
        replace_spec_in_tar(&tar_path, "x.spec", &text).unwrap();
        let label = std::process::Command::new("tar")
            .arg("--test-label")
            .arg(format!("--file={}", tar_path.display()))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&label.stdout).trim(), "x.spec");
        let out = d.path().join("out");
        std::fs::create_dir(&out).unwrap();
        let st = std::process::Command::new("tar")
            .arg("--extract")
            .arg(format!("--file={}", tar_path.display()))
            .arg(format!("--directory={}", out.display()))
            .status()
            .unwrap();
        assert!(st.success());
        assert_eq!(std::fs::read_to_string(out.join("x.spec")).unwrap(), text);
        assert_eq!(std::fs::read(out.join("x-1.tar")).unwrap(), vec![7u8; 3000]);
        assert!(!d.path().join("x.tar.subst").exists());
        assert!(replace_spec_in_tar(&tar_path, "other.spec", "")
            .unwrap_err()
            .contains("has no other.spec"));
        assert!(!d.path().join("x.tar.subst").exists());
    }
}
