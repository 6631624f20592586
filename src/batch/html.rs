//! The batch report as one self-contained HTML page (placeholder until the
//! timeline renderer lands).

use super::report::BatchReport;

pub fn render(report: &BatchReport) -> String {
    format!(
        "<!doctype html><title>{}</title><pre>{}</pre>",
        report.batch,
        report.table()
    )
}
