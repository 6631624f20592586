//! Cancellation: one token shared by everything that can be interrupted.
//!
//! Ctrl-C (SIGINT), SIGTERM and SIGHUP become [`CancelToken::cancel`]
//! through [`install_signal_handlers`], which only `cli::interrupt` calls
//! (once per process); running commands subscribe to the token and stop
//! their process groups. Child tokens let one build (TUI "cancel selected")
//! or the rest of a run (`--fail-fast`) stop without stopping everything.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

type Callback = Box<dyn Fn() + Send>;

#[derive(Default)]
struct Inner {
    cancelled: AtomicBool,
    next_id: AtomicU64,
    subscribers: Mutex<Vec<(u64, Callback)>>,
    /// For [`CancelToken::wait_timeout`].
    sleepers: (Mutex<()>, Condvar),
    /// Keeps a child token registered with its parent.
    parent: Mutex<Option<Subscription>>,
}

/// A cloneable "stop now" flag with callbacks.
#[derive(Clone, Default)]
pub struct CancelToken {
    inner: Arc<Inner>,
}

/// Keeps a callback registered; dropping it unregisters.
pub struct Subscription {
    token: CancelToken,
    id: u64,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Ok(mut subs) = self.token.inner.subscribers.lock() {
            subs.retain(|(id, _)| *id != self.id);
        }
    }
}

impl CancelToken {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_cancelled(&self) -> bool {
        self.inner.cancelled.load(Ordering::SeqCst)
    }

    /// Fire the token: every current subscriber is called once.
    pub fn cancel(&self) {
        if self.inner.cancelled.swap(true, Ordering::SeqCst) {
            return;
        }
        {
            let _g = self.inner.sleepers.0.lock();
            self.inner.sleepers.1.notify_all();
        }
        if let Ok(subs) = self.inner.subscribers.lock() {
            for (_, cb) in subs.iter() {
                cb();
            }
        }
    }

    /// A token that fires when this one does, and can also be fired on its
    /// own (one build of many, or "stop the rest" for --fail-fast).
    pub fn child(&self) -> CancelToken {
        let child = CancelToken::new();
        let c = child.clone();
        let sub = self.subscribe(move || c.cancel());
        if let Ok(mut p) = child.inner.parent.lock() {
            *p = Some(sub);
        }
        child
    }

    /// Sleep up to `d`; returns early (true) when the token fires.
    pub fn wait_timeout(&self, d: Duration) -> bool {
        let guard = self
            .inner
            .sleepers
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if self.is_cancelled() {
            return true;
        }
        let _ = self.inner.sleepers.1.wait_timeout(guard, d);
        self.is_cancelled()
    }

    /// Call `f` when the token fires (immediately if it already has; a
    /// callback may run twice in a race, so it must be idempotent).
    pub fn subscribe(&self, f: impl Fn() + Send + 'static) -> Subscription {
        let id = self.inner.next_id.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut subs) = self.inner.subscribers.lock() {
            subs.push((id, Box::new(f)));
        }
        if self.is_cancelled() {
            // Fired between the caller's check and this registration.
            if let Ok(subs) = self.inner.subscribers.lock() {
                if let Some((_, cb)) = subs.iter().find(|(i, _)| *i == id) {
                    cb();
                }
            }
        }
        Subscription {
            token: self.clone(),
            id,
        }
    }
}

/// Route SIGINT, SIGTERM and SIGHUP to `token` (zoryn then exits 130).
pub fn install_signal_handlers(token: &CancelToken) -> std::io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    let token = token.clone();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if signals.forever().next().is_some() {
                token.cancel();
            }
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn subscribers_fire_once_and_late_ones_see_the_flag() {
        let t = CancelToken::new();
        let hits = Arc::new(AtomicUsize::new(0));
        let h = hits.clone();
        let _s = t.subscribe(move || {
            h.fetch_add(1, Ordering::SeqCst);
        });
        t.cancel();
        t.cancel();
        assert_eq!(hits.load(Ordering::SeqCst), 1);
        assert!(t.is_cancelled());
    }

    #[test]
    fn children_follow_parents_but_not_siblings() {
        let run = CancelToken::new();
        let a = run.child();
        let b = run.child();
        a.cancel();
        assert!(a.is_cancelled() && !b.is_cancelled() && !run.is_cancelled());
        run.cancel();
        assert!(b.is_cancelled());
    }

    #[test]
    fn wait_timeout_wakes_on_cancel() {
        let t = CancelToken::new();
        assert!(!t.wait_timeout(std::time::Duration::from_millis(10)));
        let t2 = t.clone();
        let h = std::thread::spawn(move || t2.wait_timeout(std::time::Duration::from_secs(60)));
        t.cancel();
        assert!(h.join().unwrap());
    }

    #[test]
    fn dropped_subscription_is_not_called() {
        let t = CancelToken::new();
        let hits = Arc::new(AtomicUsize::new(0));
        let h = hits.clone();
        drop(t.subscribe(move || {
            h.fetch_add(1, Ordering::SeqCst);
        }));
        t.cancel();
        assert_eq!(hits.load(Ordering::SeqCst), 0);
    }
}
