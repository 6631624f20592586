//! Command-line definitions (clap) and dispatch; one file per command.
//!
//! Each command parses its flags, asks the core (config, farm, executor) to
//! do the work and renders the answer. Nothing below `cli/` prints.

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

pub fn run(cli: Cli) -> i32 {
    load::VERBOSE.store(cli.verbose, std::sync::atomic::Ordering::Relaxed);
    crate::report::color::set(match cli.color {
        ColorWhen::Auto => crate::report::color::When::Auto,
        ColorWhen::Always => crate::report::color::When::Always,
        ColorWhen::Never => crate::report::color::When::Never,
    });
    match cli.command {
        Command::Build(args) => build::cmd_build(args, cli.verbose, cli.quiet),
        Command::Builder(cmd) => builder::cmd_builder(cmd),
        Command::Task(cmd) => task::cmd_task(cmd, cli.verbose, cli.quiet),
        Command::Up(args) => up::cmd_up(args, cli.verbose, cli.quiet),
        Command::Completions(args) => {
            generate::cmd_completions(args, <Cli as clap::CommandFactory>::command())
        }
        Command::Man(args) => generate::cmd_man(args, <Cli as clap::CommandFactory>::command()),
    }
}
