//! `--json`: one JSON object per line on stdout, the last one the summary
//! (`"event":"run-finished"`). Log lines are included only with `-v`.

use std::io::Write;

use super::Reporter;
use crate::run::events::{Event, EventKind};

pub struct JsonReporter<W: Write> {
    out: W,
    with_lines: bool,
}

impl<W: Write> JsonReporter<W> {
    pub fn new(out: W, with_lines: bool) -> Self {
        JsonReporter { out, with_lines }
    }
}

impl<W: Write> Reporter for JsonReporter<W> {
    fn event(&mut self, ev: &Event) {
        if matches!(ev.kind, EventKind::Line { .. }) && !self.with_lines {
            return;
        }
        if let Ok(s) = serde_json::to_string(ev) {
            let _ = writeln!(self.out, "{s}");
            let _ = self.out.flush();
        }
    }
}
