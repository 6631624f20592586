//! Cancellation: one token shared by everything that can be interrupted.
//!
//! Ctrl-C (SIGINT), SIGTERM and SIGHUP are caught in one place
//! ([`install_signal_handlers`]) and turned into [`CancelToken::cancel`];
//! running commands subscribe to the token and stop their process groups.
//! Nothing else in zoryn handles signals.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

type Callback = Box<dyn Fn() + Send>;

#[derive(Default)]
struct Inner {
    cancelled: AtomicBool,
    next_id: AtomicU64,
    subscribers: Mutex<Vec<(u64, Callback)>>,
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
        if let Ok(subs) = self.inner.subscribers.lock() {
            for (_, cb) in subs.iter() {
                cb();
            }
        }
    }

    /// Call `f` when the token fires (immediately if it already has).
    pub fn subscribe(&self, f: impl Fn() + Send + 'static) -> Subscription {
        let id = self.inner.next_id.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut subs) = self.inner.subscribers.lock() {
            subs.push((id, Box::new(f)));
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
