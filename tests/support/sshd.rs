//! Real SSH test hosts: one throwaway `sshd` per host on a loopback address.
//!
//! [`TestEnv::add_host`] starts `/usr/sbin/sshd -D` on a random `127.0.0.N`
//! and a free port, with its own host key, key-only authentication and an
//! environment that makes it look like a different machine (see below). The
//! client side is an ssh_config file of the env's own
//! ([`TestEnv::ssh_config_path`], used as `ssh -F FILE`): one `Host` block per
//! alias with HostName/Port/User/IdentityFile and a known_hosts file that the
//! harness pre-seeds with each host's key (`StrictHostKeyChecking yes`: a key
//! is never accepted on first use). The ssh client reads `~/.ssh` from the
//! passwd home, not `$HOME`, so tests must always go through that file;
//! `~/.zoryn` gets `[commands] ssh = "ssh -F FILE"` when it does not exist
//! yet ([`TestEnv::ssh_commands_toml`] gives the snippet for tests that write
//! their own `~/.zoryn`).
//!
//! ## What makes a host a different machine
//!
//! sshd's `SetEnv` (applied after sshd's own USER/HOME/PATH, so it overrides
//! them; checked by `tests/ssh_hosts.rs`) gives every session:
//! `HOME=<root>/hosts/<alias>/home`, `PATH=<root>/emu/bin:/usr/local/bin:/usr/bin:/bin`
//! (the hasher emulators and the fake `uname` first; zoryn itself is not on
//! it), `HASHER_EMU_ROOT=<root>/hosts/<alias>/emu-root` (an emulated
//! hasher-priv tree of its own), `ZORYN_HASHER_PRIV_DIR`,
//! `HASHER_EMU_UNAME_M=<fake arch>`, `HASHER_EMU_EVENTS=<root>/hosts/<alias>/events.log`
//! and `LANG=C.UTF-8`.
//!
//! sshd does not take the working directory from `$HOME` but from the passwd
//! entry, and a remote relative path (`rsync f host:dir/`, `ssh host ls
//! hasher`) is relative to it. So, when the suite runs as root, each sshd
//! runs in a mount namespace of its own (`unshare --mount`) in which a copy
//! of `/etc/passwd` is bind-mounted, with the test user's home set to the
//! host's HOME: sessions start in their own HOME and `getent passwd` agrees,
//! exactly as on a separate machine. Nothing else differs in that namespace
//! and it disappears with the sshd. Without root (or where mount namespaces
//! are not allowed) sshd runs as the current user on its high port with
//! `SetEnv` only: HOME and PATH are still per host, but the working
//! directory at login is the user's passwd home (see [`TestHost::per_host_cwd`]);
//! `ZORYN_TEST_SSHD_NO_NS=1` forces that mode as root.
//!
//! ## Hosts that can really disappear
//!
//! [`TestEnv::add_host_in_netns`] (root) runs sshd inside a network namespace
//! of the test's own ([`NetNs`](super::netns::NetNs)), on its inner address
//! and port 22 (`ip netns exec NS [unshare ...] sshd`): `NetNs::cut` then
//! cuts the link for real. [`TestHost::sshd_process_ids`] gives just the
//! sshd processes (to kill the daemon but not the builds it runs).
//!
//! ## Lifetime
//!
//! A [`TestHost`] owns its sshd: `Drop` stops it, also on panic. "Its
//! processes" are the listener, everything below it (per-connection sshd
//! processes, remote shells and commands) and whatever left that tree (a
//! remote `setsid cmd &`): the host's mount namespace (root mode) and
//! `ZORYN_TEST_HOST=<id>`, which is in sshd's environment and in every
//! session's (`SetEnv`), identify them. `stop`, `freeze` and `thaw` act on all
//! of them.
//!
//! If the test process dies without unwinding (nextest timeout, SIGKILL,
//! Ctrl-C), the listener goes with it (`PR_SET_PDEATHSIG=SIGKILL`; that
//! follows the *thread* that started sshd, so call `add_host` and `restart`
//! from the test's own thread), and a small watchdog shell per host, in a
//! process group of its own and reading a pipe from the test process, sees
//! EOF and kills the rest.

use super::{TestEnv, TEST_USER};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const SSHD: &str = "/usr/sbin/sshd";
/// The lock `ensure_test_user` in mod.rs takes around account changes.
const USER_LOCK: &str = "/tmp/zoryn-test-user.lock";
/// Home given to the test account when it has none (non-namespace fallback).
pub const TEST_USER_HOME: &str = "/var/lib/zoryn-test";
const START_TIMEOUT: Duration = Duration::from_secs(10);

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Make the (root-run) test account usable by sshd, under the same lock as
/// `ensure_test_user`:
/// - `usermod -p '*' zoryn-test`: `useradd` leaves the account "locked"
///   (`!` in /etc/shadow), which sshd with `UsePAM no` refuses even for keys;
/// - with `with_home`, give it an existing home directory
///   (`usermod -d /var/lib/zoryn-test` + `install -d`), or sshd prints
///   "Could not chdir to home directory /nonexistent" on every command.
///   `usermod -d` refuses while the user has processes (other tests), so it
///   is retried for a while; on failure only that noise remains.
///
/// `add_host` calls this; it is a no-op when not root.
pub fn prepare_test_user_for_sshd(with_home: bool) {
    if !is_root() {
        return;
    }
    let lock = std::fs::File::create(USER_LOCK).expect("lock file");
    let _guard = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive).expect("flock");
    let shadow = std::fs::read_to_string("/etc/shadow").unwrap_or_default();
    let locked = shadow
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{TEST_USER}:")))
        .map(|rest| rest.starts_with('!'))
        .unwrap_or(false);
    if locked {
        let st = Command::new("usermod")
            .args(["-p", "*", TEST_USER])
            .status()
            .expect("run usermod");
        assert!(st.success(), "usermod -p '*' {TEST_USER} failed");
    }
    if !with_home {
        return;
    }
    let user = nix::unistd::User::from_name(TEST_USER)
        .expect("passwd lookup")
        .expect("test user exists");
    if user.dir.is_dir() {
        return;
    }
    let st = Command::new("install")
        .args(["-d", "-m", "0755", "-o", TEST_USER, "-g"])
        .arg(user.gid.as_raw().to_string())
        .arg(TEST_USER_HOME)
        .status()
        .expect("run install");
    assert!(st.success(), "install -d {TEST_USER_HOME} failed");
    if user.dir == Path::new(TEST_USER_HOME) {
        return;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = Command::new("usermod")
            .args(["-d", TEST_USER_HOME, TEST_USER])
            .output()
            .expect("run usermod");
        if out.status.success() {
            return;
        }
        // 8: "user is currently used by process N" (another test is running).
        if out.status.code() != Some(8) || Instant::now() > deadline {
            eprintln!(
                "warning: could not give {TEST_USER} the home {TEST_USER_HOME} ({}); \
                 sshd will print \"Could not chdir to home directory\"",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Can this process run sshd in a mount namespace with its own /etc/passwd?
/// `ZORYN_TEST_SSHD_NO_NS=1` in the test process forces the plain `SetEnv`
/// fallback (to check that path as root).
fn mount_ns_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        is_root()
            && std::env::var_os("ZORYN_TEST_SSHD_NO_NS").is_none_or(|v| v.is_empty())
            && Command::new("unshare")
                .args(["--mount", "--propagation", "private", "--", "true"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false)
    })
}

/// `PerSourcePenalties` (OpenSSH >= 9.8) would slow down tests that make
/// many failing connections on purpose; older sshd rejects the keyword.
fn sshd_has_penalties() -> bool {
    static HAS: OnceLock<bool> = OnceLock::new();
    *HAS.get_or_init(|| {
        let out = Command::new(SSHD).arg("-V").output();
        let text = out
            .map(|o| format!("{}{}", super::stdout(&o), super::stderr(&o)))
            .unwrap_or_default();
        let ver = text
            .split("OpenSSH_")
            .nth(1)
            .map(|v| {
                v.chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '.')
                    .collect::<String>()
            })
            .unwrap_or_default();
        let mut it = ver.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
        let (major, minor) = (it.next().unwrap_or(0), it.next().unwrap_or(0));
        (major, minor) >= (9, 8)
    })
}

fn keygen(path: &Path, comment: &str) {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .expect("run ssh-keygen");
    assert!(
        out.status.success(),
        "ssh-keygen failed: {}",
        super::both(&out)
    );
}

fn toml_string(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// A random loopback address 127.0.0.N (N in 2..=250) and a port that was
/// free on it a moment ago.
fn pick_addr_port() -> (String, u16) {
    let mut seed = [0u8; 2];
    let n = match std::fs::File::open("/dev/urandom") {
        Ok(mut f) => {
            use std::io::Read;
            f.read_exact(&mut seed).unwrap();
            u16::from_le_bytes(seed)
        }
        Err(_) => {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            (std::process::id() as u16) ^ (t.subsec_nanos() as u16)
        }
    };
    let addr = format!("127.0.0.{}", 2 + (n % 249));
    let sock = std::net::TcpListener::bind((addr.as_str(), 0)).expect("bind probe socket");
    let port = sock.local_addr().unwrap().port();
    (addr, port)
}

/// `(pid, ppid, state)` of every process.
fn process_table() -> Vec<(i32, i32, char)> {
    let mut v = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return v;
    };
    for e in rd.filter_map(Result::ok) {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // "pid (comm) S ppid ..."; comm may contain spaces and parens.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let mut f = rest.split_whitespace();
        let state = f.next().and_then(|s| s.chars().next()).unwrap_or('?');
        let ppid = f.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        v.push((pid, ppid, state));
    }
    v
}

/// Every live (non-zombie) descendant of `root`.
fn descendants(root: i32) -> Vec<i32> {
    let table = process_table();
    let mut children: HashMap<i32, Vec<(i32, char)>> = HashMap::new();
    for (pid, ppid, st) in &table {
        children.entry(*ppid).or_default().push((*pid, *st));
    }
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(p) = stack.pop() {
        for (c, st) in children.get(&p).map(Vec::as_slice).unwrap_or(&[]) {
            if *st != 'Z' {
                out.push(*c);
            }
            stack.push(*c);
        }
    }
    out
}

/// Alive and not a zombie?
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next())
            .map(|s| s != "Z" && s != "X")
            .unwrap_or(false),
        Err(_) => false,
    }
}

fn signal(pid: i32, sig: Signal) {
    let _ = kill(Pid::from_raw(pid), sig);
}

/// The mount namespace of `pid` (`mnt:[INODE]`), if readable.
fn mnt_ns(pid: i32) -> Option<String> {
    std::fs::read_link(format!("/proc/{pid}/ns/mnt"))
        .ok()
        .map(|p| p.display().to_string())
}

/// Does `pid`'s environment (as it was at exec) contain the line `marker`?
fn has_env(pid: i32, marker: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/environ"))
        .map(|e| e.split(|b| *b == 0).any(|v| v == marker.as_bytes()))
        .unwrap_or(false)
}

/// Shell script of the watchdog: waits on its stdin; a line `done` means
/// the host was stopped normally; EOF without it means the test process
/// died without running `Drop`: then it kills every process of the host
/// (same mount namespace as `$2`, or `$1` in the environment), stopping
/// them first so that nothing forks away, and removes the sshd dir.
const WATCHDOG: &str = r#"
# $1: ZORYN_TEST_HOST=<id>, $2: mnt:[INODE] or empty, $3: the host's sshd dir
id=$1 ns=$2
if read -r line && [ "$line" = done ]; then exit 0; fi
mine() {
	for d in /proc/[0-9]*; do
		p=${d#/proc/}
		if { [ -n "$ns" ] && [ "$(readlink "$d/ns/mnt" 2>/dev/null)" = "$ns" ]; } ||
			grep -qzx -e "$id" "$d/environ" 2>/dev/null; then
			echo "$p"
		fi
	done
}
seen=
for round in 1 2 3 4 5 6 7 8 9 10; do
	new=
	for p in $(mine); do
		case " $seen " in
		*" $p "*) ;;
		*) new="$new $p"; kill -STOP "$p" 2>/dev/null ;;
		esac
	done
	[ -n "$new" ] || break
	seen="$seen$new"
done
[ -z "$seen" ] || kill -KILL $seen 2>/dev/null
case "$3" in /tmp/zoryn-sshd.?*) rm -rf -- "$3" ;; esac
exit 0
"#;

/// Is `pid` listening on `addr:port` (a LISTEN socket in its /proc/PID/net/tcp whose
/// inode is one of the process's fds)?
fn listening(pid: u32, addr: &str, port: u16) -> bool {
    let ip: std::net::Ipv4Addr = addr.parse().unwrap();
    let local = format!("{:08X}:{:04X}", u32::from_le_bytes(ip.octets()), port);
    // The listener's own view: it may run in a network namespace of its own.
    let tcp = std::fs::read_to_string(format!("/proc/{pid}/net/tcp")).unwrap_or_default();
    let inodes: Vec<String> = tcp
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() > 9 && f[1] == local && f[3] == "0A").then(|| format!("socket:[{}]", f[9]))
        })
        .collect();
    if inodes.is_empty() {
        return false;
    }
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.filter_map(Result::ok).any(|e| {
        std::fs::read_link(e.path())
            .map(|t| inodes.iter().any(|i| Path::new(i) == t))
            .unwrap_or(false)
    })
}

pub struct TestHost {
    /// ssh_config `Host` alias, e.g. "arm": what a builder's `host =` uses.
    pub alias: String,
    /// "127.0.0.N"
    pub addr: String,
    pub port: u16,
    /// The remote HOME of this host.
    pub home: PathBuf,
    /// Its HASHER_EMU_ROOT (with `etc/hasher-priv/...` and `etc/passwd`).
    pub emu_root: PathBuf,
    /// Its HASHER_EMU_EVENTS file.
    pub events: PathBuf,
    /// Pid of the (last started) sshd listener.
    pub sshd_pid: u32,
    /// The fake `uname -m` of this host.
    pub uname_m: String,
    sshd_dir: PathBuf,
    child: Option<Child>,
    mount_ns: bool,
    /// `ZORYN_TEST_HOST=<unique id>`: in sshd's environment and every session's.
    marker: String,
    /// The listener's mount namespace (root mode), shared by all its processes.
    listener_ns: Option<String>,
    /// Kills the host's processes if the test process dies without `Drop`.
    watchdog: Option<(Child, std::process::ChildStdin)>,
    /// The network namespace sshd runs in ([`TestEnv::add_host_in_netns`]).
    netns: Option<String>,
    _sshd_tmp: tempfile::TempDir,
}

impl TestHost {
    fn config_path(&self) -> PathBuf {
        self.sshd_dir.join("sshd_config")
    }

    pub fn log_path(&self) -> PathBuf {
        self.sshd_dir.join("sshd.log")
    }

    /// The sshd log (`LogLevel VERBOSE`) plus anything sshd printed at startup.
    pub fn log_text(&self) -> String {
        let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let launch = std::fs::read_to_string(self.sshd_dir.join("launch.out")).unwrap_or_default();
        format!("{launch}{log}")
    }

    /// The name this host's key has in known_hosts: `[127.0.0.N]:PORT`
    /// (just the address on port 22).
    pub fn known_hosts_name(&self) -> String {
        if self.port == 22 {
            self.addr.clone()
        } else {
            format!("[{}]:{}", self.addr, self.port)
        }
    }

    /// Append `KNOB=value` to this host's knobs file (read by every hsh run).
    pub fn set_knob(&self, knob: &str, value: &str) {
        let path = self.emu_root.join("knobs");
        let mut text = std::fs::read_to_string(&path).unwrap_or_default();
        text.push_str(&format!("{knob}={value}\n"));
        std::fs::write(&path, text).unwrap();
    }

    /// The sshd processes of this host (listener and per-connection ones),
    /// not the remote commands they run.
    pub fn sshd_process_ids(&self) -> Vec<u32> {
        self.process_ids()
            .into_iter()
            .filter(|p| {
                std::fs::read_to_string(format!("/proc/{p}/comm"))
                    .is_ok_and(|c| c.trim_end().starts_with("sshd"))
            })
            .collect()
    }

    /// This host's public host key, `ssh-ed25519 AAAA...` (no comment).
    pub fn host_public_key(&self) -> String {
        let text = std::fs::read_to_string(self.sshd_dir.join("ssh_host_ed25519_key.pub")).unwrap();
        text.split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Does a login start in this host's HOME (its own passwd entry: root +
    /// mount namespaces), or in the test user's passwd home?
    pub fn per_host_cwd(&self) -> bool {
        self.mount_ns
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some() && alive(self.sshd_pid as i32)
    }

    /// Every live process of this host, listener first: the sshd listener,
    /// everything below it (per-connection sshd processes, remote shells and
    /// commands) and anything that left that tree (a remote `setsid cmd &`),
    /// recognized by the host's mount namespace (root) or by
    /// `ZORYN_TEST_HOST=<id>` in its environment (sshd's own and `SetEnv`).
    pub fn process_ids(&self) -> Vec<u32> {
        let listener = self.sshd_pid as i32;
        let mut set: BTreeSet<i32> = BTreeSet::new();
        if self.child.is_some() && alive(listener) {
            set.insert(listener);
            set.extend(descendants(listener));
        }
        let me = std::process::id() as i32;
        let dog = self.watchdog.as_ref().map(|(c, _)| c.id() as i32);
        for (pid, _, state) in process_table() {
            if state == 'Z' || pid == me || Some(pid) == dog || set.contains(&pid) {
                continue;
            }
            let in_ns = self
                .listener_ns
                .as_ref()
                .is_some_and(|ns| mnt_ns(pid).as_ref() == Some(ns));
            if in_ns || has_env(pid, &self.marker) {
                set.insert(pid);
            }
        }
        let mut v: Vec<u32> = Vec::with_capacity(set.len());
        if set.remove(&listener) {
            v.push(listener as u32);
        }
        v.extend(set.into_iter().map(|p| p as u32));
        v
    }

    /// Processes of this host still alive (not zombies), as
    /// `ps -o pid=,stat=,args=` lines: those of `pids` that are still alive
    /// plus whatever [`process_ids`](Self::process_ids) finds now.
    pub fn leftover_processes(&self, pids: &[u32]) -> Vec<String> {
        let mut all: BTreeSet<u32> = pids.iter().copied().collect();
        all.extend(self.process_ids());
        all.remove(&std::process::id());
        if all.is_empty() {
            return Vec::new();
        }
        let list = all.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
        let out = Command::new("ps")
            .args(["-o", "pid=,stat=,args=", "-p", &list])
            .output()
            .expect("run ps");
        super::stdout(&out)
            .lines()
            .filter(|l| !l.split_whitespace().nth(1).unwrap_or("Z").starts_with('Z'))
            .map(str::to_string)
            .collect()
    }

    /// SIGSTOP every process of the host, again and again until no new one
    /// shows up (a stopped process cannot fork). Returns them all.
    fn stop_all(&self) -> Vec<i32> {
        let listener = self.sshd_pid as i32;
        if self.child.is_some() {
            signal(listener, Signal::SIGSTOP);
        }
        let mut seen: BTreeSet<i32> = BTreeSet::new();
        for _ in 0..50 {
            let new: Vec<i32> = self
                .process_ids()
                .into_iter()
                .map(|p| p as i32)
                .filter(|p| !seen.contains(p))
                .collect();
            if new.is_empty() {
                break;
            }
            for p in new {
                signal(p, Signal::SIGSTOP);
                seen.insert(p);
            }
        }
        seen.into_iter().collect()
    }

    /// Start sshd with this host's config and wait until it listens.
    /// Returns false when it exited instead (e.g. the port was taken).
    fn spawn_sshd(&mut self) -> bool {
        let cfg = self.config_path();
        let log = self.log_path();
        let _ = std::fs::remove_file(&log);
        let launch = std::fs::File::create(self.sshd_dir.join("launch.out")).unwrap();
        let mut cmd = if let Some(ns) = &self.netns {
            // `ip netns exec` execs (no fork): the child's pid is still sshd's.
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns]);
            if self.mount_ns {
                c.args([
                    "unshare",
                    "--mount",
                    "--propagation",
                    "private",
                    "--",
                    "/bin/sh",
                    "-c",
                ])
                .arg(r#"mount --bind "$1" /etc/passwd && shift && exec "$@""#)
                .arg("sh")
                .arg(self.sshd_dir.join("passwd"));
            }
            c.arg(SSHD);
            c
        } else if self.mount_ns {
            // Own mount namespace with this host's /etc/passwd, then exec sshd
            // (no fork: the child's pid is sshd's pid).
            let mut c = Command::new("unshare");
            c.args(["--mount", "--propagation", "private", "--", "/bin/sh", "-c"])
                .arg(r#"mount --bind "$1" /etc/passwd && shift && exec "$@""#)
                .arg("sh")
                .arg(self.sshd_dir.join("passwd"))
                .arg(SSHD);
            c
        } else {
            Command::new(SSHD)
        };
        let (mk, mv) = self.marker.split_once('=').unwrap();
        cmd.arg("-D")
            .arg("-f")
            .arg(&cfg)
            .arg("-E")
            .arg(&log)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("LANG", "C.UTF-8")
            .env(mk, mv)
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(launch.try_clone().unwrap())
            .stderr(launch);
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)
                    .map_err(|e| std::io::Error::from_raw_os_error(e as i32))
            });
        }
        let child = cmd.spawn().expect("spawn sshd");
        self.sshd_pid = child.id();
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(st) = self.child.as_mut().unwrap().try_wait().unwrap() {
                self.child = None;
                eprintln!(
                    "sshd for {} on {}:{} exited ({st}):\n{}",
                    self.alias,
                    self.addr,
                    self.port,
                    self.log_text()
                );
                return false;
            }
            if listening(self.sshd_pid, &self.addr, self.port) {
                break;
            }
            if Instant::now() > deadline {
                let text = self.log_text();
                self.stop();
                panic!(
                    "sshd for {} does not listen on {}:{} after {START_TIMEOUT:?}:\n{text}",
                    self.alias, self.addr, self.port
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        // sshd is the exec'ed child, so its namespace is now the host's.
        self.listener_ns = if self.mount_ns {
            mnt_ns(self.sshd_pid as i32)
                .filter(|ns| Some(ns) != mnt_ns(std::process::id() as i32).as_ref())
        } else {
            None
        };
        let mut dog = Command::new("/bin/sh");
        dog.arg("-c")
            .arg(WATCHDOG)
            .arg("zoryn-test-host-watchdog")
            .arg(&self.marker)
            .arg(self.listener_ns.as_deref().unwrap_or(""))
            .arg(&self.sshd_dir)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .current_dir("/")
            // Out of the test's process group: nextest and Ctrl-C signal
            // the group, and the watchdog must outlive the test process.
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut dog = dog.spawn().expect("spawn watchdog");
        let stdin = dog.stdin.take().unwrap();
        self.watchdog = Some((dog, stdin));
        true
    }

    fn write_sshd_config(&self, user: &str, env_root: &Path) {
        let emu_bin = env_root.join("emu/bin");
        let set_env = [
            format!("HOME={}", self.home.display()),
            format!("PATH={}:/usr/local/bin:/usr/bin:/bin", emu_bin.display()),
            format!("HASHER_EMU_ROOT={}", self.emu_root.display()),
            format!(
                "ZORYN_HASHER_PRIV_DIR={}",
                self.emu_root.join("etc/hasher-priv").display()
            ),
            format!("HASHER_EMU_UNAME_M={}", self.uname_m),
            format!("HASHER_EMU_EVENTS={}", self.events.display()),
            "LANG=C.UTF-8".to_string(),
            self.marker.clone(),
        ];
        let d = &self.sshd_dir;
        let sftp = if Path::new("/usr/lib/openssh/sftp-server").exists() {
            "/usr/lib/openssh/sftp-server"
        } else {
            "internal-sftp"
        };
        let mut c = String::new();
        let _ = writeln!(
            c,
            "# zoryn test host {:?} (tests/support/sshd.rs)",
            self.alias
        );
        let _ = writeln!(c, "ListenAddress {}:{}", self.addr, self.port);
        let _ = writeln!(c, "HostKey {}", d.join("ssh_host_ed25519_key").display());
        let _ = writeln!(c, "PidFile {}", d.join("sshd.pid").display());
        let _ = writeln!(
            c,
            "AuthorizedKeysFile {}",
            d.join("authorized_keys").display()
        );
        c.push_str(
            "StrictModes no\n\
             UsePAM no\n\
             PasswordAuthentication no\n\
             KbdInteractiveAuthentication no\n\
             PubkeyAuthentication yes\n\
             PermitRootLogin no\n\
             MaxSessions 10\n\
             MaxStartups 100:30:200\n\
             LogLevel VERBOSE\n\
             PrintMotd no\n\
             PrintLastLog no\n\
             X11Forwarding no\n",
        );
        let _ = writeln!(c, "AllowUsers {user}");
        let _ = writeln!(c, "Subsystem sftp {sftp}");
        if sshd_has_penalties() {
            c.push_str("PerSourcePenalties no\n");
        }
        // Only the first SetEnv line counts in sshd_config: one line for all.
        let _ = writeln!(
            c,
            "SetEnv {}",
            set_env
                .iter()
                .map(|v| format!("\"{v}\""))
                .collect::<Vec<_>>()
                .join(" ")
        );
        std::fs::write(self.config_path(), c).unwrap();
    }

    /// Kill sshd: the listener, every per-connection process and every remote
    /// command of this host, also those that left the listener's process
    /// tree (a host going down). Waits until they are gone. Idempotent.
    pub fn stop(&mut self) {
        if self.child.is_some() {
            let pid = self.sshd_pid as i32;
            // Freeze everything (no new forks), kill it, then end the listener.
            let all = self.stop_all();
            let mut child = self.child.take().unwrap();
            for p in all.iter().filter(|p| **p != pid) {
                signal(*p, Signal::SIGKILL);
            }
            signal(pid, Signal::SIGTERM);
            signal(pid, Signal::SIGCONT);
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                match child.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() > deadline => {
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                let left: Vec<i32> = all
                    .iter()
                    .copied()
                    .filter(|p| alive(*p))
                    .chain(self.process_ids().into_iter().map(|p| p as i32))
                    .collect();
                if left.is_empty() {
                    break;
                }
                if Instant::now() > deadline {
                    eprintln!(
                        "warning: processes of test host {} still alive after SIGKILL: {left:?}",
                        self.alias
                    );
                    break;
                }
                for p in left {
                    signal(p, Signal::SIGKILL);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        if let Some((mut dog, mut stdin)) = self.watchdog.take() {
            use std::io::Write;
            let _ = stdin.write_all(b"done\n");
            drop(stdin);
            let deadline = Instant::now() + Duration::from_secs(5);
            while matches!(dog.try_wait(), Ok(None)) {
                if Instant::now() > deadline {
                    let _ = dog.kill();
                    let _ = dog.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }

    /// Simulate a hung host: SIGSTOP the listener and every other process of
    /// the host (existing connections and remote commands hang too). New
    /// connections are still accepted by the kernel but get no SSH banner.
    pub fn freeze(&self) {
        if self.child.is_some() {
            self.stop_all();
        }
    }

    /// Undo [`freeze`](Self::freeze): SIGCONT every process of the host.
    pub fn thaw(&self) {
        if self.child.is_none() {
            return;
        }
        for p in self.process_ids() {
            signal(p as i32, Signal::SIGCONT);
        }
    }

    /// Start sshd again with the same config, address, port and host key
    /// (stops it first if it is running). Returns once it listens.
    pub fn restart(&mut self) {
        self.stop();
        for attempt in 0.. {
            if self.spawn_sshd() {
                return;
            }
            assert!(
                attempt < 20,
                "sshd for {} cannot start again on {}:{}:\n{}",
                self.alias,
                self.addr,
                self.port,
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Wait until this host's emulator event log has a line containing `needle`.
    pub fn wait_for_event(&self, needle: &str, timeout: Duration) -> String {
        super::wait_for_line(
            &self.events,
            needle,
            timeout,
            &format!(" on host {}", self.alias),
        )
    }

    pub fn events_text(&self) -> String {
        std::fs::read_to_string(&self.events).unwrap_or_default()
    }
}

impl Drop for TestHost {
    fn drop(&mut self) {
        self.stop()
    }
}

impl TestEnv {
    fn ssh_dir(&self) -> PathBuf {
        self.root.join("ssh")
    }

    /// The ssh client config (`ssh -F` this) with one `Host` block per test host.
    pub fn ssh_config_path(&self) -> PathBuf {
        self.ssh_dir().join("config")
    }

    /// The known_hosts file the client config uses (pre-seeded, never auto-extended).
    pub fn known_hosts_path(&self) -> PathBuf {
        self.ssh_dir().join("known_hosts")
    }

    /// The client private key every test host accepts.
    pub fn ssh_identity_path(&self) -> PathBuf {
        self.ssh_dir().join("id_ed25519")
    }

    /// `[commands]` with `ssh = "ssh -F <config>"`, for tests that write
    /// their own `~/.zoryn` (put other `[commands]` keys right after it).
    pub fn ssh_commands_toml(&self) -> String {
        format!(
            "[commands]\nssh = {}\n",
            toml_string(&format!("ssh -F {}", self.ssh_config_path().display()))
        )
    }

    /// The `ssh -F CFG alias -- CMD` command as the test user (not yet run).
    pub fn ssh_command(&self, alias: &str, remote_cmd: &str) -> Command {
        self.chown_all();
        let mut c = self.command("ssh");
        c.arg("-F")
            .arg(self.ssh_config_path())
            .arg(alias)
            .arg("--")
            .arg(remote_cmd)
            .current_dir(&self.home);
        c
    }

    /// Run `ssh -F CFG alias -- CMD` as the test user.
    pub fn ssh(&self, alias: &str, remote_cmd: &str) -> Output {
        self.ssh_command(alias, remote_cmd)
            .output()
            .expect("run ssh")
    }

    /// Start a new test host with the given alias and fake `uname -m`
    /// (e.g. "aarch64", "i686"). Generates (once per TestEnv) a client key
    /// pair, extends the ssh client config and known_hosts, writes
    /// `~/.zoryn` with `[commands] ssh = "ssh -F ..."` if it does not exist
    /// yet, and returns once `ssh -F CFG alias true` works as the test user.
    pub fn add_host(&self, alias: &str, uname_m: &str) -> TestHost {
        self.add_host_at(alias, uname_m, None)
    }

    /// [`add_host`](Self::add_host), but sshd runs inside the test's network
    /// namespace `ns` (root only), on its inner address, port 22: cutting
    /// the namespace's link cuts the host off for real.
    pub fn add_host_in_netns(
        &self,
        alias: &str,
        uname_m: &str,
        ns: &super::netns::NetNs,
    ) -> TestHost {
        assert!(is_root(), "network namespaces need root");
        self.add_host_at(
            alias,
            uname_m,
            Some((ns.name.clone(), ns.inner_addr.clone())),
        )
    }

    /// A host with a usable hasher slot `number` (`~/hasher_N` and its
    /// satellite users) and a remote builder `name` for it.
    pub fn remote_builder(
        &self,
        name: &str,
        alias: &str,
        uname_m: &str,
        arch: &str,
        number: u32,
    ) -> TestHost {
        let host = self.add_host(alias, uname_m);
        self.remote_builder_on(&host, name, arch, number);
        host
    }

    /// Make hasher slot `number` usable on `host` and write builder `name` for it.
    pub fn remote_builder_on(&self, host: &TestHost, name: &str, arch: &str, number: u32) {
        let out = self.ssh(
            &host.alias,
            &format!(
                "mkdir -p ~/hasher_{number} && hasher-useradd --number={number} \"$(id -un)\""
            ),
        );
        assert!(out.status.success(), "host setup: {}", super::both(&out));
        self.builder(
            name,
            &format!(
                "type = \"remote\"\nhost = \"{}\"\narch = \"{arch}\"\nhasher_number = {number}\n",
                host.alias
            ),
        );
    }

    fn add_host_at(&self, alias: &str, uname_m: &str, netns: Option<(String, String)>) -> TestHost {
        assert!(
            !alias.is_empty()
                && alias
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'),
            "bad test host alias {alias:?}"
        );
        let mount_ns = mount_ns_available();
        if is_root() {
            prepare_test_user_for_sshd(!mount_ns);
            std::fs::create_dir_all("/run/sshd").expect("mkdir /run/sshd");
        }
        let user = self.user_name();
        let ssh_dir = self.ssh_dir();
        std::fs::create_dir_all(&ssh_dir).unwrap();
        let lock = std::fs::File::create(ssh_dir.join(".lock")).unwrap();
        let guard =
            nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive).expect("flock");
        let config = self.ssh_config_path();
        let config_text = std::fs::read_to_string(&config).unwrap_or_default();
        assert!(
            !config_text
                .lines()
                .any(|l| l.trim() == format!("Host {alias}")),
            "test host alias {alias:?} is already in {}",
            config.display()
        );
        let identity = self.ssh_identity_path();
        if !identity.exists() {
            keygen(&identity, "zoryn-test-client");
        }

        // The host's own "machine": HOME, emulated hasher-priv, event log.
        let host_root = self.root.join("hosts").join(alias);
        let home = host_root.join("home");
        let emu_root = host_root.join("emu-root");
        let events = host_root.join("events.log");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(emu_root.join("etc/hasher-priv/user.d")).unwrap();
        std::fs::write(emu_root.join("etc/passwd"), "").unwrap();
        std::fs::write(
            emu_root.join("etc/hasher-priv/system"),
            "# emulated /etc/hasher-priv/system\nallowed_mountpoints=/proc,/dev/pts\n",
        )
        .unwrap();

        // sshd's own files: outside the env root so they stay owned by the
        // user running sshd (chown_all hands the env root to the test user).
        let sshd_tmp = tempfile::Builder::new()
            .prefix("zoryn-sshd.")
            .tempdir_in("/tmp")
            .unwrap();
        let sshd_dir = sshd_tmp.path().to_path_buf();
        // 0755: sshd reads authorized_keys as the logging-in user.
        std::fs::set_permissions(&sshd_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        keygen(
            &sshd_dir.join("ssh_host_ed25519_key"),
            &format!("zoryn-test-host-{alias}"),
        );
        let auth = sshd_dir.join("authorized_keys");
        std::fs::copy(identity.with_extension("pub"), &auth).unwrap();
        std::fs::set_permissions(&auth, std::fs::Permissions::from_mode(0o644)).unwrap();
        if mount_ns {
            // This host's /etc/passwd: the test user's home is the host HOME.
            let passwd = std::fs::read_to_string("/etc/passwd").expect("read /etc/passwd");
            let mut copy = String::new();
            let h = home.display().to_string();
            for l in passwd.lines() {
                let mut f: Vec<&str> = l.split(':').collect();
                if f.len() == 7 && f[0] == user {
                    f[5] = &h;
                    copy.push_str(&f.join(":"));
                } else {
                    copy.push_str(l);
                }
                copy.push('\n');
            }
            let p = sshd_dir.join("passwd");
            std::fs::write(&p, copy).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        }

        // Unique while the host exists: the name of its sshd directory.
        let marker = format!(
            "ZORYN_TEST_HOST={}",
            sshd_dir.file_name().unwrap().to_string_lossy()
        );
        let mut host = TestHost {
            alias: alias.to_string(),
            addr: String::new(),
            port: 0,
            home,
            emu_root,
            events,
            sshd_pid: 0,
            uname_m: uname_m.to_string(),
            sshd_dir,
            child: None,
            mount_ns,
            marker,
            listener_ns: None,
            watchdog: None,
            netns: netns.as_ref().map(|(n, _)| n.clone()),
            _sshd_tmp: sshd_tmp,
        };
        let mut started = false;
        for _ in 0..10 {
            let (addr, port) = match &netns {
                // The namespace is the test's own: port 22 is free there.
                Some((_, addr)) => (addr.clone(), 22),
                None => pick_addr_port(),
            };
            host.addr = addr;
            host.port = port;
            host.write_sshd_config(&user, &self.root);
            if host.spawn_sshd() {
                started = true;
                break;
            }
        }
        assert!(
            started,
            "sshd for test host {alias} did not start (10 tries):\n{}",
            host.log_text()
        );

        // Client side: known_hosts entry and Host block.
        let mut kh = std::fs::read_to_string(self.known_hosts_path()).unwrap_or_default();
        let _ = writeln!(kh, "{} {}", host.known_hosts_name(), host.host_public_key());
        std::fs::write(self.known_hosts_path(), kh).unwrap();
        let mut cfg = config_text;
        if cfg.is_empty() {
            cfg.push_str(
                "# ssh client config of the zoryn test hosts (tests/support/sshd.rs).\n\
                 # Use as `ssh -F THIS_FILE`; host keys are pre-seeded in known_hosts.\n",
            );
        }
        let _ = write!(
            cfg,
            "\nHost {alias}\n  HostName {}\n  Port {}\n  User {user}\n  IdentityFile {}\n  \
             IdentitiesOnly yes\n  UserKnownHostsFile {}\n  GlobalKnownHostsFile /dev/null\n  \
             StrictHostKeyChecking yes\n  UpdateHostKeys no\n  BatchMode yes\n",
            host.addr,
            host.port,
            identity.display(),
            self.known_hosts_path().display()
        );
        std::fs::write(&config, cfg).unwrap();
        drop(guard);

        let zoryn_cfg = self.home.join(".zoryn");
        if !zoryn_cfg.exists() {
            std::fs::write(&zoryn_cfg, self.ssh_commands_toml()).unwrap();
        }
        // Key files must belong to the test user (and stay 0600) for ssh.
        self.chown_all();

        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let out = self.ssh(alias, "true");
            if out.status.success() {
                return host;
            }
            if Instant::now() > deadline {
                let text = host.log_text();
                panic!(
                    "`ssh -F {} {alias} true` still fails after {START_TIMEOUT:?}: {}\nsshd log:\n{text}",
                    config.display(),
                    super::both(&out)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
