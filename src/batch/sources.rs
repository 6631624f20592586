//! Getting every package of a batch onto disk as a gear repository:
//! local paths as they are, git URLs cloned (or fetched) into zoryn's cache
//! and checked out at the requested ref.

use std::path::{Path, PathBuf};

use super::file::{BatchPackage, PackageSource};
use crate::source::repo::{self, GearRepo};
use crate::source::SourceError;
use crate::transport::cancel::CancelToken;
use crate::transport::runner::{capture, CommandSpec};

/// `$XDG_CACHE_HOME/zoryn/git` (default `~/.cache/zoryn/git`).
pub fn cache_dir(home: &Path) -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| home.join(".cache"))
        .join("zoryn/git")
}

/// A directory name for a URL: readable tail plus a hash of the whole.
fn cache_name(url: &str) -> String {
    let tail: String = url
        .trim_end_matches('/')
        .trim_end_matches(".git")
        .rsplit(['/', ':'])
        .next()
        .unwrap_or("repo")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    // FNV-1a: stable across runs and machines, enough to tell URLs apart.
    let mut h: u64 = 0xcbf29ce484222325;
    for b in url.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    format!("{tail}-{h:016x}")
}

fn git(
    git: &[String],
    args: &[&str],
    cwd: Option<&Path>,
    cancel: &CancelToken,
) -> Result<String, String> {
    let mut spec = CommandSpec::new(git.iter().cloned()).args(args.iter().copied());
    if let Some(d) = cwd {
        spec = spec.cwd(d);
    }
    let out = capture(&spec, cancel).map_err(|e| e.to_string())?;
    if out.success() {
        Ok(out.stdout)
    } else {
        Err(out
            .stderr
            .trim()
            .lines()
            .last()
            .unwrap_or("git failed")
            .to_string())
    }
}

/// Resolve one batch entry to an opened gear repository.
pub fn fetch(
    pkg: &BatchPackage,
    git_cmd: &[String],
    home: &Path,
    cancel: &CancelToken,
) -> Result<GearRepo, SourceError> {
    match &pkg.source {
        PackageSource::Path(p) => {
            let root = repo::git_root(git_cmd, p)?;
            repo::open(&root)
        }
        PackageSource::Git { url, reference } => {
            let dir = cache_dir(home).join(cache_name(url));
            let fail = |what: &str, e: String| {
                SourceError::new(
                    format!("{what} {url}: {e}"),
                    "check the URL and that git can reach it (`git ls-remote URL`)",
                )
            };
            if dir.join(".git").is_dir() {
                git(
                    git_cmd,
                    &["fetch", "--quiet", "--tags", "origin"],
                    Some(&dir),
                    cancel,
                )
                .map_err(|e| fail("cannot fetch", e))?;
            } else {
                if let Some(parent) = dir.parent() {
                    std::fs::create_dir_all(parent)
                        .map_err(|e| fail("cannot create the cache for", e.to_string()))?;
                }
                let d = dir.to_string_lossy().into_owned();
                git(git_cmd, &["clone", "--quiet", url, &d], None, cancel)
                    .map_err(|e| fail("cannot clone", e))?;
            }
            let target = match reference {
                Some(r) => {
                    // A branch name means the remote's branch.
                    let remote_ref = format!("origin/{r}");
                    if git(
                        git_cmd,
                        &["rev-parse", "--verify", "--quiet", &remote_ref],
                        Some(&dir),
                        cancel,
                    )
                    .is_ok()
                    {
                        remote_ref
                    } else {
                        r.clone()
                    }
                }
                None => "origin/HEAD".to_string(),
            };
            git(
                git_cmd,
                &["checkout", "--quiet", "--force", "--detach", &target],
                Some(&dir),
                cancel,
            )
            .map_err(|e| fail(&format!("cannot check out `{target}` of"), e))?;
            repo::open(&dir)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_names_are_readable_and_distinct() {
        let a = cache_name("https://git.altlinux.org/gears/p/php8.4.git");
        let b = cache_name("https://mirror/gears/p/php8.4.git");
        assert!(a.starts_with("php8.4-"), "{a}");
        assert_ne!(a, b);
        assert_eq!(a, cache_name("https://git.altlinux.org/gears/p/php8.4.git"));
    }
}
