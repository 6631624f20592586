//! Loading the configuration the way every command does, with its
//! errors, warnings and `-v` notes printed.

/// `-v` count of this process, for messages printed while loading.
pub static VERBOSE: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// Load the configuration the way every command does: print every error
/// (exit 2); warn about each broken builder file (the farm works without
/// it); with `-v`, name the family's settings the farm ignores.
pub fn load_config() -> Result<crate::farm::loaded::Loaded, i32> {
    let loaded = crate::farm::loaded::Loaded::load().map_err(|errors| {
        for e in errors {
            eprintln!("zoryn: error: {e}");
        }
        super::exit::USAGE
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
