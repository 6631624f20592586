//! The one error a command returns, and the one place it is printed:
//! `zoryn: error: …` and `  hint: …`.
//!
//! Every [`Error`] has an [`ErrorKind`], and the kind alone decides the exit
//! class ([`ErrorKind::exit`]). The lower layers keep their own error types
//! where they need more than a message (a config file's line, a template's
//! offset, a source's missing tool); each folds into [`Error`] with `From`
//! and the right kind, so a command function uses `?` and returns
//! `Result<ExitCode, Error>`. The dispatcher ([`crate::cli::run`]) hands
//! that to [`finish`], which renders and picks the process exit.
//!
//! A command that goes on after one item failed (one builder of several)
//! reports through [`Failures`], which renders at once and keeps the worst
//! exit. Must not: print anything but errors, or decide exit numbers (those
//! are [`ExitCode`]'s). Warnings and notes are not errors and are printed
//! where they arise.

use std::fmt;

use crate::config::error::ConfigError;
use crate::config::template::TemplateError;
use crate::farm::selection::SelectionError;
use crate::run::exit_code::ExitCode;
use crate::source::SourceError;
use crate::transport::ssh::TransportError;
use crate::up::{UpError, UpErrorKind};

/// What went wrong, by who can fix it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The command line, the configuration or the directory is wrong (2).
    Usage,
    /// The package itself did not build or pack (1).
    Build,
    /// A builder, host or tool could not be used (3).
    Infra,
    /// Stopped by a signal (130).
    Interrupted,
}

impl ErrorKind {
    pub fn exit(self) -> ExitCode {
        match self {
            ErrorKind::Usage => ExitCode::Usage,
            ErrorKind::Build => ExitCode::BuildFailed,
            ErrorKind::Infra => ExitCode::Infra,
            ErrorKind::Interrupted => ExitCode::Interrupted,
        }
    }

    /// The kind of an exit class that is not success (a build's failure
    /// handed up by `zoryn up`).
    pub fn of_exit(code: ExitCode) -> ErrorKind {
        match code {
            ExitCode::Usage => ErrorKind::Usage,
            ExitCode::Infra => ErrorKind::Infra,
            ExitCode::Interrupted => ErrorKind::Interrupted,
            ExitCode::Ok | ExitCode::BuildFailed => ErrorKind::Build,
        }
    }
}

/// An error a command ends with: its kind, what happened and what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    pub hint: Option<String>,
    /// Errors found together with this one (every problem of a config
    /// file), printed after it in order.
    also: Vec<Error>,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>, hint: Option<&str>) -> Error {
        Error {
            kind,
            message: message.into(),
            hint: hint.filter(|h| !h.is_empty()).map(str::to_string),
            also: Vec::new(),
        }
    }

    pub fn usage(message: impl Into<String>, hint: impl AsRef<str>) -> Error {
        Error::new(ErrorKind::Usage, message, Some(hint.as_ref()))
    }

    pub fn infra(message: impl Into<String>, hint: impl AsRef<str>) -> Error {
        Error::new(ErrorKind::Infra, message, Some(hint.as_ref()))
    }

    /// Several errors found together, all printed; the first one's kind
    /// decides the exit. `None` when there are none.
    pub fn all(errors: impl IntoIterator<Item = Error>) -> Option<Error> {
        let mut errors = errors.into_iter();
        let mut first = errors.next()?;
        for e in errors {
            first.also.push(e.without_also());
            first.also.extend(e.also);
        }
        Some(first)
    }

    fn without_also(&self) -> Error {
        Error {
            also: Vec::new(),
            ..self.clone()
        }
    }

    /// The same error with `prefix` before its message (the builder it
    /// happened on: `[arm] `, `arm: `).
    pub fn prefixed(mut self, prefix: &str) -> Error {
        self.message.insert_str(0, prefix);
        self
    }

    /// A source problem: infra when a tool is missing, else `otherwise`
    /// (usage for a wrong directory, a build failure for a broken package).
    pub fn source(e: SourceError, otherwise: ErrorKind) -> Error {
        let kind = if e.missing_tool {
            ErrorKind::Infra
        } else {
            otherwise
        };
        Error::new(kind, e.message, e.hint.as_deref())
    }

    pub fn exit(&self) -> ExitCode {
        self.kind.exit()
    }

    /// Print it on stderr in zoryn's one format: the only place an error
    /// is written (through [`finish`] and [`Failures::report`]).
    fn render(&self) {
        for e in std::iter::once(self).chain(&self.also) {
            eprintln!("zoryn: error: {}", e.message);
            if let Some(h) = &e.hint {
                eprintln!("  hint: {h}");
            }
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in std::iter::once(self).chain(&self.also).enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            f.write_str(&e.message)?;
            if let Some(h) = &e.hint {
                write!(f, "\n  hint: {h}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

impl From<SelectionError> for Error {
    fn from(e: SelectionError) -> Error {
        Error::new(ErrorKind::Usage, e.message, e.hint.as_deref())
    }
}

/// A wrong directory is the user's to fix (2); a missing tool is infra (3).
impl From<SourceError> for Error {
    fn from(e: SourceError) -> Error {
        Error::source(e, ErrorKind::Usage)
    }
}

/// A bad placeholder is always in something the user wrote (a flag or a
/// config value): usage.
impl From<TemplateError> for Error {
    fn from(e: TemplateError) -> Error {
        Error::usage(e.message, e.hint)
    }
}

/// A config file problem (file:line:column: message) is usage.
impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Error {
        let hint = e.hint.clone();
        let place = ConfigError { hint: None, ..e };
        Error::new(ErrorKind::Usage, place.to_string(), hint.as_deref())
    }
}

/// A host that cannot be reached or asked is infra.
impl From<TransportError> for Error {
    fn from(e: TransportError) -> Error {
        Error::infra(e.message, e.hint)
    }
}

/// `zoryn up`'s stages keep their own kinds; a stop that needs the user
/// exits like a failed build (1).
impl From<UpError> for Error {
    fn from(e: UpError) -> Error {
        let kind = match e.kind {
            UpErrorKind::Usage => ErrorKind::Usage,
            UpErrorKind::Stopped => ErrorKind::Build,
            UpErrorKind::Infra => ErrorKind::Infra,
            UpErrorKind::Interrupted => ErrorKind::Interrupted,
        };
        Error::new(kind, e.message, e.hint.as_deref())
    }
}

/// Errors of a command that goes on after each (one builder of several
/// failed): each is printed when it happens, the worst decides the exit.
#[derive(Debug, Default)]
pub struct Failures {
    worst: Option<ExitCode>,
}

impl Failures {
    /// Print `e` now and remember its exit class.
    pub fn report(&mut self, e: Error) {
        e.render();
        self.worst = self.worst.max(Some(e.exit()));
    }

    /// Ok when nothing failed, else the worst exit class reported.
    pub fn exit(&self) -> ExitCode {
        self.worst.unwrap_or(ExitCode::Ok)
    }
}

/// The process exit of a command's result, its error printed first.
pub fn finish<T: Into<i32>>(result: Result<T, Error>) -> i32 {
    match result {
        Ok(code) => code.into(),
        Err(e) => {
            e.render();
            e.exit().code()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_decide_the_exit_and_hints_are_kept() {
        let e = Error::usage("no builder matches `x`", "see `zoryn builder list`");
        assert_eq!(e.exit(), ExitCode::Usage);
        assert_eq!(
            e.to_string(),
            "no builder matches `x`\n  hint: see `zoryn builder list`"
        );
        assert_eq!(Error::infra("ssh failed", "").hint, None);
        assert_eq!(
            finish::<ExitCode>(Err(Error::new(ErrorKind::Build, "gear failed", None))),
            1
        );
        assert_eq!(finish(Ok(ExitCode::Interrupted)), 130);
        let missing = SourceError {
            missing_tool: true,
            ..SourceError::new("`gear` is not installed", "apt-get install gear")
        };
        assert_eq!(
            Error::source(missing, ErrorKind::Usage).exit(),
            ExitCode::Infra
        );
    }

    #[test]
    fn lower_errors_fold_in_with_their_kind() {
        let wrong_dir = SourceError::new("not a git repository", "cd into the package");
        assert_eq!(Error::from(wrong_dir).kind, ErrorKind::Usage);
        let config = ConfigError::whole_file("/h/.zoryn".as_ref(), "bad").with_hint("fix it");
        let e = Error::from(config);
        assert_eq!(
            (e.kind, e.to_string()),
            (ErrorKind::Usage, "/h/.zoryn: bad\n  hint: fix it".into())
        );
        let up = UpError::stopped("a conflict in x.c", "resolve it, then --continue");
        assert_eq!(Error::from(up).exit(), ExitCode::BuildFailed);
        let t = TransportError {
            host: "arm".into(),
            message: "arm: connection refused".into(),
            hint: "check ssh arm".into(),
        };
        assert_eq!(
            Error::from(t).prefixed("[b] ").message,
            "[b] arm: connection refused"
        );
        assert_eq!(
            ErrorKind::of_exit(ExitCode::Interrupted),
            ErrorKind::Interrupted
        );
    }

    #[test]
    fn several_errors_print_in_order_and_the_first_kind_wins() {
        let e = Error::all([
            Error::usage("a", "ha"),
            Error::infra("b", ""),
            Error::usage("c", "hc"),
        ])
        .expect("three errors");
        assert_eq!(e.to_string(), "a\n  hint: ha\nb\nc\n  hint: hc");
        assert_eq!(e.exit(), ExitCode::Usage);
        assert_eq!(Error::all(Vec::new()), None);
    }

    #[test]
    fn failures_keep_the_worst_exit() {
        let mut f = Failures::default();
        assert_eq!(f.exit(), ExitCode::Ok);
        f.report(Error::usage("one", ""));
        f.report(Error::infra("two", ""));
        f.report(Error::usage("three", ""));
        assert_eq!(f.exit(), ExitCode::Infra);
    }
}
