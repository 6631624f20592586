//! What the `--top` view shows, kept apart from drawing and the terminal:
//! one row per builder updated from build events, the selection, per-builder
//! log tails, and what a key press means. Pure state, unit-tested.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::Duration;

use crate::hasher::stage::Phase;
use crate::run::events::{BuilderInfo, Event, EventKind, Outcome};

/// Log lines kept per builder for the log pane.
pub const LOG_LINES: usize = 2000;

#[derive(Debug, Clone)]
pub struct Row {
    pub info: BuilderInfo,
    pub phase: Option<Phase>,
    pub waiting: Option<String>,
    pub started: Option<Duration>,
    pub outcome: Option<Outcome>,
    pub took: Option<Duration>,
    pub message: Option<String>,
    pub last_line: String,
    pub log: Option<PathBuf>,
    pub lines: VecDeque<String>,
    pub cancel_requested: bool,
}

impl Row {
    fn new(info: BuilderInfo) -> Row {
        Row {
            info,
            phase: None,
            waiting: None,
            started: None,
            outcome: None,
            took: None,
            message: None,
            last_line: String::new(),
            log: None,
            lines: VecDeque::new(),
            cancel_requested: false,
        }
    }

    pub fn running(&self) -> bool {
        self.outcome.is_none()
    }

    /// The status word for the phase column.
    pub fn status(&self) -> String {
        if let Some(o) = self.outcome {
            return o.label().to_string();
        }
        if self.cancel_requested {
            return "cancelling".into();
        }
        if let Some(w) = &self.waiting {
            return format!("waiting ({w})");
        }
        self.phase
            .map_or("queued".to_string(), |p| p.label().to_string())
    }

    /// Elapsed time at `now` (frozen once finished).
    pub fn elapsed(&self, now: Duration) -> Option<Duration> {
        self.took
            .or_else(|| self.started.map(|s| now.saturating_sub(s)))
    }

    /// Rough progress through hasher's phases, 0..=1.
    pub fn progress(&self) -> f64 {
        if self.outcome.is_some() {
            return 1.0;
        }
        let steps = [
            Phase::Starting,
            Phase::Uploading,
            Phase::PreparingChroot,
            Phase::InstallingDeps,
            Phase::Prep,
            Phase::Build,
            Phase::Install,
            Phase::Check,
            Phase::Packaging,
            Phase::Downloading,
            Phase::Collecting,
            Phase::PostBuildChecks,
        ];
        match self.phase {
            None => 0.0,
            Some(p) => {
                let i = steps.iter().position(|s| *s == p).unwrap_or(0);
                (i + 1) as f64 / (steps.len() + 1) as f64
            }
        }
    }
}

/// A question waiting for y/n in the status bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pending {
    CancelOne(String),
    CancelAll,
    Quit,
}

/// What the terminal loop should do after a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    None,
    CancelOne(String),
    CancelAll,
    Quit,
    OpenPager(PathBuf),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Up,
    Down,
    PageUp,
    PageDown,
    Home,
    End,
    Char(char),
    CtrlC,
    Enter,
    Esc,
}

#[derive(Debug, Default)]
pub struct Model {
    pub title: String,
    pub rows: Vec<Row>,
    pub selected: usize,
    pub now: Duration,
    pub finished: bool,
    pub exit_code: Option<i32>,
    pub pending: Option<Pending>,
    pub notice: Option<String>,
    /// Rows visible in the table (set by the renderer, for paging).
    pub page: usize,
}

impl Model {
    pub fn event(&mut self, ev: &Event) {
        self.now = self.now.max(ev.at);
        match &ev.kind {
            EventKind::RunStarted {
                package,
                version,
                builders,
                parallel,
            } => {
                self.title = format!(
                    "zoryn: {package} {version} on {} builder(s){}",
                    builders.len(),
                    if *parallel { ", parallel" } else { "" }
                );
                self.rows = builders.iter().cloned().map(Row::new).collect();
            }
            EventKind::SourceReady { .. } => {}
            EventKind::Waiting {
                builder,
                holder_pid,
                held_for_secs,
            } => {
                if let Some(r) = self.row(builder) {
                    let who = holder_pid.map_or("locked".to_string(), |p| format!("pid {p}"));
                    r.waiting = Some(match held_for_secs {
                        Some(s) => format!("{who}, {s}s"),
                        None => who,
                    });
                }
            }
            EventKind::Uploaded {
                builder,
                bytes_sent,
                ..
            } => {
                if let Some(r) = self.row(builder) {
                    r.last_line = format!("uploaded {bytes_sent} bytes");
                }
            }
            EventKind::Started { builder, log, .. } => {
                let at = ev.at;
                if let Some(r) = self.row(builder) {
                    // A batch runs job after job on one builder: start fresh.
                    if r.outcome.is_some() {
                        r.outcome = None;
                        r.took = None;
                        r.message = None;
                        r.started = None;
                        r.cancel_requested = false;
                    }
                    r.waiting = None;
                    r.started.get_or_insert(at);
                    r.phase = Some(Phase::Starting);
                    r.log = Some(log.clone());
                    r.lines.clear();
                }
            }
            EventKind::Phase { builder, phase } => {
                if let Some(r) = self.row(builder) {
                    r.waiting = None;
                    if r.started.is_none() {
                        r.started = Some(ev.at);
                    }
                    r.phase = Some(*phase);
                }
            }
            EventKind::Line { builder, line } => {
                if let Some(r) = self.row(builder) {
                    let clean: String = line
                        .chars()
                        .filter(|c| !c.is_control() || *c == '\t')
                        .collect();
                    r.last_line = clean.clone();
                    if r.lines.len() == LOG_LINES {
                        r.lines.pop_front();
                    }
                    r.lines.push_back(clean);
                }
            }
            EventKind::Finished(res) => {
                if let Some(r) = self.row(&res.builder.name) {
                    r.outcome = Some(res.outcome);
                    r.took = Some(res.elapsed);
                    r.message = res.message.clone();
                    r.waiting = None;
                    if res.log.is_some() {
                        r.log = res.log.clone();
                    }
                }
            }
            EventKind::Job { .. } => {}
            EventKind::RunFinished { exit_code, .. } => {
                self.finished = true;
                self.exit_code = Some(*exit_code);
            }
        }
    }

    fn row(&mut self, name: &str) -> Option<&mut Row> {
        self.rows.iter_mut().find(|r| r.info.name == name)
    }

    pub fn selected_row(&self) -> Option<&Row> {
        self.rows.get(self.selected)
    }

    pub fn running(&self) -> usize {
        self.rows.iter().filter(|r| r.running()).count()
    }

    pub fn key(&mut self, key: Key) -> Action {
        self.notice = None;
        if let Some(p) = self.pending.take() {
            return match key {
                Key::Char('y') | Key::Char('Y') => match p {
                    Pending::CancelOne(name) => {
                        if let Some(r) = self.row(&name) {
                            r.cancel_requested = true;
                        }
                        Action::CancelOne(name)
                    }
                    Pending::CancelAll => {
                        self.mark_all_cancelling();
                        Action::CancelAll
                    }
                    Pending::Quit => {
                        self.mark_all_cancelling();
                        Action::Quit
                    }
                },
                _ => Action::None,
            };
        }
        let n = self.rows.len();
        let page = self.page.max(1);
        match key {
            Key::Up | Key::Char('k') => self.selected = self.selected.saturating_sub(1),
            Key::Down | Key::Char('j') => {
                self.selected = (self.selected + 1).min(n.saturating_sub(1))
            }
            Key::PageUp => self.selected = self.selected.saturating_sub(page),
            Key::PageDown => self.selected = (self.selected + page).min(n.saturating_sub(1)),
            Key::Home | Key::Char('g') => self.selected = 0,
            Key::End | Key::Char('G') => self.selected = n.saturating_sub(1),
            Key::Char('l') | Key::Char('o') | Key::Enter => {
                return match self.selected_row().and_then(|r| r.log.clone()) {
                    Some(p) => Action::OpenPager(p),
                    None => {
                        self.notice = Some("no log yet for this builder".into());
                        Action::None
                    }
                }
            }
            Key::Char('c') => {
                if let Some(r) = self.selected_row() {
                    if r.running() {
                        self.pending = Some(Pending::CancelOne(r.info.name.clone()));
                    } else {
                        self.notice = Some(format!("{} is not running", r.info.name));
                    }
                }
            }
            Key::Char('C') if self.running() > 0 => self.pending = Some(Pending::CancelAll),
            Key::Char('q') | Key::Esc => {
                if self.finished {
                    return Action::Quit;
                }
                self.pending = Some(Pending::Quit);
            }
            Key::CtrlC => {
                if self.finished {
                    return Action::Quit;
                }
                self.mark_all_cancelling();
                return Action::CancelAll;
            }
            _ => {}
        }
        Action::None
    }

    fn mark_all_cancelling(&mut self) {
        for r in self.rows.iter_mut().filter(|r| r.running()) {
            r.cancel_requested = true;
        }
    }

    /// The question or hint for the status bar.
    pub fn status_line(&self) -> String {
        if let Some(p) = &self.pending {
            return match p {
                Pending::CancelOne(n) => format!("cancel the build on {n}? [y/N]"),
                Pending::CancelAll => {
                    format!("cancel all {} running builds? [y/N]", self.running())
                }
                Pending::Quit => format!(
                    "{} builds still running: cancel them and quit? [y/N]",
                    self.running()
                ),
            };
        }
        if let Some(n) = &self.notice {
            return n.clone();
        }
        let state = if self.finished {
            format!("finished (exit {}) — q: quit", self.exit_code.unwrap_or(0))
        } else {
            format!("{} running", self.running())
        };
        format!("{state} | ↑↓ select  l: log in $PAGER  c: cancel selected  C: cancel all  q: quit")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::events::BuilderResult;

    pub fn info(n: &str) -> BuilderInfo {
        BuilderInfo {
            name: n.into(),
            host: "localhost".into(),
            arch: "x86_64".into(),
            branch: "sisyphus".into(),
        }
    }

    fn ev(ms: u64, kind: EventKind) -> Event {
        Event {
            at: Duration::from_millis(ms),
            kind,
        }
    }

    pub fn started_model() -> Model {
        let mut m = Model::default();
        m.event(&ev(
            0,
            EventKind::RunStarted {
                package: "hello".into(),
                version: "1.0-alt1".into(),
                builders: vec![info("a"), info("b")],
                parallel: true,
            },
        ));
        m
    }

    #[test]
    fn rows_follow_events() {
        let mut m = started_model();
        m.event(&ev(
            10,
            EventKind::Started {
                builder: "a".into(),
                log: "/l/a.log".into(),
                command: vec![],
            },
        ));
        m.event(&ev(
            20,
            EventKind::Phase {
                builder: "a".into(),
                phase: Phase::Build,
            },
        ));
        m.event(&ev(
            30,
            EventKind::Line {
                builder: "a".into(),
                line: "cc -c x.c\r".into(),
            },
        ));
        m.event(&ev(
            40,
            EventKind::Waiting {
                builder: "b".into(),
                holder_pid: Some(9),
                held_for_secs: Some(3),
            },
        ));
        assert_eq!(m.rows[0].status(), "%build");
        assert_eq!(m.rows[0].last_line, "cc -c x.c");
        assert_eq!(m.rows[1].status(), "waiting (pid 9, 3s)");
        assert_eq!(
            m.rows[0].elapsed(Duration::from_millis(1010)),
            Some(Duration::from_secs(1))
        );
        m.event(&ev(
            50,
            EventKind::Finished(BuilderResult {
                builder: info("a"),
                outcome: Outcome::Success,
                elapsed: Duration::from_millis(40),
                packages: vec![],
                log: None,
                message: None,
                hint: None,
                log_tail: vec![],
                rejected: vec![],
                checks: vec![],
            }),
        ));
        assert_eq!(m.rows[0].status(), "OK");
        assert_eq!(
            m.rows[0].elapsed(Duration::from_secs(99)),
            Some(Duration::from_millis(40))
        );
        assert_eq!(m.running(), 1);
    }

    #[test]
    fn keys_move_confirm_and_cancel() {
        let mut m = started_model();
        assert_eq!(m.key(Key::Down), Action::None);
        assert_eq!(m.selected, 1);
        assert_eq!(m.key(Key::Down), Action::None);
        assert_eq!(m.selected, 1);
        assert_eq!(m.key(Key::Char('c')), Action::None);
        assert_eq!(m.status_line(), "cancel the build on b? [y/N]");
        assert_eq!(m.key(Key::Char('y')), Action::CancelOne("b".into()));
        assert_eq!(m.rows[1].status(), "cancelling");
        // A "no" answer does nothing.
        m.key(Key::Char('C'));
        assert_eq!(m.key(Key::Char('n')), Action::None);
        // Quit while running asks; after the run it just quits.
        m.key(Key::Char('q'));
        assert!(m.status_line().contains("still running"));
        assert_eq!(m.key(Key::Char('y')), Action::Quit);
        let mut m = started_model();
        m.finished = true;
        assert_eq!(m.key(Key::Char('q')), Action::Quit);
        assert_eq!(m.key(Key::Char('l')), Action::None);
        assert_eq!(m.notice.as_deref(), Some("no log yet for this builder"));
    }
}
