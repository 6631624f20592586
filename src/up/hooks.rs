//! Hooks: the package's own update steps, run after the merge or import
//! and before the spec is updated. First `.gear/merge-up.d/*` (the zoryn
//! family's name for this point), then `.gear/up.d/*`, each directory in
//! file-name order; only executable regular files run. Each gets the new
//! version as `$1`, `ZORYN_UP_OLD_VERSION`, `ZORYN_UP_NEW_VERSION`,
//! `ZORYN_UP_REPO` (the repository root, also the working directory) and,
//! in the git scheme, `TAG`, `COMMIT`, `SHORTCOMMIT` (the upstream tag and
//! its commit). A hook that fails stops the pipeline.
//!
//! Must not: run anything else, or run hooks through a shell string.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::UpError;
use crate::transport::cancel::CancelToken;
use crate::transport::runner::{capture, CommandSpec};

/// The hook directories, in the order they run.
pub const HOOK_DIRS: [&str; 2] = [".gear/merge-up.d", ".gear/up.d"];

/// The hooks of one directory that will run, in order.
pub fn hooks(root: &Path, dir: &str) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(root.join(dir)) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
        .collect();
    v.sort();
    v
}

/// Run every hook of `dir`; the names of those that ran.
pub fn run_hooks(
    root: &Path,
    dir: &str,
    old: &str,
    new: &str,
    env: &[(String, String)],
    cancel: &CancelToken,
) -> Result<Vec<String>, UpError> {
    let mut ran = Vec::new();
    for hook in hooks(root, dir) {
        let name = hook
            .strip_prefix(root)
            .unwrap_or(&hook)
            .display()
            .to_string();
        let mut spec = CommandSpec::new([hook.as_os_str()])
            .arg(new)
            .cwd(root)
            .env("ZORYN_UP_OLD_VERSION", old)
            .env("ZORYN_UP_NEW_VERSION", new)
            .env("ZORYN_UP_REPO", root.as_os_str())
            .timeout(Duration::from_secs(3600));
        for (k, v) in env {
            spec = spec.env(k, v);
        }
        let out = capture(&spec, cancel).map_err(|e| {
            UpError::stopped(
                format!("hook {name} cannot run: {e}"),
                "fix its #! line and permissions, then `zoryn up --continue`",
            )
        })?;
        if cancel.is_cancelled() {
            return Err(UpError::new(
                super::UpErrorKind::Interrupted,
                format!("interrupted while hook {name} ran"),
                "run `zoryn up --continue` to run the hooks again, or `zoryn up --abort`",
            ));
        }
        if !out.success() {
            let text = format!("{}{}", out.stdout, out.stderr);
            let last: Vec<&str> = text.lines().collect();
            let shown = last[last.len().saturating_sub(10)..].join("\n  ");
            return Err(UpError::stopped(
                format!(
                    "hook {name} failed (exit {}){}",
                    out.code().map(|c| c.to_string()).unwrap_or_else(|| "by a signal or timeout".into()),
                    if shown.is_empty() { String::new() } else { format!(":\n  {shown}") }
                ),
                "fix the hook or what it checks, then `zoryn up --continue` (it runs again); `zoryn up --abort` undoes everything",
            ));
        }
        ran.push(name);
    }
    Ok(ran)
}
