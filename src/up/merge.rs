//! Git scheme: merge the upstream tag into the packaging branch, and store
//! the tag in `.gear/tags/` the way `gear-store-tags NAME` does so gear
//! finds it (`list` lines `SHA1 NAME`; each annotated tag object of the
//! chain saved as `.gear/tags/SHA1`, all added to the index).
//!
//! Must not: commit anything but the merge itself, or touch other refs.

use std::path::Path;

use super::git::Git;
use super::UpError;

/// Merge `refs/tags/TAG` into the current branch. A conflict stops the
/// pipeline with the conflicted files named.
pub fn merge_tag(git: &Git, tag: &str, allow_unrelated: bool) -> Result<(), UpError> {
    let tag_ref = format!("refs/tags/{tag}");
    let mut args = vec!["merge", "--no-edit", "--no-ff"];
    if allow_unrelated {
        args.push("--allow-unrelated-histories");
    }
    args.push(&tag_ref);
    let out = git.try_run(&args)?;
    if out.ok {
        return Ok(());
    }
    let conflicted = git.conflicted_files()?;
    if !conflicted.is_empty() {
        return Err(conflict_error(tag, &conflicted));
    }
    let why = format!("{}{}", out.stdout, out.stderr);
    if why.contains("unrelated histories") {
        return Err(UpError::usage(
            format!("git refuses to merge tag `{tag}`: the upstream history is unrelated to this branch"),
            "if the package imported upstream without its history, run `zoryn up --abort`, then again with --allow-unrelated-histories",
        ));
    }
    Err(UpError::infra(
        format!(
            "`git merge {tag_ref}` failed in {}: {}",
            git.root.display(),
            why.trim()
        ),
        "fix the cause, then `zoryn up --continue` (or `zoryn up --abort`)",
    ))
}

fn conflict_error(tag: &str, files: &[String]) -> UpError {
    UpError::stopped(
        format!(
            "merging upstream tag `{tag}` stopped with conflicts in: {}",
            files.join(", ")
        ),
        "resolve them, `git add` the files (committing is optional), then `zoryn up --continue`; or `zoryn up --abort` to undo everything",
    )
}

/// After the user resolved a conflict: commit the merge if it is still
/// open, then check that the tag really is merged.
pub fn finish_merge(git: &Git, tag: &str) -> Result<(), UpError> {
    if git.merging() {
        let conflicted = git.conflicted_files()?;
        if !conflicted.is_empty() {
            return Err(conflict_error(tag, &conflicted));
        }
        git.run(&["commit", "--no-edit", "-q"])?;
    }
    let merged = git
        .try_run(&[
            "merge-base",
            "--is-ancestor",
            &format!("refs/tags/{tag}^{{commit}}"),
            "HEAD",
        ])?
        .ok;
    if !merged {
        return Err(UpError::stopped(
            format!("upstream tag `{tag}` is not merged into HEAD"),
            format!(
                "merge it (`git merge {tag}`), then `zoryn up --continue`; or `zoryn up --abort`"
            ),
        ));
    }
    Ok(())
}

/// New contents of `.gear/tags/list` with `name` pointing at `sha`
/// (replaced in place, or appended), as gear-store-tags writes it.
pub fn updated_list(list: &str, sha: &str, name: &str) -> String {
    let mut out = String::new();
    let mut found = false;
    for line in list.lines().filter(|l| !l.trim().is_empty()) {
        match line.split_once(' ') {
            Some((_, n)) if n.trim() == name => {
                out.push_str(&format!("{sha} {name}\n"));
                found = true;
            }
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    if !found {
        out.push_str(&format!("{sha} {name}\n"));
    }
    out
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), UpError> {
    let err = |e: std::io::Error| {
        UpError::infra(
            format!("cannot write {}: {e}", path.display()),
            "check the permissions of the repository",
        )
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let tmp = path.with_extension("zoryn-tmp");
    std::fs::write(&tmp, bytes).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

/// `gear-store-tags TAG`: record the tag in `.gear/tags/list` and store
/// its tag objects; everything is added to the index.
pub fn store_tag(git: &Git, tag: &str) -> Result<(), UpError> {
    let tag_dir = git.root.join(".gear/tags");
    let value = git.rev(&format!("refs/tags/{tag}"))?.ok_or_else(|| {
        UpError::usage(format!("tag `{tag}` does not exist"), "check `git tag -l`")
    })?;
    let mut to_add = Vec::new();
    let mut sha = value.clone();
    // Follow the chain of tag objects down to the commit.
    for _ in 0..16 {
        let kind = git.run(&["cat-file", "-t", &sha])?;
        match kind.trim() {
            "commit" => break,
            "tag" => {
                let body = git.run(&["cat-file", "tag", &sha])?;
                let next = body
                    .lines()
                    .next()
                    .and_then(|l| l.strip_prefix("object "))
                    .map(str::to_string)
                    .ok_or_else(|| {
                        UpError::infra(
                            format!("tag object {sha} has no `object` line"),
                            "check the tag with `git cat-file tag`",
                        )
                    })?;
                write_atomic(&tag_dir.join(&sha), body.as_bytes())?;
                to_add.push(format!(".gear/tags/{sha}"));
                sha = next;
            }
            other => {
                return Err(UpError::usage(
                    format!("tag `{tag}` points to a {other}, not a commit"),
                    "use a tag of an upstream release commit (--tag TAG)",
                ))
            }
        }
    }
    let list_path = tag_dir.join("list");
    let list = std::fs::read_to_string(&list_path).unwrap_or_default();
    write_atomic(&list_path, updated_list(&list, &value, tag).as_bytes())?;
    to_add.push(".gear/tags/list".into());
    let mut args = vec!["update-index", "--add", "--"];
    args.extend(to_add.iter().map(String::as_str));
    git.run(&args)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_entries_are_replaced_or_appended() {
        let a = "1111111111111111111111111111111111111111";
        let b = "2222222222222222222222222222222222222222";
        assert_eq!(updated_list("", a, "v1.0"), format!("{a} v1.0\n"));
        assert_eq!(
            updated_list(&format!("{a} v1.0\n"), b, "v1.3"),
            format!("{a} v1.0\n{b} v1.3\n")
        );
        assert_eq!(
            updated_list(&format!("{a} v1.0\n"), b, "v1.0"),
            format!("{b} v1.0\n")
        );
    }
}
