//! Configuration errors that point at a file, a line and a key.
//!
//! Every problem a user can make in `~/.zoryn` or a builder file becomes one
//! [`ConfigError`]: where (file:line:column), which key, what is wrong, and a
//! hint that says what to write instead.

use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based; 0 when the problem is not tied to a place in the file.
    pub line: usize,
    pub column: usize,
    pub key: Option<String>,
    pub message: String,
    pub hint: Option<String>,
}

impl ConfigError {
    pub fn whole_file(file: &Path, message: impl Into<String>) -> Self {
        ConfigError {
            file: file.to_path_buf(),
            line: 0,
            column: 0,
            key: None,
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A file name with a newline or an escape sequence must not forge
        // lines of the error output: show control characters escaped.
        let file = self.file.display().to_string();
        if file.chars().any(char::is_control) {
            write!(f, "{}", file.escape_debug())?;
        } else {
            write!(f, "{file}")?;
        }
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// The closest candidate to `word`, if it is close enough to be a typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_has_place_and_hint() {
        let e = ConfigError {
            file: "/h/.zoryn".into(),
            line: 3,
            column: 1,
            key: Some("paralel".into()),
            message: "unknown key `paralel` in [builders]".into(),
            hint: Some("did you mean `parallel`?".into()),
        };
        assert_eq!(
            e.to_string(),
            "/h/.zoryn:3:1: unknown key `paralel` in [builders]\n  hint: did you mean `parallel`?"
        );
    }

    #[test]
    fn typos_are_suggested_and_strangers_are_not() {
        let keys = ["parallel", "default", "default_arch"];
        assert_eq!(did_you_mean("paralel", keys), Some("parallel"));
        assert_eq!(did_you_mean("defualt_arch", keys), Some("default_arch"));
        assert_eq!(did_you_mean("xyz", keys), None);
    }
}
