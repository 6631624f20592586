//! Human output while a build runs.
//!
//! On a terminal: one live status line per builder (phase, elapsed, last log
//! line), redrawn in place. Elsewhere (pipes, CI logs): one stable line per
//! event, no control characters. `-q` shows nothing here (the summary still
//! prints); `-v` adds every log line.

use std::io::Write;
use std::time::{Duration, Instant};

use crossterm::{cursor, terminal, QueueableCommand};

use super::{human_duration, short_path, Reporter};
use crate::run::events::{Event, EventKind, JobStatus, Outcome};

struct Row {
    name: String,
    phase: String,
    started: Option<Duration>,
    finished: Option<Outcome>,
    /// Frozen elapsed time once finished.
    took: Option<Duration>,
    last_line: String,
}

pub struct PlainReporter<W: Write> {
    out: W,
    live: bool,
    verbose: bool,
    quiet: bool,
    rows: Vec<Row>,
    drawn: u16,
    last_draw: Option<Instant>,
    now: Duration,
    run_started: Instant,
    /// Paint the result words (`--color`, `NO_COLOR`).
    color: bool,
}

impl<W: Write> PlainReporter<W> {
    /// `live`: draw status lines in place (only for a terminal).
    pub fn new(out: W, live: bool, verbose: bool, quiet: bool) -> Self {
        PlainReporter {
            out,
            live: live && !quiet,
            verbose,
            quiet,
            rows: Vec::new(),
            drawn: 0,
            last_draw: None,
            now: Duration::ZERO,
            run_started: Instant::now(),
            color: false,
        }
    }

    /// Paint OK/FAIL/SKIP (the caller decides; see `report::color`).
    pub fn with_color(mut self, color: bool) -> Self {
        self.color = color;
        self
    }

    fn label(&self, o: Outcome) -> String {
        if self.color {
            super::color::paint(o, o.label())
        } else {
            o.label().to_string()
        }
    }

    fn row(&mut self, name: &str) -> Option<&mut Row> {
        self.rows.iter_mut().find(|r| r.name == name)
    }

    /// A line in the non-live format, or above the live block.
    fn say(&mut self, text: &str) {
        if self.quiet {
            return;
        }
        if self.live {
            self.clear_block();
        }
        let _ = writeln!(self.out, "{text}");
        if self.live {
            self.draw(true);
        }
    }

    fn clear_block(&mut self) {
        if self.drawn > 0 {
            let _ = self.out.queue(cursor::MoveToPreviousLine(self.drawn));
            let _ = self
                .out
                .queue(terminal::Clear(terminal::ClearType::FromCursorDown));
            self.drawn = 0;
        }
    }

    fn draw(&mut self, force: bool) {
        if !self.live {
            return;
        }
        if !force
            && self
                .last_draw
                .is_some_and(|t| t.elapsed() < Duration::from_millis(100))
        {
            return;
        }
        self.last_draw = Some(Instant::now());
        self.clear_block();
        let width = terminal::size()
            .map(|(w, _)| w as usize)
            .unwrap_or(100)
            .max(40);
        let name_w = self.rows.iter().map(|r| r.name.len()).max().unwrap_or(0);
        let mut lines = Vec::new();
        for r in &self.rows {
            let elapsed = match (r.took, r.started) {
                (Some(t), _) => human_duration(t.as_secs_f64()),
                (None, Some(s)) => human_duration(self.now.saturating_sub(s).as_secs_f64()),
                (None, None) => String::new(),
            };
            let status: &str = match r.finished {
                Some(o) => o.label(),
                None => &r.phase,
            };
            let mut line = format!(
                "{:<name_w$}  {:<22} {:>7}  {}",
                r.name, status, elapsed, r.last_line
            );
            if line.chars().count() >= width {
                line = line.chars().take(width - 1).collect();
            }
            // Painted after cutting, so the codes never count as width.
            if let (Some(o), true) = (r.finished, self.color) {
                let at = name_w + 2;
                if line.get(at..at + status.len()) == Some(status) {
                    line.replace_range(at..at + status.len(), &self.label(o));
                }
            }
            lines.push(line);
        }
        for l in &lines {
            let _ = writeln!(self.out, "{l}");
        }
        self.drawn = lines.len() as u16;
        let _ = self.out.flush();
    }
}

impl<W: Write> Reporter for PlainReporter<W> {
    fn event(&mut self, ev: &Event) {
        self.now = ev.at;
        match &ev.kind {
            EventKind::RunStarted {
                package,
                version,
                builders,
                parallel,
            } => {
                self.rows = builders
                    .iter()
                    .map(|b| Row {
                        name: b.name.clone(),
                        phase: "queued".into(),
                        started: None,
                        finished: None,
                        took: None,
                        last_line: String::new(),
                    })
                    .collect();
                let names: Vec<&str> = builders.iter().map(|b| b.name.as_str()).collect();
                let mode = if *parallel && builders.len() > 1 {
                    ", in parallel"
                } else {
                    ""
                };
                self.say(&format!(
                    "building {package} {version} on {}{mode}",
                    names.join(", ")
                ));
            }
            EventKind::SourceReady {
                tarball_bytes,
                reused,
            } => {
                if self.verbose {
                    let how = if *reused {
                        ", unchanged since the last build: gear not run"
                    } else {
                        ""
                    };
                    self.say(&format!(
                        "source tarball ready ({tarball_bytes} bytes{how})"
                    ));
                }
            }
            EventKind::Waiting {
                builder,
                holder_pid,
                held_for_secs,
            } => {
                let who = holder_pid.map_or("another process".to_string(), |p| format!("pid {p}"));
                let how_long = held_for_secs.map_or(String::new(), |s| {
                    format!(" for {}", human_duration(s as f64))
                });
                if let Some(r) = self.row(builder) {
                    r.phase = "waiting for lock".into();
                }
                self.say(&format!(
                    "[{builder}] waiting: hasher workdir locked by {who}{how_long}"
                ));
            }
            EventKind::Uploaded {
                builder,
                bytes_sent,
                tarball_bytes,
            } => {
                if self.verbose || !self.live {
                    self.say(&format!(
                        "[{builder}] uploaded source: {bytes_sent} of {tarball_bytes} bytes sent"
                    ));
                }
            }
            EventKind::Started { builder, log, .. } => {
                let at = ev.at;
                if let Some(r) = self.row(builder) {
                    r.started = Some(at);
                    r.phase = "starting".into();
                }
                if !self.live {
                    self.say(&format!(
                        "[{builder}] started, log: {}",
                        short_path(log).display()
                    ));
                }
                self.draw(true);
            }
            EventKind::Phase { builder, phase } => {
                if let Some(r) = self.row(builder) {
                    r.phase = phase.label().to_string();
                }
                if !self.live {
                    self.say(&format!("[{builder}] {}", phase.label()));
                }
                self.draw(false);
            }
            EventKind::Line { builder, line } => {
                if let Some(r) = self.row(builder) {
                    r.last_line = line.chars().filter(|c| !c.is_control()).collect();
                }
                if self.verbose {
                    self.say(&format!("[{builder}] | {line}"));
                }
                self.draw(false);
            }
            EventKind::Finished(r) => {
                let secs = human_duration(r.elapsed.as_secs_f64());
                let mut text = format!("[{}] {} in {secs}", r.builder.name, self.label(r.outcome));
                if !r.packages.is_empty() {
                    text.push_str(&format!(", {} packages", r.packages.len()));
                }
                if let Some(m) = &r.message {
                    text.push_str(&format!(": {m}"));
                }
                if let Some(row) = self.row(&r.builder.name) {
                    row.finished = Some(r.outcome);
                    row.took = Some(r.elapsed);
                    row.last_line.clear();
                }
                if self.live {
                    self.draw(true);
                } else {
                    self.say(&text);
                }
            }
            EventKind::Job {
                package,
                lane,
                state,
                builder,
                detail,
            } => {
                let mut text = format!("[{package} @ {lane}] {state}");
                if let Some(b) = builder {
                    text.push_str(&format!(" on {b}"));
                }
                if let Some(d) = detail {
                    text.push_str(&format!(": {d}"));
                }
                // Live mode shows builders; job transitions that matter
                // (finished ones) still get a line above the block.
                if !self.live
                    || matches!(
                        state,
                        JobStatus::Done | JobStatus::Failed | JobStatus::Blocked | JobStatus::Retry
                    )
                {
                    self.say(&text);
                }
            }
            EventKind::RunFinished { .. } => {}
        }
    }

    fn tick(&mut self) {
        if self.live {
            self.now = self.run_started.elapsed();
            self.draw(false);
        }
    }

    fn finish(&mut self) {
        if self.live {
            self.draw(true);
        }
        let _ = self.out.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hasher::stage::Phase;
    use crate::run::events::{BuilderInfo, BuilderResult, Outcome};

    fn ev(at_ms: u64, kind: EventKind) -> Event {
        Event {
            at: Duration::from_millis(at_ms),
            kind,
        }
    }

    fn info(name: &str) -> BuilderInfo {
        BuilderInfo {
            name: name.into(),
            host: "localhost".into(),
            arch: "x86_64".into(),
            branch: "sisyphus".into(),
        }
    }

    /// Every event kind in the non-terminal format, pinned.
    #[test]
    fn plain_lines_for_every_event() {
        let events = vec![
            ev(
                0,
                EventKind::RunStarted {
                    package: "hello".into(),
                    version: "1.0".into(),
                    builders: vec![info("local"), info("local2")],
                    parallel: true,
                },
            ),
            ev(
                1,
                EventKind::SourceReady {
                    tarball_bytes: 10240,
                    reused: false,
                },
            ),
            ev(
                2,
                EventKind::Waiting {
                    builder: "local2".into(),
                    holder_pid: Some(77),
                    held_for_secs: Some(5),
                },
            ),
            ev(
                3,
                EventKind::Uploaded {
                    builder: "local".into(),
                    bytes_sent: 512,
                    tarball_bytes: 10240,
                },
            ),
            ev(
                3,
                EventKind::Started {
                    builder: "local".into(),
                    log: "/nonexistent/build.local.log".into(),
                    command: vec!["hsh".into()],
                },
            ),
            ev(
                4,
                EventKind::Phase {
                    builder: "local".into(),
                    phase: Phase::Build,
                },
            ),
            ev(
                5,
                EventKind::Line {
                    builder: "local".into(),
                    line: "make all".into(),
                },
            ),
            ev(
                6,
                EventKind::Finished(BuilderResult {
                    builder: info("local"),
                    outcome: Outcome::Success,
                    elapsed: Duration::from_millis(2500),
                    packages: vec!["/x/a.rpm".into(), "/x/a.src.rpm".into()],
                    log: None,
                    message: None,
                    hint: None,
                    log_tail: vec![],
                    rejected: vec![],
                    checks: vec![],
                }),
            ),
            ev(
                7,
                EventKind::Finished(BuilderResult {
                    builder: info("local2"),
                    outcome: Outcome::Failed,
                    elapsed: Duration::from_millis(1000),
                    packages: vec![],
                    log: None,
                    message: Some("hsh exited with status 1".into()),
                    hint: None,
                    log_tail: vec![],
                    rejected: vec![],
                    checks: vec![],
                }),
            ),
        ];
        let render = |verbose: bool| {
            let mut buf = Vec::new();
            let mut r = PlainReporter::new(&mut buf, false, verbose, false);
            for e in &events {
                r.event(e);
            }
            r.finish();
            String::from_utf8(buf).unwrap()
        };
        assert_eq!(
            render(false),
            "building hello 1.0 on local, local2, in parallel\n\
             [local2] waiting: hasher workdir locked by pid 77 for 5.0s\n\
             [local] uploaded source: 512 of 10240 bytes sent\n\
             [local] started, log: /nonexistent/build.local.log\n\
             [local] %build\n\
             [local] OK in 2.5s, 2 packages\n\
             [local2] FAIL in 1.0s: hsh exited with status 1\n"
        );
        let v = render(true);
        assert!(v.contains("source tarball ready (10240 bytes)\n"), "{v}");
        assert!(v.contains("[local] | make all\n"), "{v}");
        let mut buf = Vec::new();
        let mut q = PlainReporter::new(&mut buf, false, false, true);
        for e in &events {
            q.event(e);
        }
        assert!(buf.is_empty());
    }

    #[test]
    fn live_mode_redraws_one_line_per_builder() {
        let mut buf = Vec::new();
        let mut r = PlainReporter::new(&mut buf, true, false, false);
        r.event(&ev(
            0,
            EventKind::RunStarted {
                package: "hello".into(),
                version: "1.0".into(),
                builders: vec![info("local")],
                parallel: false,
            },
        ));
        r.event(&ev(
            10,
            EventKind::Started {
                builder: "local".into(),
                log: "/l".into(),
                command: vec![],
            },
        ));
        r.event(&ev(
            20,
            EventKind::Phase {
                builder: "local".into(),
                phase: Phase::Prep,
            },
        ));
        r.finish();
        let s = String::from_utf8_lossy(&buf);
        assert!(s.contains("local  %prep"), "{s:?}");
        // Redraws move the cursor up rather than scrolling new lines.
        assert!(s.contains("\u{1b}[1F"), "{s:?}");
    }
}
