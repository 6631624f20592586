//! `zoryn builder add`'s flags, filled from the command line or by the
//! interactive questions of [`super::add_prompt`].

use clap::{Args, ValueEnum};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum KindArg {
    Local,
    Remote,
}

#[derive(Args, Debug, Default, Clone)]
pub struct AddArgs {
    /// Builder name (with --multi-add: the prefix, numbers are appended)
    #[arg(long)]
    pub name: Option<String>,
    /// local or remote (default: remote when --host is given)
    #[arg(long = "type", value_enum)]
    pub kind: Option<KindArg>,
    /// ssh destination or ~/.ssh/config alias of a remote builder
    #[arg(long)]
    pub host: Option<String>,
    /// Target architecture (default: detected with `uname -m` on the host)
    #[arg(long)]
    pub arch: Option<String>,
    /// Branch (default: from the repo's release file, else sisyphus)
    #[arg(long)]
    pub branch: Option<String>,
    /// Hasher workdir on the builder's host (template; ~ is that host's home)
    #[arg(long = "hasher-dir", value_name = "DIR")]
    pub hasher_dir: Option<String>,
    /// Hasher number (hsh --number=N)
    #[arg(long, value_name = "N")]
    pub number: Option<u32>,
    /// apt repository for the generated apt config (repeatable with --multi-add)
    #[arg(long = "repo", value_name = "REPO")]
    pub repo: Vec<String>,
    /// Create N builders per --repo with consecutive names and hasher numbers
    #[arg(long = "multi-add", value_name = "N")]
    pub multi_add: Option<u32>,
    /// First hasher number for --multi-add (default 1)
    #[arg(long = "start-number", value_name = "K")]
    pub start_number: Option<u32>,
    /// Do not run `sudo hasher-useradd` for missing satellite users
    #[arg(long = "no-create-hasher-users")]
    pub no_create_hasher_users: bool,
    /// Print the files and commands, change nothing
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    /// Do not ask; replace builders whose settings differ
    #[arg(short = 'y', long = "yes")]
    pub yes: bool,
}
