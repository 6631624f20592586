//! Colour of the result words (OK, FAIL, SKIP, ...) in plain output and the
//! summary table: `--color=auto|always|never` and `NO_COLOR`.
//!
//! Owns the decision (one process-wide choice, set once by the command
//! line) and the ANSI codes. It never colours anything else, and never in
//! JSON or the `--top` view (which has its own styles).

use std::sync::atomic::{AtomicU8, Ordering};

use crate::run::events::Outcome;

/// What the user asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum When {
    /// Colour on a terminal, unless `NO_COLOR` is set and not empty.
    #[default]
    Auto,
    Always,
    Never,
}

static CHOICE: AtomicU8 = AtomicU8::new(0);

/// Set the process-wide choice (from `--color`).
pub fn set(when: When) {
    let v = match when {
        When::Auto => 0,
        When::Always => 1,
        When::Never => 2,
    };
    CHOICE.store(v, Ordering::Relaxed);
}

fn current() -> When {
    match CHOICE.load(Ordering::Relaxed) {
        1 => When::Always,
        2 => When::Never,
        _ => When::Auto,
    }
}

/// Whether to colour, given the choice, whether the stream is a terminal
/// and `NO_COLOR`'s value. An explicit `always` wins over `NO_COLOR` (a
/// flag on the command line overrides the environment, as no-color.org
/// asks); an empty `NO_COLOR` counts as unset.
pub fn decide(when: When, is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    match when {
        When::Always => true,
        When::Never => false,
        When::Auto => is_terminal && no_color.is_none_or(|v| v.is_empty()),
    }
}

/// Whether output to a stream that is (or is not) a terminal gets colour.
pub fn enabled_for(is_terminal: bool) -> bool {
    decide(
        current(),
        is_terminal,
        std::env::var_os("NO_COLOR").as_deref(),
    )
}

/// `text` (the outcome's label, maybe padded) in the outcome's colour.
pub fn paint(outcome: Outcome, text: &str) -> String {
    let code = match outcome {
        Outcome::Success => "32",
        Outcome::Failed | Outcome::Unusable | Outcome::Lost => "31",
        Outcome::Skipped | Outcome::Busy | Outcome::Cancelled => "33",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn auto_needs_a_terminal_and_no_no_color() {
        assert!(decide(When::Auto, true, None));
        assert!(!decide(When::Auto, false, None));
        assert!(!decide(When::Auto, true, Some(OsStr::new("1"))));
        assert!(decide(When::Auto, true, Some(OsStr::new(""))));
        assert!(decide(When::Always, false, Some(OsStr::new("1"))));
        assert!(!decide(When::Never, true, None));
    }

    #[test]
    fn painted_words() {
        assert_eq!(paint(Outcome::Success, "OK"), "\x1b[32mOK\x1b[0m");
        assert_eq!(paint(Outcome::Failed, "FAIL"), "\x1b[31mFAIL\x1b[0m");
        assert_eq!(paint(Outcome::Skipped, "SKIP"), "\x1b[33mSKIP\x1b[0m");
    }
}
