//! The command line as clap reads it: global flags and the command.

use clap::{Parser, Subcommand};

use super::{build, builder, generate, task, up};

#[derive(Parser, Debug)]
#[command(
    name = "zoryn",
    version = env!("ZORYN_VERSION"),
    about = "Build ALT Linux packages with hasher on many builders at once",
    long_about = "zoryn turns hasher setups on this machine and on SSH-reachable hosts into one build farm: \
pick builders with a pattern, ship the gear source tarball, build in hsh on every selected builder, \
and bring the RPMs back. The built-in `local` builder works with no configuration.",
    after_help = "Files: ~/.zoryn (or $ZORYN_CONFIG), $XDG_CONFIG_HOME/zoryn/builders.d/NAME.conf.\n\
Exit codes: 0 success, 1 build failure, 2 usage or configuration error, 3 infrastructure failure, 130 interrupted."
)]
pub struct Cli {
    /// More output (-v shows every build log line)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only the summary and errors
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Colour OK/FAIL/SKIP: auto (on a terminal, unless NO_COLOR is set),
    /// always, never
    #[arg(
        long,
        global = true,
        value_enum,
        value_name = "WHEN",
        default_value = "auto"
    )]
    pub color: ColorWhen,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Build the package in the current gear repository on the selected builders
    Build(build::BuildArgs),
    /// Inspect and manage builders
    #[command(subcommand)]
    Builder(builder::BuilderCommand),
    /// Batches of packages (`zoryn task batch`)
    #[command(subcommand)]
    Task(task::TaskCommand),
    /// Update the package to its new upstream version, then build it on the farm
    #[command(long_about = up::LONG_ABOUT)]
    Up(up::UpArgs),
    /// Print a shell completion script (bash, zsh, fish, ...)
    Completions(generate::CompletionsArgs),
    /// Print the man page (roff), or write every page with --out DIR
    Man(generate::ManArgs),
}

/// `--color`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}
