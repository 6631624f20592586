//! `zoryn completions SHELL` and `zoryn man`: generated from the clap
//! definitions, so they never drift from the real flags.

use clap::CommandFactory;

use super::{exit, Cli};

#[derive(clap::Args, Debug)]
pub struct CompletionsArgs {
    /// Shell to generate for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

pub fn cmd_completions(args: CompletionsArgs) -> i32 {
    let mut cmd = Cli::command();
    clap_complete::generate(args.shell, &mut cmd, "zoryn", &mut std::io::stdout());
    exit::OK
}

pub fn cmd_man() -> i32 {
    let man = clap_mangen::Man::new(Cli::command());
    match man.render(&mut std::io::stdout()) {
        Ok(()) => exit::OK,
        Err(e) => {
            super::print_error(&format!("cannot write the man page: {e}"), None);
            exit::INFRA
        }
    }
}
