//! Templates: `{placeholder}` and `~` expansion in commands and paths.
//!
//! A [`Template`] is one string (a path, a log file name); a
//! [`CommandTemplate`] is a command line split into words *before* expansion,
//! so every expanded value stays exactly one argument however many spaces,
//! quotes or `$` it holds. Unknown placeholders are errors at load time, never
//! literals. `{{` and `}}` stand for literal braces.

use std::fmt;

/// Every placeholder zoryn knows (SPEC 3.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Placeholder {
    GitRoot,
    HasherDir,
    HasherNumber,
    Builder,
    Arch,
    Branch,
    Host,
    Batch,
    Pkg,
}

impl Placeholder {
    pub const ALL: [Placeholder; 9] = [
        Placeholder::GitRoot,
        Placeholder::HasherDir,
        Placeholder::HasherNumber,
        Placeholder::Builder,
        Placeholder::Arch,
        Placeholder::Branch,
        Placeholder::Host,
        Placeholder::Batch,
        Placeholder::Pkg,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Placeholder::GitRoot => "git_root",
            Placeholder::HasherDir => "hasher_dir",
            Placeholder::HasherNumber => "hasher_number",
            Placeholder::Builder => "builder",
            Placeholder::Arch => "arch",
            Placeholder::Branch => "branch",
            Placeholder::Host => "host",
            Placeholder::Batch => "batch",
            Placeholder::Pkg => "pkg",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// Values for expansion. A missing value expands to the empty string.
#[derive(Clone, Debug, Default)]
pub struct Vars {
    pub git_root: Option<String>,
    pub hasher_dir: Option<String>,
    pub hasher_number: Option<u32>,
    pub builder: Option<String>,
    pub arch: Option<String>,
    pub branch: Option<String>,
    pub host: Option<String>,
    pub batch: Option<String>,
    pub pkg: Option<String>,
    /// What a leading `~` becomes; `None` keeps the `~`.
    pub home: Option<String>,
}

impl Vars {
    fn get(&self, p: Placeholder) -> String {
        let v = match p {
            Placeholder::GitRoot => self.git_root.clone(),
            Placeholder::HasherDir => self.hasher_dir.clone(),
            Placeholder::HasherNumber => self.hasher_number.map(|n| n.to_string()),
            Placeholder::Builder => self.builder.clone(),
            Placeholder::Arch => self.arch.clone(),
            Placeholder::Branch => self.branch.clone(),
            Placeholder::Host => self.host.clone(),
            Placeholder::Batch => self.batch.clone(),
            Placeholder::Pkg => self.pkg.clone(),
        };
        v.unwrap_or_default()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Lit(String),
    Var(Placeholder),
}

/// A bad placeholder: its byte offset in the template and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub offset: usize,
    pub message: String,
    pub hint: String,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// One templated string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    raw: String,
    parts: Vec<Part>,
}

impl Template {
    pub fn parse(raw: &str) -> Result<Self, TemplateError> {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut chars = raw.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '{' if chars.peek().map(|x| x.1) == Some('{') => {
                    chars.next();
                    lit.push('{');
                }
                '}' if chars.peek().map(|x| x.1) == Some('}') => {
                    chars.next();
                    lit.push('}');
                }
                '{' => {
                    let rest = &raw[i + 1..];
                    let Some(end) = rest.find('}') else {
                        return Err(TemplateError {
                            offset: i,
                            message: "unclosed `{` in template".into(),
                            hint:
                                "close the placeholder with `}` or write `{{` for a literal brace"
                                    .into(),
                        });
                    };
                    let name = &rest[..end];
                    let Some(p) = Placeholder::from_name(name) else {
                        let known: Vec<String> = Placeholder::ALL
                            .iter()
                            .map(|p| format!("{{{}}}", p.name()))
                            .collect();
                        let hint = match super::error::did_you_mean(
                            name,
                            Placeholder::ALL.iter().map(|p| p.name()),
                        ) {
                            Some(s) => format!(
                                "did you mean `{{{s}}}`? known placeholders: {}",
                                known.join(" ")
                            ),
                            None => format!(
                                "known placeholders: {}; write `{{{{` for a literal brace",
                                known.join(" ")
                            ),
                        };
                        return Err(TemplateError {
                            offset: i,
                            message: format!("unknown placeholder `{{{name}}}`"),
                            hint,
                        });
                    };
                    if !lit.is_empty() {
                        parts.push(Part::Lit(std::mem::take(&mut lit)));
                    }
                    parts.push(Part::Var(p));
                    for _ in 0..=end {
                        chars.next();
                    }
                }
                '}' => {
                    return Err(TemplateError {
                        offset: i,
                        message: "stray `}` in template".into(),
                        hint: "write `}}` for a literal brace".into(),
                    })
                }
                c => lit.push(c),
            }
        }
        if !lit.is_empty() {
            parts.push(Part::Lit(lit));
        }
        Ok(Template {
            raw: raw.to_string(),
            parts,
        })
    }

    pub fn raw(&self) -> &str {
        &self.raw
    }

    pub fn uses(&self, p: Placeholder) -> bool {
        self.parts.contains(&Part::Var(p))
    }

    /// Expand placeholders and a leading `~`. When a placeholder expands to
    /// nothing between two identical separators (`.`, `-`, `_`), one of them
    /// is dropped: `build.{batch}.{builder}.log` outside a batch gives
    /// `build.local.log`, not `build..local.log`.
    pub fn expand(&self, vars: &Vars) -> String {
        let mut out = String::new();
        let mut drop_sep: Option<char> = None;
        for part in &self.parts {
            match part {
                Part::Lit(s) => {
                    let mut s = s.as_str();
                    if let Some(sep) = drop_sep.take() {
                        if s.starts_with(sep) && out.ends_with(sep) {
                            s = &s[sep.len_utf8()..];
                        }
                    }
                    out.push_str(s);
                }
                Part::Var(p) => {
                    let v = vars.get(*p);
                    if v.is_empty() {
                        drop_sep = out.chars().last().filter(|c| matches!(c, '.' | '-' | '_'));
                    }
                    out.push_str(&v);
                }
            }
        }
        expand_tilde(out, vars.home.as_deref())
    }
}

fn expand_tilde(s: String, home: Option<&str>) -> String {
    match home {
        Some(home) if s == "~" => home.to_string(),
        Some(home) if s.starts_with("~/") => format!("{}{}", home.trim_end_matches('/'), &s[1..]),
        _ => s,
    }
}

/// A command line template: words split like a shell would (quotes group,
/// nothing is expanded by a shell), each word a [`Template`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandTemplate {
    raw: String,
    words: Vec<Template>,
}

impl CommandTemplate {
    pub fn parse(raw: &str) -> Result<Self, TemplateError> {
        let split = shell_words::split(raw).map_err(|e| TemplateError {
            offset: 0,
            message: format!("cannot split the command into words: {e}"),
            hint: "check the quotes in the command".into(),
        })?;
        if split.is_empty() {
            return Err(TemplateError {
                offset: 0,
                message: "the command is empty".into(),
                hint: "give the hsh command, e.g. \"hsh --lazy-cleanup\"".into(),
            });
        }
        let mut words = Vec::new();
        for w in &split {
            words.push(Template::parse(w).map_err(|mut e| {
                e.offset += raw.find(w.as_str()).unwrap_or(0);
                e
            })?);
        }
        Ok(CommandTemplate {
            raw: raw.to_string(),
            words,
        })
    }

    pub fn raw(&self) -> &str {
        &self.raw
    }

    pub fn uses(&self, p: Placeholder) -> bool {
        self.words.iter().any(|w| w.uses(p))
    }

    /// The words as written (unexpanded), e.g. to look for an option.
    pub fn raw_words(&self) -> impl Iterator<Item = &str> {
        self.words.iter().map(|w| w.raw())
    }

    /// One argument per word, whatever the values contain.
    pub fn argv(&self, vars: &Vars) -> Vec<String> {
        self.words.iter().map(|w| w.expand(vars)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        Vars {
            git_root: Some("/src/my pkg".into()),
            hasher_dir: Some("/h/it's $HOME".into()),
            hasher_number: Some(2),
            builder: Some("local2".into()),
            arch: Some("x86_64".into()),
            branch: Some("sisyphus".into()),
            home: Some("/home/u".into()),
            ..Vars::default()
        }
    }

    #[test]
    fn placeholders_and_tilde_expand() {
        let t = Template::parse("~/hasher_{hasher_number}").unwrap();
        assert_eq!(t.expand(&vars()), "/home/u/hasher_2");
        let t = Template::parse("{git_root}/hasher_out").unwrap();
        assert_eq!(t.expand(&vars()), "/src/my pkg/hasher_out");
    }

    #[test]
    fn tilde_only_at_the_start() {
        let t = Template::parse("a~/b").unwrap();
        assert_eq!(t.expand(&vars()), "a~/b");
        let t = Template::parse("~").unwrap();
        assert_eq!(t.expand(&vars()), "/home/u");
        let t = Template::parse("~/x").unwrap();
        assert_eq!(t.expand(&Vars::default()), "~/x");
    }

    #[test]
    fn empty_placeholder_does_not_double_separators() {
        let t = Template::parse("build.{batch}.{builder}.log").unwrap();
        assert_eq!(t.expand(&vars()), "build.local2.log");
        let mut v = vars();
        v.batch = Some("php".into());
        assert_eq!(t.expand(&v), "build.php.local2.log");
    }

    #[test]
    fn braces_escape() {
        let t = Template::parse("a{{b}}c").unwrap();
        assert_eq!(t.expand(&vars()), "a{b}c");
    }

    #[test]
    fn unknown_placeholder_is_an_error_with_a_suggestion() {
        let e = Template::parse("x/{gitroot}/y").unwrap_err();
        assert_eq!(e.offset, 2);
        assert_eq!(e.message, "unknown placeholder `{gitroot}`");
        assert!(
            e.hint.starts_with("did you mean `{git_root}`?"),
            "{}",
            e.hint
        );
        assert!(Template::parse("x{oops").is_err());
        assert!(Template::parse("x}").is_err());
    }

    #[test]
    fn command_words_stay_single_arguments() {
        let c =
            CommandTemplate::parse("hsh --lazy-cleanup '--repo={hasher_dir}/my repo' {hasher_dir}")
                .unwrap();
        assert_eq!(
            c.argv(&vars()),
            [
                "hsh",
                "--lazy-cleanup",
                "--repo=/h/it's $HOME/my repo",
                "/h/it's $HOME"
            ]
        );
        assert!(c.uses(Placeholder::HasherDir));
        assert!(!c.uses(Placeholder::HasherNumber));
    }

    #[test]
    fn command_errors() {
        assert!(CommandTemplate::parse("").is_err());
        assert!(CommandTemplate::parse("hsh 'unterminated").is_err());
        let e = CommandTemplate::parse("hsh --number={hasher_num}").unwrap_err();
        assert_eq!(e.offset, 13);
    }
}
