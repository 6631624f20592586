//! The one error a command returns, and the one way it reads:
//! `zoryn: error: …` and `  hint: …`.
//!
//! Every [`Error`] has a [`ErrorKind`], and the kind alone decides the exit
//! class ([`ErrorKind::exit`]). The core's user-facing errors (a selection
//! pattern, the package source, a transport failure) fold into it with
//! `From`, so a command function can use `?` and return
//! `Result<ExitCode, Error>`; [`finish`] renders and exits.

use std::fmt;

use crate::farm::selection::SelectionError;
use crate::run::exit_code::ExitCode;
use crate::source::SourceError;

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
}

/// An error a command ends with: its kind, what happened and what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    pub hint: Option<String>,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>, hint: Option<&str>) -> Error {
        Error {
            kind,
            message: message.into(),
            hint: hint.filter(|h| !h.is_empty()).map(str::to_string),
        }
    }

    pub fn usage(message: impl Into<String>, hint: &str) -> Error {
        Error::new(ErrorKind::Usage, message, Some(hint))
    }

    pub fn infra(message: impl Into<String>, hint: &str) -> Error {
        Error::new(ErrorKind::Infra, message, Some(hint))
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

    /// Print it on stderr in zoryn's one format.
    pub fn render(&self) {
        print_error(&self.message, self.hint.as_deref());
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

impl From<SelectionError> for Error {
    fn from(e: SelectionError) -> Error {
        Error::new(ErrorKind::Usage, e.message, e.hint.as_deref())
    }
}

/// The process exit of a command's result, its error printed first.
pub fn finish(result: Result<ExitCode, Error>) -> i32 {
    match result {
        Ok(code) => code.code(),
        Err(e) => {
            e.render();
            e.exit().code()
        }
    }
}

/// Print an error in zoryn's one format.
pub fn print_error(message: &str, hint: Option<&str>) {
    eprintln!("zoryn: error: {message}");
    if let Some(h) = hint.filter(|h| !h.is_empty()) {
        eprintln!("  hint: {h}");
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
            finish(Err(Error::new(ErrorKind::Build, "gear failed", None))),
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
}
