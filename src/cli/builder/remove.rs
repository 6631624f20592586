//! `zoryn builder remove NAME...`: delete builder definitions and their
//! generated apt config. The built-in `local` cannot be removed (only a
//! `local.conf` that overrides it). A builder file that does not load (bad
//! TOML, unknown key, wrong type) is removed like any other: that is how a
//! user gets rid of it.

use clap::Args;

use super::pick::load;
use crate::cli::error::print_error;
use crate::cli::exit;
use crate::config::error::did_you_mean;

#[derive(Args, Debug)]
pub struct RemoveArgs {
    /// Builder names (exact, no patterns)
    #[arg(
        required = true,
        value_name = "NAME",
        add = crate::cli::complete::builder_name()
    )]
    pub names: Vec<String>,
}

pub fn cmd_remove(args: RemoveArgs) -> i32 {
    let loaded = match load() {
        Ok(l) => l,
        Err(code) => return code,
    };
    // Check every name before touching anything.
    for name in &args.names {
        if loaded.farm.broken(name).is_some() {
            continue;
        }
        match loaded.farm.get(name) {
            Some(b) if b.file.is_none() => {
                print_error(
                    &format!("`{name}` is the built-in builder; there is nothing to remove"),
                    Some("it needs no file; to change it, write builders.d/local.conf"),
                );
                return exit::USAGE;
            }
            Some(_) => {}
            None => {
                let names = loaded
                    .farm
                    .builders
                    .iter()
                    .map(|b| b.name.as_str())
                    .chain(loaded.farm.broken.iter().map(|b| b.name.as_str()));
                let hint = match did_you_mean(name, names) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => "see `zoryn builder list`".into(),
                };
                print_error(&format!("no builder named `{name}`"), Some(&hint));
                return exit::USAGE;
            }
        }
    }
    for name in &args.names {
        let file = match loaded.farm.broken(name) {
            Some(b) => b.file.clone(),
            None => match loaded.farm.get(name).and_then(|b| b.file.clone()) {
                Some(f) => f,
                None => continue,
            },
        };
        if let Err(e) = std::fs::remove_file(&file) {
            print_error(
                &format!("cannot remove {}: {e}", file.display()),
                Some("check the permissions of the config directory"),
            );
            return exit::INFRA;
        }
        let dir = loaded.paths.builders_dir.join(name);
        if dir.is_dir() {
            if let Err(e) = std::fs::remove_dir_all(&dir) {
                print_error(
                    &format!("removed {} but not {}: {e}", file.display(), dir.display()),
                    None,
                );
                return exit::INFRA;
            }
        }
        println!("removed: {name} ({})", file.display());
    }
    exit::OK
}
