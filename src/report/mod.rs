//! Reporters: consumers of the executor's event stream.
//!
//! [`plain`] draws live status lines on a terminal or stable lines
//! elsewhere; [`json`] writes JSON lines; [`summary`] renders the final table;
//! [`color`] decides whether and how result words are coloured.
//! None of them can influence a build.

pub mod color;
pub mod json;
pub mod notify;
pub mod plain;
pub mod summary;
pub mod tui;

use std::path::{Path, PathBuf};

use crate::run::events::Event;

/// Something that shows events as they come.
pub trait Reporter {
    fn event(&mut self, ev: &Event);
    /// Called periodically while nothing happens (to refresh clocks).
    fn tick(&mut self) {}
    /// The run is over; clean up the display.
    fn finish(&mut self) {}
}

/// `path` relative to the current directory when it is inside it.
pub fn short_path(path: &Path) -> PathBuf {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(&cwd).ok().map(Path::to_path_buf))
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| path.to_path_buf())
}

/// "3.2s", "1m05s", "1h02m".
pub fn human_duration(secs: f64) -> String {
    if secs < 60.0 {
        format!("{secs:.1}s")
    } else if secs < 3600.0 {
        format!("{}m{:02}s", (secs / 60.0) as u64, (secs % 60.0) as u64)
    } else {
        format!(
            "{}h{:02}m",
            (secs / 3600.0) as u64,
            ((secs % 3600.0) / 60.0) as u64
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(3.21), "3.2s");
        assert_eq!(human_duration(65.0), "1m05s");
        assert_eq!(human_duration(3720.0), "1h02m");
    }
}
