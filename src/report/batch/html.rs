//! The batch report as one self-contained HTML page.
//!
//! [`render`] turns a [`BatchReport`] into a single HTML document with inline
//! CSS and inline SVG — no scripts, web fonts, images, links or any other
//! external resource — so it can be opened from disk, mailed or archived as
//! is, and looks the same in a browser without network access. The page has:
//!
//! - a header: the batch's title ([`render_titled`]; its identifier
//!   beside it when they differ), start time (UTC), wall time, exit code (with its
//!   meaning) and the number of jobs per result, as coloured chips;
//! - the package × lane table of [`BatchReport::table`], each cell coloured by
//!   result, with the job's message as a `title` tooltip, the builder and
//!   duration, and the log path where there is one;
//! - the timeline: one row per builder slot (`lanes[].slots`), grouped by
//!   lane, on a common time axis from the jobs' `start`/`end` (seconds since
//!   the batch started), one bar per job that has both times, coloured by
//!   result, labelled with the package name when it fits and with a
//!   `<title>` tooltip; each lane shows its estimated makespan and lower
//!   bound as text and as vertical marker lines;
//! - the messages of failed, blocked, cancelled and not-run jobs (what
//!   [`BatchReport::table`] prints under the table), and the dependency
//!   cycles broken in each lane.
//!
//! Package names, messages, builder names and paths come from users and
//! build hosts: every such string goes through [`escape`] (`<`, `>`, `&`,
//! quotes; control characters become visible control pictures). Result
//! names only ever reach CSS as one of a fixed set of class names.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::{self, Write};

use super::{BatchReport, JobReport, LaneReport};

/// The whole page for `report`.
pub fn render(report: &BatchReport) -> String {
    render_titled(report, &report.batch)
}

/// [`render`], headed by the batch's display title (`[batch] name`); the
/// batch's identifier is shown under it when they differ.
pub fn render_titled(report: &BatchReport, title: &str) -> String {
    let mut out = String::with_capacity(64 * 1024);
    // Writing into a String cannot fail; `page` only returns fmt::Result so
    // that the writers can use `?`.
    let _ = page(&mut out, report, title);
    out
}

/// HTML-escape `s` for element content and double- or single-quoted
/// attribute values. C0 control characters other than tab and newline, and
/// DEL, become their visible Unicode control pictures (`␛` for ESC), so
/// terminal escapes in build messages neither vanish nor break the page.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\t' => out.push(c),
            '\u{7f}' => out.push('\u{2421}'),
            c if (c as u32) < 0x20 => {
                out.push(char::from_u32(0x2400 + c as u32).unwrap_or('\u{fffd}'))
            }
            c => out.push(c),
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Results: a fixed set of CSS classes and colours.

/// One known result: the name zoryn uses, its CSS class suffix, and colours
/// (bar fill, text on the bar, table cell background, text in the cell).
struct Kind {
    name: &'static str,
    slug: &'static str,
    bar: &'static str,
    on_bar: &'static str,
    cell: &'static str,
    on_cell: &'static str,
}

/// Known results in display order; anything else is [`OTHER`].
const KINDS: [Kind; 9] = [
    Kind {
        name: "OK",
        slug: "ok",
        bar: "#2f9e5b",
        on_bar: "#ffffff",
        cell: "#e3f4e9",
        on_cell: "#17613a",
    },
    Kind {
        name: "FAIL",
        slug: "fail",
        bar: "#d8433a",
        on_bar: "#ffffff",
        cell: "#fde3e1",
        on_cell: "#a3211a",
    },
    Kind {
        name: "BLOCKED",
        slug: "blocked",
        bar: "#f0a03c",
        on_bar: "#3b2600",
        cell: "#fff0da",
        on_cell: "#8a4b00",
    },
    Kind {
        name: "CANCELLED",
        slug: "cancelled",
        bar: "#8a63c8",
        on_bar: "#ffffff",
        cell: "#efe7fa",
        on_cell: "#5b3a93",
    },
    Kind {
        name: "NOT RUN",
        slug: "notrun",
        bar: "#c9d1da",
        on_bar: "#323f4b",
        cell: "#f1f3f6",
        on_cell: "#52606d",
    },
    Kind {
        name: "SKIP",
        slug: "skip",
        bar: "#a3adb9",
        on_bar: "#1f2933",
        cell: "#eceff3",
        on_cell: "#52606d",
    },
    Kind {
        name: "KEPT",
        slug: "kept",
        bar: "#94d3ac",
        on_bar: "#14532d",
        cell: "#eaf6ef",
        on_cell: "#2f6b47",
    },
    Kind {
        name: "BUSY",
        slug: "busy",
        bar: "#e3bd2a",
        on_bar: "#3d3100",
        cell: "#fcf4d4",
        on_cell: "#7a6000",
    },
    Kind {
        name: "LOST",
        slug: "lost",
        bar: "#4b5563",
        on_bar: "#ffffff",
        cell: "#e4e6ea",
        on_cell: "#374151",
    },
];

/// Any result zoryn does not know (yet).
const OTHER: Kind = Kind {
    name: "other",
    slug: "other",
    bar: "#a9714f",
    on_bar: "#ffffff",
    cell: "#f6ebe4",
    on_cell: "#7a4a30",
};

/// The kind of a result string (case and surrounding blanks ignored;
/// American and past-tense spellings accepted).
fn kind(result: &str) -> (usize, &'static Kind) {
    let r = result.trim().to_ascii_uppercase();
    let name = match r.as_str() {
        "FAILED" => "FAIL",
        "SKIPPED" => "SKIP",
        "CANCELED" => "CANCELLED",
        "NOT_RUN" | "NOTRUN" => "NOT RUN",
        other => other,
    };
    KINDS
        .iter()
        .enumerate()
        .find(|(_, k)| k.name == name)
        .unwrap_or((KINDS.len(), &OTHER))
}

/// `r-<slug>`: the only way a result reaches a class attribute.
fn class_of(result: &str) -> &'static str {
    match kind(result).1.slug {
        "ok" => "r-ok",
        "fail" => "r-fail",
        "blocked" => "r-blocked",
        "cancelled" => "r-cancelled",
        "notrun" => "r-notrun",
        "skip" => "r-skip",
        "kept" => "r-kept",
        "busy" => "r-busy",
        "lost" => "r-lost",
        _ => "r-other",
    }
}

// ---------------------------------------------------------------------------
// Numbers and times.

/// `2023-11-14 22:13:20 UTC` for seconds since the Unix epoch.
fn utc(unix: f64) -> String {
    // Up to the year 9999; anything else is not a real start time.
    if !unix.is_finite() || !(0.0..253_402_300_800.0).contains(&unix) {
        return "unknown".to_string();
    }
    let secs = unix.floor() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = crate::report::calendar::civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `4.2s`, `42s`, `12m 05s`, `1h 02m 03s`; `—` for no real duration.
fn duration(secs: f64) -> String {
    if !secs.is_finite() || secs < 0.0 {
        return "—".to_string();
    }
    if secs < 9.95 {
        return format!("{secs:.1}s");
    }
    let s = secs.round() as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m {:02}s", s / 3600, s % 3600 / 60, s % 60),
    }
}

/// Axis label for a tick at `t` seconds: `0`, `45s`, `5m`, `5m30s`, `1h`,
/// `1h30m`.
fn tick_label(t: f64) -> String {
    let s = t.round().max(0.0) as u64;
    let (h, m, sec) = (s / 3600, s % 3600 / 60, s % 60);
    match (h, m, sec) {
        (0, 0, 0) => "0".to_string(),
        (0, 0, _) => format!("{sec}s"),
        (0, _, 0) => format!("{m}m"),
        (0, _, _) => format!("{m}m{sec:02}s"),
        (_, 0, _) => format!("{h}h"),
        _ => format!("{h}h{m:02}m"),
    }
}

/// A round tick step giving at most about ten ticks up to `tmax`.
fn tick_step(tmax: f64) -> f64 {
    const STEPS: [f64; 19] = [
        1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1200.0, 1800.0, 3600.0,
        7200.0, 10800.0, 21600.0, 43200.0, 86400.0,
    ];
    STEPS
        .iter()
        .copied()
        .find(|s| tmax / s <= 10.0)
        .unwrap_or_else(|| (tmax / 10.0 / 86400.0).ceil().max(1.0) * 86400.0)
}

/// The job's (start, end) when it has both, finite; end never before start.
fn times(job: &JobReport) -> Option<(f64, f64)> {
    match (job.start, job.end) {
        (Some(s), Some(e)) if s.is_finite() && e.is_finite() => {
            let s = s.max(0.0);
            Some((s, e.max(s)))
        }
        _ => None,
    }
}

/// A real, positive number of seconds.
fn positive(x: f64) -> Option<f64> {
    (x.is_finite() && x > 0.0).then_some(x)
}

// ---------------------------------------------------------------------------
// The page.

const CSS: &str = r#"
:root{color-scheme:light;--ink:#1f2933;--muted:#616e7c;--line:#d9dee5;--paper:#ffffff;--page:#f3f5f8;--accent:#1f4e8c}
*{box-sizing:border-box}
html{background:var(--page)}
body{margin:0;padding:24px 28px 40px;color:var(--ink);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans","Liberation Sans",Arial,sans-serif}
main{max-width:1400px;margin:0 auto}
code,.mono{font-family:ui-monospace,"DejaVu Sans Mono","Liberation Mono",Menlo,Consolas,monospace;font-size:12px}
h1{margin:2px 0 0;font-size:26px;line-height:1.2;font-weight:650;overflow-wrap:anywhere}
h2{margin:0 0 12px;font-size:17px;font-weight:650}
h3{margin:14px 0 6px;font-size:14px;font-weight:650}
section,header.top{background:var(--paper);border:1px solid var(--line);border-radius:10px;padding:18px 22px;margin:0 0 18px;box-shadow:0 1px 2px rgba(16,24,40,.04)}
.kicker{color:var(--muted);font-size:12px;letter-spacing:.08em;text-transform:uppercase}
.headline{display:flex;align-items:flex-start;justify-content:space-between;gap:16px}
.status{flex:none;border-radius:999px;padding:5px 14px;font-weight:650;font-size:13px;border:1px solid transparent;white-space:nowrap}
.status.good{background:#e3f4e9;color:#17613a;border-color:#b9e2c8}
.status.bad{background:#fde3e1;color:#a3211a;border-color:#f6bdb8}
.status.warn{background:#fff0da;color:#8a4b00;border-color:#f5d3a1}
dl.facts{display:flex;flex-wrap:wrap;gap:10px 34px;margin:16px 0 14px}
dl.facts div{min-width:90px}
dl.facts dt{color:var(--muted);font-size:12px}
dl.facts dd{margin:0;font-size:15px;font-weight:600;font-variant-numeric:tabular-nums}
ul.chips{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:8px}
.chip{display:inline-flex;align-items:center;gap:6px;border-radius:999px;padding:3px 12px 3px 8px;background:var(--bg);color:var(--fg);font-size:13px;font-weight:600}
.chip::before{content:"";width:10px;height:10px;border-radius:3px;background:var(--c)}
.chip b{font-variant-numeric:tabular-nums}
.hint{color:var(--muted);font-size:12px;margin:-6px 0 12px}
table{border-collapse:separate;border-spacing:0;width:100%}
table.matrix th,table.matrix td{border-bottom:1px solid var(--line);padding:6px 10px;text-align:left;vertical-align:top}
table.matrix thead th{position:sticky;top:0;background:#f7f9fb;font-size:12px;color:var(--muted);font-weight:650;border-bottom:2px solid var(--line)}
table.matrix thead th.lane{color:var(--ink);font-family:ui-monospace,"DejaVu Sans Mono","Liberation Mono",Menlo,monospace;font-size:12.5px}
table.matrix{table-layout:fixed}
table.matrix th.pkgcol{width:250px}
table.matrix tbody th{font-weight:600;overflow-wrap:anywhere;padding-right:16px}
td.cell{background:var(--bg);color:var(--fg);border-left:4px solid var(--c)}
td.cell.r-none{background:transparent;border-left-color:transparent;color:#9aa5b1}
td.cell .res{font-weight:700;font-size:12.5px;letter-spacing:.02em}
td.cell .meta{margin-left:8px;font-size:12px;opacity:.85}
td.cell .msg{display:block;font-size:12px;color:var(--ink);opacity:.8;overflow-wrap:anywhere}
td.cell .log{display:block;max-width:100%;color:var(--muted);font-size:11px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;direction:rtl;text-align:left}
td.cell .log bdi{direction:ltr;unicode-bidi:isolate}
td.cell[title]{cursor:help}
table.list th,table.list td{border-bottom:1px solid var(--line);padding:6px 10px;text-align:left;vertical-align:top}
table.list thead th{font-size:12px;color:var(--muted);font-weight:650;background:#f7f9fb}
table.list td.m{overflow-wrap:anywhere}
table.list td.l{overflow-wrap:anywhere;color:var(--muted)}
.badge{display:inline-block;border-radius:4px;padding:0 6px;background:var(--bg);color:var(--fg);font-weight:700;font-size:12px;white-space:nowrap}
.legend{display:flex;flex-wrap:wrap;align-items:center;gap:8px 18px;margin:0 0 12px;font-size:12.5px;color:var(--muted)}
.legend .sw{display:inline-block;width:14px;height:14px;border-radius:3px;background:var(--c);vertical-align:-2px;margin-right:6px;border:1px solid rgba(0,0,0,.12)}
.legend .ln{display:inline-block;width:22px;height:0;vertical-align:middle;margin-right:6px;border-top:2px dashed var(--accent)}
.legend .ln.lb{border-top:2px dotted #5f6b7a}
.legend span{white-space:nowrap}
.scroll{overflow-x:auto}
svg.timeline{display:block;max-width:100%;height:auto;font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans","Liberation Sans",Arial,sans-serif}
svg .grid{stroke:#e4e8ee;stroke-width:1}
svg .axis{fill:#616e7c;font-size:11px}
svg .band{fill:#eef2f7}
svg .lane-name{fill:#1f2933;font-size:13px;font-weight:700;font-family:ui-monospace,"DejaVu Sans Mono","Liberation Mono",Menlo,monospace}
svg .lane-info{fill:#52606d;font-size:12px}
svg .row-bg{fill:#fafbfc}
svg .row-label{fill:#323f4b;font-size:12px;font-family:ui-monospace,"DejaVu Sans Mono","Liberation Mono",Menlo,monospace}
svg .row-label.extra{fill:#8a4b00}
svg .job{fill:var(--c);stroke:rgba(0,0,0,.22);stroke-width:.75}
svg .jb:hover .job{stroke:#111;stroke-width:1.5}
svg .lbl{fill:var(--t);font-size:11px;font-weight:600;pointer-events:none}
svg .est{stroke:var(--accent);stroke-width:1.75;stroke-dasharray:6 4}
svg .lb{stroke:#5f6b7a;stroke-width:1.75;stroke-dasharray:2 3}
svg .empty{fill:#9aa5b1;font-size:12px;font-style:italic}
ul.cycles{margin:0;padding-left:20px}
ul.cycles li{margin:4px 0;overflow-wrap:anywhere}
footer{color:var(--muted);font-size:12px;text-align:center;margin-top:8px}
@media print{html,body{background:#fff}section,header.top{box-shadow:none;break-inside:avoid}}
"#;

fn page(out: &mut String, r: &BatchReport, title: &str) -> fmt::Result {
    let name = escape(title);
    writeln!(out, "<!DOCTYPE html>")?;
    writeln!(out, "<html lang=\"en\">")?;
    writeln!(out, "<head>")?;
    writeln!(out, "<meta charset=\"utf-8\">")?;
    writeln!(
        out,
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    )?;
    writeln!(
        out,
        "<meta name=\"generator\" content=\"zoryn {}\">",
        env!("CARGO_PKG_VERSION")
    )?;
    writeln!(out, "<title>{name} — zoryn batch report</title>")?;
    writeln!(out, "<style>{CSS}{}</style>", result_css())?;
    writeln!(out, "</head>")?;
    writeln!(out, "<body>")?;
    writeln!(out, "<main>")?;
    header(out, r, title)?;
    matrix(out, r)?;
    timeline(out, r)?;
    problems(out, r)?;
    cycles(out, r)?;
    writeln!(
        out,
        "<footer>Generated by zoryn {} · times are seconds since the batch started · \
         hover a cell or a bar for details</footer>",
        env!("CARGO_PKG_VERSION")
    )?;
    writeln!(out, "</main>")?;
    writeln!(out, "</body>")?;
    writeln!(out, "</html>")
}

/// The colour variables of every result class.
fn result_css() -> String {
    let mut css = String::new();
    for k in KINDS.iter().chain(std::iter::once(&OTHER)) {
        let _ = writeln!(
            css,
            ".r-{}{{--c:{};--t:{};--bg:{};--fg:{}}}",
            k.slug, k.bar, k.on_bar, k.cell, k.on_cell
        );
    }
    css
}

/// What an exit code means, and how it looks.
fn exit_meaning(code: i32) -> (&'static str, &'static str) {
    match code {
        0 => ("every build succeeded", "good"),
        1 => ("builds failed", "bad"),
        2 => ("usage or configuration error", "bad"),
        3 => ("infrastructure problem", "warn"),
        130 => ("interrupted", "warn"),
        _ => ("unknown exit code", "warn"),
    }
}

/// Jobs per result, in display order (known results first).
fn counts(r: &BatchReport) -> Vec<(&str, usize)> {
    let mut by: BTreeMap<(usize, &str), usize> = BTreeMap::new();
    for j in &r.jobs {
        *by.entry((kind(j.result.as_str()).0, j.result.as_str()))
            .or_default() += 1;
    }
    by.into_iter().map(|((_, res), n)| (res, n)).collect()
}

fn header(out: &mut String, r: &BatchReport, title: &str) -> fmt::Result {
    let (meaning, tone) = exit_meaning(r.exit_code);
    writeln!(out, "<header class=\"top\">")?;
    writeln!(out, "<div class=\"headline\">")?;
    writeln!(
        out,
        "<div><div class=\"kicker\">zoryn batch report</div><h1>{}</h1></div>",
        escape(title)
    )?;
    writeln!(
        out,
        "<div class=\"status {tone}\">exit {} · {meaning}</div>",
        r.exit_code
    )?;
    writeln!(out, "</div>")?;
    writeln!(out, "<dl class=\"facts\">")?;
    // The identifier (what `zoryn task batch` takes) when the title is another.
    let batch = (title != r.batch).then(|| ("Batch", r.batch.clone()));
    let facts = batch.into_iter().chain([
        ("Started", utc(r.started_unix)),
        ("Wall time", duration(r.wall_secs)),
        ("Packages", r.packages.len().to_string()),
        ("Lanes", r.lanes.len().to_string()),
        (
            "Builders",
            r.lanes
                .iter()
                .flat_map(|l| &l.slots)
                .collect::<BTreeSet<_>>()
                .len()
                .to_string(),
        ),
        ("Jobs", r.jobs.len().to_string()),
    ]);
    for (k, v) in facts {
        writeln!(out, "<div><dt>{k}</dt><dd>{}</dd></div>", escape(&v))?;
    }
    writeln!(out, "</dl>")?;
    writeln!(out, "<ul class=\"chips\" aria-label=\"jobs per result\">")?;
    for (res, n) in counts(r) {
        writeln!(
            out,
            "<li class=\"chip {}\"><b>{n}</b> {}</li>",
            class_of(res),
            escape(res)
        )?;
    }
    writeln!(out, "</ul>")?;
    writeln!(out, "</header>")
}

/// The package × lane table (the content of [`BatchReport::table`]).
fn matrix(out: &mut String, r: &BatchReport) -> fmt::Result {
    writeln!(out, "<section id=\"results\">")?;
    writeln!(out, "<h2>Results by package and lane</h2>")?;
    writeln!(out, "<div class=\"scroll\">")?;
    // Fixed layout (long log paths must not widen columns); below about
    // 160px a lane column scrolls instead of squeezing.
    writeln!(
        out,
        "<table class=\"matrix\" style=\"min-width:{}px\">",
        250 + 160 * r.lanes.len()
    )?;
    write!(
        out,
        "<thead><tr><th class=\"pkgcol\" scope=\"col\">Package</th>"
    )?;
    for l in &r.lanes {
        write!(
            out,
            "<th class=\"lane\" scope=\"col\">{}</th>",
            escape(&l.lane)
        )?;
    }
    writeln!(out, "</tr></thead>")?;
    // The first job of each cell, as BatchReport::job finds it.
    let mut by_cell: HashMap<(&str, &str), &JobReport> = HashMap::new();
    for j in &r.jobs {
        by_cell.entry((&j.package, &j.lane)).or_insert(j);
    }
    writeln!(out, "<tbody>")?;
    for p in &r.packages {
        write!(
            out,
            "<tr class=\"pkg\"><th scope=\"row\">{}</th>",
            escape(p)
        )?;
        for l in &r.lanes {
            match by_cell.get(&(p.as_str(), l.lane.as_str())) {
                Some(j) => cell(out, j)?,
                None => write!(
                    out,
                    "<td class=\"cell r-none\" title=\"not part of this lane\">-</td>"
                )?,
            }
        }
        writeln!(out, "</tr>")?;
    }
    writeln!(out, "</tbody>")?;
    writeln!(out, "</table>")?;
    writeln!(out, "</div>")?;
    writeln!(out, "</section>")
}

fn cell(out: &mut String, j: &JobReport) -> fmt::Result {
    write!(out, "<td class=\"cell {}\"", class_of(j.result.as_str()))?;
    if let Some(m) = &j.message {
        write!(out, " title=\"{}\"", escape(m))?;
    }
    write!(
        out,
        "><span class=\"res\">{}</span>",
        escape(j.result.as_str())
    )?;
    let mut meta = Vec::new();
    if let Some(b) = &j.builder {
        meta.push(escape(b));
    }
    if let Some((s, e)) = times(j) {
        meta.push(duration(e - s));
    }
    if !j.packages.is_empty() {
        let n = j.packages.len();
        meta.push(format!("{n} RPM{}", if n == 1 { "" } else { "s" }));
    }
    if !meta.is_empty() {
        write!(out, "<span class=\"meta\">{}</span>", meta.join(" · "))?;
    }
    if let Some(l) = &j.log {
        // One line, cut at the start when too long (the file name is the
        // informative end); selecting it still copies the whole path.
        let l = escape(l);
        write!(
            out,
            "<code class=\"log\" title=\"{l}\"><bdi>{l}</bdi></code>"
        )?;
    }
    write!(out, "</td>")
}

/// Messages of the jobs that did not build, as [`BatchReport::table`] lists
/// them under the table.
fn problems(out: &mut String, r: &BatchReport) -> fmt::Result {
    let listed: Vec<&JobReport> = r
        .jobs
        .iter()
        .filter(|j| {
            matches!(
                j.result.as_str(),
                "FAIL" | "BLOCKED" | "NOT RUN" | "CANCELLED"
            ) && (j.message.is_some() || j.log.is_some())
        })
        .collect();
    if listed.is_empty() {
        return Ok(());
    }
    writeln!(out, "<section id=\"problems\">")?;
    writeln!(out, "<h2>Jobs that did not build</h2>")?;
    writeln!(out, "<div class=\"scroll\">")?;
    writeln!(out, "<table class=\"list\">")?;
    writeln!(
        out,
        "<thead><tr><th>Package</th><th>Lane</th><th>Result</th><th>Message</th><th>Log</th></tr></thead>"
    )?;
    writeln!(out, "<tbody>")?;
    for j in listed {
        let log = match (&j.log, j.result.as_str()) {
            (Some(l), "FAIL") => format!("<code>{}</code>", escape(l)),
            _ => String::new(),
        };
        writeln!(
            out,
            "<tr class=\"problem\"><td><b>{}</b></td><td><code>{}</code></td>\
             <td><span class=\"badge {}\">{}</span></td><td class=\"m\">{}</td><td class=\"l\">{log}</td></tr>",
            escape(&j.package),
            escape(&j.lane),
            class_of(j.result.as_str()),
            escape(j.result.as_str()),
            j.message.as_deref().map(escape).unwrap_or_default(),
        )?;
    }
    writeln!(out, "</tbody>")?;
    writeln!(out, "</table>")?;
    writeln!(out, "</div>")?;
    writeln!(out, "</section>")
}

/// The dependency cycles broken in each lane, if any.
fn cycles(out: &mut String, r: &BatchReport) -> fmt::Result {
    if r.lanes.iter().all(|l| l.cycles.is_empty()) {
        return Ok(());
    }
    writeln!(out, "<section id=\"cycles\">")?;
    writeln!(out, "<h2>Broken dependency cycles</h2>")?;
    writeln!(
        out,
        "<p class=\"hint\">In each cycle some BuildRequires were ignored: those packages \
         were built against the repository's versions.</p>"
    )?;
    for l in r.lanes.iter().filter(|l| !l.cycles.is_empty()) {
        writeln!(out, "<h3><code>{}</code></h3>", escape(&l.lane))?;
        writeln!(out, "<ul class=\"cycles\">")?;
        for c in &l.cycles {
            writeln!(out, "<li class=\"cycle\">{}</li>", escape(c))?;
        }
        writeln!(out, "</ul>")?;
    }
    writeln!(out, "</section>")
}

// ---------------------------------------------------------------------------
// The timeline.

/// One drawn job.
struct Bar<'a> {
    job: &'a JobReport,
    start: f64,
    end: f64,
    /// Sub-row inside its row (jobs overlapping on one builder stack up).
    track: usize,
}

/// One builder's row.
struct Row<'a> {
    builder: Option<&'a str>,
    /// Not one of the lane's slots (a job ran on some other builder).
    extra: bool,
    bars: Vec<Bar<'a>>,
    tracks: usize,
}

/// One lane's rows.
struct Group<'a> {
    lane: &'a str,
    info: Option<&'a LaneReport>,
    rows: Vec<Row<'a>>,
}

/// Lanes with their slots, every job with times placed in its builder's row.
fn groups(r: &BatchReport) -> Vec<Group<'_>> {
    let mut groups: Vec<Group> = r
        .lanes
        .iter()
        .map(|l| {
            let mut rows: Vec<Row> = Vec::new();
            for s in &l.slots {
                if !rows.iter().any(|row| row.builder == Some(s.as_str())) {
                    rows.push(Row {
                        builder: Some(s),
                        extra: false,
                        bars: vec![],
                        tracks: 1,
                    });
                }
            }
            Group {
                lane: &l.lane,
                info: Some(l),
                rows,
            }
        })
        .collect();
    for j in &r.jobs {
        let Some((start, end)) = times(j) else {
            continue;
        };
        let gi = match groups.iter().position(|g| g.lane == j.lane) {
            Some(i) => i,
            None => {
                groups.push(Group {
                    lane: &j.lane,
                    info: None,
                    rows: vec![],
                });
                groups.len() - 1
            }
        };
        let rows = &mut groups[gi].rows;
        let builder = j.builder.as_deref();
        let ri = match rows.iter().position(|row| row.builder == builder) {
            Some(i) => i,
            None => {
                rows.push(Row {
                    builder,
                    extra: true,
                    bars: vec![],
                    tracks: 1,
                });
                rows.len() - 1
            }
        };
        rows[ri].bars.push(Bar {
            job: j,
            start,
            end,
            track: 0,
        });
    }
    for g in &mut groups {
        for row in &mut g.rows {
            row.bars
                .sort_by(|a, b| a.start.total_cmp(&b.start).then(a.end.total_cmp(&b.end)));
            // Greedy interval packing: first track free at the bar's start.
            let mut ends: Vec<f64> = Vec::new();
            for bar in &mut row.bars {
                match ends.iter().position(|e| *e <= bar.start) {
                    Some(t) => {
                        bar.track = t;
                        ends[t] = bar.end;
                    }
                    None => {
                        bar.track = ends.len();
                        ends.push(bar.end);
                    }
                }
            }
            row.tracks = ends.len().max(1);
        }
    }
    groups
}

// Geometry (SVG user units = CSS pixels at 100%).
const SVG_W: f64 = 1300.0;
const GUTTER: f64 = 190.0;
const RIGHT_PAD: f64 = 28.0;
const AXIS_H: f64 = 30.0;
const BAND_H: f64 = 28.0;
const TRACK_H: f64 = 26.0;
const BAR_H: f64 = 20.0;
const ROW_PAD: f64 = 3.0;
const GROUP_GAP: f64 = 12.0;
const BOTTOM_H: f64 = 26.0;
/// Average advance of an 11px bold sans-serif character, for label fitting.
const LABEL_CHAR_W: f64 = 7.0;
/// The same for the 12px monospace row labels.
const MONO_CHAR_W: f64 = 7.3;

/// `s` cut to at most `max` characters, with `…` when cut; None when not
/// even three characters and the ellipsis fit.
fn fit(s: &str, max: usize) -> Option<String> {
    let n = s.chars().count();
    if n <= max {
        return Some(s.to_string());
    }
    if max < 4 {
        return None;
    }
    let mut cut: String = s.chars().take(max - 1).collect();
    cut.push('…');
    Some(cut)
}

fn row_height(row: &Row) -> f64 {
    row.tracks as f64 * TRACK_H + 2.0 * ROW_PAD
}

fn timeline(out: &mut String, r: &BatchReport) -> fmt::Result {
    let groups = groups(r);
    let drawn: usize = groups
        .iter()
        .flat_map(|g| &g.rows)
        .map(|row| row.bars.len())
        .sum();

    // The time scale: every bar and the wall time; makespan markers too
    // unless an estimate is so far off it would squash the real bars.
    let data_end = groups
        .iter()
        .flat_map(|g| &g.rows)
        .flat_map(|row| &row.bars)
        .map(|b| b.end)
        .fold(positive(r.wall_secs).unwrap_or(0.0), f64::max);
    let mut tmax = data_end;
    for l in &r.lanes {
        for m in [l.estimated_makespan, l.lower_bound]
            .into_iter()
            .filter_map(positive)
        {
            if data_end <= 0.0 || m <= 3.0 * data_end {
                tmax = tmax.max(m);
            }
        }
    }
    if tmax <= 0.0 {
        tmax = 60.0;
    }
    let step = tick_step(tmax);
    let tmax = (tmax / step).ceil().max(1.0) * step;
    let plot_w = SVG_W - GUTTER - RIGHT_PAD;
    let x_of = |t: f64| GUTTER + (t / tmax).clamp(0.0, 1.0) * plot_w;

    let body_h: f64 = groups
        .iter()
        .map(|g| BAND_H + g.rows.iter().map(row_height).sum::<f64>() + GROUP_GAP)
        .sum::<f64>()
        .max(40.0);
    let height = AXIS_H + body_h + BOTTOM_H;

    writeln!(out, "<section id=\"timeline-section\">")?;
    writeln!(out, "<h2>Timeline</h2>")?;
    writeln!(
        out,
        "<p class=\"hint\">One row per builder, grouped by lane; {drawn} job{} drawn \
         (jobs without start and end times are not). Hover a bar for details.</p>",
        if drawn == 1 { "" } else { "s" }
    )?;
    legend(out, r)?;
    writeln!(out, "<div class=\"scroll\">")?;
    writeln!(
        out,
        "<svg id=\"timeline\" class=\"timeline\" width=\"{SVG_W}\" height=\"{height:.0}\" \
         viewBox=\"0 0 {SVG_W} {height:.0}\" role=\"img\" aria-label=\"timeline of {drawn} jobs\">"
    )?;

    // Grid and axis labels, top and bottom.
    let grid_bottom = AXIS_H + body_h - GROUP_GAP;
    let ticks = (tmax / step).round() as usize;
    writeln!(out, "<g class=\"axis-g\">")?;
    for i in 0..=ticks {
        let t = i as f64 * step;
        let x = x_of(t);
        let label = tick_label(t);
        let anchor = if i == ticks {
            "end"
        } else if i == 0 {
            "start"
        } else {
            "middle"
        };
        writeln!(
            out,
            "<line class=\"grid\" x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{grid_bottom:.1}\"/>\
             <text class=\"axis\" x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{label}</text>\
             <text class=\"axis\" x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{label}</text>",
            AXIS_H - 8.0,
            AXIS_H - 12.0,
            grid_bottom + 16.0,
        )?;
    }
    writeln!(out, "</g>")?;

    if groups.is_empty() {
        writeln!(
            out,
            "<text class=\"empty\" x=\"{:.1}\" y=\"{:.1}\">no lanes</text>",
            GUTTER + 8.0,
            AXIS_H + 24.0
        )?;
    }

    let mut y = AXIS_H;
    let mut clip = 0usize;
    for g in &groups {
        // Lane band: name on the left, estimates on the right.
        writeln!(out, "<g class=\"lane-g\">")?;
        writeln!(
            out,
            "<rect class=\"band\" x=\"0\" y=\"{y:.1}\" width=\"{SVG_W}\" height=\"{BAND_H}\" rx=\"4\"/>"
        )?;
        let name_max = ((SVG_W * 0.45) / 8.0) as usize;
        writeln!(
            out,
            "<text class=\"lane-name\" x=\"10\" y=\"{:.1}\"><title>{}</title>{}</text>",
            y + 19.0,
            escape(g.lane),
            escape(&fit(g.lane, name_max).unwrap_or_default())
        )?;
        let lane_end = g
            .rows
            .iter()
            .flat_map(|row| &row.bars)
            .map(|b| b.end)
            .fold(None, |m: Option<f64>, e| Some(m.map_or(e, |m| m.max(e))));
        let mut info = Vec::new();
        if let Some(l) = g.info {
            info.push(format!(
                "estimated makespan {}",
                duration(l.estimated_makespan)
            ));
            info.push(format!("lower bound {}", duration(l.lower_bound)));
        }
        if let Some(e) = lane_end {
            info.push(format!("last job ended at {}", duration(e)));
        }
        let slots = g.rows.iter().filter(|row| !row.extra).count();
        info.push(format!("{slots} slot{}", if slots == 1 { "" } else { "s" }));
        writeln!(
            out,
            "<text class=\"lane-info\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            SVG_W - 10.0,
            y + 19.0,
            escape(&info.join("  ·  "))
        )?;
        y += BAND_H;
        let rows_top = y;

        for (ri, row) in g.rows.iter().enumerate() {
            let h = row_height(row);
            if ri % 2 == 1 {
                writeln!(
                    out,
                    "<rect class=\"row-bg\" x=\"0\" y=\"{y:.1}\" width=\"{SVG_W}\" height=\"{h:.1}\"/>"
                )?;
            }
            let label = match (row.builder, row.extra) {
                (Some(b), false) => b.to_string(),
                (Some(b), true) => format!("{b} (not a slot)"),
                (None, _) => "(no builder)".to_string(),
            };
            let max = ((GUTTER - 20.0) / MONO_CHAR_W) as usize;
            writeln!(
                out,
                "<text class=\"row-label{}\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\"><title>{}</title>{}</text>",
                if row.extra || row.builder.is_none() { " extra" } else { "" },
                GUTTER - 12.0,
                y + ROW_PAD + TRACK_H / 2.0 + 4.0,
                escape(&label),
                escape(&fit(&label, max).unwrap_or_default())
            )?;
            for bar in &row.bars {
                clip += 1;
                job_bar(out, g.lane, bar, y, clip, &x_of)?;
            }
            y += h;
        }
        if g.rows.is_empty() {
            y += 6.0;
        }

        // The lane's estimate markers across its rows.
        if let Some(l) = g.info {
            let markers = [
                ("est", l.estimated_makespan, "estimated makespan"),
                ("lb", l.lower_bound, "lower bound"),
            ];
            for (class, t, what) in markers {
                let Some(t) = positive(t).filter(|t| *t <= tmax) else {
                    continue;
                };
                let x = x_of(t);
                writeln!(
                    out,
                    "<line class=\"{class}\" x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{y:.1}\">\
                     <title>{}: {what} {}</title></line>",
                    rows_top - 4.0,
                    escape(g.lane),
                    duration(t)
                )?;
            }
        }
        writeln!(out, "</g>")?;
        y += GROUP_GAP;
    }
    writeln!(out, "</svg>")?;
    writeln!(out, "</div>")?;
    writeln!(out, "</section>")
}

/// One job's bar: tooltip, rectangle and (when it fits) the package name.
fn job_bar(
    out: &mut String,
    lane: &str,
    bar: &Bar,
    row_y: f64,
    clip: usize,
    x_of: &dyn Fn(f64) -> f64,
) -> fmt::Result {
    let j = bar.job;
    let x = x_of(bar.start);
    let w = (x_of(bar.end) - x).max(2.0);
    let y = row_y + ROW_PAD + bar.track as f64 * TRACK_H + (TRACK_H - BAR_H) / 2.0;
    let mut tip = format!("{} @ {lane}", j.package);
    let _ = write!(
        tip,
        "\nbuilder: {}",
        j.builder.as_deref().unwrap_or("(none)")
    );
    let _ = write!(
        tip,
        "\n{} – {} ({})",
        duration(bar.start),
        duration(bar.end),
        duration(bar.end - bar.start)
    );
    let _ = write!(tip, "\nresult: {}", j.result);
    if let Some(m) = &j.message {
        let _ = write!(tip, "\n{m}");
    }
    if let Some(l) = &j.log {
        let _ = write!(tip, "\nlog: {l}");
    }
    writeln!(
        out,
        "<g class=\"jb {}\"><title>{}</title>",
        class_of(j.result.as_str()),
        escape(&tip)
    )?;
    writeln!(
        out,
        "<rect class=\"job\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{BAR_H}\" rx=\"3\"/>"
    )?;
    let room = ((w - 10.0) / LABEL_CHAR_W).floor();
    if room >= 1.0 {
        if let Some(label) = fit(&j.package, room as usize) {
            writeln!(
                out,
                "<clipPath id=\"c{clip}\"><rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{BAR_H}\"/></clipPath>\
                 <text class=\"lbl\" x=\"{:.1}\" y=\"{:.1}\" clip-path=\"url(#c{clip})\">{}</text>",
                x + 5.0,
                y + BAR_H / 2.0 + 4.0,
                escape(&label)
            )?;
        }
    }
    writeln!(out, "</g>")
}

/// Swatches of the results present, and the two marker lines.
fn legend(out: &mut String, r: &BatchReport) -> fmt::Result {
    write!(out, "<div class=\"legend\">")?;
    for (res, _) in counts(r) {
        write!(
            out,
            "<span class=\"{}\"><i class=\"sw\"></i>{}</span>",
            class_of(res),
            escape(res)
        )?;
    }
    write!(
        out,
        "<span><i class=\"ln\"></i>estimated makespan</span>\
         <span><i class=\"ln lb\"></i>lower bound</span>"
    )?;
    writeln!(out, "</div>")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(
        package: &str,
        lane: &str,
        result: &str,
        builder: Option<&str>,
        times: Option<(f64, f64)>,
    ) -> JobReport {
        JobReport {
            package: package.into(),
            lane: lane.into(),
            result: result.into(),
            builder: builder.map(Into::into),
            start: times.map(|t| t.0),
            end: times.map(|t| t.1),
            message: None,
            log: None,
            packages: vec![],
        }
    }

    fn lane(name: &str, slots: &[&str]) -> LaneReport {
        LaneReport {
            lane: name.into(),
            slots: slots.iter().map(|s| s.to_string()).collect(),
            estimated_makespan: 300.0,
            lower_bound: 240.0,
            cycles: vec![],
        }
    }

    const X86: &str = "x86_64/sisyphus";
    const ARM: &str = "aarch64/sisyphus";

    fn sample() -> BatchReport {
        let evil = "a<b>&\"c'";
        let mut fail = job("libfoo", X86, "FAIL", Some("local2"), Some((0.0, 120.0)));
        fail.message = Some("error: <script>alert('x')</script> & \"more\"".into());
        fail.log = Some("/tmp/logs/<libfoo>.log".into());
        let mut blocked = job("libbar", X86, "BLOCKED", None, None);
        blocked.message = Some("not built: dependency libfoo failed".into());
        let mut lost = job("libbar", ARM, "LOST", Some("arm1"), None);
        lost.start = Some(10.0);
        let mut cycled = lane(X86, &["local", "local2"]);
        cycled.cycles = vec!["cycle a -> <b> -> a: built a first".into()];
        BatchReport {
            batch: "spring <rebuild>".into(),
            started_unix: 1_700_000_000.0,
            wall_secs: 400.0,
            lanes: vec![cycled, lane(ARM, &["arm1"])],
            packages: vec!["libfoo".into(), "libbar".into(), evil.into()],
            jobs: vec![
                fail,
                job("libfoo", ARM, "OK", Some("arm1"), Some((5.0, 200.0))),
                blocked,
                lost,
                job(evil, X86, "OK", Some("local"), Some((0.0, 90.0))),
                job(evil, ARM, "weird", Some("arm1"), Some((200.0, 260.0))),
            ],
            exit_code: 1,
        }
    }

    fn count(haystack: &str, needle: &str) -> usize {
        haystack.matches(needle).count()
    }

    #[test]
    fn user_strings_are_escaped() {
        let page = render(&sample());
        assert!(!page.contains("<script"), "{page}");
        assert!(page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
        assert!(page.contains("&amp; &quot;more&quot;"));
        assert!(page.contains("a&lt;b&gt;&amp;&quot;c&#39;"));
        assert!(!page.contains("a<b>"));
        assert!(page.contains("spring &lt;rebuild&gt;"));
        assert!(page.contains("/tmp/logs/&lt;libfoo&gt;.log"));
        assert!(page.contains("cycle a -&gt; &lt;b&gt; -&gt; a"));
    }

    #[test]
    fn escape_handles_quotes_and_controls() {
        assert_eq!(
            escape("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
        assert_eq!(
            escape("\u{1b}[31mred\u{7f}\n\t"),
            "\u{241b}[31mred\u{2421}\n\t"
        );
        assert_eq!(escape("\0"), "\u{2400}");
    }

    #[test]
    fn every_job_with_times_gets_a_bar() {
        let r = sample();
        let page = render(&r);
        let with_times = r
            .jobs
            .iter()
            .filter(|j| j.start.is_some() && j.end.is_some())
            .count();
        assert_eq!(with_times, 4);
        assert_eq!(count(&page, "<rect class=\"job\""), with_times);
        // The LOST job has a start but no end: not drawn, but in the table.
        assert!(page.contains("<td class=\"cell r-lost\""));
        // Unknown results get the fallback class, never their own name.
        assert!(page.contains("<g class=\"jb r-other\">"));
        assert!(!page.contains("r-weird"));
    }

    #[test]
    fn table_has_a_row_per_package_and_a_column_per_lane() {
        let r = sample();
        let page = render(&r);
        assert_eq!(count(&page, "<tr class=\"pkg\">"), r.packages.len());
        assert_eq!(count(&page, "<th class=\"lane\""), r.lanes.len());
        assert_eq!(
            count(&page, "<td class=\"cell "),
            r.packages.len() * r.lanes.len()
        );
        assert!(page.contains("<td class=\"cell r-fail\" title=\"error: &lt;script&gt;"));
        assert!(page.contains(
            "<td class=\"cell r-blocked\" title=\"not built: dependency libfoo failed\">"
        ));
    }

    #[test]
    fn header_counts_and_start_time() {
        let page = render(&sample());
        assert!(page.contains("2023-11-14 22:13:20 UTC"), "{page}");
        assert!(page.contains("<li class=\"chip r-ok\"><b>2</b> OK</li>"));
        assert!(page.contains("<li class=\"chip r-fail\"><b>1</b> FAIL</li>"));
        assert!(page.contains("<li class=\"chip r-other\"><b>1</b> weird</li>"));
        assert!(page.contains("exit 1 · builds failed"));
        assert!(page.contains("6m 40s"));
    }

    #[test]
    fn the_title_heads_the_page_and_the_identifier_stays_visible() {
        let r = sample();
        let page = render_titled(&r, "Spring <PHP> rebuild");
        assert!(page.contains("<title>Spring &lt;PHP&gt; rebuild — zoryn batch report</title>"));
        assert!(page.contains("<h1>Spring &lt;PHP&gt; rebuild</h1>"));
        assert!(page.contains("<div><dt>Batch</dt><dd>spring &lt;rebuild&gt;</dd></div>"));
        // Without a title of its own: the identifier, once.
        let plain = render(&r);
        assert!(plain.contains("<h1>spring &lt;rebuild&gt;</h1>"));
        assert!(!plain.contains("<dt>Batch</dt>"));
    }

    #[test]
    fn lanes_show_estimates_and_marker_lines() {
        let page = render(&sample());
        assert_eq!(
            count(
                &page,
                ">estimated makespan 5m 00s  ·  lower bound 4m 00s  ·  "
            ),
            2
        );
        assert_eq!(count(&page, "<line class=\"est\""), 2);
        assert_eq!(count(&page, "<line class=\"lb\""), 2);
    }

    #[test]
    fn page_is_self_contained() {
        let page = render(&sample());
        for bad in [
            "http:", "https:", "<script", "<link", "<img", "@import", "src=",
        ] {
            assert!(!page.contains(bad), "{bad}");
        }
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.trim_end().ends_with("</html>"));
    }

    #[test]
    fn odd_data_does_not_break_the_page() {
        let mut r = sample();
        r.started_unix = f64::NAN;
        r.wall_secs = -1.0;
        r.jobs
            .push(job("x", "ghost/lane", "OK", None, Some((f64::NAN, 3.0))));
        r.jobs
            .push(job("y", "ghost/lane", "OK", None, Some((50.0, 10.0))));
        r.jobs
            .push(job("z", X86, "OK", Some("stranger"), Some((1.0, 2.0))));
        r.lanes[0].estimated_makespan = f64::INFINITY;
        let page = render(&r);
        assert!(page.contains("<dd>unknown</dd>"));
        // NaN start: not drawn; end before start: drawn with no length.
        assert_eq!(count(&page, "<rect class=\"job\""), 6);
        assert!(page.contains("(no builder)"));
        assert!(page.contains("stranger (not a slot)"));
        let empty = render(&BatchReport {
            batch: String::new(),
            started_unix: 0.0,
            wall_secs: 0.0,
            lanes: vec![],
            packages: vec![],
            jobs: vec![],
            exit_code: 0,
        });
        assert!(empty.contains("<svg id=\"timeline\""));
        assert_eq!(count(&empty, "<rect class=\"job\""), 0);
    }

    #[test]
    fn overlapping_jobs_on_one_builder_stack() {
        let r = BatchReport {
            batch: "b".into(),
            started_unix: 0.0,
            wall_secs: 30.0,
            lanes: vec![lane(X86, &["local"])],
            packages: vec!["a".into(), "b".into(), "c".into()],
            jobs: vec![
                job("a", X86, "OK", Some("local"), Some((0.0, 20.0))),
                job("b", X86, "OK", Some("local"), Some((10.0, 30.0))),
                job("c", X86, "OK", Some("local"), Some((20.0, 25.0))),
            ],
            exit_code: 0,
        };
        let g = groups(&r);
        let tracks: Vec<usize> = g[0].rows[0].bars.iter().map(|b| b.track).collect();
        assert_eq!(tracks, vec![0, 1, 0]);
        assert_eq!(g[0].rows[0].tracks, 2);
    }

    #[test]
    fn formatting() {
        assert_eq!(utc(0.0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400.5), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(-5.0), "unknown");
        assert_eq!(duration(4.25), "4.2s");
        assert_eq!(duration(42.4), "42s");
        assert_eq!(duration(725.0), "12m 05s");
        assert_eq!(duration(3723.0), "1h 02m 03s");
        assert_eq!(duration(f64::NAN), "—");
        assert_eq!(tick_label(0.0), "0");
        assert_eq!(tick_label(330.0), "5m30s");
        assert_eq!(tick_label(5400.0), "1h30m");
        assert_eq!(tick_step(50.0), 5.0);
        assert_eq!(tick_step(840.0), 120.0);
        assert_eq!(fit("php8.4-pear", 20).as_deref(), Some("php8.4-pear"));
        assert_eq!(fit("php8.4-pear", 6).as_deref(), Some("php8.…"));
        assert_eq!(fit("php8.4-pear", 3), None);
        assert_eq!(kind("Canceled").1.name, "CANCELLED");
        assert_eq!(class_of("NOT RUN"), "r-notrun");
    }
}
