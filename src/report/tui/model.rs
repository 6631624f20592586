//! What the `--top` view shows, kept apart from drawing and the terminal:
//! one row per builder updated from build events (grouped by host), the
//! selection, per-builder log tails, the farm totals (builders busy / free /
//! waiting, builds done / failed, a batch's queue), the run clock (which stops
//! once every build has ended), and what a key press means. Pure state,
//! unit-tested; it must not draw or touch the terminal.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::time::Duration;

use crate::hasher::stage::Phase;
use crate::run::events::{BuilderInfo, Event, EventKind, JobStatus, Outcome};

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

    /// Rough progress through hasher's phases, 0..=1. Only a success is
    /// complete: a failed or cancelled build stays where it stopped, a
    /// skipped one never started.
    pub fn progress(&self) -> f64 {
        match self.outcome {
            Some(Outcome::Success) => return 1.0,
            Some(Outcome::Skipped) => return 0.0,
            _ => {}
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

/// What the totals line counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    /// Builders running a build now.
    pub busy: usize,
    /// Builders with nothing to do (not started yet, or ended).
    pub free: usize,
    /// Builders whose hasher workdir is locked by someone else.
    pub waiting: usize,
    /// Builds that ended OK / FAIL (including ERROR, BUSY, LOST) /
    /// CANCELLED / SKIP, counted per build (a batch runs many per builder).
    pub ok: usize,
    pub failed: usize,
    pub cancelled: usize,
    pub skipped: usize,
    /// A batch's jobs by state; `None` for a plain build.
    pub queue: Option<Queue>,
}

/// A batch's jobs (package × lane) by their latest state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Queue {
    /// Ready, waiting for a slot or a dependency, or to be retried.
    pub queued: usize,
    pub running: usize,
    pub done: usize,
    pub failed: usize,
    /// Not built because a dependency failed.
    pub blocked: usize,
    pub skipped: usize,
}

#[derive(Debug, Default)]
pub struct Model {
    pub title: String,
    /// Builders, grouped by host (hosts in order of first appearance).
    pub rows: Vec<Row>,
    pub selected: usize,
    pub now: Duration,
    pub finished: bool,
    pub exit_code: Option<i32>,
    pub pending: Option<Pending>,
    pub notice: Option<String>,
    /// Rows visible in the table (set by the renderer, for paging).
    pub page: usize,
    /// Builds ended so far, by outcome (see [`Totals`]).
    ended: [usize; 4],
    /// A batch's jobs: (package, lane) → latest state.
    jobs: BTreeMap<(String, String), JobStatus>,
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
                // Group by host, hosts in order of first appearance, builders
                // in their given order within a host.
                let mut hosts: Vec<&str> = Vec::new();
                for b in builders {
                    if !hosts.contains(&b.host.as_str()) {
                        hosts.push(&b.host);
                    }
                }
                self.rows = hosts
                    .iter()
                    .flat_map(|h| builders.iter().filter(move |b| b.host == *h))
                    .cloned()
                    .map(Row::new)
                    .collect();
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
                let slot = match res.outcome {
                    Outcome::Success => 0,
                    Outcome::Failed | Outcome::Unusable | Outcome::Busy | Outcome::Lost => 1,
                    Outcome::Cancelled => 2,
                    Outcome::Skipped => 3,
                };
                self.ended[slot] += 1;
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
            EventKind::Job {
                package,
                lane,
                state,
                ..
            } => {
                self.jobs.insert((package.clone(), lane.clone()), *state);
            }
            EventKind::RunFinished { exit_code, .. } => {
                self.finished = true;
                self.exit_code = Some(*exit_code);
            }
        }
    }

    /// Move the clock to `now` (time since the run started) unless every
    /// build has ended: then it stays at the last event's time.
    pub fn tick(&mut self, now: Duration) {
        if !self.all_ended() {
            self.now = self.now.max(now);
        }
    }

    /// The run finished, or every builder's build ended and (in a batch) no
    /// job is queued or running.
    pub fn all_ended(&self) -> bool {
        if self.finished {
            return true;
        }
        !self.rows.is_empty()
            && self.rows.iter().all(|r| !r.running())
            && self.jobs.values().all(|s| s.is_settled())
    }

    pub fn totals(&self) -> Totals {
        let mut t = Totals {
            ok: self.ended[0],
            failed: self.ended[1],
            cancelled: self.ended[2],
            skipped: self.ended[3],
            ..Totals::default()
        };
        for r in &self.rows {
            if !r.running() || (r.started.is_none() && r.waiting.is_none()) {
                t.free += 1;
            } else if r.waiting.is_some() {
                t.waiting += 1;
            } else {
                t.busy += 1;
            }
        }
        if !self.jobs.is_empty() {
            let mut q = Queue::default();
            for s in self.jobs.values() {
                match s {
                    JobStatus::Running => q.running += 1,
                    JobStatus::Done => q.done += 1,
                    JobStatus::Failed => q.failed += 1,
                    JobStatus::Blocked => q.blocked += 1,
                    JobStatus::Skipped => q.skipped += 1,
                    _ => q.queued += 1,
                }
            }
            t.queue = Some(q);
        }
        t
    }

    /// The farm totals line under the title.
    pub fn totals_line(&self) -> String {
        let t = self.totals();
        let mut s = format!(
            "builders: {} busy, {} free, {} waiting | builds: {} done, {} failed",
            t.busy, t.free, t.waiting, t.ok, t.failed
        );
        if t.cancelled > 0 {
            s.push_str(&format!(", {} cancelled", t.cancelled));
        }
        if t.skipped > 0 {
            s.push_str(&format!(", {} skipped", t.skipped));
        }
        if let Some(q) = t.queue {
            s.push_str(&format!(
                " | queue: {} waiting, {} running, {} done, {} failed",
                q.queued, q.running, q.done, q.failed
            ));
            if q.blocked > 0 {
                s.push_str(&format!(", {} blocked", q.blocked));
            }
            if q.skipped > 0 {
                s.push_str(&format!(", {} skipped", q.skipped));
            }
        }
        s
    }

    /// The hosts in row order with the range of their rows, when the
    /// builders are on more than one host (else empty: nothing to group).
    pub fn groups(&self) -> Vec<(String, std::ops::Range<usize>)> {
        let mut out: Vec<(String, std::ops::Range<usize>)> = Vec::new();
        for (i, r) in self.rows.iter().enumerate() {
            match out.last_mut() {
                Some((h, range)) if *h == r.info.host => range.end = i + 1,
                _ => out.push((r.info.host.clone(), i..i + 1)),
            }
        }
        if out.len() > 1 {
            out
        } else {
            Vec::new()
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
        if self.finished {
            return format!(
                "finished (exit {}) | ↑↓ select  l: log in $PAGER  q: quit",
                self.exit_code.unwrap_or(0)
            );
        }
        format!(
            "{} running | ↑↓ select  l: log  c: cancel selected  C: cancel all  q: quit",
            self.running()
        )
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

    fn finished(m: &mut Model, ms: u64, b: &str, outcome: Outcome) {
        m.event(&ev(
            ms,
            EventKind::Finished(BuilderResult {
                builder: info(b),
                outcome,
                elapsed: Duration::from_millis(ms),
                packages: vec![],
                log: None,
                message: None,
                hint: None,
                log_tail: vec![],
                rejected: vec![],
                checks: vec![],
            }),
        ));
    }

    fn phase(m: &mut Model, ms: u64, b: &str, phase: Phase) {
        m.event(&ev(
            ms,
            EventKind::Phase {
                builder: b.into(),
                phase,
            },
        ));
    }

    #[test]
    fn the_clock_stops_when_every_build_ended() {
        let mut m = started_model();
        m.tick(Duration::from_secs(5));
        assert_eq!(m.now, Duration::from_secs(5));
        finished(&mut m, 6000, "a", Outcome::Success);
        m.tick(Duration::from_secs(7));
        assert_eq!(m.now, Duration::from_secs(7), "b still runs");
        finished(&mut m, 8000, "b", Outcome::Failed);
        m.tick(Duration::from_secs(30));
        assert_eq!(m.now, Duration::from_secs(8), "clock moved after the end");
        // A batch: builders idle between jobs while the queue still holds
        // work: the clock runs on.
        let mut m = started_model();
        let job = |pkg: &str, state: &str| {
            ev(
                100,
                EventKind::Job {
                    package: pkg.into(),
                    lane: "x86_64/sisyphus".into(),
                    state: state.parse().expect("known state"),
                    builder: None,
                    detail: None,
                },
            )
        };
        m.event(&job("libfoo", "running"));
        m.event(&job("app", "ready"));
        finished(&mut m, 1000, "a", Outcome::Success);
        finished(&mut m, 1000, "b", Outcome::Success);
        m.event(&job("libfoo", "done"));
        m.tick(Duration::from_secs(3));
        assert_eq!(m.now, Duration::from_secs(3));
        m.event(&job("app", "done"));
        m.tick(Duration::from_secs(9));
        assert_eq!(m.now, Duration::from_secs(3));
    }

    #[test]
    fn totals_count_builders_builds_and_the_queue() {
        let mut m = started_model();
        assert_eq!(
            m.totals_line(),
            "builders: 0 busy, 2 free, 0 waiting | builds: 0 done, 0 failed"
        );
        phase(&mut m, 10, "a", Phase::Build);
        m.event(&ev(
            20,
            EventKind::Waiting {
                builder: "b".into(),
                holder_pid: None,
                held_for_secs: None,
            },
        ));
        let t = m.totals();
        assert_eq!((t.busy, t.free, t.waiting), (1, 0, 1));
        finished(&mut m, 30, "a", Outcome::Failed);
        finished(&mut m, 40, "b", Outcome::Cancelled);
        for (pkg, state) in [
            ("p1", "done"),
            ("p2", "running"),
            ("p3", "waiting-for-slot"),
        ] {
            m.event(&ev(
                50,
                EventKind::Job {
                    package: pkg.into(),
                    lane: "x86_64/sisyphus".into(),
                    state: state.parse().expect("known state"),
                    builder: None,
                    detail: None,
                },
            ));
        }
        assert_eq!(
            m.totals_line(),
            "builders: 0 busy, 2 free, 0 waiting | builds: 0 done, 1 failed, 1 cancelled \
             | queue: 1 waiting, 1 running, 1 done, 0 failed"
        );
    }

    #[test]
    fn only_a_success_fills_the_progress_bar() {
        let mut m = started_model();
        phase(&mut m, 10, "a", Phase::Build);
        let building = m.rows[0].progress();
        assert!(building > 0.0 && building < 1.0);
        finished(&mut m, 20, "a", Outcome::Cancelled);
        assert_eq!(m.rows[0].progress(), building);
        finished(&mut m, 20, "b", Outcome::Skipped);
        assert_eq!(m.rows[1].progress(), 0.0);
        phase(&mut m, 30, "b", Phase::Build);
        finished(&mut m, 40, "b", Outcome::Success);
        assert_eq!(m.rows[1].progress(), 1.0);
    }
}
