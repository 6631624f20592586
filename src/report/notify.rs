//! `[notify]` (SPEC 3.1): when a run that took longer than `after` ends, tell
//! the user — a desktop notification where one is possible (`notify-send`
//! with a session bus), otherwise the terminal bell on a terminal.
//!
//! Owns the decision (enabled, long enough, which way) and the one
//! `notify-send` call. It must not fail a run: every error here is ignored
//! (logged with `-v`), and it never waits on a dead bus for more than a few
//! seconds.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::time::Duration;

use crate::config::global::NotifySection;
use crate::transport::cancel::CancelToken;
use crate::transport::runner::{capture, CommandSpec};

/// How a run's end is announced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// `notify-send` (found on PATH) on the session bus.
    Desktop(std::path::PathBuf),
    /// BEL on the terminal (stderr).
    Bell,
    /// Off, too short, or nowhere to show it.
    Nothing,
}

/// The way to announce the end of a run of `elapsed`. `env` reads the
/// environment; `tty` says whether stderr is a terminal.
pub fn decide(
    cfg: &NotifySection,
    elapsed: Duration,
    env: impl Fn(&str) -> Option<OsString>,
    tty: bool,
) -> Notice {
    if !cfg.enabled || elapsed < cfg.after {
        return Notice::Nothing;
    }
    let bus = env("DBUS_SESSION_BUS_ADDRESS").is_some_and(|v| !v.is_empty());
    if bus {
        if let Some(path) = env("PATH").and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("notify-send"))
                .find(|f| f.is_file())
        }) {
            return Notice::Desktop(path);
        }
    }
    if tty {
        Notice::Bell
    } else {
        Notice::Nothing
    }
}

/// The `notify-send` argv for a run's end (`failed` raises the urgency).
pub fn notify_send_argv(
    program: &std::path::Path,
    title: &str,
    body: &str,
    failed: bool,
) -> Vec<OsString> {
    vec![
        program.as_os_str().to_owned(),
        "--app-name=zoryn".into(),
        format!("--urgency={}", if failed { "critical" } else { "normal" }).into(),
        title.into(),
        body.into(),
    ]
}

/// Announce the end of a run (see [`decide`]); `title` says what ran and
/// how it ended, `body` the details.
pub fn run_ended(cfg: &NotifySection, elapsed: Duration, title: &str, body: &str, failed: bool) {
    let tty = std::io::stderr().is_terminal();
    match decide(cfg, elapsed, |k| std::env::var_os(k), tty) {
        Notice::Nothing => {}
        Notice::Bell => {
            let _ = std::io::Write::write_all(&mut std::io::stderr(), b"\x07");
        }
        Notice::Desktop(program) => {
            let argv = notify_send_argv(&program, title, body, failed);
            let spec = CommandSpec::new(argv).timeout(Duration::from_secs(5));
            match capture(&spec, &CancelToken::new()) {
                Ok(out) if out.success() => {}
                Ok(out) => tracing::info!(
                    "notify-send failed (exit {:?}): {}",
                    out.code(),
                    out.stderr.trim()
                ),
                Err(e) => tracing::info!("notify-send: {e}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(enabled: bool, after: u64) -> NotifySection {
        NotifySection {
            enabled,
            after: Duration::from_secs(after),
        }
    }

    #[test]
    fn desktop_when_there_is_a_bus_and_notify_send_else_the_bell_on_a_terminal() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("notify-send"), "").unwrap();
        let path: OsString = dir.path().as_os_str().to_owned();
        let with = |bus: Option<&str>| {
            let path = path.clone();
            let bus = bus.map(OsString::from);
            move |k: &str| match k {
                "PATH" => Some(path.clone()),
                "DBUS_SESSION_BUS_ADDRESS" => bus.clone(),
                _ => None,
            }
        };
        let long = Duration::from_secs(31);
        let sent = dir.path().join("notify-send");
        assert_eq!(
            decide(
                &cfg(true, 30),
                long,
                with(Some("unix:path=/run/bus")),
                false
            ),
            Notice::Desktop(sent)
        );
        // No session bus: the bell, and only on a terminal.
        assert_eq!(decide(&cfg(true, 30), long, with(None), true), Notice::Bell);
        assert_eq!(
            decide(&cfg(true, 30), long, with(Some("")), true),
            Notice::Bell
        );
        assert_eq!(
            decide(&cfg(true, 30), long, with(None), false),
            Notice::Nothing
        );
        // A bus but no notify-send on PATH.
        let no_prog = |k: &str| match k {
            "PATH" => Some(OsString::from("/nonexistent")),
            "DBUS_SESSION_BUS_ADDRESS" => Some(OsString::from("unix:path=/x")),
            _ => None,
        };
        assert_eq!(decide(&cfg(true, 30), long, no_prog, true), Notice::Bell);
        // Short runs and `enabled = false` say nothing.
        assert_eq!(
            decide(
                &cfg(true, 30),
                Duration::from_secs(29),
                with(Some("x")),
                true
            ),
            Notice::Nothing
        );
        assert_eq!(
            decide(&cfg(false, 30), long, with(Some("x")), true),
            Notice::Nothing
        );
    }
}
