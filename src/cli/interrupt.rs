//! Signal handling, in one place for the whole process.
//!
//! A command that can wait on builds, hosts or prompts asks for the
//! process's interrupt token; the first ask installs the handlers, so
//! SIGINT, SIGTERM and SIGHUP then cancel that token (and the command exits
//! 130). Commands that never wait (`list`, `man`, `completions`) never ask,
//! and keep the default behaviour: a signal ends them at once. A command
//! that hands the terminal to an interactive child ignores SIGINT/SIGQUIT
//! while it runs ([`IgnoreInterrupts`]).

use std::sync::OnceLock;

use crate::transport::cancel::{install_signal_handlers, CancelToken};

static TOKEN: OnceLock<Result<CancelToken, String>> = OnceLock::new();

/// The token that SIGINT, SIGTERM and SIGHUP cancel; handlers are installed
/// on the first call. The error says why they could not be.
pub fn token() -> Result<CancelToken, String> {
    TOKEN
        .get_or_init(|| {
            let token = CancelToken::new();
            install_signal_handlers(&token)
                .map(|()| token)
                .map_err(|e| format!("cannot install signal handlers: {e}"))
        })
        .clone()
}

/// While an interactive child runs (`builder shell`), SIGINT/SIGQUIT are
/// for it, not for us; dropping it puts the old dispositions back.
pub struct IgnoreInterrupts {
    old: Vec<(nix::sys::signal::Signal, nix::sys::signal::SigAction)>,
}

impl IgnoreInterrupts {
    pub fn start() -> Self {
        use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
        let ign = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
        let mut old = Vec::new();
        for sig in [Signal::SIGINT, Signal::SIGQUIT] {
            // SAFETY: installing SIG_IGN has no handler code to be unsafe in.
            if let Ok(prev) = unsafe { sigaction(sig, &ign) } {
                old.push((sig, prev));
            }
        }
        IgnoreInterrupts { old }
    }
}

impl Drop for IgnoreInterrupts {
    fn drop(&mut self) {
        for (sig, prev) in &self.old {
            // SAFETY: restores the disposition saved above.
            let _ = unsafe { nix::sys::signal::sigaction(*sig, prev) };
        }
    }
}
