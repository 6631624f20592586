//! Build script: put the git commit into `zoryn --version`.
//!
//! Owns only the `ZORYN_VERSION` compile-time variable: the package version,
//! plus ` (COMMIT)` or ` (COMMIT-dirty)` when built from a git checkout with
//! `git` on PATH. Outside git (a release tarball, a vendored source RPM) or
//! without git it is the plain version; it must never fail the build.

use std::path::Path;
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8(out.stdout).ok()?.trim().to_string())
}

/// Rebuild when the checked-out commit or the index moves. Only existing
/// paths: a missing one would make cargo rerun this script on every build.
fn watch(dir: &Path) {
    let mut paths = vec![
        "HEAD".to_string(),
        "index".to_string(),
        "packed-refs".into(),
    ];
    if let Some(r) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
        paths.push(r);
    }
    for p in paths {
        if let Some(file) = git(dir, &["rev-parse", "--git-path", &p]) {
            let file = dir.join(file);
            if file.exists() {
                println!("cargo:rerun-if-changed={}", file.display());
            }
        }
    }
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src");
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_default();
    // Only this package's own repository counts, not one it was unpacked into.
    let top = git(&dir, &["rev-parse", "--show-toplevel"]).map(std::path::PathBuf::from);
    let own = top
        .as_deref()
        .and_then(|t| t.canonicalize().ok())
        .zip(dir.canonicalize().ok())
        .is_some_and(|(t, d)| t == d);
    let full = match git(&dir, &["rev-parse", "--short", "HEAD"]).filter(|_| own) {
        Some(commit) if !commit.is_empty() => {
            watch(&dir);
            let dirty = git(&dir, &["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{version} ({commit}-dirty)")
            } else {
                format!("{version} ({commit})")
            }
        }
        _ => version,
    };
    println!("cargo:rustc-env=ZORYN_VERSION={full}");
}
