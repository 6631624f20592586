//! Configuration: `~/.zoryn`, `builders.d/*.conf`, templates, validation.
//!
//! Everything here is pure parsing and checking of files into typed values;
//! it never runs commands or touches the network. [`crate::farm::loaded::Loaded::load`]
//! (config and farm together) is the one entry point the commands use.

pub mod arch;
pub mod builder_file;
pub mod error;
pub mod global;
pub mod paths;
pub mod template;
pub mod toml_reader;

/// Write `text` to `path` atomically: a temporary file in the same
/// directory, fsynced, then renamed over the target. A crash leaves either
/// the old file or the new one, never half of either.
pub fn write_atomic(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".zoryn-tmp.")
        .tempfile_in(dir)?;
    tmp.write_all(text.as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
