//! Soak: four zoryn processes of one maintainer share three build hosts
//! with ten hasher slots and build 200 packages.
//!
//! h1 has slots (`--number`) 1–4, h2 and h3 have 1–3; the same user has the
//! same ten builders configured, and four `zoryn task batch` runs, started
//! together, each build 50 independent packages over all ten. Checked:
//! - the emulator's lock log (tests/support/emu/README.md, "Lock log") of
//!   every host: per workdir strictly alternating acquire/release by the
//!   same pid (no double-booked slot), every acquire released, every slot
//!   used, and locks of different workdirs held at the same time (the runs
//!   really were concurrent);
//! - results: every batch exits 0 with 50 OK jobs; every package's binary
//!   and source RPM arrived exactly once, in that package's results, with
//!   the right `%{NAME}-%{VERSION}`, and nothing of another package did;
//! - resources: open fds and VmRSS of each zoryn process, sampled every
//!   100 ms, stay flat: the last quarter's maximum is at most the first
//!   quarter's maximum plus 8 fds and plus 16 MiB.
//!
//! The figures (builds, wall time, fds, RSS, slots) are printed to stderr.
//! `.config/nextest.toml` gives this test a longer slow-timeout.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::sshd::TestHost;
use support::{both, TestEnv};

const PROCESSES: usize = 4;
const PACKAGES_PER_PROCESS: usize = 50;
/// (host alias, hasher numbers)
const HOSTS: [(&str, &[u32]); 3] = [
    ("h1", &[1, 2, 3, 4]),
    ("h2", &[1, 2, 3]),
    ("h3", &[1, 2, 3]),
];
const FD_SLACK: usize = 8;
const RSS_SLACK_KB: u64 = 16 * 1024;

fn pkg_name(proc_no: usize, i: usize) -> String {
    format!("s{proc_no}p{i:02}")
}

/// Make all package repos at once (one git pass as the test user).
fn make_packages(env: &TestEnv) -> Vec<Vec<String>> {
    let mut all = Vec::new();
    let mut script = String::from("set -e\n");
    for k in 0..PROCESSES {
        let mut names = Vec::new();
        for i in 0..PACKAGES_PER_PROCESS {
            let name = pkg_name(k, i);
            let dir = env.home.join("src").join(&name);
            std::fs::create_dir_all(dir.join(".gear")).unwrap();
            std::fs::create_dir_all(dir.join(&name)).unwrap();
            std::fs::write(
                dir.join(".gear/rules"),
                format!("spec: {name}.spec\ntar: {name}\n"),
            )
            .unwrap();
            std::fs::write(dir.join(&name).join("README"), format!("{name} sources\n")).unwrap();
            std::fs::write(dir.join(format!("{name}.spec")), support::spec(&name, "")).unwrap();
            script.push_str(&format!(
                "cd '{}' && git init -q . && git add -A && git commit -qm initial\n",
                dir.display()
            ));
            names.push(name);
        }
        let mut batch = format!(
            "[batch]\nbasedir = \"~/src\"\nbuilders = \"{}\"\n",
            builder_names().join(",")
        );
        for n in &names {
            batch.push_str(&format!("\n[{n}]\n"));
        }
        env.write(&format!(".config/zoryn/batch/soak{k}.conf"), &batch);
        all.push(names);
    }
    env.sh(&script, &env.home);
    all
}

fn builder_names() -> Vec<String> {
    HOSTS
        .iter()
        .flat_map(|(h, ns)| ns.iter().map(move |n| format!("{h}s{n}")))
        .collect()
}

/// One sample of a process: (seconds since start, open fds, VmRSS in kB).
type Sample = (f64, usize, u64);

fn sample(pid: u32) -> Option<(usize, u64)> {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())?;
    Some((fds, rss))
}

/// Max of fds and RSS over the samples in [from, to) of the run's duration.
fn window_max(samples: &[Sample], from: f64, to: f64) -> (usize, u64) {
    let end = samples.last().map(|s| s.0).unwrap_or(0.0);
    samples
        .iter()
        .filter(|s| s.0 >= from * end && s.0 < to * end.max(f64::MIN_POSITIVE) + 1e-9)
        .fold((0, 0), |(f, r), s| (f.max(s.1), r.max(s.2)))
}

struct LockLine {
    acquire: bool,
    workdir: String,
    pid: u32,
    ns: u128,
}

fn parse_lock_log(text: &str) -> Vec<LockLine> {
    text.lines()
        .map(|l| {
            let (kind, rest) = l
                .split_once(' ')
                .unwrap_or_else(|| panic!("bad line {l:?}"));
            let mut right = rest.rsplitn(3, ' ');
            let ns = right.next().and_then(|x| x.parse().ok());
            let pid = right.next().and_then(|x| x.parse().ok());
            let workdir = right.next();
            match (kind, workdir, pid, ns) {
                ("acquire" | "release", Some(w), Some(pid), Some(ns)) => LockLine {
                    acquire: kind == "acquire",
                    workdir: w.to_string(),
                    pid,
                    ns,
                },
                _ => panic!("bad lock log line {l:?}"),
            }
        })
        .collect()
}

/// `%{NAME}-%{VERSION}` of each RPM, in order (one rpm run for all).
/// The lock intervals `(workdir, acquire ns, release ns)` of a lock log, or
/// why it shows a broken lock: an acquire while another pid held the same
/// workdir (double booking), a release by a pid that did not hold it, or an
/// acquire that was never released.
fn check_lock_log(text: &str) -> Result<Vec<(String, u128, u128)>, String> {
    let mut held: BTreeMap<String, (u32, u128)> = BTreeMap::new();
    let mut out = Vec::new();
    for l in parse_lock_log(text) {
        if l.acquire {
            if let Some((other, _)) = held.get(&l.workdir) {
                return Err(format!(
                    "double-booked slot {}: pid {} acquired while pid {other} held it",
                    l.workdir, l.pid
                ));
            }
            held.insert(l.workdir, (l.pid, l.ns));
        } else {
            match held.remove(&l.workdir) {
                Some((pid, start)) if pid == l.pid => out.push((l.workdir, start, l.ns)),
                other => {
                    return Err(format!(
                        "release by pid {} of {} that it did not hold ({other:?})",
                        l.pid, l.workdir
                    ))
                }
            }
        }
    }
    if !held.is_empty() {
        return Err(format!("never released: {held:?}"));
    }
    Ok(out)
}

/// The checker itself catches what it is for.
#[test]
fn lock_log_check_finds_double_booking_and_leaks() {
    let ok = "acquire /w/a 1 10\nacquire /w/b 2 11\nrelease /w/a 1 12\nrelease /w/b 2 13\n";
    assert_eq!(check_lock_log(ok).unwrap().len(), 2);
    let double = "acquire /w/a 1 10\nacquire /w/a 2 11\nrelease /w/a 2 12\nrelease /w/a 1 13\n";
    assert!(check_lock_log(double)
        .unwrap_err()
        .contains("double-booked"));
    let foreign = "acquire /w/a 1 10\nrelease /w/a 2 11\n";
    assert!(check_lock_log(foreign)
        .unwrap_err()
        .contains("did not hold"));
    let leak = "acquire /w/a 1 10\nrelease /w/a 1 11\nacquire /w/a 3 12\n";
    assert!(check_lock_log(leak).unwrap_err().contains("never released"));
    let spaces = "acquire /w/my slot 1 10\nrelease /w/my slot 1 11\n";
    assert_eq!(check_lock_log(spaces).unwrap()[0].0, "/w/my slot");
}

fn rpm_name_versions(paths: &[PathBuf]) -> Vec<String> {
    let out = Command::new("rpm")
        .args(["-qp", "--nosignature", "--qf", "%{NAME}-%{VERSION}\\n"])
        .args(paths)
        .output()
        .unwrap();
    assert!(out.status.success(), "rpm -qp: {}", both(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn four_clients_share_three_hosts_and_ten_slots_for_200_builds() {
    let env = TestEnv::new();
    let hosts: Vec<TestHost> = HOSTS
        .iter()
        .map(|(alias, numbers)| {
            let host = env.add_host(alias, "x86_64");
            let cmd: String = numbers
                .iter()
                .map(|n| {
                    format!(
                        "mkdir -p ~/hasher_{n} && hasher-useradd --number={n} \"$(id -un)\" && "
                    )
                })
                .collect();
            let out = env.ssh(alias, &format!("{cmd}true"));
            assert!(out.status.success(), "{}", both(&out));
            for n in *numbers {
                env.builder(
                    &format!("{alias}s{n}"),
                    &format!("host = \"{alias}\"\narch = \"x86_64\"\nhasher_number = {n}\n"),
                );
            }
            host
        })
        .collect();
    let packages = make_packages(&env);

    // Start the four clients together; sample them until all have exited.
    let t0 = Instant::now();
    // Clients still running when the test fails are stopped, not left behind.
    let mut clients = Clients(Vec::new());
    for k in 0..PROCESSES {
        clients
            .0
            .push(env.spawn_zoryn(&["task", "batch", &format!("soak{k}")], &env.home));
    }
    let children = &mut clients.0;
    let pids: Vec<u32> = children.iter().map(|c| c.id()).collect();
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        let pids = pids.clone();
        std::thread::spawn(move || {
            let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); pids.len()];
            while !done.load(Ordering::Relaxed) {
                for (k, pid) in pids.iter().enumerate() {
                    if let Some((fds, rss)) = sample(*pid) {
                        samples[k].push((t0.elapsed().as_secs_f64(), fds, rss));
                    }
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            samples
        })
    };
    let readers: Vec<_> = children
        .iter_mut()
        .map(|c| {
            let mut out = c.stdout.take().unwrap();
            let mut err = c.stderr.take().unwrap();
            std::thread::spawn(move || {
                let mut o = String::new();
                let mut e = String::new();
                let t = std::thread::spawn(move || {
                    let _ = err.read_to_string(&mut e);
                    e
                });
                let _ = out.read_to_string(&mut o);
                (o, t.join().unwrap())
            })
        })
        .collect();
    let codes: Vec<Option<i32>> = children
        .iter_mut()
        .map(|c| c.wait().unwrap().code())
        .collect();
    let wall = t0.elapsed();
    done.store(true, Ordering::Relaxed);
    let samples = sampler.join().unwrap();
    let outputs: Vec<(String, String)> = readers.into_iter().map(|r| r.join().unwrap()).collect();
    for (k, code) in codes.iter().enumerate() {
        assert_eq!(
            *code,
            Some(0),
            "batch soak{k}:\n{}\n{}",
            outputs[k].0,
            outputs[k].1
        );
    }

    // Every batch: 50 jobs, all OK; the four batch runs overlapped in time.
    let mut spans = Vec::new();
    for k in 0..PROCESSES {
        let report = env
            .home
            .join(format!(".local/state/zoryn/batches/soak{k}/report.json"));
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
        let jobs = report["jobs"].as_array().unwrap();
        assert_eq!(jobs.len(), PACKAGES_PER_PROCESS, "{report}");
        assert!(jobs.iter().all(|j| j["result"] == "OK"), "{report}");
        let start = report["started_unix"].as_f64().unwrap();
        spans.push((start, start + report["wall_secs"].as_f64().unwrap()));
    }
    let latest_start = spans.iter().map(|s| s.0).fold(f64::MIN, f64::max);
    let earliest_end = spans.iter().map(|s| s.1).fold(f64::MAX, f64::min);
    assert!(
        latest_start < earliest_end,
        "the four batches did not all run at the same time: {spans:?}"
    );

    // Results: each package's two RPMs, exactly once, right content, and
    // nothing of any other package in its results.
    let mut all_rpms: Vec<(PathBuf, String)> = Vec::new();
    for names in &packages {
        for name in names {
            let out = env.home.join("src").join(name).join("hasher_out");
            let mut found: Vec<PathBuf> = Vec::new();
            for b in std::fs::read_dir(&out).unwrap().filter_map(Result::ok) {
                for f in std::fs::read_dir(b.path()).unwrap().filter_map(Result::ok) {
                    found.push(f.path());
                }
            }
            let mut file_names: Vec<String> = found
                .iter()
                .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
                .collect();
            file_names.sort();
            assert_eq!(
                file_names,
                [
                    format!("{name}-1.0-alt1.src.rpm"),
                    format!("{name}-1.0-alt1.x86_64.rpm")
                ],
                "results of {name}: {found:?}"
            );
            all_rpms.extend(found.into_iter().map(|p| (p, format!("{name}-1.0"))));
        }
    }
    let paths: Vec<PathBuf> = all_rpms.iter().map(|(p, _)| p.clone()).collect();
    let got = rpm_name_versions(&paths);
    assert_eq!(got.len(), all_rpms.len(), "{got:?}");
    for ((p, want), got) in all_rpms.iter().zip(&got) {
        assert_eq!(got, want, "{}", p.display());
    }

    // The lock logs: no double booking, every acquire released, all slots
    // used, and different slots held at the same time.
    let mut builds = 0;
    let mut slots_used = BTreeSet::new();
    let mut intervals: Vec<(u128, u128)> = Vec::new();
    for host in &hosts {
        let text = std::fs::read_to_string(host.emu_root.join("lock.log")).unwrap();
        let held = check_lock_log(&text)
            .unwrap_or_else(|e| panic!("lock log of {}: {e}\n{text}", host.alias));
        builds += held.len();
        for (workdir, start, end) in held {
            slots_used.insert(format!("{}:{workdir}", host.alias));
            intervals.push((start, end));
        }
    }
    let expected = PROCESSES * PACKAGES_PER_PROCESS;
    assert!(builds >= expected, "{builds} builds, expected {expected}");
    assert_eq!(slots_used.len(), 10, "slots used: {slots_used:?}");
    // Most locks held at once (by the wall-clock times, over all hosts).
    let mut edges: Vec<(u128, i32)> = intervals
        .iter()
        .flat_map(|(a, b)| [(*a, 1), (*b, -1)])
        .collect();
    edges.sort();
    let (mut now, mut peak) = (0i32, 0i32);
    for (_, d) in edges {
        now += d;
        peak = peak.max(now);
    }
    assert!(
        peak >= 4,
        "at most {peak} slots were busy at once: not concurrent"
    );

    // Resources stay flat.
    let mut figures = Vec::new();
    for (k, s) in samples.iter().enumerate() {
        assert!(s.len() >= 8, "only {} samples of soak{k}", s.len());
        let (f1, r1) = window_max(s, 0.0, 0.25);
        let (f4, r4) = window_max(s, 0.75, 1.01);
        figures.push(format!(
            "soak{k}: fds first-quarter max {f1}, last-quarter max {f4}; RSS {r1} kB -> {r4} kB ({} samples)",
            s.len()
        ));
        assert!(
            f4 <= f1 + FD_SLACK,
            "soak{k}: fds grew from {f1} to {f4}: {s:?}"
        );
        assert!(
            r4 <= r1 + RSS_SLACK_KB,
            "soak{k}: RSS grew from {r1} kB to {r4} kB"
        );
    }
    eprintln!(
        "soak: {builds} builds (hsh locks) for {expected} packages by {PROCESSES} processes \
         on {} slots of {} hosts in {:.1} s; double-bookings 0; peak concurrent slots {peak}",
        slots_used.len(),
        hosts.len(),
        wall.as_secs_f64()
    );
    for f in figures {
        eprintln!("soak: {f}");
    }
}

/// zoryn clients of a test: any still running when it is dropped (the test
/// failed half-way) get SIGTERM, as on Ctrl-C, then SIGKILL if they have
/// not ended 10 s later, and are reaped.
struct Clients(Vec<std::process::Child>);

impl Drop for Clients {
    fn drop(&mut self) {
        use nix::sys::signal::{kill, Signal};
        let pid = |c: &std::process::Child| nix::unistd::Pid::from_raw(c.id() as i32);
        for c in &mut self.0 {
            if matches!(c.try_wait(), Ok(None)) {
                let _ = kill(pid(c), Signal::SIGTERM);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        for c in &mut self.0 {
            while matches!(c.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            if matches!(c.try_wait(), Ok(None)) {
                let _ = kill(pid(c), Signal::SIGKILL);
            }
            let _ = c.wait();
        }
    }
}
