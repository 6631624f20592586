//! Faults, one test each, injected for real: a host's sshd killed mid-build,
//! a host frozen (SIGSTOP) mid-build, the link to a host cut mid-upload and
//! mid-download (a network namespace of the test's own), the transfer
//! process (rsync up, ssh down) killed mid-transfer, a full results disk (a small tmpfs), a hasher lock held by
//! a stranger, zoryn itself SIGKILLed mid-batch, and a torn journal line.
//!
//! Every test checks: the exit code (SPEC 8), a message naming the builder
//! or host and the cause, that a healthy builder of the same run still
//! delivered its RPMs, that no partial file is left in the results dir, and
//! that no process of the test (`zoryn`, `ssh`, `rsync`, `hsh`, ...) and no
//! hasher lock is left behind. Faults are injected on observed events (the
//! emulator's event log, the transfers' partial files, the batch journal), never
//! after a sleep, and each test asserts the fault really happened.
//!
//! Most tests need root (network namespaces, tmpfs, killing other users'
//! processes); CI runs as root. Without root they return early with a note.

mod support;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Output};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use support::netns::NetNs;
use support::{both, names_in, stderr, stdout, TestEnv};

/// Generous bound for one zoryn run that must end on its own.
const RUN_LIMIT: Duration = Duration::from_secs(120);

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

macro_rules! need_root {
    () => {
        if !is_root() {
            eprintln!("skipped: this fault test needs root (CI runs as root)");
            return;
        }
    };
}

/// Wait for a spawned zoryn with a deadline (kill it and fail past it).
fn wait_with_deadline(mut child: Child, limit: Duration) -> (Output, Duration) {
    let started = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("zoryn did not end within {limit:?}:\n{}", both(&out));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let elapsed = started.elapsed();
    (child.wait_with_output().unwrap(), elapsed)
}

/// Print what zoryn said about a fault (for the record: `--no-capture`).
fn observed(fault: &str, out: &Output, took: Duration, builder: &str) {
    let lines: Vec<String> = stdout(out)
        .lines()
        .filter(|l| l.starts_with(&format!("{builder}: ")) || l.trim_start().starts_with("hint:"))
        .map(str::to_string)
        .collect();
    eprintln!(
        "OBSERVED {fault}: exit {:?} after {:.1?}\n  {}",
        out.status.code(),
        took,
        lines.join("\n  ")
    );
}

/// Poll `cond` until it holds; fail with `what` after `limit`.
fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next())
        .and_then(|s| s.chars().next())
}

fn alive(pid: u32) -> bool {
    !matches!(proc_state(pid), None | Some('Z') | Some('X'))
}

fn ppid(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim_end()
        .to_string()
}

fn all_pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// The pid of a running hsh from an emulator event line (`pid=N`).
fn event_pid(line: &str) -> u32 {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix("pid="))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {line}"))
}

/// Pids of live ControlMasters in the env's runtime dir (kept on purpose by
/// `ControlPersist`; not leftovers).
fn control_masters(env: &TestEnv) -> Vec<u32> {
    let rt = env.root.join("run/zoryn");
    let mut pids = Vec::new();
    for sock in names_in(&rt) {
        let out = env
            .command("ssh")
            .arg("-o")
            .arg(format!("ControlPath={}", rt.join(&sock).display()))
            .args(["-O", "check", "-F"])
            .arg(env.ssh_config_path())
            .arg("unused-destination")
            .output()
            .unwrap();
        let text = both(&out);
        if let Some(p) = text
            .split("pid=")
            .nth(1)
            .and_then(|r| r.split(')').next())
            .and_then(|p| p.parse().ok())
        {
            pids.push(p);
        }
    }
    pids
}

/// Live processes of this test (its env root in their environment or
/// command line), except this test process, running ControlMasters and
/// `except`, as `pid comm args` lines.
fn leftovers(env: &TestEnv, except: &[u32]) -> Vec<String> {
    let me = std::process::id();
    let masters = control_masters(env);
    let needle = env.root.to_string_lossy().into_owned();
    let mut v = Vec::new();
    for pid in all_pids() {
        if pid == me || except.contains(&pid) || masters.contains(&pid) || !alive(pid) {
            continue;
        }
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let hit = |b: &[u8]| b.windows(needle.len()).any(|w| w == needle.as_bytes());
        if hit(&environ) || hit(&cmdline) {
            let args = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            v.push(format!("{pid} {} {args}", comm(pid)));
        }
    }
    v
}

/// Wait (bounded) until no process of this test is left; fail listing them.
fn assert_no_leftovers(env: &TestEnv, except: &[u32]) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let left = leftovers(env, except);
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "processes left behind:\n{}",
            left.join("\n")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether this kernel's `/proc/locks` names who holds an flock on a
/// directory beside `dir` (Linux does; some sandboxes list nothing). Where
/// it does not, zoryn can only say "locked", never the stale pid file.
fn kernel_names_holders(dir: &Path) -> bool {
    let probe = tempfile::tempdir_in(dir).unwrap();
    let _held = nix::fcntl::Flock::lock(
        std::fs::File::open(probe.path()).unwrap(),
        nix::fcntl::FlockArg::LockExclusiveNonblock,
    )
    .unwrap();
    zoryn::hasher::workdir::kernel_holders(probe.path()).contains(&std::process::id())
}

/// What zoryn must say of a workdir `holder` locks while its pid file names
/// a dead 999999.
fn locked_by(holder: u32, named: bool) -> String {
    if named {
        format!("locked by pid {holder}")
    } else {
        "locked by another process".to_string()
    }
}

fn lock_is_free(dir: &Path) -> bool {
    let f = std::fs::File::open(dir).unwrap();
    nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusiveNonblock).is_ok()
}

/// Wait (bounded) until nobody holds the flock on `dir`.
fn assert_lock_freed(dir: &Path) {
    wait_until(
        &format!("the lock on {} to be released", dir.display()),
        Duration::from_secs(15),
        || lock_is_free(dir),
    );
}

/// Nothing half-written in a results dir: no hidden staging/temporary
/// entries, and every RPM there is complete (rpm can read it).
fn assert_no_partial(dir: &Path) {
    for n in names_in(dir) {
        assert!(
            !n.starts_with('.'),
            "partial/temporary entry {n} left in {}",
            dir.display()
        );
        if n.ends_with(".rpm") {
            let out = std::process::Command::new("rpm")
                .args(["-qp", "--nosignature", "--nodigest"])
                .arg(dir.join(&n))
                .output()
                .unwrap();
            assert!(out.status.success(), "{n} is damaged: {}", both(&out));
        }
    }
}

/// Incompressible bytes (no cheap rng crate needed: /dev/urandom).
fn random_bytes(len: usize) -> Vec<u8> {
    use std::io::Read;
    let mut v = vec![0u8; len];
    std::fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(&mut v)
        .unwrap();
    v
}

/// A gear repo whose tarball and binary RPM each carry `mib` MiB of
/// incompressible data (payload stored uncompressed, so rpmbuild is quick).
fn big_package(env: &TestEnv, name: &str, mib: usize) -> PathBuf {
    let dir = env.gear_repo(name, "");
    std::fs::write(dir.join(name).join("data.bin"), random_bytes(mib << 20)).unwrap();
    let spec = format!(
        "%global _binary_payload w.ufdio\n%global _source_payload w.ufdio\n\
         %global __os_install_post %{{nil}}\n%define _build_id_links none\n{}",
        support::spec(name, "")
    )
    .replace(
        "cp README %buildroot%_datadir/",
        "cp README data.bin %buildroot%_datadir/",
    );
    std::fs::write(dir.join(format!("{name}.spec")), spec).unwrap();
    env.sh("git add -A && git commit -qm data", &dir);
    dir
}

/// `~/.zoryn` with the test hosts' ssh config, fast keepalives and extra lines.
fn write_config(env: &TestEnv, ssh_extra: &str, commands_extra: &str, other: &str) {
    env.write(
        ".zoryn",
        &format!(
            "{other}\n[ssh]\nalive_interval = 1\nalive_count = 2\n{ssh_extra}\n{}{commands_extra}",
            env.ssh_commands_toml()
        ),
    );
}

/// A rsync slow enough that a transfer of a few MiB can be caught midway.
const SLOW_RSYNC: &str = "rsync = \"rsync --bwlimit=1500\"\n";

/// Results come back as a `tar -c -f - --no-recursion ...` stream from the
/// host; this `tar` (first in the test hosts' PATH) lets that stream
/// trickle out at about 1.3 MB/s, like a slow link, so a download of a few
/// MiB can be caught midway. Any other use of tar is the real one.
fn slow_result_stream(env: &TestEnv) {
    let bin = env.root.join("emu/bin");
    std::fs::write(
        bin.join("tar"),
        r#"#!/bin/bash
# A slow link for zoryn's result download (tests/faults.rs).
case " $* " in *" --no-recursion "*) ;; *) exec /usr/bin/tar "$@" ;; esac
tmp=$(mktemp) || exit 2
trap 'rm -f "$tmp"' EXIT
/usr/bin/tar "$@" >"$tmp" || exit
blocks=$(( ($(stat -c %s "$tmp") + 65535) / 65536 ))
for ((i = 0; i < blocks; i++)); do
	dd if="$tmp" bs=65536 skip=$i count=1 status=none || exit
	sleep 0.05
done
"#,
    )
    .unwrap();
    std::fs::set_permissions(
        bin.join("tar"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
}

/// The local builder `local` (default slot), healthy.
fn healthy_local(env: &TestEnv) {
    env.hasher_slot("hasher", None);
}

fn assert_local_delivered(repo: &Path, pkg: &str) {
    let dir = repo.join("hasher_out/local");
    assert!(
        dir.join(format!("{pkg}-1.0-alt1.x86_64.rpm")).is_file()
            && dir.join(format!("{pkg}-1.0-alt1.src.rpm")).is_file(),
        "the healthy builder's RPMs did not arrive: {:?}",
        names_in(&dir)
    );
    assert_no_partial(&dir);
}

/// A partial file of a transfer in progress in `dir`: rsync's temporary
/// file (a dot file with data) on upload, or any file with data in zoryn's
/// hidden `.zoryn-dl.*` staging dir on download.
fn transfer_file_in(dir: &Path) -> Option<PathBuf> {
    let rd = std::fs::read_dir(dir).ok()?;
    for e in rd.filter_map(Result::ok) {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        let has_data = || e.metadata().map(|m| m.len() > 0).unwrap_or(false);
        if e.file_type().ok()?.is_dir() && name.starts_with(".zoryn-dl.") {
            let staged = std::fs::read_dir(&p)
                .ok()?
                .filter_map(Result::ok)
                .find(|f| {
                    f.metadata()
                        .map(|m| m.is_file() && m.len() > 0)
                        .unwrap_or(false)
                });
            if let Some(f) = staged {
                return Some(f.path());
            }
        } else if name.starts_with('.') && has_data() {
            return Some(p);
        }
    }
    None
}

/// A run of `arm` (remote, its emulated build hanging) and a healthy
/// `local`, once the remote build has started: the host, the repo, zoryn and
/// the remote hsh's pid.
fn hanging_remote_build(env: &TestEnv) -> (support::sshd::TestHost, PathBuf, Child, u32) {
    healthy_local(env);
    let host = env.remote_builder("arm", "arm", "aarch64", "aarch64", 1);
    write_config(env, "", "", "");
    host.set_knob("HASHER_EMU_HANG", "build");
    let repo = env.gear_repo("hello", "");
    let child = env.spawn_zoryn(&["build", "-b", "arm,local", "-p"], &repo);
    let hsh = event_pid(&host.wait_for_event("build-start", RUN_LIMIT));
    (host, repo, child, hsh)
}

// ---------------------------------------------------------------------------

#[test]
fn sshd_killed_mid_build_is_a_lost_host_and_leaves_nothing_running() {
    need_root!();
    let env = TestEnv::new();
    let (host, repo, child, hsh) = hanging_remote_build(&env);
    // The fault: every sshd process of the host dies (listener and sessions);
    // the remote build itself is not touched by the test.
    let sshds = host.sshd_process_ids();
    assert!(sshds.len() >= 2, "expected listener + sessions: {sshds:?}");
    for p in &sshds {
        let _ = kill(Pid::from_raw(*p as i32), Signal::SIGKILL);
    }
    wait_until("the host's sshd to die", Duration::from_secs(5), || {
        sshds.iter().all(|p| !alive(*p))
    });
    let (out, took) = wait_with_deadline(child, RUN_LIMIT);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    let s = stdout(&out);
    assert!(s.contains("arm: connection lost during the build"), "{s}");
    assert!(s.contains("LOST"), "{s}");
    observed("sshd killed", &out, took, "arm");
    assert_local_delivered(&repo, "hello");
    assert_no_partial(&repo.join("hasher_out/arm"));
    // The remote hsh lost its terminal: it stopped and freed its lock.
    wait_until("the remote hsh to stop", Duration::from_secs(15), || {
        !alive(hsh)
    });
    assert_lock_freed(&host.home.join("hasher_1"));
    assert_no_leftovers(&env, &[]);
}

#[test]
fn frozen_host_is_given_up_after_the_keepalive_bound() {
    need_root!();
    let env = TestEnv::new();
    let (host, repo, child, hsh) = hanging_remote_build(&env);
    host.freeze();
    let frozen = host.process_ids();
    assert!(frozen.contains(&hsh), "hsh {hsh} not among {frozen:?}");
    // SIGSTOP is delivered asynchronously: wait until every one shows `T`.
    wait_until(
        "the host's processes to be stopped",
        Duration::from_secs(5),
        || {
            frozen
                .iter()
                .all(|p| matches!(proc_state(*p), Some('T') | Some('t') | None))
        },
    );
    assert!(frozen.iter().all(|p| alive(*p)), "{frozen:?}");
    let (out, took) = wait_with_deadline(child, RUN_LIMIT);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    let s = stdout(&out);
    assert!(s.contains("arm: connection lost during the build"), "{s}");
    assert!(
        s.contains("stopped answering keepalives for about 2 s"),
        "{s}"
    );
    observed("host frozen", &out, took, "arm");
    // interval 1 s × count 2: without keepalives this would hang for good.
    assert!(took < Duration::from_secs(30), "took {took:?}");
    assert_local_delivered(&repo, "hello");
    assert_no_partial(&repo.join("hasher_out/arm"));
    // Nothing of zoryn's is left on this side while the host is still frozen.
    assert_no_leftovers(&env, &frozen);
    // Once the host comes back, its sshd sees the connection gone and the
    // build stops: no orphaned build keeps the lock.
    host.thaw();
    wait_until(
        "the remote hsh to stop after thaw",
        Duration::from_secs(20),
        || !alive(hsh),
    );
    assert_lock_freed(&host.home.join("hasher_1"));
    assert_no_leftovers(&env, &[]);
}

/// Cut the link to a namespaced host while a transfer is under way.
fn link_cut(during_download: bool) {
    let env = TestEnv::new();
    healthy_local(&env);
    let ns = NetNs::new();
    let host = env.add_host_in_netns("far", "x86_64", &ns);
    env.remote_builder_on(&host, "far", "x86_64", 1);
    write_config(&env, "", SLOW_RSYNC, "");
    slow_result_stream(&env);
    let repo = big_package(&env, "big", 6);
    let child = env.spawn_zoryn(&["build", "-b", "far,local", "-p"], &repo);
    let (watch, what) = if during_download {
        (repo.join("hasher_out/far"), "download")
    } else {
        (host.home.join(".cache/zoryn/upload/big"), "upload")
    };
    wait_until(
        &format!("the partial file of the {what}"),
        RUN_LIMIT,
        || transfer_file_in(&watch).is_some(),
    );
    ns.cut();
    let cut_at = Instant::now();
    let (out, _) = wait_with_deadline(child, RUN_LIMIT);
    let took = cut_at.elapsed();
    assert!(ns.is_down(), "the link came back up");
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    let s = stdout(&out);
    let verb = if during_download {
        "downloading"
    } else {
        "uploading"
    };
    assert!(s.contains(&format!("far: {verb}")), "{s}");
    // rsync's ssh ends with 255, or rsync sees the socket break first (10).
    assert!(
        s.contains("failed: connection lost: cannot reach far")
            || s.contains("failed (rsync exit 255): connection lost: cannot reach far")
            || s.contains("failed (rsync exit 10): connection lost: cannot reach far"),
        "{s}"
    );
    assert!(s.contains("LOST"), "{s}");
    observed(&format!("link cut during {what}"), &out, took, "far");
    assert!(took < Duration::from_secs(30), "took {took:?}");
    assert_local_delivered(&repo, "big");
    let far = repo.join("hasher_out/far");
    assert_no_partial(&far);
    assert!(
        names_in(&far).iter().all(|n| !n.ends_with(".rpm")),
        "{:?}",
        names_in(&far)
    );
    // No build was running (before it, or after it): the slot is free.
    assert_lock_freed(&host.home.join("hasher_1"));
    // The host's side is unreachable; only this side is checked.
    assert_no_leftovers(&env, &host.process_ids());
    drop(host);
    drop(ns);
}

#[test]
fn link_cut_mid_upload_is_a_transfer_failure() {
    need_root!();
    link_cut(false);
}

#[test]
fn link_cut_mid_download_leaves_no_partial_rpm() {
    need_root!();
    link_cut(true);
}

/// Kill zoryn's transfer child (found through /proc by its parent)
/// mid-transfer: rsync on upload, ssh (the result stream) on download.
fn transfer_killed(during_download: bool) {
    let env = TestEnv::new();
    healthy_local(&env);
    let host = env.remote_builder("arm", "arm", "x86_64", "x86_64", 1);
    write_config(&env, "", SLOW_RSYNC, "");
    slow_result_stream(&env);
    let repo = big_package(&env, "big", 4);
    let child = env.spawn_zoryn(&["build", "-b", "arm,local", "-p"], &repo);
    let zoryn = child.id();
    let (watch, program) = if during_download {
        (repo.join("hasher_out/arm"), "ssh")
    } else {
        (host.home.join(".cache/zoryn/upload/big"), "rsync")
    };
    wait_until("the transfer's partial file", RUN_LIMIT, || {
        transfer_file_in(&watch).is_some()
    });
    let transfer: Vec<u32> = all_pids()
        .into_iter()
        .filter(|p| ppid(*p) == Some(zoryn) && comm(*p) == program)
        .collect();
    assert_eq!(
        transfer.len(),
        1,
        "zoryn's {program} children: {transfer:?}"
    );
    kill(Pid::from_raw(transfer[0] as i32), Signal::SIGKILL).unwrap();
    let (out, took) = wait_with_deadline(child, RUN_LIMIT);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    let s = stdout(&out);
    if during_download {
        assert!(
            s.contains("arm: downloading results from arm failed: ssh was killed by SIGKILL"),
            "{s}"
        );
    } else {
        assert!(s.contains("arm: uploading"), "{s}");
        assert!(
            s.contains("failed: rsync was killed by SIGKILL (arm)"),
            "{s}"
        );
    }
    observed(&format!("{program} killed mid-transfer"), &out, took, "arm");
    assert_local_delivered(&repo, "big");
    assert_no_partial(&repo.join("hasher_out/arm"));
    // The receiving rsync on the host removed its temporary file.
    let up = host.home.join(".cache/zoryn/upload/big");
    wait_until(
        "the remote temporary file to go",
        Duration::from_secs(15),
        || names_in(&up).iter().all(|n| !n.starts_with('.')),
    );
    assert_lock_freed(&host.home.join("hasher_1"));
    assert_no_leftovers(&env, &[]);
}

#[test]
fn rsync_killed_mid_upload_is_a_transfer_failure() {
    need_root!();
    transfer_killed(false);
}

#[test]
fn ssh_killed_mid_download_leaves_no_partial_rpm() {
    need_root!();
    transfer_killed(true);
}

/// A tmpfs mounted for the test; unmounted (lazily, if busy) on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str, uid: u32) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let st = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o"])
            .arg(format!("size={size},mode=0755,uid={uid}"))
            .arg("zoryn-test-full")
            .arg(dir)
            .status()
            .unwrap();
        assert!(st.success(), "mount tmpfs on {}", dir.display());
        Tmpfs(dir.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("--lazy")
            .arg(&self.0)
            .status();
    }
}

#[test]
fn full_results_disk_is_reported_with_the_directory() {
    need_root!();
    let env = TestEnv::new();
    healthy_local(&env);
    let _host = env.remote_builder("arm", "arm", "x86_64", "x86_64", 1);
    let results = env.root.join("results");
    write_config(
        &env,
        "",
        "",
        &format!(
            "[builders]\nresults_download_dir = \"{}\"\n",
            results.display()
        ),
    );
    let repo = big_package(&env, "big", 3);
    env.chown_all();
    // results_download_dir/arm is a 1 MiB disk; results/local is not.
    let full = results.join("arm");
    let _tmpfs = Tmpfs::mount(&full, "1m", env.uid());
    let t0 = Instant::now();
    let out = env.zoryn(&["build", "-b", "arm,local", "-p"], &repo);
    observed("results disk full", &out, t0.elapsed(), "arm");
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    let s = stdout(&out);
    assert!(s.contains("arm: cannot write results into"), "{s}");
    assert!(s.contains(&full.display().to_string()), "{s}");
    assert!(s.to_lowercase().contains("no space"), "{s}");
    let local = results.join("local");
    assert!(
        local.join("big-1.0-alt1.x86_64.rpm").is_file(),
        "{:?}",
        names_in(&local)
    );
    assert_no_partial(&local);
    assert_no_partial(&full);
    assert!(names_in(&full).is_empty(), "{:?}", names_in(&full));
    assert_lock_freed(&_host.home.join("hasher_1"));
    assert_no_leftovers(&env, &[]);
    let _ = stderr(&out);
}

/// A helper process of the test in a process group of its own, killed with
/// its whole group on drop.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = nix::sys::signal::killpg(Pid::from_raw(self.0.id() as i32), Signal::SIGKILL);
        let _ = self.0.wait();
    }
}

#[test]
fn lock_held_by_a_stranger_fails_fast_or_is_waited_for() {
    need_root!();
    let env = TestEnv::new();
    let wd = env.hasher_slot("hasher_2", Some(2));
    env.builder("local2", "hasher_number = 2\n");
    env.hasher_slot("hasher_3", Some(3));
    env.builder("local3", "hasher_number = 3\n");
    let repo = env.gear_repo("hello", "");
    // A stale pid file from an earlier build, and a stranger (not hsh, not
    // zoryn) holding the flock on the workdir.
    std::fs::write(wd.join("pid"), "999999\n").unwrap();
    env.chown_all();
    // `-o`: only flock itself holds the lock (its `sleep` child does not),
    // so killing the holder frees the workdir.
    let stranger = KillOnDrop(
        env.command("flock")
            .arg("-o")
            .arg(&wd)
            .args(["sleep", "600"])
            .process_group(0)
            .spawn()
            .unwrap(),
    );
    wait_until(
        "the stranger to take the lock",
        Duration::from_secs(10),
        || !lock_is_free(&wd),
    );
    let holder = stranger.0.id();
    let named = kernel_names_holders(env.home.as_path());
    let t0 = Instant::now();
    let out = env.zoryn(&["build", "-b", "local2,local3", "--fail-if-busy"], &repo);
    observed("stranger holds the lock", &out, t0.elapsed(), "local2");
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    let s = stdout(&out);
    assert!(s.contains("local2"), "{s}");
    assert!(
        s.contains(&locked_by(holder, named)) && !s.contains("999999"),
        "the real holder {holder} (or nobody) should be named, never the stale pid file: {s}"
    );
    assert!(
        repo.join("hasher_out/local3/hello-1.0-alt1.x86_64.rpm")
            .is_file(),
        "{s}"
    );
    // Default: wait, and build once the stranger lets go.
    let mut child = env.spawn_zoryn(&["build", "-b", "local2", "--json"], &repo);
    let so = child.stdout.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(so));
    loop {
        let line = lines.next().expect("zoryn ended without waiting").unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_ne!(v["event"], "started", "started despite the lock");
        if v["event"] == "waiting" {
            if named {
                assert_eq!(v["holder_pid"], holder, "{line}");
            } else {
                assert!(v["holder_pid"].is_null(), "{line}");
            }
            break;
        }
    }
    drop(stranger);
    let reader = std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>());
    let started = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if started.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("zoryn still waiting {RUN_LIMIT:?} after the stranger let go");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let rest = reader.join().unwrap();
    assert_eq!(status.code(), Some(0), "{rest:?}");
    assert!(repo
        .join("hasher_out/local2/hello-1.0-alt1.x86_64.rpm")
        .is_file());
    assert_lock_freed(&wd);
    assert_no_leftovers(&env, &[]);

    // The same on a remote builder: the host's /proc/locks names the holder.
    let host = env.remote_builder("arm", "arm", "x86_64", "x86_64", 1);
    let rwd = host.home.join("hasher_1");
    std::fs::write(rwd.join("pid"), "999999\n").unwrap();
    let out = env.ssh(
        "arm",
        "setsid flock -o ~/hasher_1 sleep 600 </dev/null >/dev/null 2>&1 & echo $!",
    );
    assert!(out.status.success(), "{}", both(&out));
    let rholder: u32 = stdout(&out).trim().parse().unwrap();
    wait_until(
        "the remote stranger to take the lock",
        Duration::from_secs(10),
        || !lock_is_free(&rwd),
    );
    let t0 = Instant::now();
    let out = env.zoryn(&["build", "-b", "arm,local3", "--fail-if-busy"], &repo);
    observed("stranger holds a remote lock", &out, t0.elapsed(), "arm");
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    let s = stdout(&out);
    assert!(
        s.contains(&format!(
            "arm: busy: hasher workdir {}",
            locked_by(rholder, kernel_names_holders(&rwd))
        )),
        "the real holder {rholder} (or nobody) should be named: {s}"
    );
    // Stopping the host ends the stranger too.
    drop(host);
    assert!(!alive(rholder));
}

fn journal_path(env: &TestEnv, batch: &str) -> PathBuf {
    env.home
        .join(format!(".local/state/zoryn/batches/{batch}/journal.jsonl"))
}

fn journal(env: &TestEnv, batch: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(journal_path(env, batch))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn wait_journal(env: &TestEnv, batch: &str, pred: impl Fn(&serde_json::Value) -> bool) {
    wait_until(&format!("journal of {batch}"), RUN_LIMIT, || {
        journal(env, batch).iter().any(&pred)
    });
}

fn batch_file(env: &TestEnv, name: &str, builders: &str, pkgs: &[&str]) {
    let mut text = format!("[batch]\nbasedir = \"~/src\"\nbuilders = \"{builders}\"\n");
    for p in pkgs {
        text.push_str(&format!("\n[{p}]\n"));
    }
    env.write(&format!(".config/zoryn/batch/{name}.conf"), &text);
}

fn gated(env: &TestEnv, name: &str, requires: &[&str], gate: &Path) {
    env.library_package(
        name,
        requires,
        // Silent (no `+ sleep` traces): a build that prints nothing for a
        // while must not be kept alive or killed by its output pipe. It also
        // ends when the test's HOME is gone (a failed test leaves no loop).
        &format!(
            "{{ set +x; }} 2>/dev/null\nwhile [ ! -e {} ] && [ -d {} ]; do sleep 0.1; done\n",
            gate.display(),
            env.home.display()
        ),
    );
}

/// Does the summary table have the row `PKG ... STATUS`?
fn row(summary: &str, pkg: &str, status: &str) -> bool {
    summary.lines().any(|l| {
        let w: Vec<&str> = l.split_whitespace().collect();
        w.first() == Some(&pkg) && w.last() == Some(&status)
    })
}

/// The pid of the build running now according to an event log, if any.
fn running_build(events: &str) -> Option<u32> {
    let starts = events.matches(" build-start ").count();
    let ends = events.matches(" build-end ").count();
    (starts > ends).then(|| {
        event_pid(
            events
                .lines()
                .rev()
                .find(|l| l.contains(" build-start "))
                .unwrap(),
        )
    })
}

#[test]
fn zoryn_killed_mid_batch_leaves_no_build_and_continue_finishes() {
    need_root!();
    let env = TestEnv::new();
    env.hasher_slot("hasher_2", Some(2));
    env.builder("local2", "hasher_number = 2\n");
    let host = env.add_host("h1", "x86_64");
    env.remote_builder_on(&host, "r1", "x86_64", 1);
    write_config(&env, "", "", "");
    let gate = env.home.join("gate");
    env.library_package("first", &[], "");
    gated(&env, "slowa", &["first"], &gate);
    gated(&env, "slowb", &["first"], &gate);
    env.library_package("last", &["slowa", "slowb"], "");
    batch_file(&env, "k", "local2,r1", &["first", "slowa", "slowb", "last"]);
    let child = env.spawn_zoryn(&["task", "batch", "k"], &env.home);
    wait_journal(&env, "k", |r| {
        r["ev"] == "job-finished" && r["pkg"] == "first"
    });
    // Both slow builds are running, one here and one on the host.
    wait_until("both slow builds to run", RUN_LIMIT, || {
        running_build(&env.events_text()).is_some() && running_build(&host.events_text()).is_some()
    });
    let local_hsh = running_build(&env.events_text()).unwrap();
    let remote_hsh = running_build(&host.events_text()).unwrap();
    let zoryn = child.id();
    kill(Pid::from_raw(zoryn as i32), Signal::SIGKILL).unwrap();
    let (out, _) = wait_with_deadline(child, Duration::from_secs(10));
    assert_eq!(out.status.code(), None, "not killed: {}", both(&out));
    // The killed run's builds must not run on forever holding their locks.
    wait_until("the local hsh to stop", Duration::from_secs(20), || {
        !alive(local_hsh)
    });
    wait_until("the remote hsh to stop", Duration::from_secs(20), || {
        !alive(remote_hsh)
    });
    assert_lock_freed(&env.home.join("hasher_2"));
    assert_lock_freed(&host.home.join("hasher_1"));
    let state = env.home.join(".local/state/zoryn/batches/k");
    assert_lock_freed_file(&state.join("batch.lock"));
    assert_no_leftovers(&env, &[]);
    // The journal is whole JSON lines; no run end was recorded.
    let text = std::fs::read_to_string(journal_path(&env, "k")).unwrap();
    for l in text.lines() {
        serde_json::from_str::<serde_json::Value>(l)
            .unwrap_or_else(|e| panic!("bad journal line {l}: {e}"));
    }
    let local_before = env.events_text().matches(" build-start ").count();
    let remote_before = host.events_text().matches(" build-start ").count();
    std::fs::write(&gate, "").unwrap();
    env.chown_all();
    let out = env.zoryn(&["task", "batch", "k", "--continue"], &env.home);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let s = stdout(&out);
    assert!(row(&s, "first", "KEPT"), "{s}");
    for p in ["slowa", "slowb", "last"] {
        assert!(row(&s, p, "OK"), "{p}: {s}");
    }
    // Exactly the three unfinished packages were built again, once each.
    let again = env.events_text().matches(" build-start ").count() - local_before
        + host.events_text().matches(" build-start ").count()
        - remote_before;
    assert_eq!(again, 3, "{}\n{}", env.events_text(), host.events_text());
    assert_no_leftovers(&env, &[]);
}

fn assert_lock_freed_file(path: &Path) {
    let f = std::fs::File::open(path).unwrap();
    assert!(
        nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusiveNonblock).is_ok(),
        "{} still locked",
        path.display()
    );
}

#[test]
fn torn_journal_line_is_reported_and_continue_works() {
    let env = TestEnv::new();
    env.hasher_slot("hasher_2", Some(2));
    env.builder("local2", "hasher_number = 2\n");
    let gate = env.home.join("gate");
    env.library_package("first", &[], "");
    gated(&env, "slow", &["first"], &gate);
    batch_file(&env, "t", "local2", &["first", "slow"]);
    let child = env.spawn_zoryn(&["task", "batch", "t"], &env.home);
    wait_journal(&env, "t", |r| {
        r["ev"] == "job-started" && r["pkg"] == "slow"
    });
    env.wait_for_event("build-start", RUN_LIMIT);
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    let (out, _) = wait_with_deadline(child, RUN_LIMIT);
    assert_eq!(out.status.code(), Some(130), "{}", both(&out));
    // A crash mid-write: the last record cut in half, no newline.
    let path = journal_path(&env, "t");
    let text = std::fs::read_to_string(&path).unwrap();
    let body = text.trim_end_matches('\n');
    let last_start = body.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let last = &body[last_start..];
    assert!(last.len() > 10, "{text}");
    let torn = &body[..last_start + last.len() / 2];
    std::fs::write(&path, torn).unwrap();
    let torn_len = last.len() / 2;
    std::fs::write(&gate, "").unwrap();
    let out = env.zoryn(&["task", "batch", "t", "--continue"], &env.home);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let e = stderr(&out);
    assert!(
        e.contains(&format!(
            "ignoring a torn last line of {} ({torn_len} bytes",
            path.display()
        )),
        "{e}"
    );
    let s = stdout(&out);
    assert!(row(&s, "first", "KEPT"), "{s}");
    assert!(row(&s, "slow", "OK"), "{s}");
    // The journal is whole again: every line parses.
    let text = std::fs::read_to_string(&path).unwrap();
    for l in text.lines() {
        serde_json::from_str::<serde_json::Value>(l)
            .unwrap_or_else(|e| panic!("bad journal line {l:?}: {e}"));
    }
    assert_no_leftovers(&env, &[]);
}
