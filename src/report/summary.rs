//! The final summary: one row per builder, then what to look at.

use std::fmt::Write;

use super::{human_duration, short_path};
use crate::run::events::{BuilderResult, Outcome};

/// Render the table and the details below it; `color` paints the RESULT
/// words (see [`super::color`]).
pub fn render(results: &[BuilderResult], color: bool) -> String {
    let header = [
        "BUILDER", "ARCH", "BRANCH", "RESULT", "TIME", "PACKAGES", "LOG",
    ];
    let rows: Vec<[String; 7]> = results
        .iter()
        .map(|r| {
            [
                r.builder.name.clone(),
                r.builder.arch.clone(),
                r.builder.branch.clone(),
                r.outcome.label().to_string(),
                human_duration(r.elapsed.as_secs_f64()),
                r.packages.len().to_string(),
                r.log
                    .as_deref()
                    .map(|p| short_path(p).display().to_string())
                    .unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<&str>, outcome: Option<Outcome>, out: &mut String| {
        let mut s = String::new();
        for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else if let (3, Some(o), true) = (i, outcome, color) {
                // Padded first, so the codes do not count as width.
                let _ = write!(s, "{}  ", super::color::paint(o, &format!("{c:<w$}")));
            } else {
                let _ = write!(s, "{c:<w$}  ");
            }
        }
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(header.to_vec(), None, &mut out);
    for (row, r) in rows.iter().zip(results) {
        line(
            row.iter().map(String::as_str).collect(),
            Some(r.outcome),
            &mut out,
        );
    }
    for r in results {
        let name = &r.builder.name;
        match r.outcome {
            Outcome::Success => {
                for p in &r.packages {
                    let _ = writeln!(out, "{name}: {}", short_path(p).display());
                }
                if !r.checks.is_empty() {
                    let done: Vec<String> = r
                        .checks
                        .iter()
                        .map(|c| {
                            format!("{} ({})", c.name, human_duration(c.duration.as_secs_f64()))
                        })
                        .collect();
                    let _ = writeln!(out, "{name}: checks passed: {}", done.join(", "));
                }
                for x in &r.rejected {
                    let _ = writeln!(out, "{name}: warning: rejected result from {x}");
                }
                if let (false, Some(h)) = (r.rejected.is_empty(), &r.hint) {
                    let _ = writeln!(out, "  hint: {h}");
                }
            }
            _ => {
                if let Some(m) = &r.message {
                    let _ = writeln!(out, "{name}: {m}");
                }
                if let Some(h) = &r.hint {
                    let _ = writeln!(out, "  hint: {h}");
                }
                if !r.log_tail.is_empty() {
                    if let Some(log) = &r.log {
                        let _ = writeln!(out, "  last lines of {}:", log.display());
                    }
                    for l in &r.log_tail {
                        let _ = writeln!(out, "  | {l}");
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::events::BuilderInfo;
    use std::time::Duration;

    fn result(name: &str, outcome: Outcome) -> BuilderResult {
        BuilderResult {
            builder: BuilderInfo {
                name: name.into(),
                host: "localhost".into(),
                arch: "x86_64".into(),
                branch: "sisyphus".into(),
            },
            outcome,
            elapsed: Duration::from_millis(3210),
            packages: vec![],
            log: Some("/nonexistent/.gear/build.local.log".into()),
            message: None,
            rejected: vec![],
            checks: vec![],
            hint: None,
            log_tail: vec![],
        }
    }

    #[test]
    fn table_and_details() {
        let mut ok = result("local", Outcome::Success);
        ok.packages = vec!["/nonexistent/hasher_out/local/hello-1.0-alt1.x86_64.rpm".into()];
        let mut bad = result("local2", Outcome::Failed);
        bad.message = Some("hsh exited with status 1".into());
        bad.log_tail = vec!["error: Bad exit status".into()];
        let s = render(&[ok, bad], false);
        assert_eq!(
            s,
            "BUILDER  ARCH    BRANCH    RESULT  TIME  PACKAGES  LOG\n\
             local    x86_64  sisyphus  OK      3.2s  1         /nonexistent/.gear/build.local.log\n\
             local2   x86_64  sisyphus  FAIL    3.2s  0         /nonexistent/.gear/build.local.log\n\
             local: /nonexistent/hasher_out/local/hello-1.0-alt1.x86_64.rpm\n\
             local2: hsh exited with status 1\n  last lines of /nonexistent/.gear/build.local.log:\n  | error: Bad exit status\n"
        );
    }
}
