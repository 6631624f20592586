//! Making the source tarball with `gear --commit --no-compress`.
//!
//! Run once per `zoryn build`, in a private temporary directory (mode 0700)
//! that lives as long as the [`Tarball`]. Uncompressed, so rsync can send
//! deltas of it to remote builders. [`make_tarball_reusing`] first asks
//! [`super::cache`] whether gear would pack exactly what it packed last
//! time, and then hands out that tarball instead of running gear again.
//! This module runs gear; it must not decide what the key of a tarball is.

use std::path::PathBuf;

use super::cache::{source_key, TarballCache};
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
        let mut t = finish(dir, path, repo, true);
        t.sha256 = cache.sha256(&key, cancel);
        return Ok(t);
    }
    let tarball = make_tarball_in(gear, repo, dir, cancel)?;
    cache.store(&key, &tarball.path);
    Ok(tarball)
}

fn tar_name(repo: &GearRepo) -> String {
    let stem = repo
        .spec
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "pkg".into());
    format!("{stem}.tar")
}

fn finish(dir: tempfile::TempDir, path: PathBuf, repo: &GearRepo, reused: bool) -> Tarball {
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let spec_text = std::fs::read_to_string(repo.root.join(&repo.spec)).unwrap_or_default();
    Tarball {
        _dir: dir,
        path,
        spec: SpecInfo::parse(&spec_text),
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
    let dir = tempfile::Builder::new()
        .prefix("zoryn-src.")
        .tempdir()
        .map_err(|e| {
            SourceError::new(
                format!("cannot create a temporary directory: {e}"),
                "check $TMPDIR",
            )
        })?;
    make_tarball_in(gear, repo, dir, cancel)
}

/// Run gear into `dir` (private; kept as long as the tarball).
fn make_tarball_in(
    gear: &[String],
    repo: &GearRepo,
    dir: tempfile::TempDir,
    cancel: &CancelToken,
) -> Result<Tarball, SourceError> {
    let path = dir.path().join(tar_name(repo));
    let cmd = CommandSpec::new(gear.iter().cloned())
        .args(["--commit", "--no-compress"])
        .arg(&path)
        .cwd(&repo.root);
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
    Ok(finish(dir, path, repo, false))
}
