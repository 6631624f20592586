//! The process exit of zoryn (SPEC 8), as one type: every command and the
//! batch report decide their exit through it, and only here do the numbers
//! stand.

use std::fmt;

/// How a run or command ended, by exit class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ExitCode {
    /// 0: everything asked for was done (skips are fine).
    Ok,
    /// 1: a build failed (or a batch job was blocked by one).
    BuildFailed,
    /// 2: the command line or the configuration is wrong.
    Usage,
    /// 3: infrastructure: a builder, host or tool could not be used.
    Infra,
    /// 130: interrupted (Ctrl-C, SIGTERM, SIGHUP, or cancelled in the TUI).
    Interrupted,
}

impl ExitCode {
    /// The number the process exits with.
    pub const fn code(self) -> i32 {
        match self {
            ExitCode::Ok => 0,
            ExitCode::BuildFailed => 1,
            ExitCode::Usage => 2,
            ExitCode::Infra => 3,
            ExitCode::Interrupted => 130,
        }
    }

    /// The class of a process exit number (anything unknown is infra).
    pub fn from_code(code: i32) -> ExitCode {
        match code {
            0 => ExitCode::Ok,
            1 => ExitCode::BuildFailed,
            2 => ExitCode::Usage,
            130 => ExitCode::Interrupted,
            _ => ExitCode::Infra,
        }
    }

    pub fn is_ok(self) -> bool {
        self == ExitCode::Ok
    }
}

impl From<ExitCode> for i32 {
    fn from(e: ExitCode) -> i32 {
        e.code()
    }
}

impl fmt::Display for ExitCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_specs() {
        for (e, n) in [
            (ExitCode::Ok, 0),
            (ExitCode::BuildFailed, 1),
            (ExitCode::Usage, 2),
            (ExitCode::Infra, 3),
            (ExitCode::Interrupted, 130),
        ] {
            assert_eq!(e.code(), n);
            assert_eq!(ExitCode::from_code(n), e);
        }
        assert_eq!(ExitCode::from_code(255), ExitCode::Infra);
    }
}
