//! The one way zoryn runs an external command.
//!
//! Every process zoryn starts — `git`, `gear`, `hsh`, `ssh` and `rsync` —
//! goes through [`run`] (streamed, cancellable) or [`capture`] (short queries).
//! The runner owns: the argv (never a shell string), extra environment, the
//! working directory, merging stdout+stderr into one ordered stream, and
//! cancellation. A cancelled command is stopped the way a terminal would stop
//! it — SIGINT to its whole process group — then SIGTERM and SIGKILL if it
//! lingers, so nothing it spawned survives.
//!
//! It must not know about builders, hasher or reporting: callers hand it a
//! line callback and get an [`Outcome`] back.

use std::ffi::OsString;
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use crate::transport::cancel::CancelToken;

/// How long a cancelled process group gets after SIGINT before SIGTERM, and
/// again before SIGKILL.
const GRACE: Duration = Duration::from_secs(5);
/// How long to keep reading output after the main process exited (a grandchild
/// may still hold the pipe open).
const DRAIN: Duration = Duration::from_secs(2);

/// A command to run: program and arguments as separate values.
#[derive(Clone, Debug)]
pub struct CommandSpec {
    pub program: OsString,
    pub args: Vec<OsString>,
    pub cwd: Option<PathBuf>,
    pub env: Vec<(OsString, OsString)>,
    /// Stop the command (like a cancel) when it runs longer than this.
    pub timeout: Option<Duration>,
    /// A file to read stdin from ([`capture_stream`] only; else stdin is
    /// closed).
    pub stdin: Option<PathBuf>,
}

impl CommandSpec {
    /// `argv[0]` and the rest. `argv` must not be empty.
    pub fn new<I, S>(argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        let mut it = argv.into_iter().map(Into::into);
        let program = it.next().unwrap_or_default();
        CommandSpec {
            program,
            args: it.collect(),
            cwd: None,
            env: Vec::new(),
            timeout: None,
            stdin: None,
        }
    }

    pub fn stdin_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.stdin = Some(path.into());
        self
    }

    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = Some(limit);
        self
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// The program name as the user would recognise it.
    pub fn program_name(&self) -> String {
        self.program.to_string_lossy().into_owned()
    }

    /// A shell-quoted rendering, for messages and `--dry-run` only.
    pub fn display(&self) -> String {
        let mut words = vec![self.program.to_string_lossy().into_owned()];
        words.extend(self.args.iter().map(|a| a.to_string_lossy().into_owned()));
        display_join(&words)
    }

    fn to_command(&self) -> Command {
        // A fork is cheap while zoryn has few threads (one build, the usual
        // edit-build loop): then no setpriv process is started before each
        // command. The wrapper pays off once many builds run at once.
        let wrapper = if few_threads() {
            None
        } else {
            pdeathsig_wrapper()
        };
        let mut cmd = match (wrapper, self.resolve()) {
            (Some(setpriv), Some(program)) => {
                let mut c = Command::new(setpriv);
                c.args(["--pdeathsig", "TERM", "--"]).arg(program);
                c
            }
            _ => {
                let mut c = Command::new(&self.program);
                die_with_zoryn(&mut c);
                c
            }
        };
        cmd.args(&self.args);
        if let Some(dir) = &self.cwd {
            cmd.current_dir(dir);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }
}

impl CommandSpec {
    /// The program's path as exec would find it (the spec's own PATH if it
    /// sets one); `None` if it is not there, so spawning it directly reports
    /// "not found" as usual.
    fn resolve(&self) -> Option<PathBuf> {
        use std::os::unix::ffi::OsStrExt;
        use std::os::unix::fs::PermissionsExt;
        let runnable = |c: &Path| {
            std::fs::metadata(c)
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        };
        if self.program.as_bytes().contains(&b'/') {
            let p = PathBuf::from(&self.program);
            let at = match &self.cwd {
                Some(dir) if p.is_relative() => dir.join(&p),
                _ => p.clone(),
            };
            return runnable(&at).then_some(p);
        }
        let path = self
            .env
            .iter()
            .rev()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.clone())
            .or_else(|| std::env::var_os("PATH"))?;
        std::env::split_paths(&path)
            .map(|d| d.join(&self.program))
            .find(|c| runnable(c))
    }
}

/// Threads up to which zoryn forks (with a pre-exec hook) rather than
/// going through [`pdeathsig_wrapper`].
const FORK_THREADS: usize = 16;

/// Does this process have at most [`FORK_THREADS`] threads right now?
fn few_threads() -> bool {
    std::fs::read_dir("/proc/self/task")
        .is_ok_and(|d| d.take(FORK_THREADS + 1).count() <= FORK_THREADS)
}

/// util-linux's `setpriv`, when installed and new enough: `setpriv --pdeathsig TERM --
/// PROGRAM` sets the parent-death signal (see [`die_with_zoryn`]) and execs
/// the program, so zoryn can start it with `posix_spawn` instead of a fork
/// with a pre-exec hook. A fork of a many-threaded zoryn copies its page
/// tables and flushes the TLBs of every CPU; with 64 builds running that was
/// about half of zoryn's own CPU time. With few threads (see
/// [`few_threads`]) the fork is cheaper than the extra exec.
fn pdeathsig_wrapper() -> Option<&'static Path> {
    static WRAPPER: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    WRAPPER
        .get_or_init(|| {
            let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"]
                .into_iter()
                .map(PathBuf::from)
                .find(|p| p.is_file())?;
            // util-linux before 2.33 has no --pdeathsig: then every child
            // would fail. Its option table names it: found there, no
            // process is started to ask (one less before every run's
            // first command); else ask once.
            if std::fs::read(&setpriv).is_ok_and(|b| b.windows(10).any(|w| w == b"\0pdeathsig")) {
                return Some(setpriv);
            }
            Command::new(&setpriv)
                .args(["--pdeathsig", "TERM", "--", "true"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
                .then_some(setpriv)
        })
        .as_deref()
}

/// The child gets SIGTERM when zoryn dies, however it dies (SIGKILL, OOM
/// killer): children run in process groups of their own, so nothing else
/// would stop a local `hsh` (holding its workdir lock) or an `ssh` (keeping
/// the remote build's terminal open) after zoryn is gone. hsh, rsync and ssh
/// stop what they started on SIGTERM; a remote build gets SIGHUP from its
/// terminal. The parent-death signal follows the spawning *thread*; the
/// runner's callers spawn and wait on the same thread.
fn die_with_zoryn(cmd: &mut Command) {
    let parent = nix::unistd::getpid();
    // SAFETY: prctl, getppid and raise are async-signal-safe system calls;
    // nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(Signal::SIGTERM)
                .map_err(|e| std::io::Error::from_raw_os_error(e as i32))?;
            // zoryn died before the prctl took effect.
            if nix::unistd::getppid() != parent {
                let _ = nix::sys::signal::raise(Signal::SIGTERM);
            }
            Ok(())
        });
    }
}

/// Quote words for showing to a person: as `sh` would accept them, but
/// without quotes where none are needed (`--number=3`, `user@host:/p`).
pub fn display_join<S: AsRef<str>>(words: &[S]) -> String {
    words
        .iter()
        .map(|w| {
            let w = w.as_ref();
            let plain = !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_./=:,@%+-".contains(c))
                && !w.starts_with('=');
            if plain {
                w.to_string()
            } else {
                shell_words::quote(w).into_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// How a streamed command ended.
#[derive(Debug)]
pub enum Outcome {
    /// It ran to the end; the status says how.
    Exited(ExitStatus),
    /// It was stopped because the cancel token fired.
    Cancelled,
    /// It was stopped because it ran past its timeout.
    TimedOut,
}

impl Outcome {
    pub fn success(&self) -> bool {
        matches!(self, Outcome::Exited(s) if s.success())
    }

    /// Exit code, or 128+signal for a signalled process.
    pub fn code(&self) -> Option<i32> {
        match self {
            Outcome::Exited(s) => s.code().or_else(|| s.signal().map(|n| 128 + n)),
            Outcome::Cancelled | Outcome::TimedOut => None,
        }
    }
}

/// A command could not be started at all.
#[derive(Debug)]
pub struct SpawnError {
    pub program: String,
    pub source: std::io::Error,
}

impl SpawnError {
    pub fn not_found(&self) -> bool {
        self.source.kind() == std::io::ErrorKind::NotFound
    }
}

impl std::fmt::Display for SpawnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot run `{}`: {}", self.program, self.source)
    }
}

/// Logs how long a command ran, at debug level under the target
/// `zoryn::commands` (`ZORYN_LOG=zoryn::commands=debug`): where the time of
/// a build goes, process by process.
struct Timing<'a> {
    spec: &'a CommandSpec,
    started: std::time::Instant,
}

impl<'a> Timing<'a> {
    fn start(spec: &'a CommandSpec) -> Self {
        Timing {
            spec,
            started: std::time::Instant::now(),
        }
    }
}

impl Drop for Timing<'_> {
    fn drop(&mut self) {
        if tracing::enabled!(target: "zoryn::commands", tracing::Level::DEBUG) {
            // The program and the end of the line (for ssh, the remote
            // command rather than its options).
            let words = self.spec.display();
            let program = self.spec.program_name();
            let cut = words.len().saturating_sub(120);
            let words = match (cut..words.len()).find(|&i| words.is_char_boundary(i)) {
                Some(i) if i > program.len() => format!("{program} …{}", &words[i..]),
                _ => words,
            };
            tracing::debug!(
                target: "zoryn::commands",
                "{:.1} ms: {words}",
                self.started.elapsed().as_secs_f64() * 1e3
            );
        }
    }
}

enum Msg {
    Chunk(Vec<u8>),
    Eof,
    Exited(std::io::Result<ExitStatus>),
    Cancel,
}

/// Run a command to completion, feeding every output chunk (stdout and
/// stderr merged, in order) to `on_output`. stdin is closed. Returns when the
/// process has exited, or after it was stopped because `cancel` fired.
pub fn run(
    spec: &CommandSpec,
    cancel: &CancelToken,
    mut on_output: impl FnMut(&[u8]),
) -> Result<Outcome, SpawnError> {
    let _timing = Timing::start(spec);
    let spawn_err = |source| SpawnError {
        program: spec.program_name(),
        source,
    };
    let (reader, writer) = std::io::pipe().map_err(spawn_err)?;
    let writer2 = writer.try_clone().map_err(spawn_err)?;
    let mut cmd = spec.to_command();
    cmd.stdin(Stdio::null())
        .stdout(writer)
        .stderr(writer2)
        .process_group(0);
    let (tx, rx) = mpsc::channel::<Msg>();
    // Register before spawning so a cancel that races the spawn is not lost.
    let subscription = cancel.subscribe({
        let tx = tx.clone();
        move || {
            let _ = tx.send(Msg::Cancel);
        }
    });
    let mut child = cmd.spawn().map_err(spawn_err)?;
    // Our copies of the write ends must go, or EOF never comes.
    drop(cmd);
    let pgid = Pid::from_raw(child.id() as i32);

    let reader_tx = tx.clone();
    let reader_thread = thread::spawn(move || {
        let mut reader = reader;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match reader.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if reader_tx.send(Msg::Chunk(buf[..n].to_vec())).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = reader_tx.send(Msg::Eof);
    });
    let waiter_tx = tx.clone();
    thread::spawn(move || {
        let status = child.wait();
        let _ = waiter_tx.send(Msg::Exited(status));
    });
    drop(tx);

    let mut exited: Option<std::io::Result<ExitStatus>> = None;
    let mut eof = false;
    let mut cancelled = cancel.is_cancelled();
    let mut timed_out = false;
    let deadline = spec.timeout.map(|t| std::time::Instant::now() + t);
    let mut escalation = 0u8;
    if cancelled {
        let _ = killpg(pgid, Signal::SIGINT);
    }
    loop {
        if eof && exited.is_some() {
            break;
        }
        let timeout = if exited.is_some() {
            DRAIN
        } else if cancelled {
            GRACE
        } else if let Some(d) = deadline {
            d.saturating_duration_since(std::time::Instant::now())
        } else {
            Duration::from_secs(3600)
        };
        match rx.recv_timeout(timeout) {
            Ok(Msg::Chunk(bytes)) => on_output(&bytes),
            Ok(Msg::Eof) => eof = true,
            Ok(Msg::Exited(status)) => {
                exited = Some(status);
                if cancelled {
                    // The leader is gone; nothing it left behind may stay.
                    let _ = killpg(pgid, Signal::SIGKILL);
                }
            }
            Ok(Msg::Cancel) => {
                if !cancelled && exited.is_none() {
                    cancelled = true;
                    let _ = killpg(pgid, Signal::SIGINT);
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if exited.is_some() {
                    // A grandchild holds the pipe; stop waiting for it and
                    // make sure it does not outlive the build.
                    let _ = killpg(pgid, Signal::SIGKILL);
                    break;
                }
                if !cancelled && deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                    cancelled = true;
                    timed_out = true;
                    let _ = killpg(pgid, Signal::SIGINT);
                    continue;
                }
                if cancelled {
                    escalation += 1;
                    let sig = if escalation == 1 {
                        Signal::SIGTERM
                    } else {
                        Signal::SIGKILL
                    };
                    let _ = killpg(pgid, sig);
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    drop(subscription);
    if eof {
        let _ = reader_thread.join();
    }
    if cancelled {
        // Whatever else is left in the group goes too.
        let _ = killpg(pgid, Signal::SIGKILL);
        return Ok(if timed_out {
            Outcome::TimedOut
        } else {
            Outcome::Cancelled
        });
    }
    match exited {
        Some(Ok(status)) => Ok(Outcome::Exited(status)),
        Some(Err(e)) => Err(spawn_err(e)),
        None => Err(spawn_err(std::io::Error::other(
            "lost track of the process",
        ))),
    }
}

/// Output of a short query command.
#[derive(Debug)]
pub struct Captured {
    /// `None` when it was stopped (timeout or cancel).
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
}

impl Captured {
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    pub fn code(&self) -> Option<i32> {
        self.status.and_then(|s| s.code())
    }
}

/// Run a short query (`git rev-parse`, a remote probe) and capture stdout
/// and stderr separately. Honours the spec's timeout (then the status is
/// `None`) and the cancel token.
pub fn capture(spec: &CommandSpec, cancel: &CancelToken) -> Result<Captured, SpawnError> {
    let (mut captured, stdout) = capture_stream(spec, cancel, |r| {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        buf
    })?;
    captured.stdout = String::from_utf8_lossy(&stdout.unwrap_or_default()).into_owned();
    Ok(captured)
}

/// Like [`capture`], but stdout is handed to `consume` on a thread of its
/// own (e.g. to unpack a stream) instead of being collected; the returned
/// `Captured` has an empty `stdout`. If `consume` returns before the end of
/// the stream, the pipe closes and the command gets SIGPIPE. `None` for
/// `consume`'s result means its thread panicked.
pub fn capture_stream<R: Send + 'static>(
    spec: &CommandSpec,
    cancel: &CancelToken,
    consume: impl FnOnce(&mut dyn Read) -> R + Send + 'static,
) -> Result<(Captured, Option<R>), SpawnError> {
    let stdin = match &spec.stdin {
        Some(p) => Stdio::from(std::fs::File::open(p).map_err(|source| SpawnError {
            program: spec.program_name(),
            source,
        })?),
        None => Stdio::null(),
    };
    capture_stream_from(spec, stdin, cancel, consume)
}

/// [`capture_stream`] with stdin read from `stdin` (say, a pipe this side
/// writes to while the command runs) instead of `spec`'s.
pub fn capture_stream_from<R: Send + 'static>(
    spec: &CommandSpec,
    stdin: Stdio,
    cancel: &CancelToken,
    consume: impl FnOnce(&mut dyn Read) -> R + Send + 'static,
) -> Result<(Captured, Option<R>), SpawnError> {
    let _timing = Timing::start(spec);
    let spawn_err = |source| SpawnError {
        program: spec.program_name(),
        source,
    };
    let mut cmd = spec.to_command();
    cmd.stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let (tx, rx) = mpsc::channel::<Option<std::io::Result<ExitStatus>>>();
    let subscription = cancel.subscribe({
        let tx = tx.clone();
        move || {
            let _ = tx.send(None);
        }
    });
    let mut child = cmd.spawn().map_err(spawn_err)?;
    let pgid = Pid::from_raw(child.id() as i32);
    let stdout = child.stdout.take();
    let out_t = thread::spawn(move || {
        let mut r: Box<dyn Read + Send> = match stdout {
            Some(r) => Box::new(r),
            None => Box::new(std::io::empty()),
        };
        consume(&mut r)
    });
    let stderr = child.stderr.take();
    let err_t = thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut r) = stderr {
            let _ = r.read_to_end(&mut buf);
        }
        buf
    });
    thread::spawn(move || {
        let _ = tx.send(Some(child.wait()));
    });
    let limit = spec.timeout.unwrap_or(Duration::from_secs(24 * 3600));
    let status = if cancel.is_cancelled() {
        None
    } else {
        match rx.recv_timeout(limit) {
            Ok(Some(status)) => Some(status.map_err(spawn_err)?),
            Ok(None) | Err(_) => None,
        }
    };
    drop(subscription);
    if status.is_none() {
        let _ = killpg(pgid, Signal::SIGKILL);
    }
    let consumed = out_t.join().ok();
    let stderr = err_t.join().unwrap_or_default();
    Ok((
        Captured {
            status,
            stdout: String::new(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        },
        consumed,
    ))
}

/// Split a byte stream into lines across chunk boundaries.
#[derive(Default)]
pub struct LineSplitter {
    partial: Vec<u8>,
}

impl LineSplitter {
    /// Feed a chunk; calls `on_line` for every complete line (without the
    /// newline; a trailing `\r` is dropped too).
    pub fn feed(&mut self, chunk: &[u8], mut on_line: impl FnMut(&str)) {
        for &b in chunk {
            if b == b'\n' {
                let mut line = std::mem::take(&mut self.partial);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                on_line(&String::from_utf8_lossy(&line));
            } else {
                self.partial.push(b);
            }
        }
    }

    /// The unterminated rest, if any.
    pub fn finish(&mut self, mut on_line: impl FnMut(&str)) {
        if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            on_line(&String::from_utf8_lossy(&line));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitter_handles_chunk_boundaries() {
        let mut s = LineSplitter::default();
        let mut lines = Vec::new();
        s.feed(b"ab", |l| lines.push(l.to_string()));
        s.feed(b"c\r\nde\nf", |l| lines.push(l.to_string()));
        s.finish(|l| lines.push(l.to_string()));
        assert_eq!(lines, ["abc", "de", "f"]);
    }

    #[test]
    fn run_merges_output_in_order_and_reports_status() {
        let cancel = CancelToken::new();
        let mut out = Vec::new();
        let spec = CommandSpec::new(["sh", "-c", "echo one; echo two >&2; exit 3"]);
        let outcome = run(&spec, &cancel, |b| out.extend_from_slice(b)).unwrap();
        assert_eq!(outcome.code(), Some(3));
        assert_eq!(String::from_utf8(out).unwrap(), "one\ntwo\n");
    }

    #[test]
    fn cancel_stops_the_whole_process_group() {
        let cancel = CancelToken::new();
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let script = format!(
            "sleep 300 & echo $! > {}; echo started; wait",
            pidfile.display()
        );
        let spec = CommandSpec::new(["sh".to_string(), "-c".to_string(), script]);
        let c2 = cancel.clone();
        let outcome = run(&spec, &cancel, |b| {
            if b.windows(7).any(|w| w == b"started") {
                c2.cancel();
            }
        })
        .unwrap();
        assert!(matches!(outcome, Outcome::Cancelled));
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // SIGKILL was sent before `run` returned; the kernel finishes it at
        // once, so a live, non-zombie `sleep` here means it was never killed.
        let alive = || {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|s| !s.contains(") Z "))
                .unwrap_or(false)
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while alive() && std::time::Instant::now() < deadline {
            thread::yield_now();
        }
        assert!(!alive(), "sleep {pid} survived cancellation");
    }

    #[test]
    fn display_quotes_only_where_needed() {
        let w = ["sudo", "hasher-useradd", "--number=3", "it's", "a b", "$x"];
        assert_eq!(
            display_join(&w),
            "sudo hasher-useradd --number=3 'it'\\''s' 'a b' '$x'"
        );
        assert_eq!(shell_words::split(&display_join(&w)).unwrap(), w);
    }

    #[test]
    fn timeout_stops_a_command() {
        let cancel = CancelToken::new();
        let spec = CommandSpec::new(["sleep", "30"]).timeout(Duration::from_millis(200));
        assert!(matches!(
            run(&spec, &cancel, |_| {}).unwrap(),
            Outcome::TimedOut
        ));
        let c = capture(&spec, &cancel).unwrap();
        assert!(c.status.is_none());
    }

    #[test]
    fn capture_separates_streams() {
        let c = capture(
            &CommandSpec::new(["sh", "-c", "echo out; echo err >&2; exit 4"]),
            &CancelToken::new(),
        )
        .unwrap();
        assert_eq!(
            (c.stdout.as_str(), c.stderr.as_str(), c.code()),
            ("out\n", "err\n", Some(4))
        );
    }

    #[test]
    fn missing_program_is_a_spawn_error() {
        let cancel = CancelToken::new();
        let err = run(
            &CommandSpec::new(["/nonexistent/zoryn-test-prog"]),
            &cancel,
            |_| {},
        )
        .unwrap_err();
        assert!(err.not_found());
    }
}
