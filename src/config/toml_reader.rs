//! Typed reading of a TOML document with exact error positions.
//!
//! `toml_edit` keeps the span of every key and value; this module walks a
//! table against the keys zoryn knows, so an unknown key, a wrong type or a
//! bad value is reported at its line and column with a "did you mean" hint.
//! It knows nothing about what the keys mean — `global.rs` and
//! `builder_file.rs` do.

use std::ops::Range;
use std::path::Path;

use toml_edit::{Document, Item, Table, Value};

use super::error::{did_you_mean, ConfigError};

/// A parsed file: its text (for positions) and its document.
pub struct TomlFile<'a> {
    pub path: &'a Path,
    pub text: &'a str,
    pub doc: Document<&'a str>,
}

impl<'a> TomlFile<'a> {
    pub fn parse(path: &'a Path, text: &'a str) -> Result<Self, ConfigError> {
        match Document::parse(text) {
            Ok(doc) => Ok(TomlFile { path, text, doc }),
            Err(e) => {
                let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((0, 0));
                let message = e.message().trim().to_string();
                Err(ConfigError {
                    file: path.to_path_buf(),
                    line,
                    column,
                    key: None,
                    message: format!("invalid TOML: {message}"),
                    hint: Some(
                        "fix the syntax at that position (strings need quotes, tables [like.this])"
                            .into(),
                    ),
                })
            }
        }
    }

    pub fn root(&self) -> TableReader<'_> {
        TableReader {
            file: self,
            table: self.doc.as_table(),
            name: String::new(),
            span: None,
        }
    }

    fn error_at(
        &self,
        span: Option<Range<usize>>,
        key: Option<&str>,
        message: String,
    ) -> ConfigError {
        let (line, column) = span.map(|s| line_col(self.text, s.start)).unwrap_or((0, 0));
        ConfigError {
            file: self.path.to_path_buf(),
            line,
            column,
            key: key.map(str::to_string),
            message,
            hint: None,
        }
    }
}

/// 1-based line and column of a byte offset. An offset past the end means
/// the end; one inside a multi-byte character means that character.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// `(key, value)` pairs in file order.
pub type StringPairs = Vec<(String, String)>;

/// One table being read; `name` is its dotted path for messages ("" = top).
pub struct TableReader<'f> {
    file: &'f TomlFile<'f>,
    table: &'f Table,
    name: String,
    span: Option<Range<usize>>,
}

/// A value read from a table, with where it came from.
pub struct Located<T> {
    pub value: T,
    pub span: Option<Range<usize>>,
    pub line: usize,
}

impl<'f> TableReader<'f> {
    fn where_(&self) -> String {
        if self.name.is_empty() {
            "at the top level".to_string()
        } else {
            format!("in [{}]", self.name)
        }
    }

    /// Reject keys not in `known`. Keys for which `is_subtable_ok` returns
    /// true are skipped (e.g. per-branch tables under `[builders]`).
    pub fn deny_unknown(
        &self,
        known: &[&str],
        is_subtable_ok: impl Fn(&str, &Item) -> bool,
    ) -> Result<(), ConfigError> {
        for (key, item) in self.table.iter() {
            if known.contains(&key) || is_subtable_ok(key, item) {
                continue;
            }
            let span = self.table.key(key).and_then(|k| k.span());
            let mut err = self.file.error_at(
                span,
                Some(key),
                format!("unknown key `{key}` {}", self.where_()),
            );
            err.hint = Some(match did_you_mean(key, known.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("known keys here: {}", known.join(", ")),
            });
            return Err(err);
        }
        Ok(())
    }

    pub fn keys(&self) -> impl Iterator<Item = (&'f str, &'f Item)> {
        self.table.iter()
    }

    /// The 1-based line where `key` is written (0 when unknown).
    pub fn key_line(&self, key: &str) -> usize {
        self.table
            .key(key)
            .and_then(|k| k.span())
            .or_else(|| self.value_span(key))
            .map_or(0, |s| line_col(self.file.text, s.start).0)
    }

    /// The line of `sub` inside the dotted or sub-table `key` (`git.fetch`).
    pub fn dotted_key_line(&self, key: &str, sub: &str) -> usize {
        let in_sub = self.table.get(key).and_then(Item::as_table).and_then(|t| {
            t.key(sub)
                .and_then(|k| k.span())
                .or_else(|| t.get(sub)?.span())
        });
        match in_sub {
            Some(s) => line_col(self.file.text, s.start).0,
            None => self.key_line(key),
        }
    }

    fn located<T>(&self, key: &str, value: T) -> Located<T> {
        let span = self.value_span(key);
        let line = span
            .clone()
            .map(|s| line_col(self.file.text, s.start).0)
            .unwrap_or(0);
        Located { value, span, line }
    }

    fn value_span(&self, key: &str) -> Option<Range<usize>> {
        self.table
            .get(key)
            .and_then(|i| i.span())
            .or_else(|| self.table.key(key).and_then(|k| k.span()))
    }

    /// An error about the value of `key`.
    pub fn error(&self, key: &str, message: impl Into<String>) -> ConfigError {
        let label = if self.name.is_empty() {
            key.to_string()
        } else {
            format!("[{}] {key}", self.name)
        };
        self.file.error_at(
            self.value_span(key).or(self.span.clone()),
            Some(key),
            format!("{label}: {}", message.into()),
        )
    }

    fn type_error(&self, key: &str, expected: &str, item: &Item) -> ConfigError {
        self.error(
            key,
            format!("expected {expected}, found {}", describe(item)),
        )
    }

    fn value(&self, key: &str) -> Option<&'f Item> {
        self.table.get(key)
    }

    pub fn string(&self, key: &str) -> Result<Option<Located<String>>, ConfigError> {
        match self.value(key) {
            None => Ok(None),
            Some(Item::Value(Value::String(s))) => Ok(Some(self.located(key, s.value().clone()))),
            Some(other) => Err(self.type_error(key, "a string", other)),
        }
    }

    pub fn integer(&self, key: &str) -> Result<Option<Located<i64>>, ConfigError> {
        match self.value(key) {
            None => Ok(None),
            Some(Item::Value(Value::Integer(i))) => Ok(Some(self.located(key, *i.value()))),
            Some(other) => Err(self.type_error(key, "an integer", other)),
        }
    }

    /// `true`/`false` or the strings "on"/"off" (also "yes"/"no").
    pub fn switch(&self, key: &str) -> Result<Option<bool>, ConfigError> {
        match self.value(key) {
            None => Ok(None),
            Some(Item::Value(Value::Boolean(b))) => Ok(Some(*b.value())),
            Some(Item::Value(Value::String(s))) => match s.value().to_ascii_lowercase().as_str() {
                "on" | "yes" | "true" => Ok(Some(true)),
                "off" | "no" | "false" => Ok(Some(false)),
                other => Err(self
                    .error(
                        key,
                        format!("expected \"on\" or \"off\", found \"{other}\""),
                    )
                    .with_hint(format!("write {key} = \"on\" or {key} = \"off\""))),
            },
            Some(other) => Err(self.type_error(key, "\"on\"/\"off\" or true/false", other)),
        }
    }

    /// A string or an array of strings.
    pub fn string_list(&self, key: &str) -> Result<Option<Located<Vec<String>>>, ConfigError> {
        match self.value(key) {
            None => Ok(None),
            Some(Item::Value(Value::String(s))) => {
                Ok(Some(self.located(key, vec![s.value().clone()])))
            }
            Some(Item::Value(Value::Array(a))) => {
                let mut out = Vec::new();
                for v in a.iter() {
                    match v {
                        Value::String(s) => out.push(s.value().clone()),
                        _ => {
                            return Err(self.error(
                                key,
                                "expected a list of strings, found a non-string element",
                            ))
                        }
                    }
                }
                Ok(Some(self.located(key, out)))
            }
            Some(other) => Err(self.type_error(key, "a string or a list of strings", other)),
        }
    }

    /// An array of tables (`[[key]]`), each with its position for messages.
    pub fn array_of_tables(&self, key: &str) -> Result<Vec<TableReader<'f>>, ConfigError> {
        match self.value(key) {
            None => Ok(Vec::new()),
            Some(Item::ArrayOfTables(a)) => Ok(a
                .iter()
                .enumerate()
                .map(|(i, t)| TableReader {
                    file: self.file,
                    table: t,
                    name: format!("{key} #{}", i + 1),
                    span: t.span(),
                })
                .collect()),
            Some(other) => Err(self
                .type_error(key, &format!("[[{key}]] sections"), other)
                .with_hint(format!("write each entry as its own [[{key}]] section"))),
        }
    }

    /// An error about this whole table (e.g. a missing key).
    pub fn error_here(&self, message: impl Into<String>) -> ConfigError {
        let label = if self.name.is_empty() {
            String::new()
        } else {
            format!("[{}]: ", self.name)
        };
        self.file.error_at(
            self.span.clone(),
            None,
            format!("{label}{}", message.into()),
        )
    }

    /// A table of strings (`key = { a = "1", b = "2" }` or a `[name.key]`
    /// section), in file order. Numbers and booleans are taken as their text
    /// (rpm macro values are text).
    pub fn string_map(&self, key: &str) -> Result<Option<Located<StringPairs>>, ConfigError> {
        let text_of = |v: &Value| -> Option<String> {
            match v {
                Value::String(s) => Some(s.value().clone()),
                Value::Integer(i) => Some(i.value().to_string()),
                Value::Float(f) => Some(f.value().to_string()),
                Value::Boolean(b) => Some(b.value().to_string()),
                _ => None,
            }
        };
        let mut out = Vec::new();
        match self.value(key) {
            None => return Ok(None),
            Some(Item::Value(Value::InlineTable(t))) => {
                for (k, v) in t.iter() {
                    let Some(text) = text_of(v) else {
                        return Err(self
                            .error(key, format!("`{k}`: expected a string value"))
                            .with_hint(format!("write {k} = \"VALUE\"")));
                    };
                    out.push((k.to_string(), text));
                }
            }
            Some(Item::Table(t)) => {
                for (k, v) in t.iter() {
                    let Some(text) = v.as_value().and_then(text_of) else {
                        return Err(self
                            .error(key, format!("`{k}`: expected a string value"))
                            .with_hint(format!("write {k} = \"VALUE\"")));
                    };
                    out.push((k.to_string(), text));
                }
            }
            Some(other) => {
                return Err(self.type_error(
                    key,
                    "a table of strings, like { name = \"value\" }",
                    other,
                ))
            }
        }
        Ok(Some(self.located(key, out)))
    }

    /// Whether `key` holds a table (a `[name.key]` section or an inline table).
    pub fn is_table(&self, key: &str) -> bool {
        matches!(
            self.value(key),
            Some(Item::Table(_)) | Some(Item::Value(Value::InlineTable(_)))
        )
    }

    /// A sub-table (`[name.key]` or an inline table).
    pub fn table(&self, key: &str) -> Result<Option<TableReader<'f>>, ConfigError> {
        let name = if self.name.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.name)
        };
        match self.value(key) {
            None => Ok(None),
            Some(Item::Table(t)) => Ok(Some(TableReader {
                file: self.file,
                table: t,
                name,
                span: self.table.key(key).and_then(|k| k.span()),
            })),
            Some(Item::Value(Value::InlineTable(_))) => Err(self
                .error(key, "inline tables are not supported here")
                .with_hint(format!("write it as a [{name}] section"))),
            Some(other) => Err(self.type_error(key, &format!("a [{name}] table"), other)),
        }
    }
}

fn describe(item: &Item) -> &'static str {
    match item {
        Item::None => "nothing",
        Item::Table(_) | Item::Value(Value::InlineTable(_)) => "a table",
        Item::ArrayOfTables(_) => "an array of tables",
        Item::Value(v) => match v {
            Value::String(_) => "a string",
            Value::Integer(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Boolean(_) => "a boolean",
            Value::Datetime(_) => "a date",
            Value::Array(_) => "an array",
            Value::InlineTable(_) => "a table",
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        let t = "a = 1\nbb = 2\n";
        assert_eq!(line_col(t, 0), (1, 1));
        assert_eq!(line_col(t, 6), (2, 1));
        assert_eq!(line_col(t, 11), (2, 6));
    }

    /// An offset inside a multi-byte character (a template error's offset
    /// is counted in the unescaped value, not in the file) names that
    /// character's column instead of panicking.
    #[test]
    fn line_col_inside_a_character() {
        let t = "x = \"\\t€\"\n";
        for offset in 7..=9 {
            assert_eq!(line_col(t, offset), (1, 8), "{offset}");
        }
        assert_eq!(line_col(t, 99), (2, 1));
    }

    #[test]
    fn invalid_toml_names_line_and_column() {
        let p = Path::new("/x/.zoryn");
        let err = TomlFile::parse(p, "[build]\ncommand = hsh\n")
            .err()
            .unwrap();
        assert_eq!(err.line, 2);
        assert!(err.message.starts_with("invalid TOML"), "{err}");
    }

    #[test]
    fn wrong_type_is_reported_at_the_value() {
        let p = Path::new("/x/b.conf");
        let f = TomlFile::parse(p, "hasher_number = \"two\"\n").unwrap();
        let err = f.root().integer("hasher_number").err().unwrap();
        assert_eq!((err.line, err.column), (1, 17));
        assert_eq!(
            err.message,
            "hasher_number: expected an integer, found a string"
        );
    }
}
