//! What every builder subcommand starts with: the loaded farm, its SSH
//! hosts, and the builders a name or pattern picks (errors printed, exit 2).

use crate::cli::error::print_error;
use crate::cli::exit;
use crate::farm::loaded::Loaded;
use crate::farm::selection::select;
use crate::farm::{Builder, Farm};
use crate::transport::ssh::{Hosts, SshSettings};

/// Load the configuration or print every error (exit 2).
pub fn load() -> Result<Loaded, i32> {
    crate::cli::load::load_config()
}

pub fn hosts(loaded: &Loaded) -> Hosts {
    Hosts::new(SshSettings::from_config(
        &loaded.global,
        loaded.paths.runtime_dir.clone(),
    ))
}

/// The builder named exactly `name`, or print what exists (exit 2).
pub fn one_builder<'f>(farm: &'f Farm, name: &str) -> Result<&'f Builder, i32> {
    farm.get(name).ok_or_else(|| {
        let names: Vec<&str> = farm.builders.iter().map(|b| b.name.as_str()).collect();
        let hint = match crate::config::error::did_you_mean(name, names.iter().copied()) {
            Some(s) => format!("did you mean `{s}`? builders: {}", names.join(", ")),
            None => format!("builders: {}", names.join(", ")),
        };
        print_error(&format!("no builder named `{name}`"), Some(&hint));
        exit::USAGE
    })
}

/// Builders matching `pattern` (all when `None`), or print the error (exit 2).
pub fn select_or_exit<'f>(farm: &'f Farm, pattern: Option<&str>) -> Result<Vec<&'f Builder>, i32> {
    match pattern {
        None => Ok(farm.builders.iter().collect()),
        Some(p) => select(farm, p).map_err(|e| {
            print_error(&e.message, e.hint.as_deref());
            exit::USAGE
        }),
    }
}
