//! Finding upstream versions: git tags (after fetching the `upstream`
//! remote, if there is one) and uscan-style watch files (`.gear/*.watch`)
//! read over their URL's scheme with the system `curl`.
//!
//! Parsing is pure and unit-tested; the fetching edges are small. Must not
//! change the repository (except tags fetched from the upstream remote,
//! which the journal records so `--abort` can drop them).

use std::path::{Path, PathBuf};
use std::time::Duration;

use regex_automata::meta::Regex;

use super::version::{version_from_tag, version_from_tag_with_prefix, Candidate};
use super::UpError;
use crate::transport::cancel::CancelToken;
use crate::transport::runner::{capture, CommandSpec};

/// The remote `up` fetches tags from before detecting (when configured).
pub const UPSTREAM_REMOTE: &str = "upstream";

/// The upstream layout of a repository.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// Upstream history in the repository; new versions are tags.
    Git,
    /// Upstream releases are archives named by a watch file.
    Tarball,
}

/// A `tar`-like directive of `.gear/rules`: its base tree (`v@version@` in
/// `tar: v@version@:.`) and directory, with the 1-based line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TarRule {
    pub base: Option<String>,
    pub dir: String,
    pub line: usize,
}

/// The first `tar`/`tar.*`/`zip` directive of a rules file.
pub fn tar_rule(rules: &str) -> Option<TarRule> {
    rules.lines().enumerate().find_map(|(i, l)| {
        let (cmd, rest) = l.trim().split_once(':')?;
        let cmd = cmd.trim().trim_end_matches('?');
        if !(cmd == "tar" || cmd.starts_with("tar.") || cmd == "zip") {
            return None;
        }
        let value = rest.split_whitespace().next()?;
        let (base, dir) = match value.split_once(':') {
            Some((b, d)) => (Some(b.to_string()), d.to_string()),
            None => (None, value.to_string()),
        };
        Some(TarRule {
            base,
            dir,
            line: i + 1,
        })
    })
}

/// The scheme a repository uses: `-t` forces tarball; a tag base tree in
/// the rules or an `upstream` remote means git; else a watch file means
/// tarball; else git (tags in the repository).
pub fn scheme(
    force_tarball: bool,
    rules: &str,
    has_upstream_remote: bool,
    watch: Option<&Path>,
) -> Scheme {
    if force_tarball {
        return Scheme::Tarball;
    }
    let tag_base = tar_rule(rules).is_some_and(|r| r.base.is_some_and(|b| b.contains("@version@")));
    if tag_base || has_upstream_remote {
        Scheme::Git
    } else if watch.is_some() {
        Scheme::Tarball
    } else {
        Scheme::Git
    }
}

/// The tag prefix the rules fix: `v` for `tar: v@version@:.`, `` for
/// `tar: @version@:.`; `None` when the base tree is no `PREFIX@version@`.
pub fn rules_tag_prefix(rules: &str) -> Option<String> {
    let base = tar_rule(rules)?.base?;
    let prefix = base.strip_suffix("@version@")?;
    (!prefix.contains('@')).then(|| prefix.to_string())
}

/// The version a tag names: with the rules' prefix when they fix one,
/// else by the usual prefixes.
pub fn tag_version(tag: &str, package: &str, rules_prefix: Option<&str>) -> Option<String> {
    match rules_prefix {
        Some(p) => version_from_tag_with_prefix(tag, p),
        None => version_from_tag(tag, package),
    }
}

/// Versions named by tags.
pub fn tag_candidates(
    tags: &[String],
    package: &str,
    rules_prefix: Option<&str>,
) -> Vec<Candidate> {
    tags.iter()
        .filter_map(|t| {
            tag_version(t, package, rules_prefix).map(|v| Candidate {
                version: v,
                origin: t.clone(),
            })
        })
        .collect()
}

/// The watch file of the repository: the first `.gear/*.watch` by name.
pub fn watch_file(root: &Path) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(root.join(".gear"))
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "watch") && p.is_file())
        .collect();
    found.sort();
    found.into_iter().next()
}

/// One source line of a watch file: where to look and what to match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Watch {
    /// The page (directory listing) to read.
    pub page_url: String,
    /// The pattern for archive names; group 1 (and further groups, joined
    /// with `.`) is the version.
    pub pattern: String,
    pub line: usize,
}

/// Parse a uscan-style watch file (versions 2 to 4): `version=N` and
/// comments skipped, `\` continues a line, an `opts=...` first word is
/// skipped; then either `URL PATTERN` or one URL whose last path component
/// is the pattern. Errors name the line.
pub fn parse_watch(text: &str) -> Result<Watch, (usize, String)> {
    let mut joined: Vec<(usize, String)> = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let (start, mut acc) = pending.take().unwrap_or((i + 1, String::new()));
        if let Some(cont) = line.strip_suffix('\\') {
            acc.push_str(cont);
            acc.push(' ');
            pending = Some((start, acc));
            continue;
        }
        acc.push_str(line);
        joined.push((start, acc));
    }
    if let Some(p) = pending {
        joined.push(p);
    }
    for (line, l) in joined {
        let l = l.trim();
        if l.is_empty() || l.starts_with('#') || l.starts_with("version=") {
            continue;
        }
        let mut words: Vec<&str> = l.split_whitespace().collect();
        if words.first().is_some_and(|w| w.starts_with("opts=")) {
            words.remove(0);
        }
        let (page, pattern) = match words.as_slice() {
            [url] => match url.rsplit_once('/') {
                Some((dir, pat)) if !pat.is_empty() => (format!("{dir}/"), pat.to_string()),
                _ => {
                    return Err((
                        line,
                        format!("`{url}` has no file pattern after the last `/`"),
                    ))
                }
            },
            [url, pat, ..] => (url.to_string(), pat.to_string()),
            [] => continue,
        };
        if !(page.starts_with("http://")
            || page.starts_with("https://")
            || page.starts_with("file://")
            || page.starts_with("ftp://"))
        {
            return Err((
                line,
                format!("`{page}` is not an http(s)://, ftp:// or file:// URL"),
            ));
        }
        if !pattern.contains('(') {
            return Err((
                line,
                format!("pattern `{pattern}` has no (group) for the version"),
            ));
        }
        return Ok(Watch {
            page_url: page,
            pattern,
            line,
        });
    }
    Err((
        0,
        "no source line (URL and pattern) in the watch file".into(),
    ))
}

/// Archives the page links to that match the watch pattern: version and
/// absolute URL. Matches are whole names (an `href` value, or its last
/// path component).
pub fn archives_in_page(watch: &Watch, page: &str) -> Result<Vec<Candidate>, String> {
    let re = Regex::new(&format!("^(?:{})$", watch.pattern)).map_err(|e| {
        format!(
            "pattern `{}` is not a valid regular expression: {e}",
            watch.pattern
        )
    })?;
    let mut out: Vec<Candidate> = Vec::new();
    let base = if watch.page_url.ends_with('/') {
        watch.page_url.clone()
    } else {
        format!("{}/", watch.page_url)
    };
    for word in link_targets(page) {
        let name = word.rsplit('/').next().unwrap_or(&word);
        for cand in [word.as_str(), name] {
            let mut caps = re.create_captures();
            re.captures(cand, &mut caps);
            if !caps.is_match() {
                continue;
            }
            let parts: Vec<&str> = (1..caps.group_len())
                .filter_map(|g| caps.get_group(g).map(|s| &cand[s.range()]))
                .collect();
            if parts.is_empty() {
                continue;
            }
            let url = if word.contains("://") {
                word.clone()
            } else if let Some(abs) = word.strip_prefix('/') {
                // Absolute path on the same host.
                match base
                    .find("://")
                    .and_then(|i| base[i + 3..].find('/').map(|j| i + 3 + j))
                {
                    Some(root) => format!("{}/{abs}", &base[..root]),
                    None => format!("{base}{abs}"),
                }
            } else {
                format!("{base}{word}")
            };
            let c = Candidate {
                version: parts.join("."),
                origin: url,
            };
            if !out.contains(&c) {
                out.push(c);
            }
            break;
        }
    }
    Ok(out)
}

/// `href="..."` values of an HTML page, or the whitespace-separated words
/// of a plain listing (a `file://` directory, an FTP listing).
fn link_targets(page: &str) -> Vec<String> {
    let mut out = Vec::new();
    let lower = page.to_ascii_lowercase();
    let mut at = 0;
    while let Some(i) = lower[at..].find("href=") {
        let start = at + i + 5;
        let rest = &page[start..];
        let (quote, body) = match rest.chars().next() {
            Some(q @ ('"' | '\'')) => (Some(q), &rest[1..]),
            _ => (None, rest),
        };
        let end = match quote {
            Some(q) => body.find(q),
            None => body.find(|c: char| c.is_whitespace() || c == '>'),
        }
        .unwrap_or(body.len());
        out.push(body[..end].to_string());
        at = start + end.max(1);
    }
    if out.is_empty() {
        out = page.split_whitespace().map(str::to_string).collect();
    }
    out
}

/// A `file://` directory is listed by name (curl cannot list one).
fn list_file_dir(url: &str) -> Option<Result<String, UpError>> {
    let path = url.strip_prefix("file://")?;
    let p = Path::new(path);
    if !p.is_dir() {
        return None;
    }
    Some(
        std::fs::read_dir(p)
            .map(|rd| {
                let mut names: Vec<String> = rd
                    .filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect();
                names.sort();
                names.join("\n")
            })
            .map_err(|e| {
                UpError::infra(
                    format!("cannot list {path}: {e}"),
                    "check the watch file's URL",
                )
            }),
    )
}

fn curl(args: &[&str], url: &str, cancel: &CancelToken) -> Result<String, UpError> {
    let spec = CommandSpec::new(["curl", "-fsSL", "--proto", "=http,https,ftp,file"])
        .args(args)
        .arg("--")
        .arg(url)
        .timeout(Duration::from_secs(600));
    let out = capture(&spec, cancel).map_err(|e| {
        UpError::infra(
            format!("cannot run curl to fetch {url}: {e}"),
            "install curl (ALT and Debian package: curl)",
        )
    })?;
    if !out.success() {
        return Err(UpError::infra(
            format!("cannot fetch {url}: {}", out.stderr.trim()),
            "check the URL in the watch file and the network",
        ));
    }
    Ok(out.stdout)
}

/// The text of the watch file's page.
pub fn fetch_page(url: &str, cancel: &CancelToken) -> Result<String, UpError> {
    if let Some(listed) = list_file_dir(url) {
        return listed;
    }
    curl(&[], url, cancel)
}

/// Download `url` to `dest` (written next to it, then renamed: never a
/// half-written archive under the final name).
pub fn download(url: &str, dest: &Path, cancel: &CancelToken) -> Result<(), UpError> {
    let part = dest.with_extension("part");
    let part_s = part.to_string_lossy().into_owned();
    curl(&["-o", &part_s], url, cancel)?;
    std::fs::rename(&part, dest).map_err(|e| {
        UpError::infra(
            format!("cannot move the download to {}: {e}", dest.display()),
            "check the disk space and permissions",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tar_rules_with_and_without_base() {
        assert_eq!(
            tar_rule("spec: a.spec\ntar: v@version@:.\ndiff: v@version@:. . name=a.patch\n"),
            Some(TarRule {
                base: Some("v@version@".into()),
                dir: ".".into(),
                line: 2
            })
        );
        assert_eq!(
            tar_rule("tar.gz: hello name=x\n").map(|r| r.dir),
            Some("hello".into())
        );
        assert_eq!(tar_rule("spec: a.spec\n"), None);
    }

    #[test]
    fn rules_prefix_and_tag_versions() {
        assert_eq!(
            rules_tag_prefix("tar: v@version@:.\n").as_deref(),
            Some("v")
        );
        assert_eq!(rules_tag_prefix("tar: @version@:.\n").as_deref(), Some(""));
        assert_eq!(rules_tag_prefix("tar: hello\n"), None);
        assert_eq!(rules_tag_prefix("tar: @name@-@version@:.\n"), None);
        // The rules' form wins over the usual prefixes, verbatim.
        assert_eq!(tag_version("v1.3-rc1", "hello", Some("v")), None);
        assert_eq!(tag_version("hello-1.3", "hello", Some("v")), None);
        assert_eq!(
            tag_version("v1.3", "hello", Some("v")).as_deref(),
            Some("1.3")
        );
        assert_eq!(
            tag_version("hello-1.3", "hello", None).as_deref(),
            Some("1.3")
        );
    }

    #[test]
    fn scheme_choice() {
        let w = Path::new(".gear/a.watch");
        assert_eq!(
            scheme(false, "tar: v@version@:.\n", false, Some(w)),
            Scheme::Git
        );
        assert_eq!(
            scheme(false, "tar: hello\n", false, Some(w)),
            Scheme::Tarball
        );
        assert_eq!(
            scheme(true, "tar: v@version@:.\n", true, None),
            Scheme::Tarball
        );
        assert_eq!(scheme(false, "tar: hello\n", true, Some(w)), Scheme::Git);
    }

    #[test]
    fn watch_forms() {
        let w =
            parse_watch("version=4\n# c\nhttp://h/rel/ hello-(\\d[\\d.]*)\\.tar\\.gz\n").unwrap();
        assert_eq!(w.page_url, "http://h/rel/");
        assert_eq!(w.pattern, "hello-(\\d[\\d.]*)\\.tar\\.gz");
        assert_eq!(w.line, 3);
        let w =
            parse_watch("version=3\nopts=pgpmode=none \\\n  https://h/d/hello-(.*)\\.tar\\.xz\n")
                .unwrap();
        assert_eq!(w.page_url, "https://h/d/");
        assert_eq!(w.pattern, "hello-(.*)\\.tar\\.xz");
        assert_eq!(
            parse_watch("version=4\nhttp://h/ nogroup\n").unwrap_err().0,
            2
        );
        assert_eq!(parse_watch("version=4\n/tmp/x (\\d+)\n").unwrap_err().0, 2);
        assert_eq!(parse_watch("version=4\n").unwrap_err().0, 0);
    }

    #[test]
    fn archives_from_html_and_plain_listings() {
        let w = Watch {
            page_url: "http://h/rel/".into(),
            pattern: "hello-(\\d[\\d.]*)\\.tar\\.gz".into(),
            line: 1,
        };
        let html = r#"<a href="hello-1.2.tar.gz">x</a> <a href='/pub/hello-1.10.tar.gz'>y</a>
            <a href="http://m/hello-1.3.tar.gz.sig">s</a> <a href="hello-1.4-rc1.tar.gz">r</a>"#;
        let found = archives_in_page(&w, html).unwrap();
        assert_eq!(
            found,
            vec![
                Candidate {
                    version: "1.2".into(),
                    origin: "http://h/rel/hello-1.2.tar.gz".into()
                },
                Candidate {
                    version: "1.10".into(),
                    origin: "http://h/pub/hello-1.10.tar.gz".into()
                },
            ]
        );
        let plain = "hello-1.0.tar.gz\nhello-2.0.tar.gz\nREADME\n";
        let w2 = Watch {
            page_url: "file:///srv/rel".into(),
            ..w
        };
        let found = archives_in_page(&w2, plain).unwrap();
        assert_eq!(found[1].origin, "file:///srv/rel/hello-2.0.tar.gz");
    }

    #[test]
    fn bad_pattern_is_an_error() {
        let w = Watch {
            page_url: "http://h/".into(),
            pattern: "a-((".into(),
            line: 1,
        };
        assert!(archives_in_page(&w, "x").is_err());
    }
}
