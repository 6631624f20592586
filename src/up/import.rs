//! Tarball scheme: import a release archive the way `gear-update` does —
//! the upstream directory the rules' `tar:` directive names is replaced by
//! the archive's contents (a single top-level directory is stripped) — and
//! commit the import.
//!
//! Must not: touch files outside that directory, or leave a half-unpacked
//! tree in it (the archive is unpacked beside it under `.git/` first).

use std::path::Path;
use std::time::Duration;

use super::detect::tar_rule;
use super::git::Git;
use super::UpError;
use crate::transport::runner::{capture, CommandSpec};

/// The upstream directory named by the rules, checked.
pub fn upstream_dir(rules: &str, rules_name: &str) -> Result<String, UpError> {
    let Some(rule) = tar_rule(rules) else {
        return Err(UpError::usage(
            format!("{rules_name} has no `tar:` directive naming the upstream directory"),
            "add a line like `tar: NAME` (the directory holding the upstream sources), see gear-rules(5)",
        ));
    };
    let dir = rule.dir.trim_end_matches('/').to_string();
    if rule.base.is_some()
        || dir == "."
        || dir.is_empty()
        || dir.starts_with('/')
        || dir
            .split('/')
            .any(|c| c == ".." || c == ".git" || c == ".gear")
    {
        return Err(UpError::usage(
            format!(
                "{rules_name}:{}: `tar: {}` does not name an upstream directory an archive can be imported into",
                rule.line,
                rule.base.map(|b| format!("{b}:{}", rule.dir)).unwrap_or(rule.dir)
            ),
            "the tarball scheme needs `tar: DIR` with DIR a subdirectory; for upstream git history use tags (drop -t)",
        ));
    }
    Ok(dir)
}

fn io_err(what: &str, p: &Path, e: std::io::Error) -> UpError {
    UpError::infra(
        format!("cannot {what} {}: {e}", p.display()),
        "check the disk space and permissions",
    )
}

/// Unpack `archive` into `root/dir` (replacing it) and stage the change.
pub fn import_archive(git: &Git, archive: &Path, dir: &str, git_dir: &Path) -> Result<(), UpError> {
    let staging = git_dir.join("zoryn-up-import");
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(|e| io_err("remove", &staging, e))?;
    }
    std::fs::create_dir_all(&staging).map_err(|e| io_err("create", &staging, e))?;
    let spec = CommandSpec::new(["tar", "-xf"])
        .arg(archive)
        .arg("-C")
        .arg(&staging)
        .arg("--no-same-owner")
        .timeout(Duration::from_secs(1800));
    let out = capture(&spec, &git.cancel)
        .map_err(|e| UpError::infra(format!("cannot run tar: {e}"), "install tar"))?;
    if !out.success() {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(UpError::infra(
            format!("cannot unpack {}: {}", archive.display(), out.stderr.trim()),
            "check that the watch file points at a release archive",
        ));
    }
    let entries: Vec<_> = std::fs::read_dir(&staging)
        .map_err(|e| io_err("read", &staging, e))?
        .filter_map(Result::ok)
        .collect();
    let top = match entries.as_slice() {
        [one] if one.path().is_dir() => one.path(),
        [] => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(UpError::infra(
                format!("{} is empty", archive.display()),
                "check the archive",
            ));
        }
        _ => staging.clone(),
    };
    let target = git.root.join(dir);
    git.run(&["rm", "-r", "-q", "--cached", "--ignore-unmatch", "--", dir])?;
    if target.exists() {
        std::fs::remove_dir_all(&target).map_err(|e| io_err("remove", &target, e))?;
    }
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent).map_err(|e| io_err("create", parent, e))?;
    }
    std::fs::rename(&top, &target)
        .map_err(|e| io_err("move the unpacked archive to", &target, e))?;
    let _ = std::fs::remove_dir_all(&staging);
    git.run(&["add", "-A", "-f", "--", dir])?;
    Ok(())
}

/// Commit the staged import.
pub fn commit_import(
    git: &Git,
    name: &str,
    version: &str,
    archive_name: &str,
) -> Result<(), UpError> {
    let msg = format!("{name}: import upstream {version} ({archive_name})");
    git.run(&["commit", "-q", "--allow-empty", "-m", &msg])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_dir_from_rules() {
        assert_eq!(
            upstream_dir("spec: a.spec\ntar: hello\n", ".gear/rules").unwrap(),
            "hello"
        );
        let e = upstream_dir("tar: .\n", ".gear/rules").unwrap_err();
        assert!(e.message.contains(".gear/rules:1"), "{}", e.message);
        assert!(upstream_dir("tar: v@version@:.\n", ".gear/rules").is_err());
        assert!(upstream_dir("tar: ../x\n", ".gear/rules").is_err());
        assert!(upstream_dir("spec: a.spec\n", ".gear/rules").is_err());
    }
}
