//! Loading the configuration the way every command does: its errors
//! returned as one [`Error`] (the dispatcher prints them), its warnings and
//! `-v` notes printed here.

use super::error::Error;
use crate::farm::loaded::Loaded;

/// `-v` count of this process, for messages printed while loading.
pub static VERBOSE: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// Load the configuration the way every command does: every problem of
/// it as one [`Error`] (exit 2); warn about each broken builder file (the
/// farm works without it); with `-v`, name the family's settings the farm
/// ignores.
pub fn load() -> Result<Loaded, Error> {
    let loaded = Loaded::load().map_err(|errors| {
        Error::all(errors.into_iter().map(Error::from))
            .unwrap_or_else(|| Error::usage("the configuration did not load", ""))
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
