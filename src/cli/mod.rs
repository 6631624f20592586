//! Command-line definitions (clap) and dispatch; one file per command.
//!
//! Each command parses its flags, asks the core (config, farm, executor) to
//! do the work and renders the answer; a command that fails returns its
//! [`error::Error`], and [`run`] prints it in the one format
//! ([`error::finish`]) and exits with its kind's class. Nothing below
//! `cli/` prints.

pub mod args;
pub mod build;
pub mod builder;
pub mod complete;
pub mod error;
pub mod exit;
pub mod generate;
pub mod interrupt;
pub mod load;
pub mod output;
pub mod skip_check;
pub mod task;
pub mod up;

pub use args::{Cli, ColorWhen, Command};

/// Run the command and return the process exit; the one place a
/// command's error is printed ([`error::finish`]).
pub fn run(cli: Cli) -> i32 {
    load::VERBOSE.store(cli.verbose, std::sync::atomic::Ordering::Relaxed);
    crate::report::color::set(match cli.color {
        ColorWhen::Auto => crate::report::color::When::Auto,
        ColorWhen::Always => crate::report::color::When::Always,
        ColorWhen::Never => crate::report::color::When::Never,
    });
    error::finish(dispatch(cli.command, cli.verbose, cli.quiet))
}

fn dispatch(command: Command, verbose: u8, quiet: bool) -> Result<exit::Exit, error::Error> {
    let class = match command {
        Command::Builder(cmd) => return builder::cmd_builder(cmd),
        Command::Build(args) => build::build(args, verbose, quiet),
        Command::Task(cmd) => task::cmd_task(cmd, verbose, quiet),
        Command::Up(args) => up::cmd_up(args, verbose, quiet),
        Command::Completions(args) => {
            generate::cmd_completions(args, <Cli as clap::CommandFactory>::command())
        }
        Command::Man(args) => generate::cmd_man(args, <Cli as clap::CommandFactory>::command()),
    };
    class.map(exit::Exit::from)
}
