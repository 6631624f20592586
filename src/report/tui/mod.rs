//! `--top`: a full-screen live view of every builder (ratatui + crossterm).
//!
//! The terminal loop lives here: it feeds build events into the [`model`],
//! turns key presses into actions (move, open the log in `$PAGER`, cancel one
//! build, cancel all, quit), and redraws with [`view`]. Cancelling goes
//! through the run's cancel tokens, never around the executor. The terminal
//! is restored on every exit path, including a panic. `NO_COLOR` turns
//! colours off.

pub mod model;
pub mod view;

use std::io::{self, Stdout};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::{Duration, Instant};

use crossterm::event::{self, Event as TermEvent, KeyCode, KeyEventKind, KeyModifiers};
use crossterm::execute;
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;

use model::{Action, Key, Model};

use crate::run::context::Controls;
use crate::run::events::{Event, EventKind};
use crate::transport::cancel::CancelToken;

/// Redraw at most this often while events stream in.
const FRAME: Duration = Duration::from_millis(100);

fn colors_wanted() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

fn enter() -> io::Result<Terminal<CrosstermBackend<Stdout>>> {
    enable_raw_mode()?;
    execute!(io::stdout(), EnterAlternateScreen, crossterm::cursor::Hide)?;
    Terminal::new(CrosstermBackend::new(io::stdout()))
}

fn leave() {
    let _ = disable_raw_mode();
    let _ = execute!(io::stdout(), LeaveAlternateScreen, crossterm::cursor::Show);
}

/// Restores the terminal when dropped (also while unwinding).
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        leave();
    }
}

fn to_key(ev: &event::KeyEvent) -> Option<Key> {
    if ev.kind == KeyEventKind::Release {
        return None;
    }
    Some(match ev.code {
        KeyCode::Char('c') if ev.modifiers.contains(KeyModifiers::CONTROL) => Key::CtrlC,
        KeyCode::Char(c) => Key::Char(c),
        KeyCode::Up => Key::Up,
        KeyCode::Down => Key::Down,
        KeyCode::PageUp => Key::PageUp,
        KeyCode::PageDown => Key::PageDown,
        KeyCode::Home => Key::Home,
        KeyCode::End => Key::End,
        KeyCode::Enter => Key::Enter,
        KeyCode::Esc => Key::Esc,
        _ => return None,
    })
}

fn open_pager(path: &std::path::Path) -> io::Result<()> {
    let pager = std::env::var("PAGER")
        .ok()
        .filter(|p| !p.trim().is_empty())
        .unwrap_or_else(|| "less".into());
    let mut words = shell_words::split(&pager).unwrap_or_else(|_| vec![pager.clone()]);
    if words.is_empty() {
        words.push("less".into());
    }
    leave();
    let status = std::process::Command::new(&words[0])
        .args(&words[1..])
        .arg(path)
        .status();
    enable_raw_mode()?;
    execute!(io::stdout(), EnterAlternateScreen, crossterm::cursor::Hide)?;
    status.map(|_| ())
}

/// What waiting on the terminal gave.
#[derive(Debug, PartialEq, Eq)]
enum Input {
    Ready,
    Timeout,
    /// The terminal went away (window closed, tmux pane killed).
    Gone,
}

/// Wait for keys on stdin ourselves (poll(2)): a hung-up tty reads as
/// "ready" forever and crossterm's reader would spin on it, so crossterm is
/// only asked to read when there really is input.
fn wait_for_input(timeout: Duration) -> Input {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
    let stdin = io::stdin();
    let mut fds = [PollFd::new(stdin.as_fd(), PollFlags::POLLIN)];
    let ms = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
    match poll(&mut fds, PollTimeout::from(ms)) {
        Ok(0) => Input::Timeout,
        Ok(_) => match fds[0].revents() {
            Some(r)
                if r.intersects(PollFlags::POLLHUP | PollFlags::POLLERR | PollFlags::POLLNVAL) =>
            {
                Input::Gone
            }
            Some(r) if r.contains(PollFlags::POLLIN) => Input::Ready,
            _ => Input::Timeout,
        },
        Err(nix::errno::Errno::EINTR) => Input::Timeout,
        Err(_) => Input::Gone,
    }
}

/// Run the view until the user quits after the run ended (or quits and the
/// run has wound down). `signal` is the Ctrl-C token: SIGTERM/SIGHUP end the
/// view too.
pub fn run(
    rx: Receiver<Event>,
    controls: &Controls,
    signal: &CancelToken,
    started: Instant,
) -> io::Result<()> {
    let mut terminal = enter()?;
    let _restore = Restore;
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        leave();
        previous_hook(info);
    }));
    let color = colors_wanted();
    let mut model = Model::default();
    let mut executor_done = false;
    let mut quitting = false;
    let mut dirty = true;
    // No frame before the run has said which builders it has (its first
    // event): an empty table would flash first.
    let mut started_run = false;
    let mut last_draw = Instant::now() - FRAME;
    loop {
        // Build events first: they are what the view is for.
        loop {
            match rx.try_recv() {
                Ok(ev) => {
                    started_run |= matches!(ev.kind, EventKind::RunStarted { .. });
                    model.event(&ev);
                    dirty = true;
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    executor_done = true;
                    break;
                }
            }
        }
        if executor_done && (quitting || signal.is_cancelled()) {
            break;
        }
        if signal.is_cancelled() && !quitting {
            quitting = true;
        }
        if dirty && (started_run || executor_done) && last_draw.elapsed() >= FRAME {
            model.tick(started.elapsed());
            terminal.draw(|f| view::draw(f, &mut model, color))?;
            last_draw = Instant::now();
            dirty = false;
        }
        // Wait for input, but not longer than the next frame or a clock tick.
        let wait = if dirty {
            FRAME.saturating_sub(last_draw.elapsed())
        } else {
            Duration::from_millis(250)
        };
        match wait_for_input(wait.max(Duration::from_millis(10))) {
            Input::Gone => {
                // No one is watching: stop the builds, wait for them, leave.
                if executor_done {
                    break;
                }
                controls.run.cancel();
                quitting = true;
                if let Ok(ev) = rx.recv_timeout(Duration::from_millis(250)) {
                    model.event(&ev);
                }
                continue;
            }
            // Clocks move (and a resize shows) even when nothing happens.
            Input::Timeout => dirty = true,
            Input::Ready => {
                while event::poll(Duration::ZERO)? {
                    match event::read()? {
                        TermEvent::Key(k) => {
                            if let Some(key) = to_key(&k) {
                                match model.key(key) {
                                    Action::None => {}
                                    Action::CancelOne(name) => controls.builder(&name).cancel(),
                                    Action::CancelAll => controls.run.cancel(),
                                    Action::Quit => {
                                        quitting = true;
                                        if !executor_done {
                                            controls.run.cancel();
                                        }
                                    }
                                    Action::OpenPager(path) => {
                                        open_pager(&path)?;
                                        terminal.clear()?;
                                    }
                                }
                                dirty = true;
                            }
                        }
                        TermEvent::Resize(_, _) => {
                            terminal.autoresize()?;
                            dirty = true;
                        }
                        _ => {}
                    }
                }
            }
        }
        if executor_done && quitting {
            break;
        }
    }
    let _ = std::panic::take_hook();
    Ok(())
}
