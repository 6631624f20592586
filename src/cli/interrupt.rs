//! Signal handling, in one place for the whole process.
//!
//! A command that can wait on builds, hosts or prompts asks for the
//! process's interrupt token; the first ask installs the handlers, so
//! SIGINT, SIGTERM and SIGHUP then cancel that token (and the command exits
//! 130). Commands that never wait (`list`, `man`, `completions`) never ask,
//! and keep the default behaviour: a signal ends them at once.

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
