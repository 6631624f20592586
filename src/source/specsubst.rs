//! gear's `specsubst:` directive: which `@VAR@` a repository's spec has
//! filled in, and with what.
//!
//! A repository whose gear rules (`.gear-rules`, else `.gear/rules`) say
//! `specsubst: VAR...` keeps `@VAR@` placeholders in its spec; gear replaces
//! them with the values of the `X-gear-specsubst: VAR=value` (else
//! `X-girar-specsubst:`) lines of the tag it builds from, and refuses a
//! build without a tag ("specsubst directive requires a tag"), which is
//! every `gear --commit`. So zoryn supplies the values itself:
//! - `zoryn build` (plain, `-r`, `--section`) takes them, as gear would,
//!   from a tag: the nearest annotated tag reachable from HEAD whose message
//!   has specsubst lines ([`values_for_build`]); upstream tags without such
//!   lines are passed over;
//! - a batch gives them in its file (`specsubst = "VAR=value"`).
//!
//! Owns reading the directive, finding the values in tag messages (gear's
//! rules: the first `X-gear-specsubst:` line for the variable, else the first
//! `X-girar-specsubst:` one, the value is the rest of the line), and the
//! replacement itself. It only reads (the rules file, git's tags); it must
//! not run gear or write files — [`super::gear`] packs and rewrites the
//! tarball.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::repo::GearRepo;
use super::SourceError;
use crate::transport::cancel::CancelToken;
use crate::transport::runner::{capture, CommandSpec};

/// The `specsubst:` line of a repository's gear rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Directive {
    /// The rules file it is in.
    pub rules: PathBuf,
    /// Its line (1-based).
    pub line: usize,
    /// The variables it names, in order.
    pub vars: Vec<String>,
}

impl Directive {
    /// `.gear/rules line 3` (relative to the repository when possible), as
    /// gear names a rules line.
    pub fn place(&self, root: &Path) -> String {
        let file = self.rules.strip_prefix(root).unwrap_or(&self.rules);
        format!("{} line {}", file.display(), self.line)
    }
}

/// The `specsubst:` directive of the gear rules in `root`, read from the
/// work tree (`gear --commit` packs the work tree). `Ok(None)` when there
/// are no rules or no such line; an error for what gear itself refuses (two
/// directives, a name other than letters, digits and `_`).
pub fn directive(root: &Path) -> Result<Option<Directive>, String> {
    let Some(rules) = [".gear-rules", ".gear/rules"]
        .iter()
        .map(|r| root.join(r))
        .find(|p| p.is_file())
    else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(&rules)
        .map_err(|e| format!("cannot read {}: {e}", rules.display()))?;
    let mut found: Option<Directive> = None;
    for (i, line) in text.lines().enumerate() {
        // gear normalises "directive : args" to "directive: args".
        let Some((name, args)) = line.trim_start().split_once(':') else {
            continue;
        };
        if name.trim_end() != "specsubst" {
            continue;
        }
        if let Some(first) = &found {
            return Err(format!(
                "{} line {}: more than one \"specsubst\" directive (the first is on line {}), which gear refuses",
                rules.display(),
                i + 1,
                first.line
            ));
        }
        let vars: Vec<String> = args.split_whitespace().map(str::to_string).collect();
        if let Some(bad) = vars.iter().find(|v| !is_var_name(v)) {
            return Err(format!(
                "{} line {}: invalid specsubst variable \"{bad}\" (gear allows letters, digits and _)",
                rules.display(),
                i + 1
            ));
        }
        if !vars.is_empty() {
            found = Some(Directive {
                rules: rules.clone(),
                line: i + 1,
                vars,
            });
        }
    }
    Ok(found)
}

/// A specsubst variable name as gear accepts it.
pub fn is_var_name(v: &str) -> bool {
    !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `@VAR@` replaced by its value, for every (VAR, value) in order, as gear's
/// `substitute_vars_in_spec` does.
pub fn substitute(spec: &str, values: &[(String, String)]) -> String {
    let mut out = spec.to_string();
    for (var, value) in values {
        out = out.replace(&format!("@{var}@"), value);
    }
    out
}

/// The headers gear reads values from, in its order.
const HEADERS: [&str; 2] = ["X-gear-specsubst:", "X-girar-specsubst:"];

/// The value of `var` in a tag message: the rest of the first line
/// `X-gear-specsubst:<blanks>VAR=value`, else of the first such
/// `X-girar-specsubst:` line (gear's `substitute_vars_in_spec`).
pub fn value_in_message(message: &str, var: &str) -> Option<String> {
    let prefix = format!("{var}=");
    HEADERS.iter().find_map(|header| {
        message.lines().find_map(|line| {
            let rest = line.strip_prefix(header)?;
            // gear's pattern wants at least one blank after the colon.
            let trimmed = rest.trim_start_matches([' ', '\t']);
            if trimmed.len() == rest.len() {
                return None;
            }
            trimmed.strip_prefix(&prefix).map(str::to_string)
        })
    })
}

/// Whether a tag message carries specsubst values at all.
pub fn has_values(message: &str) -> bool {
    message.lines().any(|l| {
        HEADERS.iter().any(|h| {
            l.strip_prefix(h)
                .is_some_and(|r| r.starts_with([' ', '\t']))
        })
    })
}

/// The values `zoryn build` gives the spec: `Ok(None)` when the rules have
/// no `specsubst:` (gear runs as it is), else the values of the directive's
/// variables from the nearest annotated tag reachable from HEAD that has
/// specsubst lines — the tag gear would take them from. An error names the
/// rules line, the tag, and what to do.
pub fn values_for_build(
    git: &[String],
    root: &Path,
    cancel: &CancelToken,
) -> Result<Option<Vec<(String, String)>>, SourceError> {
    let Some(d) = directive(root).map_err(|e| {
        SourceError::new(
            e,
            "fix the rules as gear(1) and gear-rules(5) describe the directive",
        )
    })?
    else {
        return Ok(None);
    };
    let place = d.place(root);
    let vars = d.vars.join(" ");
    let hint_tag = || {
        format!(
            "gear takes these values from the tag it builds; tag the release with them, e.g. \
             git tag -a -m \"$(printf 'NAME-VERSION-RELEASE\\n\\n{}')\" NAME-VERSION-RELEASE, \
             or build it in a batch whose file gives specsubst = \"{}\"",
            d.vars
                .iter()
                .map(|v| format!("X-gear-specsubst: {v}=VALUE"))
                .collect::<Vec<_>>()
                .join("\\n"),
            d.vars
                .iter()
                .map(|v| format!("{v}=VALUE"))
                .collect::<Vec<_>>()
                .join(" ")
        )
    };
    let Some((tag, message)) = nearest_tag_with_values(git, root, cancel)? else {
        return Err(SourceError::new(
            format!(
                "{place} has `specsubst: {vars}`, but no annotated tag reachable from HEAD in {} \
                 has X-gear-specsubst lines to take the values from (without them gear refuses: \
                 \"specsubst directive requires a tag\")",
                root.display()
            ),
            hint_tag(),
        ));
    };
    let mut values = Vec::new();
    let mut missing = Vec::new();
    for v in &d.vars {
        match value_in_message(&message, v) {
            Some(value) => values.push((v.clone(), value)),
            None => missing.push(v.as_str()),
        }
    }
    if !missing.is_empty() {
        return Err(SourceError::new(
            format!(
                "{place} has `specsubst: {vars}`, but tag {tag} (the nearest one with specsubst values) \
                 defines no value for {} (gear: specsubst variable \"{}\" is not defined in tag \"{tag}\")",
                missing.join(", "),
                missing[0]
            ),
            format!(
                "add \"X-gear-specsubst: {}=VALUE\" to the message of a new tag of this release, \
                 or drop {} from the specsubst line",
                missing[0],
                missing.join(", ")
            ),
        ));
    }
    Ok(Some(values))
}

/// The spec as `zoryn build` will hand it to hasher: the work tree's spec
/// with the values of [`values_for_build`] filled in (as it is when the
/// rules have no `specsubst:`). For what is shown and named before the
/// tarball exists (the run's header, `{pkg}`), so it does not read
/// `subst-@flavour@`; the errors are those of [`values_for_build`].
pub fn spec_for_build(
    git: &[String],
    repo: &GearRepo,
    cancel: &CancelToken,
) -> Result<String, SourceError> {
    let path = repo.root.join(&repo.spec);
    let raw = std::fs::read_to_string(&path).map_err(|e| {
        SourceError::new(
            format!("cannot read {}: {e}", path.display()),
            "check the spec file",
        )
    })?;
    Ok(match values_for_build(git, &repo.root, cancel)? {
        Some(values) => substitute(&raw, &values),
        None => raw,
    })
}

fn git(git: &[String], root: &Path, args: &[&str]) -> CommandSpec {
    CommandSpec::new(git.iter().cloned())
        .args(args.iter().copied())
        .cwd(root)
        .timeout(Duration::from_secs(60))
}

/// The nearest annotated tag reachable from HEAD whose message has
/// specsubst lines, and that message; `None` when there is none.
fn nearest_tag_with_values(
    git_cmd: &[String],
    root: &Path,
    cancel: &CancelToken,
) -> Result<Option<(String, String)>, SourceError> {
    let failed = |what: &str, e: String| {
        SourceError::new(
            format!("cannot read the tags of {} ({what}): {e}", root.display()),
            "check the repository with git tag -l -n",
        )
    };
    // Every tag with its type and message: fields and records end in NUL
    // (a message cannot hold one).
    let listing = capture(
        &git(
            git_cmd,
            root,
            &[
                "for-each-ref",
                "--format=%(objecttype)%00%(refname:strip=2)%00%(contents)%00",
                "refs/tags",
            ],
        ),
        cancel,
    )
    .map_err(|e| failed("git for-each-ref", e.to_string()))?;
    if !listing.success() {
        return Err(failed(
            "git for-each-ref",
            listing.stderr.trim().to_string(),
        ));
    }
    let candidates = tags_with_values(&listing.stdout);
    if candidates.is_empty() {
        return Ok(None);
    }
    // The nearest of them by commits, as git describe measures it; only
    // annotated tags count (describe's default), like gear's `tag` objects.
    let mut args: Vec<String> = vec!["describe".into(), "--abbrev=0".into()];
    args.extend(candidates.iter().map(|(n, _)| format!("--match={n}")));
    args.push("HEAD".into());
    let arg_refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let described = capture(&git(git_cmd, root, &arg_refs), cancel)
        .map_err(|e| failed("git describe", e.to_string()))?;
    if !described.success() {
        // No candidate is reachable from HEAD (describe: "No names found").
        return Ok(None);
    }
    let name = described.stdout.trim();
    Ok(candidates
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(n, m)| (n.to_string(), m.to_string())))
}

/// From `for-each-ref`'s NUL-separated `type, name, message` records: the
/// annotated tags whose message has specsubst values.
fn tags_with_values(listing: &str) -> Vec<(&str, &str)> {
    let mut fields = listing.split('\0');
    let mut out = Vec::new();
    while let (Some(kind), Some(name), Some(message)) =
        (fields.next(), fields.next(), fields.next())
    {
        // for-each-ref ends each record with a newline after the last NUL.
        let kind = kind.trim_start_matches('\n');
        if kind == "tag" && has_values(message) {
            out.push((name, message));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directive_is_read_as_gear_reads_it() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(directive(d.path()).unwrap(), None);
        std::fs::create_dir(d.path().join(".gear")).unwrap();
        std::fs::write(
            d.path().join(".gear/rules"),
            "tar: .\nspecsubst : phpver  flavour\n",
        )
        .unwrap();
        let got = directive(d.path()).unwrap().unwrap();
        assert_eq!(got.rules, d.path().join(".gear/rules"));
        assert_eq!(got.line, 2);
        assert_eq!(got.vars, ["phpver", "flavour"]);
        assert_eq!(got.place(d.path()), ".gear/rules line 2");
        std::fs::write(d.path().join(".gear/rules"), "specsubst: a\nspecsubst: b\n").unwrap();
        assert!(directive(d.path())
            .unwrap_err()
            .contains("line 2: more than one \"specsubst\""));
        std::fs::write(d.path().join(".gear/rules"), "specsubst: a-b\n").unwrap();
        assert!(directive(d.path())
            .unwrap_err()
            .contains("invalid specsubst variable \"a-b\""));
        // .gear-rules comes first, as in gear.
        std::fs::write(d.path().join(".gear-rules"), "tar: .\n").unwrap();
        assert_eq!(directive(d.path()).unwrap(), None);
    }

    #[test]
    fn values_come_from_gear_lines_first_then_girar_lines() {
        let m = "pkg-1.0-alt1\n\nX-girar-specsubst: flavour=girar\n\
                 X-gear-specsubst: phpver=8.4\nX-gear-specsubst:\tflavour=main extra \n\
                 X-gear-specsubst:nospace=1\n";
        assert_eq!(
            value_in_message(m, "flavour").as_deref(),
            Some("main extra ")
        );
        assert_eq!(value_in_message(m, "phpver").as_deref(), Some("8.4"));
        assert_eq!(value_in_message(m, "nospace"), None);
        assert_eq!(value_in_message(m, "php"), None);
        let girar = "x\n\nX-girar-specsubst: flavour=g\n";
        assert_eq!(value_in_message(girar, "flavour").as_deref(), Some("g"));
        assert!(has_values(m) && has_values(girar));
        assert!(!has_values(
            "v1.2\n\nupstream release\nX-gear-specsubst:x=1\n"
        ));
    }

    #[test]
    fn substitute_replaces_every_placeholder() {
        let values = [
            ("v".to_string(), "8.4".to_string()),
            ("f".to_string(), "main".to_string()),
        ];
        assert_eq!(
            substitute("Name: php@v@-@f@\n%define x @v@\n@w@", &values),
            "Name: php8.4-main\n%define x 8.4\n@w@"
        );
    }

    #[test]
    fn only_annotated_tags_with_values_are_candidates() {
        let listing = "commit\0light\0msg X-gear-specsubst: a=1\0\n\
                       tag\0v1.0\0upstream 1.0\n\0\n\
                       tag\0pkg-1-alt1\0pkg-1-alt1\n\nX-gear-specsubst: a=1\n\0\n";
        assert_eq!(
            tags_with_values(listing),
            [("pkg-1-alt1", "pkg-1-alt1\n\nX-gear-specsubst: a=1\n")]
        );
        assert!(tags_with_values("").is_empty());
    }

    /// A git repository with gear rules naming `flavour`, committed.
    fn repo() -> (tempfile::TempDir, GearRepo) {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join(".gear")).unwrap();
        std::fs::write(d.path().join(".gear/rules"), "tar: .\nspecsubst: flavour\n").unwrap();
        std::fs::write(d.path().join("p.spec"), "Name: p-@flavour@\n").unwrap();
        sh(
            d.path(),
            "git init -q . && git add -A && git commit -qm one",
        );
        let r = GearRepo {
            root: d.path().to_path_buf(),
            spec: "p.spec".into(),
        };
        (d, r)
    }

    fn sh(dir: &Path, script: &str) {
        let st = std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .current_dir(dir)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@e.invalid")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@e.invalid")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", dir)
            .status()
            .unwrap();
        assert!(st.success(), "{script}");
    }

    #[test]
    fn build_values_come_from_the_nearest_tag_with_values() {
        let (_d, r) = repo();
        let git = vec!["git".to_string()];
        let cancel = CancelToken::new();
        let e = spec_for_build(&git, &r, &cancel).unwrap_err();
        assert!(
            e.message
                .contains(".gear/rules line 2 has `specsubst: flavour`")
                && e.message.contains("no annotated tag reachable from HEAD"),
            "{e}"
        );
        sh(
            &r.root,
            "git tag -a -m 'p-1-alt1\n\nX-girar-specsubst: flavour=old' p-1-alt1",
        );
        sh(
            &r.root,
            "git commit -q --allow-empty -m two && git tag -a -m 'upstream' v2",
        );
        assert_eq!(spec_for_build(&git, &r, &cancel).unwrap(), "Name: p-old\n");
        sh(
            &r.root,
            "git tag -a -m 'p-1-alt2\n\nX-gear-specsubst: other=1' p-1-alt2",
        );
        let e = spec_for_build(&git, &r, &cancel).unwrap_err();
        assert!(
            e.message.contains("tag p-1-alt2") && e.message.contains("no value for flavour"),
            "{e}"
        );
        // A tag on a side branch does not count: it is not reachable.
        sh(
            &r.root,
            "git checkout -q -b side && git commit -q --allow-empty -m side && \
             git tag -a -m 'p-9\n\nX-gear-specsubst: flavour=side' p-9 && git checkout -q -",
        );
        sh(&r.root, "git tag -d p-1-alt2 >/dev/null");
        assert_eq!(spec_for_build(&git, &r, &cancel).unwrap(), "Name: p-old\n");
        // No directive: the spec as it is, and git is not asked.
        std::fs::write(r.root.join(".gear/rules"), "tar: .\n").unwrap();
        assert_eq!(
            spec_for_build(&["/nonexistent/git".to_string()], &r, &cancel).unwrap(),
            "Name: p-@flavour@\n"
        );
    }
}
