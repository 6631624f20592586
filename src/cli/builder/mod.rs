//! `zoryn builder ...`: add, inspect, use and remove builders.
//! One file per subcommand; shared loading and selection helpers here.

pub mod add;
mod add_prompt;
pub mod clean;
pub mod config;
pub mod copy;
pub mod list;
pub mod remove;
pub mod shell;
pub mod status;

use clap::Subcommand;

use crate::cli::{exit, print_error};
use crate::config::Loaded;
use crate::farm::selection::select;
use crate::farm::{Builder, Farm};
use crate::transport::ssh::{Hosts, SshSettings};

#[derive(Subcommand, Debug)]
pub enum BuilderCommand {
    /// Add builders (interactive without --name on a terminal)
    Add(add::AddArgs),
    /// List builders: the built-in `local` and builders.d/*.conf
    List(list::ListArgs),
    /// Free, busy, unreachable or misconfigured, for each builder
    Status(status::StatusArgs),
    /// Interactive shell in a builder's hasher chroot (hsh-shell)
    Shell(shell::ShellArgs),
    /// Run a command in the chroot of each selected builder (hsh-run)
    Run(shell::RunArgs),
    /// Clean hasher workdirs and zoryn's upload directories
    Clean(clean::CleanArgs),
    /// Delete builder definitions (and their generated apt config)
    Remove(remove::RemoveArgs),
    /// Copy files into (`:PATH`) or out of a builder's hasher chroot
    Copy(copy::CopyArgs),
    /// Effective settings of a builder, where each comes from, and its hsh argv
    Config(config::ConfigArgs),
}

pub fn cmd_builder(cmd: BuilderCommand) -> i32 {
    match cmd {
        BuilderCommand::Add(a) => add::cmd_add(a),
        BuilderCommand::List(a) => list::cmd_list(a),
        BuilderCommand::Status(a) => status::cmd_status(a),
        BuilderCommand::Shell(a) => shell::cmd_shell(a),
        BuilderCommand::Run(a) => shell::cmd_run(a),
        BuilderCommand::Clean(a) => clean::cmd_clean(a),
        BuilderCommand::Remove(a) => remove::cmd_remove(a),
        BuilderCommand::Config(a) => config::cmd_config(a),
        BuilderCommand::Copy(a) => copy::cmd_copy(a),
    }
}

/// Load the configuration or print every error (exit 2).
pub fn load() -> Result<Loaded, i32> {
    crate::cli::load_config()
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
