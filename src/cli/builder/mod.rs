//! `zoryn builder ...`: add, inspect, use and remove builders.
//! One file per subcommand; loading the farm and picking builders in [`pick`].
//! Each returns its exit or its [`Error`]; none prints an error itself.

pub mod add;
mod add_args;
mod add_prompt;
pub mod clean;
pub mod config;
pub mod copy;
pub mod list;
pub mod pick;
pub mod remove;
pub mod shell;
pub mod status;

use clap::Subcommand;

use crate::cli::error::Error;
use crate::cli::exit::Exit;

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

/// How the subcommand ended: `shell` and `run` pass their command's status
/// through, the others end with an exit class.
pub fn cmd_builder(cmd: BuilderCommand) -> Result<Exit, Error> {
    let class = match cmd {
        BuilderCommand::Shell(a) => return shell::cmd_shell(a),
        BuilderCommand::Run(a) => return shell::cmd_run(a),
        BuilderCommand::Add(a) => add::cmd_add(a),
        BuilderCommand::List(a) => list::cmd_list(a),
        BuilderCommand::Status(a) => status::cmd_status(a),
        BuilderCommand::Clean(a) => clean::cmd_clean(a),
        BuilderCommand::Remove(a) => remove::cmd_remove(a),
        BuilderCommand::Config(a) => config::cmd_config(a),
        BuilderCommand::Copy(a) => copy::cmd_copy(a),
    };
    class.map(Exit::from)
}
