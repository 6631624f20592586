//! Busy builders: someone holds the hasher workdir lock.
//!
//! zoryn never starts hsh on a locked workdir: it probes the lock first and,
//! by policy, waits (showing who holds it and for how long), skips the
//! builder, or fails it. hsh then runs with `--no-wait-lock`, so if another
//! process wins the race between the probe and hsh's own flock, hsh gives up
//! at once and zoryn goes back to waiting — hasher's flock stays the only
//! arbiter, and no two builds ever share a workdir.

use std::time::{Duration, Instant, SystemTime};

use super::duration::human_duration;
use super::emitter::Emitter;
use super::ended::Ended;
use super::events::EventKind;
use crate::hasher::workdir::LockState;
use crate::transport::cancel::CancelToken;

/// What to do with a busy builder.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BusyPolicy {
    /// Wait until the lock is free (default).
    #[default]
    Wait,
    /// SKIP the builder (`--skip-busy`).
    Skip,
    /// Fail the builder (`--fail-if-busy`).
    Fail,
}

/// How often a busy lock is probed again.
pub const POLL: Duration = Duration::from_millis(500);
/// How often a waiting builder's "held for" is refreshed.
const REPORT_EVERY: Duration = Duration::from_secs(10);

/// hsh's message when it lost the race for the workdir lock.
pub fn lost_lock_race(log_tail: &[String]) -> bool {
    log_tail
        .iter()
        .any(|l| l.contains("Unable to lock working directory"))
}

pub fn describe_holder(pid: Option<u32>, since: Option<SystemTime>) -> String {
    let who = pid.map_or("another process".to_string(), |p| format!("pid {p}"));
    match since.and_then(|s| s.elapsed().ok()) {
        Some(d) => format!("{who}, for {}", human_duration(d.as_secs_f64())),
        None => who,
    }
}

/// Wait until `probe` says the lock is free (or unknown), per `policy`.
/// `Err` ends the job: skipped, busy, or cancelled.
pub fn wait_for_lock(
    mut probe: impl FnMut() -> Result<Option<LockState>, Ended>,
    policy: BusyPolicy,
    emit: &Emitter,
    builder: &str,
    cancel: &CancelToken,
) -> Result<(), Ended> {
    let mut last_report: Option<Instant> = None;
    loop {
        if cancel.is_cancelled() {
            return Err(Ended::cancelled(None));
        }
        let (pid, since) = match probe()? {
            None | Some(LockState::Free) => return Ok(()),
            Some(LockState::Busy { pid, since }) => (pid, since),
        };
        let holder = describe_holder(pid, since);
        match policy {
            BusyPolicy::Skip => {
                return Err(Ended::skipped(format!(
                    "busy: hasher workdir locked by {holder} (--skip-busy)"
                )))
            }
            BusyPolicy::Fail => return Err(Ended::busy(
                format!("busy: hasher workdir locked by {holder}"),
                "wait for it, drop --fail-if-busy to wait automatically, or pick another builder"
                    .into(),
            )),
            BusyPolicy::Wait => {}
        }
        if last_report.is_none_or(|t| t.elapsed() >= REPORT_EVERY) {
            last_report = Some(Instant::now());
            emit.emit(EventKind::Waiting {
                builder: builder.to_string(),
                holder_pid: pid,
                held_for_secs: since.and_then(|s| s.elapsed().ok()).map(|d| d.as_secs()),
            });
        }
        if cancel.wait_timeout(POLL) {
            return Err(Ended::cancelled(None));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    fn emitter() -> (Emitter, mpsc::Receiver<crate::run::events::Event>) {
        let (tx, rx) = mpsc::channel();
        (Emitter::new(tx, Instant::now()), rx)
    }

    #[test]
    fn waits_until_free_and_reports_once() {
        let (emit, rx) = emitter();
        let mut n = 0;
        let probe = || {
            n += 1;
            Ok(Some(if n < 3 {
                LockState::Busy {
                    pid: Some(7),
                    since: None,
                }
            } else {
                LockState::Free
            }))
        };
        let r = wait_for_lock(probe, BusyPolicy::Wait, &emit, "b", &CancelToken::new());
        assert!(r.is_ok());
        drop(emit);
        let waits: Vec<_> = rx.iter().collect();
        assert_eq!(waits.len(), 1);
    }

    #[test]
    fn skip_and_fail_policies() {
        let (emit, _rx) = emitter();
        let busy = || {
            Ok(Some(LockState::Busy {
                pid: Some(9),
                since: None,
            }))
        };
        let e = wait_for_lock(busy, BusyPolicy::Skip, &emit, "b", &CancelToken::new()).unwrap_err();
        assert_eq!(e.outcome, crate::run::events::Outcome::Skipped);
        let e = wait_for_lock(busy, BusyPolicy::Fail, &emit, "b", &CancelToken::new()).unwrap_err();
        assert_eq!(e.outcome, crate::run::events::Outcome::Busy);
        assert_eq!(
            e.message.as_deref(),
            Some("busy: hasher workdir locked by pid 9")
        );
    }

    #[test]
    fn cancel_ends_the_wait() {
        let (emit, _rx) = emitter();
        let t = CancelToken::new();
        let t2 = t.clone();
        let h = std::thread::spawn(move || {
            wait_for_lock(
                || {
                    Ok(Some(LockState::Busy {
                        pid: None,
                        since: None,
                    }))
                },
                BusyPolicy::Wait,
                &emit,
                "b",
                &t2,
            )
        });
        t.cancel();
        assert_eq!(
            h.join().unwrap().unwrap_err().outcome,
            crate::run::events::Outcome::Cancelled
        );
    }

    #[test]
    fn lock_race_is_recognised() {
        assert!(lost_lock_race(&[
            "hsh: Unable to lock working directory `/w'".to_string()
        ]));
        assert!(!lost_lock_race(&["error: Bad exit status".to_string()]));
    }
}
