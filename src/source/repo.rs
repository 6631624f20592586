//! Finding the gear repository a build runs in: the work tree's top (read
//! from the file system when git would certainly agree, else asked of
//! git), the rules file and the spec, and listing zoryn's own files in
//! `.git/info/exclude`. It must not change anything else in the
//! repository.

use std::path::{Path, PathBuf};

use super::SourceError;
use crate::transport::runner::{capture, CommandSpec};

/// A git work tree that gear can pack.
#[derive(Clone, Debug)]
pub struct GearRepo {
    pub root: PathBuf,
    /// The spec path relative to the root, as gear will find it.
    pub spec: PathBuf,
}

/// The top of the git work tree containing `dir`.
pub fn git_root(git: &[String], dir: &Path) -> Result<PathBuf, SourceError> {
    if !dir.is_dir() {
        return Err(SourceError::new(
            format!("{}: no such directory", dir.display()),
            "pass an existing package directory with -C DIR",
        ));
    }
    if let Some(root) = plain_work_tree(dir) {
        return Ok(root);
    }
    let spec = CommandSpec::new(git.iter().cloned())
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "--show-toplevel"]);
    let out =
        capture(&spec, &crate::transport::cancel::CancelToken::new()).map_err(|e| SourceError {
            message: format!("cannot run git: {e}"),
            hint: Some("install git (ALT and Debian package: git)".into()),
            missing_tool: true,
        })?;
    if !out.success() {
        return Err(git_refusal(dir, &out.stderr));
    }
    Ok(PathBuf::from(out.stdout.trim_end_matches('\n')))
}

/// The top of the work tree containing `dir` when git would certainly say
/// the same without being asked (one process less per build): no `GIT_*`
/// variable that steers git's discovery or configuration is set, and the nearest `.git` above `dir`
/// (on the same file system, where git's own search stops) is a directory
/// of this user with a `HEAD`. Anything else (a worktree's or submodule's
/// `.git` file, another owner, a mount point on the way) is left to git.
fn plain_work_tree(dir: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let steers = std::env::vars_os().any(|(k, _)| {
        let k = k.to_string_lossy();
        [
            "GIT_DIR",
            "GIT_WORK_TREE",
            "GIT_COMMON_DIR",
            "GIT_CEILING_DIRECTORIES",
            "GIT_DISCOVERY_ACROSS_FILESYSTEM",
            "GIT_CONFIG",
        ]
        .iter()
        .any(|v| k.starts_with(v))
    });
    if steers {
        return None;
    }
    let start = std::fs::canonicalize(dir).ok()?;
    let dev = std::fs::metadata(&start).ok()?.dev();
    let me = nix::unistd::geteuid().as_raw();
    for d in start.ancestors() {
        let meta = std::fs::metadata(d).ok()?;
        if meta.dev() != dev {
            return None;
        }
        let dot_git = d.join(".git");
        match std::fs::symlink_metadata(&dot_git) {
            Ok(m) if m.is_dir() => {
                let ours = m.uid() == me && meta.uid() == me;
                // core.worktree or core.bare would move or deny the work tree.
                let config = std::fs::read_to_string(dot_git.join("config")).ok()?;
                let plain = !config.contains("worktree") && !config.contains("bare = true");
                return (ours && plain && dot_git.join("HEAD").is_file()).then(|| d.to_path_buf());
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            _ => return None,
        }
    }
    None
}

/// What git's refusal to show the work tree of `dir` means, in git's own
/// words: its "dubious ownership" refusal (a repository owned by someone
/// else) with the `safe.directory` line git suggests, a real "not a git
/// repository", or any other failure passed through as git said it.
pub fn git_refusal(dir: &Path, git_stderr: &str) -> SourceError {
    let lines: Vec<&str> = git_stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let fatal = lines
        .iter()
        .find(|l| l.starts_with("fatal:"))
        .or(lines.first())
        .map(|l| l.trim_start_matches("fatal:").trim())
        .unwrap_or("");
    if fatal.contains("dubious ownership") {
        // git prints the exact command to run on a line of its own.
        let fix = lines
            .iter()
            .find(|l| l.contains("safe.directory"))
            .map(|l| l.to_string())
            .unwrap_or_else(|| {
                format!(
                    "git config --global --add safe.directory {}",
                    shell_words::quote(&dir.to_string_lossy())
                )
            });
        return SourceError::new(
            format!(
                "git refuses to work in {}: {fatal} (the repository belongs to another user)",
                dir.display()
            ),
            format!(
                "if you trust that repository, do what git suggests: {fix}; or build as the user who owns it"
            ),
        );
    }
    if fatal.contains("not a git repository") || fatal.is_empty() {
        let said = if fatal.is_empty() {
            String::new()
        } else {
            format!(" (git: {fatal})")
        };
        return SourceError::new(
            format!("{} is not inside a git repository{said}", dir.display()),
            "run zoryn build inside a gear repository (a git tree with .gear/rules and a spec), or pass -C DIR",
        );
    }
    SourceError::new(
        format!(
            "git cannot read the repository at {}: {fatal}",
            dir.display()
        ),
        "fix what git reports above (run `git status` there to see it), then build again",
    )
}

/// The rules file gear will read, if any.
pub fn rules_file(root: &Path) -> Option<PathBuf> {
    [".gear/rules", ".gear-rules"]
        .iter()
        .map(|r| root.join(r))
        .find(|p| p.is_file())
}

/// Check that `root` is a gear repository and find its spec the way gear
/// does: the `spec:` directive, else the single `*.spec` at the top.
pub fn open(root: &Path) -> Result<GearRepo, SourceError> {
    let Some(rules) = rules_file(root) else {
        return Err(SourceError::new(
            format!("{} has no .gear/rules: not a gear repository", root.display()),
            "create .gear/rules (for example with the line `tar: .` and `spec: NAME.spec`), see gear-rules(5)",
        ));
    };
    let text = std::fs::read_to_string(&rules).map_err(|e| {
        SourceError::new(
            format!("cannot read {}: {e}", rules.display()),
            "check its permissions",
        )
    })?;
    let directive = text.lines().find_map(|l| {
        let l = l.trim();
        l.strip_prefix("spec:").map(|s| s.trim().to_string())
    });
    let spec = match directive {
        Some(s) if !s.is_empty() => {
            if !root.join(&s).is_file() {
                return Err(SourceError::new(
                    format!("{} names spec `{s}`, which does not exist", rules.display()),
                    "fix the `spec:` line or add the spec file",
                ));
            }
            PathBuf::from(s)
        }
        _ => {
            let mut specs: Vec<PathBuf> = std::fs::read_dir(root)
                .map(|rd| {
                    rd.filter_map(Result::ok)
                        .map(|e| PathBuf::from(e.file_name()))
                        .filter(|p| p.extension().is_some_and(|x| x == "spec"))
                        .collect()
                })
                .unwrap_or_default();
            specs.sort();
            match specs.len() {
                0 => {
                    return Err(SourceError::new(
                        format!("no spec file in {}", root.display()),
                        "add NAME.spec at the top of the repository, or a `spec: path/NAME.spec` line to .gear/rules",
                    ))
                }
                1 => specs.remove(0),
                _ => {
                    let list: Vec<String> = specs.iter().map(|p| p.display().to_string()).collect();
                    return Err(SourceError::new(
                        format!("several spec files in {}: {}", root.display(), list.join(", ")),
                        "name the one to build with a `spec:` line in .gear/rules",
                    ));
                }
            }
        }
    };
    Ok(GearRepo {
        root: root.to_path_buf(),
        spec,
    })
}

/// The repository's `info/exclude`. In a plain repository (a `.git`
/// directory, no `GIT_DIR`/`GIT_COMMON_DIR` override) that is
/// `.git/info/exclude`, known without starting git (one process less per
/// build); otherwise (worktrees, submodules) git says where.
fn exclude_file(git: &[String], root: &Path) -> std::io::Result<PathBuf> {
    let overridden = ["GIT_DIR", "GIT_COMMON_DIR"]
        .iter()
        .any(|v| std::env::var_os(v).is_some());
    let dot_git = root.join(".git");
    if !overridden && dot_git.is_dir() {
        return Ok(dot_git.join("info/exclude"));
    }
    let spec = CommandSpec::new(git.iter().cloned())
        .arg("-C")
        .arg(root)
        .args(["rev-parse", "--git-path", "info/exclude"]);
    let out = capture(&spec, &crate::transport::cancel::CancelToken::new())
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    if !out.success() {
        return Err(std::io::Error::other(out.stderr));
    }
    Ok(root.join(out.stdout.trim_end_matches('\n')))
}

/// Make git ignore zoryn's logs and results inside the work tree by listing
/// them in `.git/info/exclude` (never a tracked `.gitignore`). Paths outside
/// the tree are ignored; the file is rewritten atomically.
pub fn exclude_from_git(git: &[String], root: &Path, paths: &[PathBuf]) -> std::io::Result<()> {
    let exclude = exclude_file(git, root)?;
    let old = std::fs::read_to_string(&exclude).unwrap_or_default();
    let mut text = old.clone();
    for p in paths {
        let Ok(rel) = p.strip_prefix(root) else {
            continue;
        };
        let mut line = format!("/{}", rel.display());
        if p.is_dir() || p.extension().is_none() {
            line.push('/');
        }
        if !text.lines().any(|l| l.trim() == line) {
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&line);
            text.push('\n');
        }
    }
    if text == old {
        return Ok(());
    }
    let dir = exclude.parent().unwrap_or(root);
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut tmp, text.as_bytes())?;
    tmp.persist(&exclude).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dubious_ownership_keeps_gits_reason_and_fix() {
        let stderr = "fatal: detected dubious ownership in repository at '/srv/pkg'\n\
To add an exception for this directory, call:\n\n\tgit config --global --add safe.directory /srv/pkg\n";
        let e = git_refusal(Path::new("/srv/pkg/sub"), stderr);
        assert_eq!(
            e.message,
            "git refuses to work in /srv/pkg/sub: detected dubious ownership in repository at '/srv/pkg' (the repository belongs to another user)"
        );
        let hint = e.hint.unwrap();
        assert!(
            hint.contains("git config --global --add safe.directory /srv/pkg;"),
            "{hint}"
        );
        assert!(!e.message.contains("not inside a git repository"));
    }

    #[test]
    fn not_a_repository_says_so_with_gits_words() {
        let e = git_refusal(
            Path::new("/tmp/x"),
            "fatal: not a git repository (or any of the parent directories): .git\n",
        );
        assert_eq!(
            e.message,
            "/tmp/x is not inside a git repository (git: not a git repository (or any of the parent directories): .git)"
        );
        let e = git_refusal(
            Path::new("/tmp/x"),
            "fatal: bad config line 3 in file .git/config\n",
        );
        assert_eq!(
            e.message,
            "git cannot read the repository at /tmp/x: bad config line 3 in file .git/config"
        );
    }

    /// The work tree found without git is the one git reports, from the
    /// top and from below; a worktree's `.git` file is left to git.
    #[test]
    fn plain_work_tree_agrees_with_git() {
        let t = tempfile::tempdir().unwrap();
        let top = t.path().join("pkg");
        std::fs::create_dir_all(top.join("a/b")).unwrap();
        assert_eq!(plain_work_tree(&top), None, "not a repository yet");
        let st = std::process::Command::new("git")
            .args(["init", "-q"])
            .current_dir(&top)
            .status()
            .unwrap();
        assert!(st.success());
        let git = ["git".to_string()];
        for d in [top.clone(), top.join("a/b")] {
            let found = plain_work_tree(&d).expect("a plain repository");
            assert_eq!(found, std::fs::canonicalize(&top).unwrap());
            let st = std::process::Command::new("git")
                .args(["rev-parse", "--show-toplevel"])
                .current_dir(&d)
                .output()
                .unwrap();
            assert_eq!(
                found,
                PathBuf::from(String::from_utf8(st.stdout).unwrap().trim_end())
            );
            assert_eq!(git_root(&git, &d).unwrap(), found);
        }
        std::fs::write(top.join("a/.git"), "gitdir: /elsewhere\n").unwrap();
        assert_eq!(plain_work_tree(&top.join("a/b")), None);
    }

    #[test]
    fn spec_found_by_directive_or_single_file() {
        let d = tempfile::tempdir().unwrap();
        assert!(open(d.path())
            .unwrap_err()
            .message
            .contains("no .gear/rules"));
        std::fs::create_dir(d.path().join(".gear")).unwrap();
        std::fs::write(d.path().join(".gear/rules"), "tar: .\n").unwrap();
        assert!(open(d.path())
            .unwrap_err()
            .message
            .starts_with("no spec file"));
        std::fs::write(d.path().join("a.spec"), "").unwrap();
        assert_eq!(open(d.path()).unwrap().spec, PathBuf::from("a.spec"));
        std::fs::write(d.path().join("b.spec"), "").unwrap();
        assert!(open(d.path())
            .unwrap_err()
            .message
            .starts_with("several spec files"));
        std::fs::write(d.path().join(".gear/rules"), "spec: b.spec\ntar: .\n").unwrap();
        assert_eq!(open(d.path()).unwrap().spec, PathBuf::from("b.spec"));
    }
}
