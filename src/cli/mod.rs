//! Command-line definitions (clap) and dispatch; one file per command.
//!
//! Each command parses its flags, asks the core (config, farm, executor) to
//! do the work and renders the answer. Nothing below `cli/` prints.

pub mod build;
pub mod builder;
pub mod complete;
pub mod generate;
pub mod output;
pub mod task;
pub mod up;

use clap::{Parser, Subcommand};

/// Exit codes (SPEC 8).
pub mod exit {
    pub const OK: i32 = 0;
    pub const BUILD_FAILED: i32 = 1;
    pub const USAGE: i32 = 2;
    pub const INFRA: i32 = 3;
    pub const INTERRUPTED: i32 = 130;
}

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

/// Print an error in zoryn's one format.
pub fn print_error(message: &str, hint: Option<&str>) {
    eprintln!("zoryn: error: {message}");
    if let Some(h) = hint.filter(|h| !h.is_empty()) {
        eprintln!("  hint: {h}");
    }
}

/// `-v` count of this process, for messages printed while loading.
static VERBOSE: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// Load the configuration the way every command does: print every error
/// (exit 2); warn about each broken builder file (the farm works without
/// it); with `-v`, name the family's settings the farm ignores.
pub fn load_config() -> Result<crate::config::Loaded, i32> {
    let loaded = crate::config::Loaded::load().map_err(|errors| {
        for e in errors {
            eprintln!("zoryn: error: {e}");
        }
        exit::USAGE
    })?;
    for b in &loaded.farm.broken {
        eprintln!(
            "zoryn: warning: builder `{}` is left out, its file is broken: {}",
            b.name.escape_debug(),
            b.error
        );
        eprintln!(
            "  hint: fix the file, or delete it with `zoryn builder remove {}`; commands that select `{}` by name fail until then",
            b.name.escape_debug(),
            b.name.escape_debug()
        );
    }
    if VERBOSE.load(std::sync::atomic::Ordering::Relaxed) > 0 {
        if let Some(file) = &loaded.global.source {
            for i in &loaded.global.ignored {
                eprintln!(
                    "zoryn: note: {}:{}: {} is for other zoryn commands; the build farm ignores it",
                    file.display(),
                    i.line,
                    i.what
                );
            }
        }
    }
    Ok(loaded)
}

pub fn run(cli: Cli) -> i32 {
    VERBOSE.store(cli.verbose, std::sync::atomic::Ordering::Relaxed);
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
        Command::Completions(args) => generate::cmd_completions(args),
        Command::Man(args) => generate::cmd_man(args),
    }
}
