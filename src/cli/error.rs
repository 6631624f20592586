//! How a command error reads: `zoryn: error: …` and `  hint: …`.

/// Print an error in zoryn's one format.
pub fn print_error(message: &str, hint: Option<&str>) {
    eprintln!("zoryn: error: {message}");
    if let Some(h) = hint.filter(|h| !h.is_empty()) {
        eprintln!("  hint: {h}");
    }
}
