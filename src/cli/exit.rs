//! How a command ends when it did not fail: an exit class (SPEC 8, the
//! numbers are [`ExitCode`]'s), or the status of the user's own command that
//! `builder shell` / `builder run` ran in a chroot, passed through.

use crate::run::exit_code::ExitCode;

/// A command's exit without an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// One of zoryn's exit classes.
    Class(ExitCode),
    /// The exit status of the command run in a chroot (hsh-shell/hsh-run
    /// hand it back the same way).
    Passed(i32),
}

impl From<ExitCode> for Exit {
    fn from(c: ExitCode) -> Exit {
        Exit::Class(c)
    }
}

impl From<Exit> for i32 {
    fn from(e: Exit) -> i32 {
        match e {
            Exit::Class(c) => c.code(),
            Exit::Passed(n) => n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_and_passed_statuses_reach_the_process() {
        assert_eq!(i32::from(Exit::from(ExitCode::Interrupted)), 130);
        assert_eq!(i32::from(Exit::Passed(7)), 7);
        assert_eq!(
            crate::cli::error::finish(Ok::<_, crate::cli::error::Error>(Exit::Passed(42))),
            42
        );
    }
}
