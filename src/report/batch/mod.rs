//! The batch report: one row per package, one column per lane, plus the
//! timeline of every slot — rendered as a table, JSON and a self-contained
//! HTML page ([`html`]).

pub mod html;

use std::fmt::{self, Write};

use serde::Serialize;

use crate::run::events::Outcome;

/// How one job of a batch ended, as the report names it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum JobResult {
    #[serde(rename = "OK")]
    Ok,
    #[serde(rename = "FAIL")]
    Fail,
    /// The spec excludes the lane's arch, or the package is not in it.
    #[serde(rename = "SKIP")]
    Skip,
    /// A dependency failed or was blocked.
    #[serde(rename = "BLOCKED")]
    Blocked,
    #[serde(rename = "CANCELLED")]
    Cancelled,
    /// Never started (interrupted, `--fail-fast`, no usable builder).
    #[serde(rename = "NOT RUN")]
    NotRun,
    /// Done in an earlier run; its results are intact.
    #[serde(rename = "KEPT")]
    Kept,
    /// A word zoryn's runner never writes (a report from another version,
    /// a hand-edited one): the HTML page still draws it, in a neutral style.
    #[serde(untagged)]
    Other(String),
}

impl JobResult {
    /// The report's result of a job whose build ended with `outcome`: a
    /// builder that could not be used or was lost counts as a failure once
    /// no builder is left to retry on.
    pub fn of(outcome: Outcome) -> JobResult {
        match outcome {
            Outcome::Success => JobResult::Ok,
            Outcome::Skipped => JobResult::Skip,
            Outcome::Cancelled => JobResult::Cancelled,
            Outcome::Failed | Outcome::Unusable | Outcome::Busy | Outcome::Lost => JobResult::Fail,
        }
    }

    /// The word in the table, the JSON and the HTML page.
    pub fn as_str(&self) -> &str {
        match self {
            JobResult::Ok => "OK",
            JobResult::Fail => "FAIL",
            JobResult::Skip => "SKIP",
            JobResult::Blocked => "BLOCKED",
            JobResult::Cancelled => "CANCELLED",
            JobResult::NotRun => "NOT RUN",
            JobResult::Kept => "KEPT",
            JobResult::Other(s) => s,
        }
    }

    /// Results whose message the table prints under it.
    pub fn needs_message(&self) -> bool {
        matches!(
            self,
            JobResult::Fail | JobResult::Blocked | JobResult::NotRun | JobResult::Cancelled
        )
    }
}

impl fmt::Display for JobResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for JobResult {
    fn from(s: &str) -> JobResult {
        [
            JobResult::Ok,
            JobResult::Fail,
            JobResult::Skip,
            JobResult::Blocked,
            JobResult::Cancelled,
            JobResult::NotRun,
            JobResult::Kept,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
        .unwrap_or_else(|| JobResult::Other(s.to_string()))
    }
}

/// One job's end.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct JobReport {
    pub package: String,
    pub lane: String,
    pub result: JobResult,
    pub builder: Option<String>,
    /// Seconds since the batch started.
    pub start: Option<f64>,
    pub end: Option<f64>,
    pub message: Option<String>,
    pub log: Option<String>,
    pub packages: Vec<String>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct BatchReport {
    pub batch: String,
    pub started_unix: f64,
    pub wall_secs: f64,
    pub lanes: Vec<LaneReport>,
    pub packages: Vec<String>,
    pub jobs: Vec<JobReport>,
    pub exit_code: i32,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LaneReport {
    pub lane: String,
    pub slots: Vec<String>,
    pub estimated_makespan: f64,
    pub lower_bound: f64,
    pub cycles: Vec<String>,
}

impl BatchReport {
    pub fn job(&self, package: &str, lane: &str) -> Option<&JobReport> {
        self.jobs
            .iter()
            .find(|j| j.package == package && j.lane == lane)
    }

    /// The report as `report.json` and `--json` carry it: these fields and
    /// `title`, the batch's display title (`[batch] name`; the identifier
    /// `batch` when it has none).
    pub fn to_json(&self, title: &str) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.insert("title".into(), title.into());
        }
        v
    }

    /// The summary printed when a batch ends: a header naming the batch
    /// (`label`: its identifier and title, see `BatchFile::label`), then
    /// [`Self::table`].
    pub fn summary(&self, label: &str) -> String {
        format!(
            "batch {label}: {} job(s) in {:.1}s, exit {}\n{}",
            self.jobs.len(),
            self.wall_secs,
            self.exit_code,
            self.table()
        )
    }

    /// The package × lane table.
    pub fn table(&self) -> String {
        let mut header = vec!["PACKAGE".to_string()];
        header.extend(self.lanes.iter().map(|l| l.lane.clone()));
        let mut rows = vec![header];
        for p in &self.packages {
            let mut row = vec![p.clone()];
            for l in &self.lanes {
                row.push(
                    self.job(p, &l.lane)
                        .map_or("-".to_string(), |j| j.result.to_string()),
                );
            }
            rows.push(row);
        }
        let cols = rows[0].len();
        let widths: Vec<usize> = (0..cols)
            .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
            .collect();
        let mut out = String::new();
        for r in &rows {
            let line: Vec<String> = r
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            let _ = writeln!(out, "{}", line.join("  ").trim_end());
        }
        for j in &self.jobs {
            if j.result.needs_message() {
                if let Some(m) = &j.message {
                    let _ = writeln!(out, "{} @ {}: {m}", j.package, j.lane);
                }
                if let Some(l) = &j.log {
                    if j.result == JobResult::Fail {
                        let _ = writeln!(out, "  log: {l}");
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_serialize_to_the_report_words() {
        for word in [
            "OK",
            "FAIL",
            "SKIP",
            "BLOCKED",
            "CANCELLED",
            "NOT RUN",
            "KEPT",
            "LOST",
        ] {
            let r = JobResult::from(word);
            assert_eq!(serde_json::to_string(&r).unwrap(), format!("\"{word}\""));
            assert_eq!(r.to_string(), word);
        }
        assert_eq!(JobResult::from("NOT RUN"), JobResult::NotRun);
        assert_eq!(JobResult::from("LOST"), JobResult::Other("LOST".into()));
    }

    #[test]
    fn table_has_a_column_per_lane() {
        let job = |p: &str, l: &str, r: &str| JobReport {
            package: p.into(),
            lane: l.into(),
            result: r.into(),
            builder: None,
            start: None,
            end: None,
            message: (r == "BLOCKED").then(|| "not built: dependency a failed".into()),
            log: None,
            packages: vec![],
        };
        let r = BatchReport {
            batch: "b".into(),
            started_unix: 0.0,
            wall_secs: 1.0,
            lanes: vec![
                LaneReport {
                    lane: "x86_64/sisyphus".into(),
                    slots: vec![],
                    estimated_makespan: 0.0,
                    lower_bound: 0.0,
                    cycles: vec![],
                },
                LaneReport {
                    lane: "aarch64/sisyphus".into(),
                    slots: vec![],
                    estimated_makespan: 0.0,
                    lower_bound: 0.0,
                    cycles: vec![],
                },
            ],
            packages: vec!["a".into(), "bb".into()],
            jobs: vec![
                job("a", "x86_64/sisyphus", "FAIL"),
                job("a", "aarch64/sisyphus", "OK"),
                job("bb", "x86_64/sisyphus", "BLOCKED"),
                job("bb", "aarch64/sisyphus", "SKIP"),
            ],
            exit_code: 1,
        };
        assert_eq!(
            r.table(),
            "PACKAGE  x86_64/sisyphus  aarch64/sisyphus\n\
             a        FAIL             OK\n\
             bb       BLOCKED          SKIP\n\
             bb @ x86_64/sisyphus: not built: dependency a failed\n"
        );
        assert_eq!(
            r.summary("b \"Spring rebuild\""),
            format!(
                "batch b \"Spring rebuild\": 4 job(s) in 1.0s, exit 1\n{}",
                r.table()
            )
        );
        let v = r.to_json("Spring rebuild");
        assert_eq!(v["title"], "Spring rebuild");
        assert_eq!(v["batch"], "b");
        assert_eq!(v["jobs"].as_array().map(Vec::len), Some(4));
    }
}
