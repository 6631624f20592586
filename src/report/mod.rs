//! Reporters: consumers of the executor's event stream.
//!
//! [`plain`] draws live status lines on a terminal or stable lines
//! elsewhere; [`json`] writes JSON lines; [`tui`] is `--top`; [`summary`]
//! renders the final table; [`batch`] is a batch's report (table, JSON and
//! the HTML page); [`notify`] runs the `[notify]` command; [`color`] decides
//! whether and how result words are coloured. None of them can influence a
//! build.

pub mod batch;
pub mod calendar;
pub mod color;
pub mod json;
pub mod notify;
pub mod plain;
pub mod summary;
pub mod tui;

use std::path::{Path, PathBuf};

pub use crate::run::duration::human_duration;
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
