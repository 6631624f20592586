//! `zoryn builder remove NAME...`: delete builder definitions and their
//! generated apt config. The built-in `local` cannot be removed (only a
//! `local.conf` that overrides it). A builder file that does not load (bad
//! TOML, unknown key, wrong type) is removed like any other: that is how a
//! user gets rid of it.

use clap::Args;

use super::pick::load;
use crate::cli::error::Error;
use crate::config::error::did_you_mean;
use crate::run::exit_code::ExitCode;

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

pub fn cmd_remove(args: RemoveArgs) -> Result<ExitCode, Error> {
    let loaded = load()?;
    // Check every name before touching anything.
    for name in &args.names {
        if loaded.farm.broken(name).is_some() {
            continue;
        }
        match loaded.farm.get(name) {
            Some(b) if b.file.is_none() => {
                return Err(Error::usage(
                    format!("`{name}` is the built-in builder; there is nothing to remove"),
                    "it needs no file; to change it, write builders.d/local.conf",
                ));
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
                return Err(Error::usage(format!("no builder named `{name}`"), hint));
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
        std::fs::remove_file(&file).map_err(|e| {
            Error::infra(
                format!("cannot remove {}: {e}", file.display()),
                "check the permissions of the config directory",
            )
        })?;
        let dir = loaded.paths.builders_dir.join(name);
        if dir.is_dir() {
            std::fs::remove_dir_all(&dir).map_err(|e| {
                Error::infra(
                    format!("removed {} but not {}: {e}", file.display(), dir.display()),
                    "",
                )
            })?;
        }
        println!("removed: {name} ({})", file.display());
    }
    Ok(ExitCode::Ok)
}
