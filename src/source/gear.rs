//! Making the source tarball with `gear --commit --no-compress`.
//!
//! Run once per `zoryn build`, in a private temporary directory (mode 0700)
//! that lives as long as the [`Tarball`]. Uncompressed, so rsync can send
//! deltas of it to remote builders.

use std::path::PathBuf;

use super::repo::GearRepo;
use super::specdeps::SpecText;
use super::SourceError;
use crate::run::cancel::CancelToken;
use crate::transport::runner::{run, CommandSpec, Outcome};

/// The packed source of one package.
pub struct Tarball {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
    pub spec: SpecText,
    pub size: u64,
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
    let stem = repo
        .spec
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "pkg".into());
    let path = dir.path().join(format!("{stem}.tar"));
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
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let spec_text = std::fs::read_to_string(repo.root.join(&repo.spec)).unwrap_or_default();
    Ok(Tarball {
        _dir: dir,
        path,
        spec: SpecText::new(spec_text),
        size,
    })
}
