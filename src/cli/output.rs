//! Shared flags and the one way the commands that build (`zoryn build`,
//! `zoryn task batch`, and `zoryn up` through build) show a run: which
//! builders (`-b/-a/-B`), how progress is shown (plain lines, `--json`,
//! `--top`), and [`drive`], which runs the core's work on a worker thread
//! and feeds its events to that view until it ends. Holds no run logic.

use std::io::IsTerminal;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use clap::Args;

use crate::farm::selection::SelectionRequest;
use crate::report::json::JsonReporter;
use crate::report::plain::PlainReporter;
use crate::report::Reporter;
use crate::run::context::Controls;
use crate::run::emitter::Emitter;
use crate::run::events::Event;
use crate::transport::cancel::CancelToken;

/// `-b`, `-a`, `-B`.
#[derive(Args, Debug, Clone, Default)]
pub struct SelectionArgs {
    /// Builders (pattern, e.g. `local2`, `local[2-4]`, `@all,^local`)
    #[arg(
        short = 'b',
        long = "builder",
        value_name = "PATTERN",
        add = super::complete::pattern()
    )]
    pub builder: Option<String>,
    /// Only builders of these architectures
    #[arg(
        short = 'a',
        long = "arch",
        value_name = "ARCH[,ARCH]",
        value_delimiter = ',',
        add = super::complete::arch()
    )]
    pub arch: Vec<String>,
    /// Only builders of these branches (and that branch's defaults)
    #[arg(
        short = 'B',
        long = "branch",
        value_name = "BRANCH[,BRANCH]",
        value_delimiter = ',',
        add = super::complete::branch()
    )]
    pub branch: Vec<String>,
}

impl SelectionArgs {
    pub fn request(&self) -> SelectionRequest {
        SelectionRequest {
            pattern: self.builder.clone(),
            arch: self.arch.clone(),
            branch: self.branch.clone(),
        }
    }
}

/// How progress is shown.
#[derive(Clone, Copy, Debug)]
pub struct OutputMode {
    pub json: bool,
    pub top: bool,
    pub verbose: bool,
    pub quiet: bool,
}

impl OutputMode {
    /// The view the flags ask for; `--top` without a terminal on both ends
    /// is a usage error.
    pub fn of(
        json: bool,
        top: bool,
        verbose: u8,
        quiet: bool,
    ) -> Result<OutputMode, super::error::Error> {
        if top && !top_possible() {
            return Err(super::error::Error::usage(
                "--top needs a terminal (stdin and stdout are not both one)",
                "drop --top, or use --json for machine-readable progress",
            ));
        }
        Ok(OutputMode {
            json,
            top,
            verbose: verbose > 0,
            quiet,
        })
    }
}

/// `--top` needs a real terminal on both ends.
pub fn top_possible() -> bool {
    std::io::stdout().is_terminal() && std::io::stdin().is_terminal()
}

/// Run `work` on a worker thread, show the events it emits (as `mode`
/// says) until it is done, and return what it returned; `None` if it
/// panicked. `started` is the run's clock for event times; `controls` and
/// `signal` let the `--top` view cancel builds.
pub fn drive<T: Send>(
    mode: OutputMode,
    controls: &Controls,
    signal: &CancelToken,
    started: Instant,
    work: impl FnOnce(&Emitter) -> T + Send,
) -> Option<T> {
    let (tx, rx) = mpsc::channel();
    let emitter = Emitter::new(tx, started);
    std::thread::scope(|s| {
        let worker = s.spawn(move || {
            // The emitter goes when the work is done: the view then ends.
            let emitter = emitter;
            work(&emitter)
        });
        show_events(rx, mode, controls, signal, started);
        worker.join().ok()
    })
}

/// Show the events of a run until its sender is gone: the `--top` view, JSON
/// lines, or plain/live lines. If the view fails, the run is cancelled.
fn show_events(
    rx: mpsc::Receiver<Event>,
    mode: OutputMode,
    controls: &Controls,
    signal: &CancelToken,
    started: Instant,
) {
    if mode.top {
        if let Err(e) = crate::report::tui::run(rx, controls, signal, started) {
            // The view failed (terminal gone): stop the builds cleanly.
            controls.run.cancel();
            super::error::Failures::default().report(super::error::Error::infra(
                format!("the --top view failed: {e}"),
                "run without --top, or with --json",
            ));
        }
        return;
    }
    let mut reporter: Box<dyn Reporter> = if mode.json {
        Box::new(JsonReporter::new(std::io::stdout(), mode.verbose))
    } else {
        let live = std::io::stderr().is_terminal() && std::env::var_os("ZORYN_NO_LIVE").is_none();
        let color = crate::report::color::enabled_for(std::io::stderr().is_terminal());
        Box::new(
            PlainReporter::new(std::io::stderr(), live, mode.verbose, mode.quiet).with_color(color),
        )
    };
    loop {
        match rx.recv_timeout(Duration::from_millis(250)) {
            Ok(ev) => reporter.event(&ev),
            Err(mpsc::RecvTimeoutError::Timeout) => reporter.tick(),
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    reporter.finish();
}
