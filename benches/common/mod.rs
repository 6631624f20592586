//! The one results table of the performance suite (`scripts/bench`).
//!
//! Every scenario of every bench program becomes a [`Row`]: zoryn's median,
//! the baseline's median, their ratio, the limit where one exists, the
//! target from issue 6 and whether it is met, and zoryn's min–max spread.
//! A program prints its rows and, when `ZORYN_BENCH_TABLE` names a file,
//! appends them there as tab-separated lines, from which `scripts/bench`
//! prints the combined table and checks that no scenario is missing.

#![allow(dead_code)]

use std::io::Write as _;

/// A target and whether this run met it.
pub struct Target {
    pub text: String,
    pub met: bool,
}

pub struct Row {
    /// Stable id (`scripts/bench` checks that each expected id is present).
    pub id: &'static str,
    pub scenario: String,
    /// Unit of the medians: ms, bytes, x (a ratio), %core, MiB.
    pub unit: &'static str,
    pub zoryn: Vec<f64>,
    /// What zoryn is compared with, and its samples.
    pub baseline: Option<(String, Vec<f64>)>,
    /// How the ratio column reads, e.g. "naive/zoryn".
    pub ratio: Option<(f64, &'static str)>,
    pub limit: Option<String>,
    pub target: Option<Target>,
}

pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

pub fn fmt_num(x: f64, unit: &str) -> String {
    if x.is_nan() {
        return "-".into();
    }
    match unit {
        "bytes" => format!("{x:.0}"),
        "x" => format!("{x:.3}"),
        _ if x.abs() >= 100.0 => format!("{x:.0}"),
        _ => format!("{x:.1}"),
    }
}

fn spread(v: &[f64], unit: &str) -> String {
    if v.len() < 2 {
        return "-".into();
    }
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{}-{}", fmt_num(lo, unit), fmt_num(hi, unit))
}

impl Row {
    fn fields(&self) -> [String; 10] {
        let (bname, bmed) = match &self.baseline {
            Some((n, v)) => (n.clone(), fmt_num(median(v), self.unit)),
            None => ("-".into(), "-".into()),
        };
        let ratio = self
            .ratio
            .map(|(r, how)| format!("{r:.2} ({how})"))
            .unwrap_or_else(|| "-".into());
        let (target, met) = match &self.target {
            Some(t) => (t.text.clone(), if t.met { "yes" } else { "NO" }.to_string()),
            None => ("-".into(), "-".into()),
        };
        [
            self.id.to_string(),
            format!("{} [{}]", self.scenario, self.unit),
            fmt_num(median(&self.zoryn), self.unit),
            bname,
            bmed,
            ratio,
            self.limit.clone().unwrap_or_else(|| "-".into()),
            target,
            met,
            spread(&self.zoryn, self.unit),
        ]
    }
}

/// Print the rows as a table on stdout and append them to
/// `$ZORYN_BENCH_TABLE` (tab-separated) if that is set.
pub fn emit(title: &str, rows: &[Row]) {
    let heads = [
        "id", "scenario", "zoryn", "baseline", "base", "ratio", "limit", "target", "met", "spread",
    ];
    let lines: Vec<[String; 10]> = rows.iter().map(Row::fields).collect();
    let mut widths: Vec<usize> = heads.iter().map(|h| h.len()).collect();
    for l in &lines {
        for (w, f) in widths.iter_mut().zip(l) {
            *w = (*w).max(f.chars().count());
        }
    }
    println!("\n{title}");
    let row = |f: &[String]| {
        let cells: Vec<String> = f
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", cells.join("  ").trim_end());
    };
    row(&heads.map(String::from));
    for l in &lines {
        row(l);
    }
    if let Ok(path) = std::env::var("ZORYN_BENCH_TABLE") {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("cannot append to ZORYN_BENCH_TABLE {path}: {e}"));
        for l in &lines {
            writeln!(f, "{}", l.join("\t")).expect("write the results table");
        }
    }
}
