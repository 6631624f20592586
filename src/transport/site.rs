//! Where a builder's commands run: this machine or its SSH host.
//!
//! A [`Site`] hides the difference for commands that work the same on both
//! (status probes, hsh-shell, hsh-run, cleaning): it knows the home, user
//! and arch there and turns an argv into the right [`CommandSpec`].

use std::sync::Arc;

use super::runner::{capture, CommandSpec};
use super::ssh::{Host, Hosts, TransportError};
use crate::config::arch;
use crate::farm::{Builder, Location};
use crate::hasher::priv_config::Caller;
use crate::transport::cancel::CancelToken;

pub struct Site {
    pub host: Option<Arc<Host>>,
    pub home: String,
    pub arch: String,
    pub caller: Caller,
}

impl Site {
    pub fn for_builder(
        b: &Builder,
        hosts: &Hosts,
        local_home: &str,
        cancel: &CancelToken,
    ) -> Result<Site, TransportError> {
        match &b.location {
            Location::Local => Ok(Site {
                host: None,
                home: local_home.to_string(),
                arch: arch::local(),
                caller: Caller::current(),
            }),
            Location::Remote { host } => {
                let h = hosts.get(host);
                let f = h.facts(cancel)?.clone();
                Ok(Site {
                    host: Some(h),
                    home: f.home,
                    arch: f.arch,
                    caller: Caller {
                        user: f.user,
                        uid: f.uid,
                    },
                })
            }
        }
    }

    /// The builder's workdir here.
    pub fn workdir(&self, b: &Builder) -> String {
        b.hasher_dir_with_home(Some(&self.home))
    }

    /// "this machine" or the host, for messages.
    pub fn name(&self) -> String {
        match &self.host {
            Some(h) => h.destination.clone(),
            None => crate::farm::LOCALHOST.to_string(),
        }
    }

    /// A non-interactive command.
    pub fn command(&self, argv: &[String]) -> CommandSpec {
        match &self.host {
            Some(h) => h.command(argv),
            None => CommandSpec::new(argv.iter().cloned()),
        }
    }

    /// A command on the user's terminal.
    pub fn interactive(&self, argv: &[String]) -> CommandSpec {
        match &self.host {
            Some(h) => h.command_interactive(argv),
            None => CommandSpec::new(argv.iter().cloned()),
        }
    }

    /// Run a short query and capture its output.
    pub fn query(
        &self,
        argv: &[String],
        cancel: &CancelToken,
    ) -> Result<super::runner::Captured, TransportError> {
        match &self.host {
            Some(h) => h.query(argv, cancel),
            None => capture(&CommandSpec::new(argv.iter().cloned()), cancel).map_err(|e| {
                TransportError {
                    host: self.name(),
                    message: e.to_string(),
                    hint: String::new(),
                }
            }),
        }
    }
}
