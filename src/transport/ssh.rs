//! SSH to builder hosts: the system `ssh`, one ControlMaster per host.
//!
//! A [`Host`] owns everything about one SSH destination: the ssh options
//! (keepalives, BatchMode, the ControlMaster socket under the runtime dir),
//! the stale-master check (`ssh -O check`, not needed while the master
//! the kept facts name still runs), a bound on concurrent sessions, and the facts
//! learned from it once per run (home, `uname -m`, user, uid) — or, while
//! the same ControlMaster process lives, once per master: they are kept in
//! the private runtime dir under its pid and start time, saving a round
//! trip per build. Remote
//! commands are always built from argv and quoted here; nothing else in zoryn
//! builds a remote command string.
//!
//! Host keys are never accepted automatically: zoryn does not touch
//! `StrictHostKeyChecking`, so the user's ssh_config and known_hosts decide.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

use crate::config::arch;
use crate::config::global::GlobalConfig;
use crate::transport::cancel::CancelToken;
use crate::transport::runner::{capture, CommandSpec};

/// How long a connection may take to come up.
pub const CONNECT_TIMEOUT_SECS: u32 = 15;
/// Bound for short remote queries (probes, listings).
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(120);

/// ssh settings shared by all hosts of a run.
#[derive(Clone, Debug)]
pub struct SshSettings {
    pub program: Vec<String>,
    pub multiplexing: bool,
    pub persist: Duration,
    pub max_sessions: u32,
    /// Keepalive: a dead link is noticed after interval × count seconds.
    pub alive_interval: u32,
    pub alive_count: u32,
    pub runtime_dir: PathBuf,
    /// Whether `runtime_dir` was found (or made) private, decided on first
    /// use: ControlMaster sockets only go into a directory of ours, 0700.
    pub runtime_ok: Arc<OnceLock<bool>>,
}

impl SshSettings {
    pub fn from_config(global: &GlobalConfig, runtime_dir: PathBuf) -> SshSettings {
        SshSettings {
            program: global.commands.ssh.clone(),
            multiplexing: global.ssh.multiplexing,
            persist: global.ssh.persist,
            max_sessions: global.ssh.max_sessions,
            alive_interval: global.ssh.alive_interval,
            alive_count: global.ssh.alive_count,
            runtime_dir,
            runtime_ok: Arc::new(OnceLock::new()),
        }
    }

    /// Multiplex through a ControlMaster? Only when configured and the
    /// runtime dir is private; otherwise every ssh connects on its own (and
    /// a warning says why once).
    pub fn use_master(&self) -> bool {
        self.multiplexing
            && *self
                .runtime_ok
                .get_or_init(|| match private_dir(&self.runtime_dir) {
                    Ok(()) => true,
                    Err(why) => {
                        tracing::warn!(
                            "not sharing ssh connections (ControlMaster): {why}; \
                             set XDG_RUNTIME_DIR to a directory only you can use"
                        );
                        false
                    }
                })
    }
}

/// Make `dir` exist as a directory of this user that nobody else can use
/// (created 0700; an existing one of ours is tightened to 0700). Refused: a
/// symlink, something else than a directory, another owner — a
/// ControlMaster socket there could be used or replaced by someone else.
pub fn private_dir(dir: &std::path::Path) -> Result<(), String> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    if let Some(parent) = dir.parent() {
        let _ = std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent);
    }
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("cannot create {}: {e}", dir.display())),
    }
    let meta = std::fs::symlink_metadata(dir)
        .map_err(|e| format!("cannot inspect {}: {e}", dir.display()))?;
    if !meta.file_type().is_dir() {
        return Err(format!("{} is not a directory", dir.display()));
    }
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me {
        return Err(format!(
            "{} belongs to uid {}, not to you (uid {me})",
            dir.display(),
            meta.uid()
        ));
    }
    if meta.mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("cannot make {} private: {e}", dir.display()))?;
    }
    Ok(())
}

/// A process's state letter and start time (fields 3 and 22 of
/// `/proc/PID/stat`, counted after the ")" that ends its name).
fn proc_state_and_start(pid: u32) -> Option<(char, String)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
    let state = fields.next()?.chars().next()?;
    Some((state, fields.nth(18)?.to_string()))
}

/// Quote argv for the remote POSIX shell: each word stays one argument.
pub fn remote_command(argv: &[String]) -> String {
    shell_words::join(argv)
}

/// Why talking to a host failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportError {
    pub host: String,
    pub message: String,
    pub hint: String,
}

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// What a host told us about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostFacts {
    pub home: String,
    /// ALT spelling of `uname -m`.
    pub arch: String,
    pub user: String,
    pub uid: u32,
}

/// A counting semaphore for sessions to one host.
struct Sessions {
    free: Mutex<u32>,
    cv: Condvar,
}

/// Holds one session slot until dropped.
pub struct SessionGuard<'a> {
    sessions: &'a Sessions,
}

impl Drop for SessionGuard<'_> {
    fn drop(&mut self) {
        let mut free = self.sessions.free.lock().unwrap_or_else(|p| p.into_inner());
        *free += 1;
        self.sessions.cv.notify_one();
    }
}

pub struct Host {
    pub destination: String,
    settings: Arc<SshSettings>,
    master_checked: Mutex<bool>,
    /// The ControlMaster's pid, as `ssh -O check` reported it this run.
    master_pid: Mutex<Option<u32>>,
    sessions: Sessions,
    facts: OnceLock<Result<HostFacts, TransportError>>,
}

impl Host {
    pub fn new(destination: &str, settings: Arc<SshSettings>) -> Host {
        let n = settings.max_sessions.max(1);
        Host {
            destination: destination.to_string(),
            settings,
            master_checked: Mutex::new(false),
            master_pid: Mutex::new(None),
            sessions: Sessions {
                free: Mutex::new(n),
                cv: Condvar::new(),
            },
            facts: OnceLock::new(),
        }
    }

    /// Wait for a free session slot on this host.
    pub fn session(&self) -> SessionGuard<'_> {
        let mut free = self.sessions.free.lock().unwrap_or_else(|p| p.into_inner());
        while *free == 0 {
            free = self
                .sessions
                .cv
                .wait(free)
                .unwrap_or_else(|p| p.into_inner());
        }
        *free -= 1;
        SessionGuard {
            sessions: &self.sessions,
        }
    }

    /// A session slot on this host without waiting, when one more than
    /// that is free: the caller's own next [`Host::session`] must not wait
    /// for the slot this one holds.
    pub fn try_spare_session(&self) -> Option<SessionGuard<'_>> {
        let mut free = self.sessions.free.lock().unwrap_or_else(|p| p.into_inner());
        if *free < 2 {
            return None;
        }
        *free -= 1;
        Some(SessionGuard {
            sessions: &self.sessions,
        })
    }

    /// About how long a silent host is waited for before ssh gives up on it
    /// (`alive_interval × alive_count` seconds).
    pub fn keepalive_bound_secs(&self) -> u32 {
        self.settings
            .alive_interval
            .saturating_mul(self.settings.alive_count)
    }

    /// `-o` options every ssh to this host gets.
    pub fn ssh_options(&self) -> Vec<String> {
        self.ssh_options_with(CONNECT_TIMEOUT_SECS)
    }

    fn ssh_options_with(&self, connect_timeout: u32) -> Vec<String> {
        let mut o = vec![
            format!("ServerAliveInterval={}", self.settings.alive_interval),
            format!("ServerAliveCountMax={}", self.settings.alive_count),
            format!("ConnectTimeout={connect_timeout}"),
        ];
        if self.settings.use_master() {
            o.push("ControlMaster=auto".into());
            o.push(format!(
                "ControlPath={}",
                self.settings.runtime_dir.join("%C").display()
            ));
            o.push(format!(
                "ControlPersist={}",
                self.settings.persist.as_secs().max(1)
            ));
        } else {
            o.push("ControlMaster=no".into());
            o.push("ControlPath=none".into());
        }
        o.into_iter().flat_map(|x| ["-o".to_string(), x]).collect()
    }

    /// The ssh program plus options, as argv (no destination).
    pub fn ssh_argv(&self, batch: bool) -> Vec<String> {
        let mut v = self.settings.program.clone();
        if batch {
            v.extend(["-o".to_string(), "BatchMode=yes".to_string()]);
        }
        v.extend(self.ssh_options());
        v
    }

    /// The same as one string, for `rsync -e`.
    pub fn rsync_rsh(&self) -> String {
        shell_words::join(self.ssh_argv(true))
    }

    /// A command running `argv` on the host (no terminal).
    pub fn command(&self, argv: &[String]) -> CommandSpec {
        CommandSpec::new(self.ssh_argv(true))
            .arg("--")
            .arg(&self.destination)
            .arg(remote_command(argv))
    }

    /// A command running `argv` on a remote pseudo-terminal, so the remote
    /// processes get SIGHUP when the connection goes away.
    pub fn command_tty(&self, argv: &[String]) -> CommandSpec {
        CommandSpec::new(self.ssh_argv(true))
            .args(["-tt", "-q", "--"])
            .arg(&self.destination)
            .arg(remote_command(argv))
    }

    /// An interactive command (user's terminal, may prompt).
    pub fn command_interactive(&self, argv: &[String]) -> CommandSpec {
        CommandSpec::new(self.ssh_argv(false))
            .args(["-t", "--"])
            .arg(&self.destination)
            .arg(remote_command(argv))
    }

    /// Make sure a dead or hung ControlMaster does not stand in the way:
    /// `ssh -O check`, and if the socket is there but the master does not
    /// answer, ask it to exit and remove the socket. Done once per run.
    pub fn check_master(&self, cancel: &CancelToken) {
        if !self.settings.use_master() {
            return;
        }
        let mut checked = self
            .master_checked
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if *checked {
            return;
        }
        *checked = true;
        // The master an earlier run kept facts for, still running (not
        // stopped) as the same process: what `-O check` would say, without
        // starting ssh for it (it is on the path of every build).
        if let Some(pid) = self.kept_master() {
            *self.master_pid.lock().unwrap_or_else(|p| p.into_inner()) = Some(pid);
            return;
        }
        // One `ssh -O check` answers the common cases: a live master, or no
        // socket at all. Only a socket nobody answers on is looked up
        // (`ssh -G`) and replaced.
        let check = CommandSpec::new(self.ssh_argv(true))
            .args(["-O", "check", "--"])
            .arg(&self.destination)
            .timeout(Duration::from_secs(5));
        let answer = capture(&check, cancel);
        let healthy = answer.as_ref().is_ok_and(|c| c.success());
        if let Some(c) = answer.as_ref().ok().filter(|_| healthy) {
            // "Master running (pid=N)"
            let pid = c
                .stderr
                .split("pid=")
                .nth(1)
                .map(|r| {
                    r.chars()
                        .take_while(char::is_ascii_digit)
                        .collect::<String>()
                })
                .and_then(|d| d.parse().ok());
            *self.master_pid.lock().unwrap_or_else(|p| p.into_inner()) = pid;
        }
        let absent = answer
            .as_ref()
            .is_ok_and(|c| c.stderr.contains("No such file or directory"));
        if healthy || absent {
            return;
        }
        let Some(socket) = self.control_path(cancel) else {
            return;
        };
        if !socket.exists() {
            return;
        }
        tracing::info!(
            "{}: stale ControlMaster socket {}, replacing it",
            self.destination,
            socket.display()
        );
        let exit = CommandSpec::new(self.ssh_argv(true))
            .args(["-O", "exit", "--"])
            .arg(&self.destination)
            .timeout(Duration::from_secs(5));
        let _ = capture(&exit, cancel);
        let _ = std::fs::remove_file(&socket);
    }

    /// The expanded ControlPath ssh will use (`ssh -G`).
    fn control_path(&self, cancel: &CancelToken) -> Option<PathBuf> {
        let spec = CommandSpec::new(self.ssh_argv(true))
            .args(["-G", "--"])
            .arg(&self.destination)
            .timeout(Duration::from_secs(10));
        let out = capture(&spec, cancel).ok()?;
        out.stdout.lines().find_map(|l| {
            l.strip_prefix("controlpath ")
                .filter(|p| *p != "none")
                .map(PathBuf::from)
        })
    }

    /// Facts about the host, learned once (this also starts the master).
    pub fn facts(&self, cancel: &CancelToken) -> Result<&HostFacts, TransportError> {
        self.facts
            .get_or_init(|| self.probe(cancel))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The file this host's facts are kept in (see [`Self::facts_cache`]).
    fn facts_file(&self) -> PathBuf {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        std::hash::Hash::hash(&self.destination, &mut h);
        std::hash::Hash::hash(&self.settings.program, &mut h);
        self.settings
            .runtime_dir
            .join(format!("facts-{:016x}", std::hash::Hasher::finish(&h)))
    }

    /// The first line of the kept facts, up to the master's identity.
    fn facts_id_prefix(&self) -> String {
        format!(
            "zoryn host facts 1 {:?} {:?} ",
            self.destination, self.settings.program
        )
    }

    /// The master named in the kept facts, when that process still runs
    /// with the same start time and is not stopped, traced or a zombie.
    fn kept_master(&self) -> Option<u32> {
        let text = std::fs::read_to_string(self.facts_file()).ok()?;
        let rest = text.lines().next()?.strip_prefix(&self.facts_id_prefix())?;
        let (pid, start) = rest.strip_prefix("master=")?.split_once(" start=")?;
        let pid: u32 = pid.parse().ok()?;
        let (state, now) = proc_state_and_start(pid)?;
        (now == start && matches!(state, 'R' | 'S' | 'D')).then_some(pid)
    }

    /// Where this host's facts are kept between runs, and the identity of
    /// the connection they belong to: the live ControlMaster (its pid and
    /// start time, from `/proc`). The same master process is the same
    /// connection to the same account on the same machine, so the facts
    /// cannot have changed; a new master asks again. `None` without a
    /// master (or without `/proc`): then the facts are always asked.
    fn facts_cache(&self) -> Option<(PathBuf, String)> {
        if !self.settings.use_master() {
            return None;
        }
        let pid = (*self.master_pid.lock().unwrap_or_else(|p| p.into_inner()))?;
        let (_, start) = proc_state_and_start(pid)?;
        let id = format!("{}master={pid} start={start}", self.facts_id_prefix());
        Some((self.facts_file(), id))
    }

    fn probe(&self, cancel: &CancelToken) -> Result<HostFacts, TransportError> {
        self.check_master(cancel);
        let cache = self.facts_cache();
        if let Some((file, id)) = &cache {
            if let Ok(text) = std::fs::read_to_string(file) {
                if let Some(rest) = text.strip_prefix(&format!("{id}\n")) {
                    if let Ok(f) = self.parse_facts(rest) {
                        return Ok(f);
                    }
                }
            }
        }
        let script = "printf 'home=%s\\n' \"$HOME\"; printf 'machine=%s\\n' \"$(uname -m)\"; printf 'user=%s\\n' \"$(id -un)\"; printf 'uid=%s\\n' \"$(id -u)\"";
        let argv = vec!["sh".to_string(), "-c".to_string(), script.to_string()];
        let out = self.query(&argv, cancel)?;
        if !out.success() {
            return Err(self.error_from(&out.stderr, out.code()));
        }
        let facts = self.parse_facts(&out.stdout)?;
        // The master may have been started by this very query: then its
        // identity is known only from the next run's check.
        if let Some((file, id)) = cache {
            let _ = crate::config::write_atomic(&file, &format!("{id}\n{}", out.stdout));
        }
        Ok(facts)
    }

    /// The facts script's answer (`home=`, `machine=`, `user=`, `uid=`).
    fn parse_facts(&self, stdout: &str) -> Result<HostFacts, TransportError> {
        let get = |k: &str| {
            stdout
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{k}=")).map(str::to_string))
                .unwrap_or_default()
        };
        let facts = HostFacts {
            home: get("home"),
            arch: arch::from_uname(&get("machine")),
            user: get("user"),
            uid: get("uid").parse().unwrap_or(0),
        };
        if !facts.home.starts_with('/') {
            return Err(TransportError {
                host: self.destination.clone(),
                message: format!(
                    "the remote shell did not report a home directory (got {:?})",
                    facts.home
                ),
                hint: "make sure the remote account has a POSIX login shell and HOME set".into(),
            });
        }
        Ok(facts)
    }

    /// Run a short remote command and capture its output (bounded time).
    pub fn query(
        &self,
        argv: &[String],
        cancel: &CancelToken,
    ) -> Result<crate::transport::runner::Captured, TransportError> {
        self.query_spec(self.command(argv).timeout(QUERY_TIMEOUT), cancel)
    }

    /// [`query`](Self::query) right after the connection was lost (cleaning
    /// up a build): a host that does not answer within the keepalive bound
    /// now is not waited for the full connect timeout again.
    pub fn query_after_loss(
        &self,
        argv: &[String],
        cancel: &CancelToken,
    ) -> Result<crate::transport::runner::Captured, TransportError> {
        let bound = self.keepalive_bound_secs().clamp(2, CONNECT_TIMEOUT_SECS);
        let mut v = self.settings.program.clone();
        v.extend(["-o".to_string(), "BatchMode=yes".to_string()]);
        v.extend(self.ssh_options_with(bound));
        let spec = CommandSpec::new(v)
            .arg("--")
            .arg(&self.destination)
            .arg(remote_command(argv))
            .timeout(Duration::from_secs(u64::from(bound) * 2 + 10));
        self.query_spec(spec, cancel)
    }

    fn query_spec(
        &self,
        spec: CommandSpec,
        cancel: &CancelToken,
    ) -> Result<crate::transport::runner::Captured, TransportError> {
        let _slot = self.session();
        let out = capture(&spec, cancel).map_err(|e| TransportError {
            host: self.destination.clone(),
            message: format!("{}: {e}", self.destination),
            hint: "install openssh-client, or set [commands] ssh in ~/.zoryn".into(),
        })?;
        if out.status.is_none() {
            return Err(TransportError {
                host: self.destination.clone(),
                message: if cancel.is_cancelled() {
                    format!("{}: interrupted", self.destination)
                } else {
                    format!(
                        "no answer from {} within {}s",
                        self.destination,
                        spec.timeout.unwrap_or(QUERY_TIMEOUT).as_secs()
                    )
                },
                hint: "check that the host is up and not overloaded".into(),
            });
        }
        if out.code() == Some(255) {
            return Err(self.error_from(&out.stderr, Some(255)));
        }
        Ok(out)
    }

    /// An established connection that ended (exit 255 mid-session):
    /// `stderr` holds ssh's own lines, if it said anything. ssh says nothing
    /// when keepalives go unanswered or the peer vanishes: say what that
    /// means.
    pub fn connection_lost(&self, stderr: &str) -> TransportError {
        let mut e = self.error_from(stderr, Some(255));
        if e.message.ends_with("ssh failed without a message") {
            e.message = format!(
                "cannot reach {}: ssh ended without a message (the host stopped answering \
                 keepalives for about {} s, or it closed the connection)",
                self.destination,
                self.keepalive_bound_secs()
            );
            e.hint = format!(
                "check that {0} is up and reachable (`ssh {0} true`); a silent host is given up \
                 after [ssh] alive_interval × alive_count seconds",
                self.destination
            );
        }
        e
    }

    /// A transport error from ssh's stderr, with a hint for the usual causes.
    pub fn error_from(&self, stderr: &str, code: Option<i32>) -> TransportError {
        let reason = stderr
            .lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty() && !l.starts_with("Warning: Permanently added"))
            .unwrap_or("ssh failed without a message")
            .to_string();
        let lower = reason.to_lowercase();
        let hint = if lower.contains("host key verification failed")
            || lower.contains("remote host identification has changed")
        {
            format!("zoryn never accepts host keys: check the key and run `ssh {}` once to add it to known_hosts", self.destination)
        } else if lower.contains("permission denied") {
            format!(
                "set up key login: ssh-copy-id {} (zoryn runs ssh with BatchMode=yes)",
                self.destination
            )
        } else if lower.contains("could not resolve") {
            "check the host name, or add a Host entry to ~/.ssh/config".to_string()
        } else if lower.contains("connection refused")
            || lower.contains("timed out")
            || lower.contains("no route")
        {
            "check that the host is up and sshd is running there".to_string()
        } else {
            format!("try `ssh {} true` to see the problem", self.destination)
        };
        TransportError {
            host: self.destination.clone(),
            message: match code {
                Some(255) | None => format!("cannot reach {}: {reason}", self.destination),
                Some(c) => format!(
                    "command on {} failed (exit {c}): {reason}",
                    self.destination
                ),
            },
            hint,
        }
    }
}

/// All hosts of one run, so builders on one host share its master and bound.
#[derive(Default)]
pub struct Hosts {
    settings: Option<Arc<SshSettings>>,
    hosts: Mutex<HashMap<String, Arc<Host>>>,
}

impl Hosts {
    pub fn new(settings: SshSettings) -> Hosts {
        Hosts {
            settings: Some(Arc::new(settings)),
            hosts: Mutex::new(HashMap::new()),
        }
    }

    pub fn get(&self, destination: &str) -> Arc<Host> {
        let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        hosts
            .entry(destination.to_string())
            .or_insert_with(|| {
                let settings = self.settings.clone().unwrap_or_else(|| {
                    Arc::new(SshSettings {
                        program: vec!["ssh".into()],
                        // No socket in a shared temp dir.
                        multiplexing: false,
                        persist: Duration::from_secs(120),
                        max_sessions: 8,
                        alive_interval: crate::config::global::DEFAULT_ALIVE_INTERVAL,
                        alive_count: crate::config::global::DEFAULT_ALIVE_COUNT,
                        runtime_dir: std::env::temp_dir(),
                        runtime_ok: Arc::new(OnceLock::new()),
                    })
                });
                Arc::new(Host::new(destination, settings))
            })
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(mux: bool) -> Host {
        Host::new(
            "arm",
            Arc::new(SshSettings {
                program: vec!["ssh".into(), "-F".into(), "/c f".into()],
                multiplexing: mux,
                persist: Duration::from_secs(120),
                max_sessions: 2,
                alive_interval: 30,
                alive_count: 3,
                runtime_dir: PathBuf::from("/run/u/zoryn"),
                runtime_ok: Arc::new(OnceLock::from(true)),
            }),
        )
    }

    #[test]
    fn runtime_dir_is_made_private_or_refused() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().unwrap();
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let fresh = t.path().join("run/zoryn");
        private_dir(&fresh).unwrap();
        assert_eq!(mode(&fresh), 0o700);
        let loose = t.path().join("loose");
        std::fs::create_dir(&loose).unwrap();
        std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o777)).unwrap();
        private_dir(&loose).unwrap();
        assert_eq!(mode(&loose), 0o700);
        let link = t.path().join("link");
        std::os::unix::fs::symlink(&fresh, &link).unwrap();
        assert!(private_dir(&link).unwrap_err().contains("not a directory"));
        let file = t.path().join("file");
        std::fs::write(&file, "").unwrap();
        assert!(private_dir(&file).is_err());
    }

    #[test]
    fn remote_words_survive_the_remote_shell() {
        let argv: Vec<String> = [
            "hsh",
            "/h/it's a $dir",
            "--rpmbuild-args=--define 'x y'",
            "a\"b`c",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let line = remote_command(&argv);
        // A POSIX shell splits it back into exactly the same words.
        let back = shell_words::split(&line).unwrap();
        assert_eq!(back, argv);
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("for a in {line}; do printf '%s\\n' \"$a\"; done"))
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            argv.join("\n") + "\n"
        );
    }

    #[test]
    fn options_follow_the_settings() {
        let h = host(true);
        let a = h.ssh_argv(true).join(" ");
        assert!(a.starts_with("ssh -F /c f -o BatchMode=yes"), "{a}");
        assert!(
            a.contains("ControlMaster=auto") && a.contains("ControlPath=/run/u/zoryn/%C"),
            "{a}"
        );
        assert!(
            a.contains("ControlPersist=120") && a.contains("ServerAliveInterval=30"),
            "{a}"
        );
        assert!(!a.contains("StrictHostKeyChecking"), "{a}");
        let a = host(false).ssh_argv(true).join(" ");
        assert!(
            a.contains("ControlMaster=no") && a.contains("ControlPath=none"),
            "{a}"
        );
        assert!(host(true)
            .rsync_rsh()
            .starts_with("ssh -F '/c f' -o 'BatchMode=yes' -o"));
    }

    #[test]
    fn session_bound_blocks_the_third() {
        let h = Arc::new(host(true));
        let a = h.session();
        let _b = h.session();
        let h2 = h.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let t = std::thread::spawn(move || {
            let _c = h2.session();
            tx.send(()).unwrap();
        });
        assert!(rx.recv_timeout(Duration::from_millis(100)).is_err());
        drop(a);
        rx.recv_timeout(Duration::from_secs(5)).unwrap();
        t.join().unwrap();
    }

    #[test]
    fn errors_get_hints() {
        let h = host(true);
        let e = h.error_from("Host key verification failed.\n", Some(255));
        assert_eq!(e.message, "cannot reach arm: Host key verification failed.");
        assert!(e.hint.contains("never accepts host keys"));
        let e = h.error_from(
            "ssh: connect to host 127.0.0.9 port 22: Connection refused\n",
            Some(255),
        );
        assert!(e.hint.contains("sshd is running"));
    }
}
