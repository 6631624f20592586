//! What every builder subcommand starts with: the loaded farm, its SSH
//! hosts, and the builders a name or pattern picks (or the usage error that
//! says what exists). Must not print: errors go back to the dispatcher.

use crate::cli::error::Error;
use crate::farm::loaded::Loaded;
use crate::farm::selection::select;
use crate::farm::{Builder, Farm};
use crate::transport::ssh::{Hosts, SshSettings};

/// Load the configuration, or every error of it (exit 2).
pub fn load() -> Result<Loaded, Error> {
    crate::cli::load::load()
}

pub fn hosts(loaded: &Loaded) -> Hosts {
    Hosts::new(SshSettings::from_config(
        &loaded.global,
        loaded.paths.runtime_dir.clone(),
    ))
}

/// The builder named exactly `name`, or an error naming what exists.
pub fn one_builder<'f>(farm: &'f Farm, name: &str) -> Result<&'f Builder, Error> {
    farm.get(name).ok_or_else(|| {
        let names: Vec<&str> = farm.builders.iter().map(|b| b.name.as_str()).collect();
        let hint = match crate::config::error::did_you_mean(name, names.iter().copied()) {
            Some(s) => format!("did you mean `{s}`? builders: {}", names.join(", ")),
            None => format!("builders: {}", names.join(", ")),
        };
        Error::usage(format!("no builder named `{name}`"), hint)
    })
}

/// Builders matching `pattern` (all when `None`), or the pattern's error.
pub fn select_builders<'f>(
    farm: &'f Farm,
    pattern: Option<&str>,
) -> Result<Vec<&'f Builder>, Error> {
    match pattern {
        None => Ok(farm.builders.iter().collect()),
        Some(p) => Ok(select(farm, p)?),
    }
}
