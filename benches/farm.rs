//! Farm benchmarks (issue 6): what zoryn costs on top of hasher, locally
//! and over SSH, against a naive peer and against the limits; how much a
//! rebuild uploads; N parallel builds against one; start-up with 500
//! builders; zoryn's own CPU and memory under 16 and 64 builds; `-r`
//! (hsh-rebuild in the kept chroot) against a full build. Real zoryn
//! binary, real sshd test hosts on loopback, the hasher emulator (the same
//! fixtures as the integration tests).
//!
//!     scripts/bench                       # the whole suite, one table
//!     cargo bench --bench farm            # ZORYN_BENCH_RUNS=N (default 7)
//!
//! Every scenario runs interleaved with its baseline in one process; the
//! rows (see `benches/common`) give medians, ratios, limits, targets and
//! spreads. "hsh's own time" is measured by the emulator itself (its
//! lock-acquired → lock-released event stamps), so "overhead" is exactly
//! what zoryn adds around the build. Any scenario that cannot run panics:
//! the program (and `scripts/bench`) then exits non-zero.

mod common;
#[path = "../tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::time::Instant;

use common::{median, Row, Target};
use support::{both, TestEnv};

/// hsh's own wall time for each build recorded in an events file since
/// line `from`: lock-acquired → lock-released, per pid.
fn own_times(events: &Path, from: usize) -> Vec<f64> {
    let text = std::fs::read_to_string(events).unwrap_or_default();
    let mut open = std::collections::HashMap::new();
    let mut out = Vec::new();
    for l in text.lines().skip(from) {
        let mut w = l.split_whitespace();
        let (Some(ts), Some(kind)) = (w.next(), w.next()) else {
            continue;
        };
        let Ok(ts) = ts.parse::<u128>() else { continue };
        let pid = l
            .split_whitespace()
            .find(|x| x.starts_with("pid="))
            .unwrap_or("")
            .to_string();
        match kind {
            "lock-acquired" => {
                open.insert(pid, ts);
            }
            "lock-released" => {
                if let Some(t0) = open.remove(&pid) {
                    out.push((ts - t0) as f64 / 1e6);
                }
            }
            _ => {}
        }
    }
    out
}

fn lines(p: &Path) -> usize {
    std::fs::read_to_string(p)
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

fn timed(env: &TestEnv, args: &[&str], cwd: &Path) -> f64 {
    timed_with(env, &env.bin_dir.join("zoryn"), args, cwd)
}

/// [`timed`] with another zoryn binary.
fn timed_with(env: &TestEnv, zoryn: &Path, args: &[&str], cwd: &Path) -> f64 {
    env.chown_all();
    let mut cmd = env.command(zoryn);
    cmd.args(args).current_dir(cwd);
    let t = Instant::now();
    let out = cmd.output().expect("run zoryn");
    let ms = t.elapsed().as_secs_f64() * 1e3;
    assert_eq!(
        out.status.code(),
        Some(0),
        "zoryn {args:?} failed:\n{}",
        both(&out)
    );
    ms
}

/// One `zoryn build -b arm` (of the binary `zoryn`) under `strace -f` (process starts and ends and
/// zoryn's own log lines, with times) into `out`, for a phase breakdown.
fn profiled(env: &TestEnv, zoryn: &Path, out: &Path, cwd: &Path) {
    env.chown_all();
    let cmd = env.command("strace");
    let inner: Vec<std::ffi::OsString> = std::iter::once(cmd.get_program().to_owned())
        .chain(cmd.get_args().map(|a| a.to_owned()))
        .collect();
    let mut s = std::process::Command::new("strace");
    s.args([
        "-f",
        "--seccomp-bpf",
        "-ttt",
        "-s",
        "200",
        "-e",
        "trace=execve,exit_group,connect",
        "-o",
    ])
    .arg(out)
    .args(&inner[..inner.len() - 1])
    .arg(zoryn)
    .args(["build", "-q", "-b", "arm"])
    .current_dir(cwd)
    .env_clear()
    .envs(cmd.get_envs().filter_map(|(k, v)| Some((k, v?))))
    .stdin(std::process::Stdio::null());
    let o = s.output().expect("run strace");
    assert!(o.status.success(), "strace zoryn: {}", both(&o));
}

/// One `zoryn build -q -b arm` without strace, with
/// `ZORYN_LOG=zoryn::commands=debug,info`: each command zoryn ran and how
/// long it took, stamped with the time since start, into `out`.
fn logged(env: &TestEnv, zoryn: &Path, out: &Path, cwd: &Path) {
    env.chown_all();
    let o = env
        .command(zoryn)
        .args(["build", "-q", "-b", "arm"])
        .env("ZORYN_LOG", "zoryn::commands=debug,info")
        .current_dir(cwd)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run zoryn");
    assert!(o.status.success(), "zoryn: {}", both(&o));
    std::fs::write(out, &o.stderr).expect("write the log");
}

/// `ZORYN_BENCH_ONLY=a,b` runs only those sections (local, rebuild, remote, cycle,
/// upload, startup, fanout, batch).
fn wanted(section: &str) -> bool {
    std::env::var("ZORYN_BENCH_ONLY").map_or(true, |v| v.split(',').any(|s| s.trim() == section))
}

fn runs() -> usize {
    std::env::var("ZORYN_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7)
        .max(1)
}

fn main() {
    // `cargo bench` passes --bench; nothing to parse.
    let runs = runs();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    println!(
        "zoryn farm benchmark: {runs} runs per scenario, interleaved; {cores} cores, {}",
        std::env::consts::ARCH
    );
    if wanted("local") {
        common::emit("local builds", &local(runs));
    }
    if wanted("rebuild") {
        common::emit(
            "rebuild in the kept chroot (-r) vs a full build",
            &rebuild(runs),
        );
    }
    if wanted("remote") {
        common::emit(
            "remote builds: overhead beyond hsh's own time",
            &remote(runs),
        );
    }
    if wanted("cycle") {
        common::emit(
            "the edit-build cycle on a remote builder: overhead beyond hsh's own time",
            &cycle(runs),
        );
    }
    if wanted("upload") {
        common::emit("upload of a rebuild after a one-line change", &upload());
    }
    if wanted("startup") {
        common::emit("start-up with 500 builders", &startup(runs));
    }
    if wanted("fanout") {
        common::emit(
            "fan-out over 8 hosts x 8 slots (emulator delay 3 s) and zoryn's own cost",
            &fanout(runs.clamp(3, 5)),
        );
    }
    if wanted("batch") {
        common::emit("a real batch", &batch_e2e());
    }
}

/// Run a shell script as the maintainer in `cwd`; its wall time in ms.
fn shell(env: &TestEnv, script: &str, cwd: &Path) -> f64 {
    env.chown_all();
    let mut c = env.command("bash");
    c.arg("-c").arg(script).current_dir(cwd);
    let t = Instant::now();
    let out = c.output().expect("run bash");
    assert!(out.status.success(), "{script}: {}", both(&out));
    t.elapsed().as_secs_f64() * 1e3
}

/// `zoryn build` vs gear + hsh typed by hand.
fn local(runs: usize) -> Vec<Row> {
    let env = TestEnv::new();
    env.hasher_slot("hasher", None);
    let repo = env.gear_repo("hello", "");
    timed(&env, &["build", "-q"], &repo); // warm caches
    let tar = env.home.join("tmp/manual.tar");
    let gear_cmd = format!("gear --commit --no-compress {}", tar.display());
    let hsh_cmd = format!(
        "hsh --lazy-cleanup {} {} >/dev/null",
        env.home.join("hasher").display(),
        tar.display()
    );
    let (mut z, mut own, mut manual) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let g = shell(&env, &gear_cmd, &repo);
        manual.push(g + shell(&env, &hsh_cmd, &repo));
        let from = lines(&env.events);
        z.push(timed(&env, &["build", "-q"], &repo));
        own.extend(own_times(&env.events, from));
    }
    assert_eq!(own.len(), z.len(), "the emulator logged every build");
    let over: Vec<f64> = z.iter().zip(&own).map(|(a, b)| a - b).collect();
    let m = median(&z) / median(&manual);
    vec![
        Row {
            id: "local-build",
            scenario: "local zoryn build".into(),
            unit: "ms",
            baseline: Some(("gear+hsh by hand".into(), manual)),
            ratio: Some((m, "zoryn/by hand")),
            zoryn: z,
            limit: None,
            target: None,
        },
        Row {
            id: "local-overhead",
            scenario: "local build: overhead over hsh's own time".into(),
            unit: "ms",
            zoryn: over,
            baseline: Some(("hsh own time".into(), own)),
            ratio: None,
            limit: Some("0".into()),
            target: None,
        },
    ]
}

/// `zoryn build -r` (hsh-rebuild in the chroot the last build kept) against
/// a full `zoryn build`, interleaved, on the local builder. The emulator's
/// chroot preparation is cheap (no real package installs), so this is a
/// lower bound of what `-r` saves on a real hasher.
fn rebuild(runs: usize) -> Vec<Row> {
    let env = TestEnv::new();
    env.hasher_slot("hasher", None);
    let repo = env.gear_repo("hello", "");
    timed(&env, &["build", "-q"], &repo); // warm caches, leave a chroot
    let (mut full, mut re) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        full.push(timed(&env, &["build", "-q"], &repo));
        re.push(timed(&env, &["build", "-q", "-r"], &repo));
    }
    let ratio = median(&re) / median(&full);
    vec![Row {
        id: "rebuild-r",
        scenario: "local zoryn build -r".into(),
        unit: "ms",
        baseline: Some(("full zoryn build".into(), full)),
        ratio: Some((ratio, "-r/full")),
        zoryn: re,
        limit: None,
        target: None,
    }]
}

/// A test host `arm` with hasher slot 1 and a builder for it.
fn arm_host(env: &TestEnv) -> support::sshd::TestHost {
    let host = env.add_host("arm", "aarch64");
    let out = env.ssh(
        "arm",
        "mkdir -p ~/hasher_1 && hasher-useradd --number=1 \"$(id -un)\"",
    );
    assert!(out.status.success(), "{}", both(&out));
    env.builder(
        "arm",
        "type = \"remote\"\nhost = \"arm\"\narch = \"aarch64\"\nhasher_number = 1\n",
    );
    host
}

/// Remote build overhead: cold master, warm master, no multiplexing, and
/// the naive peer, interleaved.
fn remote(runs: usize) -> Vec<Row> {
    let env = TestEnv::new();
    let repo = env.gear_repo("hello", "");
    let host = arm_host(&env);
    let base_cfg = env.ssh_commands_toml();
    let rt = env.root.join("run/zoryn");
    let close_master = |env: &TestEnv| {
        let _ = env
            .command("ssh")
            .arg("-F")
            .arg(env.ssh_config_path())
            .arg("-o")
            .arg(format!("ControlPath={}/%C", rt.display()))
            .args(["-O", "exit", "arm"])
            .output();
    };
    env.write(".zoryn", &base_cfg);
    timed(&env, &["build", "-q", "-b", "arm"], &repo);
    // Order matters: "cold" closes the master and makes a new one, so the
    // "warm" run right after it finds a live master; "no multiplexing" closes
    // it again and uses none.
    let mut scenarios: Vec<(&str, Vec<f64>, Vec<f64>)> = vec![
        ("cold master", vec![], vec![]),
        ("warm master", vec![], vec![]),
        ("no multiplexing", vec![], vec![]),
        ("naive peer", vec![], vec![]),
    ];
    // The naive peer (gear-remote-hsh style, benches/naive-remote-build.sh),
    // run as the maintainer with the same ssh config.
    let naive_script =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/naive-remote-build.sh");
    let naive_copy = env.root.join("naive-remote-build.sh");
    std::fs::copy(&naive_script, &naive_copy).expect("copy the naive peer");
    let naive = |env: &TestEnv| -> f64 {
        env.chown_all();
        let mut c = env.command("sh");
        c.arg(&naive_copy)
            .arg(format!(
                "ssh -F {} -o ControlMaster=no -o ControlPath=none",
                env.ssh_config_path().display()
            ))
            .arg("arm")
            .arg(host.home.join("naive").display().to_string())
            .arg("1")
            .arg(env.home.join("naive-out"))
            .current_dir(&repo);
        let t = Instant::now();
        let out = c.output().expect("run the naive peer");
        let ms = t.elapsed().as_secs_f64() * 1e3;
        assert!(out.status.success(), "naive peer failed: {}", both(&out));
        ms
    };
    for _ in 0..runs {
        for (name, wall, own) in scenarios.iter_mut() {
            match *name {
                "cold master" => {
                    close_master(&env);
                    env.write(".zoryn", &base_cfg)
                }
                "warm master" => env.write(".zoryn", &base_cfg),
                _ => {
                    close_master(&env);
                    env.write(
                        ".zoryn",
                        &format!("[ssh]\nmultiplexing = false\n\n{base_cfg}"),
                    )
                }
            };
            let from = lines(&host.events);
            if *name == "naive peer" {
                wall.push(naive(&env));
            } else {
                wall.push(timed(&env, &["build", "-q", "-b", "arm"], &repo));
            }
            own.extend(own_times(&host.events, from));
            assert_eq!(
                own.len(),
                wall.len(),
                "{name}: the emulator logged the build"
            );
        }
    }
    close_master(&env);
    let overhead = |i: usize| -> Vec<f64> {
        let (_, w, o) = &scenarios[i];
        w.iter().zip(o).map(|(a, b)| a - b).collect()
    };
    let naive_over = overhead(3);
    let row = |id: &'static str, i: usize, target: Option<f64>| {
        let over = overhead(i);
        let r = median(&naive_over) / median(&over);
        Row {
            id,
            scenario: format!("remote build, {}: overhead", scenarios[i].0),
            unit: "ms",
            zoryn: over,
            baseline: Some(("naive peer".into(), naive_over.clone())),
            ratio: Some((r, "naive/zoryn")),
            limit: Some("0".into()),
            target: target.map(|t| Target {
                text: format!(">= {t}x lower than naive"),
                met: r >= t,
            }),
        }
    };
    let own_all: Vec<f64> = scenarios.iter().flat_map(|s| s.2.clone()).collect();
    vec![
        row("remote-warm", 1, Some(5.0)),
        row("remote-cold", 0, None),
        row("remote-nomux", 2, None),
        Row {
            id: "remote-hsh",
            scenario: "remote: hsh's own time (for scale)".into(),
            unit: "ms",
            zoryn: own_all,
            baseline: None,
            ratio: None,
            limit: None,
            target: None,
        },
    ]
}

/// The maintainer's edit-build cycle on one remote builder (issue 13): a
/// one-line change then a rebuild, and a rebuild with nothing changed —
/// zoryn (warm master) against the naive peer (gear-remote-hsh style, no
/// multiplexing) and against gear + ssh + hsh typed by hand through a
/// multiplexed connection (the same master socket). Package: 2.7 MB of
/// source. Overhead = wall time minus hsh's own time. The limit is one ssh
/// round trip through the master (`ssh HOST true`) plus sending the changed
/// bytes (a few bytes here: nothing measurable on loopback).
fn cycle(runs: usize) -> Vec<Row> {
    let env = TestEnv::new();
    let host = arm_host(&env);
    let repo = env.gear_repo("hello", "");
    // 2.7 MB of source that does not compress away: 100,000 lines of 27 bytes.
    let data: String = (0..100_000u64)
        .map(|i| format!("{i:09} {:016x}\n", i.wrapping_mul(0x9e37_79b9_7f4a_7c15)))
        .collect();
    std::fs::write(repo.join("hello/data.txt"), &data).expect("write the data");
    env.sh("git add -A && git commit -qm data", &repo);
    env.write(".zoryn", &env.ssh_commands_toml());
    let rt = env.root.join("run/zoryn");
    let mux = format!(
        "ssh -F {} -o ControlPath={}/%C -o ControlMaster=auto -o ControlPersist=120",
        env.ssh_config_path().display(),
        rt.display()
    );
    let nomux = format!(
        "ssh -F {} -o ControlMaster=no -o ControlPath=none",
        env.ssh_config_path().display()
    );
    let naive_copy = env.root.join("naive-remote-build.sh");
    std::fs::copy(
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/naive-remote-build.sh"),
        &naive_copy,
    )
    .expect("copy the naive peer");
    let naive = format!(
        "sh {} '{nomux}' arm {} 1 {}",
        naive_copy.display(),
        host.home.join("naive").display(),
        env.home.join("naive-out").display()
    );
    // By hand, as a maintainer who knows the tools: pack, upload with the
    // out dirs made in the same session, build into them, bring them back.
    let hand_tar = env.home.join("tmp/hand.tar");
    let hand_out = env.home.join("hand-out");
    let by_hand = format!(
        "set -e; gear --commit --no-compress {tar}\n\
         {mux} arm 'cd \"$HOME\" && rm -rf hand/out && mkdir -p hand/out/bin hand/out/src && cat >hand/pkg.tar' <{tar}\n\
         {mux} arm 'cd \"$HOME\" && hsh --number=1 --repo-bin=\"$HOME/hand/out/bin\" --repo-src=\"$HOME/hand/out/src\" hasher_1 hand/pkg.tar >/dev/null'\n\
         rm -rf {out} && mkdir -p {out} && {mux} arm 'cd \"$HOME/hand/out\" && tar -c .' | tar -x -C {out}\n",
        tar = hand_tar.display(),
        out = hand_out.display(),
    );
    let rtt = format!("{mux} arm true");
    // ZORYN_BENCH_AB=PATH: another zoryn binary (say, main's) interleaved
    // with this one, for a before/after comparison in one run.
    let before = std::env::var_os("ZORYN_BENCH_AB").map(|p| {
        let to = env.bin_dir.join("zoryn-before");
        std::fs::copy(&p, &to).expect("copy the ZORYN_BENCH_AB binary");
        to
    });
    timed(&env, &["build", "-q", "-b", "arm"], &repo); // master up, caches warm
    if let Some(b) = &before {
        timed_with(&env, b, &["build", "-q", "-b", "arm"], &repo);
    }
    shell(&env, &by_hand, &repo);
    shell(&env, &naive, &repo);
    let mut line = 0u64;
    let mut one_line_change = |env: &TestEnv| {
        line += 1;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(repo.join("hello/README"))
            .expect("README");
        std::io::Write::write_all(&mut f, format!("change {line}\n").as_bytes()).expect("edit");
        env.chown_all();
    };
    // ZORYN_BENCH_PROFILE=DIR: one change and one unchanged build under
    // strace (processes started and ended, with times), into DIR, and one
    // of each without strace, logging each command zoryn ran and its time
    // (`*.log`); with ZORYN_BENCH_AB also of that binary (`before-*`).
    if let Some(dir) = std::env::var_os("ZORYN_BENCH_PROFILE") {
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).expect("the profile dir");
        let zoryn = env.bin_dir.join("zoryn");
        let mut binaries = vec![("", &zoryn)];
        if let Some(b) = &before {
            binaries.push(("before-", b));
        }
        for (prefix, bin) in binaries {
            for (name, change) in [("change", true), ("unchanged", false)] {
                if change {
                    one_line_change(&env);
                }
                profiled(
                    &env,
                    bin,
                    &dir.join(format!("{prefix}{name}.strace")),
                    &repo,
                );
            }
            for (name, change) in [("change", true), ("unchanged", false)] {
                if change {
                    one_line_change(&env);
                }
                logged(&env, bin, &dir.join(format!("{prefix}{name}.log")), &repo);
            }
        }
    }
    // (name, overheads)
    let mut names = vec![
        "zoryn change",
        "zoryn unchanged",
        "naive change",
        "naive unchanged",
        "hand change",
        "hand unchanged",
    ];
    if before.is_some() {
        names.extend(["before change", "before unchanged"]);
    }
    let mut over: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    let mut rtts = Vec::new();
    for _ in 0..runs {
        for (i, name) in names.iter().enumerate() {
            if name.ends_with(" change") {
                one_line_change(&env);
            }
            let from = lines(&host.events);
            let wall = match (i / 2, &before) {
                (0, _) => timed(&env, &["build", "-q", "-b", "arm"], &repo),
                (1, _) => shell(&env, &naive, &repo),
                (3, Some(b)) => timed_with(&env, b, &["build", "-q", "-b", "arm"], &repo),
                _ => shell(&env, &by_hand, &repo),
            };
            let own = own_times(&host.events, from);
            assert_eq!(own.len(), 1, "{name}: the emulator logged one build");
            over[i].push(wall - own[0]);
        }
        rtts.push(shell(&env, &rtt, &repo));
    }
    let limit = median(&rtts);
    let row = |id: &'static str, i: usize, base: usize, target_ms: f64| {
        let z = &over[i];
        let b = &over[base];
        let r = median(b) / median(z);
        Row {
            id,
            scenario: format!("edit-build cycle, {}: overhead", names[i]),
            unit: "ms",
            zoryn: z.clone(),
            baseline: Some((names[base].into(), b.clone())),
            ratio: Some((
                r,
                match base {
                    0..=3 => "naive/zoryn",
                    4 | 5 => "hand/zoryn",
                    _ => "before/zoryn",
                },
            )),
            limit: Some(format!("{limit:.0} (1 ssh RTT)")),
            target: Some(Target {
                text: format!("<= {target_ms:.0} ms"),
                met: median(z) <= target_ms,
            }),
        }
    };
    let mut rows = vec![
        row("cycle-change", 0, 2, 250.0),
        row("cycle-change-hand", 0, 4, 250.0),
        row("cycle-unchanged", 1, 3, 120.0),
        row("cycle-unchanged-hand", 1, 5, 120.0),
        Row {
            id: "cycle-rtt",
            scenario: "one ssh round trip through the master (ssh HOST true)".into(),
            unit: "ms",
            zoryn: rtts.clone(),
            baseline: None,
            ratio: None,
            limit: None,
            target: None,
        },
    ];
    if before.is_some() {
        rows.push(row("cycle-change-ab", 0, 6, 250.0));
        rows.push(row("cycle-unchanged-ab", 1, 7, 120.0));
    }
    rows
}

/// Bytes uploaded for a rebuild of a package with a 50 MB source after a
/// one-line change.
fn upload() -> Vec<Row> {
    let env = TestEnv::new();
    let _host = arm_host(&env);
    let big = env.gear_repo("bigpkg", "");
    // 2,000,000 lines of 26 bytes: 52 MB, little repetition.
    let data: String = (0..2_000_000u64)
        .map(|i| format!("{i:08} {:016x}\n", i.wrapping_mul(0x9e37_79b9_7f4a_7c15)))
        .collect();
    std::fs::write(big.join("bigpkg/data.txt"), &data).expect("write the data");
    env.sh("git add -A && git commit -qm data", &big);
    let sent = |env: &TestEnv| -> (f64, f64) {
        let out = env.zoryn(&["build", "-b", "arm", "--json"], &big);
        assert_eq!(out.status.code(), Some(0), "{}", both(&out));
        let s = String::from_utf8_lossy(&out.stdout).into_owned();
        let up: serde_json::Value = s
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| v["event"] == "uploaded")
            .expect("an uploaded event");
        (
            up["bytes_sent"].as_f64().expect("bytes_sent"),
            up["tarball_bytes"].as_f64().expect("tarball_bytes"),
        )
    };
    let (first, size) = sent(&env);
    assert!(
        size > 50e6,
        "the source tarball is over 50 MB ({size} bytes)"
    );
    let needle = "01000000 ";
    let inserted = "changed ";
    let changed = data.replacen(needle, &format!("{needle}{inserted}"), 1);
    assert_ne!(changed, data, "the one-line change was made");
    std::fs::write(big.join("bigpkg/data.txt"), changed).expect("write the change");
    let (second, _) = sent(&env);
    let change = inserted.len() as f64;
    let bound = 2.0 * change + 65536.0;
    vec![
        Row {
            id: "upload-first",
            scenario: format!("first upload of a {:.1} MB tarball", size / 1e6),
            unit: "bytes",
            zoryn: vec![first],
            baseline: Some(("tarball".into(), vec![size])),
            ratio: Some((first / size, "zoryn/tarball")),
            limit: Some(format!("{size:.0}")),
            target: None,
        },
        Row {
            id: "upload-rebuild",
            scenario: format!("rebuild upload after a one-line change (+{change:.0} bytes)"),
            unit: "bytes",
            zoryn: vec![second],
            baseline: Some(("whole tarball".into(), vec![size])),
            ratio: Some((size / second, "tarball/zoryn")),
            limit: Some(format!("{change:.0}")),
            target: Some(Target {
                text: format!("< 2x change + 64 KiB = {bound:.0}"),
                met: second < bound,
            }),
        },
    ]
}

/// `zoryn builder list` and pattern resolution with 500 builders in
/// `builders.d`, against the process start-up alone (`zoryn --version`).
fn startup(runs: usize) -> Vec<Row> {
    let env = TestEnv::new();
    for i in 1..=500u32 {
        env.builder(
            &format!("b{i}"),
            &format!(
                "type = \"remote\"\nhost = \"node{}\"\narch = \"{}\"\nbranch = \"{}\"\nhasher_number = {}\n",
                i / 20,
                if i % 2 == 0 { "x86_64" } else { "aarch64" },
                if i % 3 == 0 { "p11" } else { "sisyphus" },
                i % 20 + 1
            ),
        );
    }
    let pattern = "b[1-400],^b1?,@arch:aarch64,@host:node4";
    let quiet = |args: &[&str]| -> f64 {
        let mut cmd = env.command(env.bin_dir.join("zoryn"));
        cmd.args(args).current_dir(&env.home);
        let t = Instant::now();
        let out = cmd.output().expect("run zoryn");
        let ms = t.elapsed().as_secs_f64() * 1e3;
        assert_eq!(out.status.code(), Some(0), "zoryn {args:?}: {}", both(&out));
        ms
    };
    env.chown_all();
    let out = env.zoryn(&["builder", "list"], &env.home);
    assert_eq!(
        support::stdout(&out).lines().count(),
        502,
        "header, local and 500 builders: {}",
        both(&out)
    );
    let (mut ver, mut list, mut pat) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs * 3 {
        ver.push(quiet(&["--version"]));
        list.push(quiet(&["builder", "list"]));
        pat.push(quiet(&["builder", "list", "-b", pattern, "--explain"]));
    }
    let row = |id, scenario: &str, v: Vec<f64>| {
        let m = median(&v);
        Row {
            id,
            scenario: scenario.into(),
            unit: "ms",
            ratio: Some((m / median(&ver), "zoryn/start-up")),
            zoryn: v,
            baseline: Some(("zoryn --version".into(), ver.clone())),
            limit: None,
            target: Some(Target {
                text: "< 20 ms".into(),
                met: m < 20.0,
            }),
        }
    };
    vec![
        row("startup-list", "builder list, 500 builders", list),
        row(
            "startup-pattern",
            "builder list -b PATTERN --explain, 500 builders",
            pat,
        ),
    ]
}

/// A 12-package batch on 3 local slots (emulator delay 1 s per build): the
/// first run teaches the history the durations; the second run's real
/// makespan is compared with the estimate the scheduler made from them, and
/// with the lower bound.
fn batch_e2e() -> Vec<Row> {
    let env = TestEnv::new();
    for n in 2..=4 {
        env.hasher_slot(&format!("hasher_{n}"), Some(n));
        env.builder(&format!("local{n}"), &format!("hasher_number = {n}\n"));
    }
    let graph = support::PACKAGE_FAMILY;
    let mut text = String::from("[batch]\nbasedir = \"~/src\"\nbuilders = \"local[2-4]\"\n");
    for (name, deps) in graph {
        env.library_package(name, deps, "sleep 1\n");
        text.push_str(&format!("\n[{name}]\n"));
    }
    env.write(".config/zoryn/batch/e2e.conf", &text);
    let report = |args: &[&str]| -> serde_json::Value {
        timed(&env, args, &env.home);
        let p = env.home.join(".local/state/zoryn/batches/e2e/report.json");
        serde_json::from_str(&std::fs::read_to_string(p).expect("report.json"))
            .expect("report.json is JSON")
    };
    report(&["task", "batch", "-q", "e2e"]);
    let r = report(&["task", "batch", "-q", "e2e", "--restart"]);
    let est = r["lanes"][0]["estimated_makespan"]
        .as_f64()
        .expect("estimate");
    let lb = r["lanes"][0]["lower_bound"].as_f64().expect("lower bound");
    let real = r["wall_secs"].as_f64().expect("wall_secs");
    vec![Row {
        id: "batch-real",
        scenario: "real batch, 12 packages on 3 local slots: makespan".into(),
        unit: "ms",
        zoryn: vec![real * 1e3],
        baseline: Some(("lower bound".into(), vec![lb * 1e3])),
        ratio: Some((real / lb, "zoryn/lower bound")),
        limit: Some(format!("{:.0}", lb * 1e3)),
        target: Some(Target {
            text: format!("plan's estimate {:.0} ms", est * 1e3),
            met: real <= est * 1.10,
        }),
    }]
}

/// Wall time of N parallel builds (N = 1, 4, 16, 64 slots on 8 loopback
/// hosts, emulator delay 3 s) against one build, next to the same builds
/// launched by hand (`ssh HOST hsh ...` all at once through the same warm
/// masters: what this machine allows); and zoryn's own CPU time and peak
/// memory during the 16- and 64-build runs, with and without --top.
fn fanout(runs: usize) -> Vec<Row> {
    let env = TestEnv::new();
    let (hosts_n, slots_n) = (8u32, 8u32);
    let mut hosts = Vec::new();
    for h in 1..=hosts_n {
        let alias = format!("h{h}");
        let host = env.add_host(&alias, "x86_64");
        let out = env.ssh(
            &alias,
            &format!("for n in $(seq 1 {slots_n}); do mkdir -p ~/hasher_$n && hasher-useradd --number=$n \"$(id -un)\" || exit 1; done"),
        );
        assert!(out.status.success(), "{}", both(&out));
        std::fs::write(host.emu_root.join("knobs"), "HASHER_EMU_DELAY=3\n").expect("knobs");
        for n in 1..=slots_n {
            env.builder(
                &format!("s{n}h{h}"),
                &format!("host = \"{alias}\"\narch = \"x86_64\"\nhasher_number = {n}\n"),
            );
        }
        hosts.push(host);
    }
    let repo = env.gear_repo("hello", "");
    // Builder `sNhH`: hasher slot N on host hH.
    let sets: [(usize, &str); 4] = [(1, "s1h1"), (4, "s1h[1-4]"), (16, "s1h*,s2h*"), (64, "s*")];
    timed(&env, &["build", "-q", "-p", "-b", "s*"], &repo); // masters up, tarball on every host
    let rt = env.root.join("run/zoryn");
    // The same builds launched by hand through zoryn's warm masters.
    let by_hand = |n: usize| -> f64 {
        env.chown_all();
        let per_host = (n as u32).div_ceil(hosts_n).max(1);
        let mut children = Vec::new();
        let t = Instant::now();
        for i in 0..n as u32 {
            let (h, slot) = if n < hosts_n as usize {
                (i + 1, 1)
            } else {
                (i / per_host + 1, i % per_host + 1)
            };
            let mut c = env.command("ssh");
            c.arg("-F")
                .arg(env.ssh_config_path())
                .arg("-o")
                .arg(format!("ControlPath={}/%C", rt.display()))
                .args(["-o", "ControlMaster=no"])
                .arg(format!("h{h}"))
                .arg(format!(
                    "cd \"$HOME\" && hsh --number={slot} hasher_{slot} .cache/zoryn/upload/hello/hello.tar >/dev/null"
                ))
                .stdout(std::process::Stdio::null());
            children.push(c.spawn().expect("spawn ssh"));
        }
        for mut c in children {
            let st = c.wait().expect("wait ssh");
            assert!(st.success(), "a hand-launched hsh failed");
        }
        t.elapsed().as_secs_f64() * 1e3
    };
    let stats_file = env.home.join("tmp/stats.json");
    let mut wall: Vec<Vec<f64>> = vec![Vec::new(); sets.len()];
    let mut hand: Vec<Vec<f64>> = vec![Vec::new(); sets.len()];
    let mut plain_stats: Vec<Vec<(f64, f64, u64)>> = vec![Vec::new(); sets.len()];
    for _ in 0..runs {
        for (i, (n, pat)) in sets.iter().enumerate() {
            let _ = std::fs::remove_file(&stats_file);
            let before = acquired(&hosts);
            env.chown_all();
            let mut cmd = env.command(env.bin_dir.join("zoryn"));
            cmd.args(["build", "-q", "-p", "-b", pat])
                .current_dir(&repo)
                .env("ZORYN_STATS", &stats_file);
            let t = Instant::now();
            let out = cmd.output().expect("run zoryn");
            wall[i].push(t.elapsed().as_secs_f64() * 1e3);
            assert_eq!(out.status.code(), Some(0), "{}", both(&out));
            assert_eq!(acquired(&hosts) - before, *n, "{n} builds ran");
            plain_stats[i].push(read_stats(&stats_file));
            hand[i].push(by_hand(*n));
        }
    }
    // The 16 and 64 builds under --top, in a real terminal.
    let mut top_stats: Vec<Vec<(f64, f64, u64)>> = vec![Vec::new(); sets.len()];
    for _ in 0..runs.min(3) {
        for i in [2usize, 3] {
            let _ = std::fs::remove_file(&stats_file);
            let zoryn = env.bin_dir.join("zoryn");
            let mut env2 = TestEnv::clone_settings(&env);
            env2.push(("ZORYN_STATS".into(), stats_file.display().to_string()));
            let t = env.tmux_with_env(
                &[
                    zoryn.to_str().expect("utf-8 path"),
                    "build",
                    "-p",
                    "-b",
                    sets[i].1,
                    "--top",
                ],
                &repo,
                120,
                40,
                &env2,
            );
            t.wait_for("finished (exit 0)", std::time::Duration::from_secs(300));
            t.type_text("q");
            t.wait_for("[exit 0]", std::time::Duration::from_secs(30));
            top_stats[i].push(read_stats(&stats_file));
        }
    }
    let m1 = median(&wall[0]);
    let h1 = median(&hand[0]);
    let mut rows = Vec::new();
    for (i, (n, _)) in sets.iter().enumerate().skip(1) {
        let z: Vec<f64> = wall[i].iter().map(|w| w / m1).collect();
        let b: Vec<f64> = hand[i].iter().map(|w| w / h1).collect();
        let zr = median(&z);
        let ratio = zr / median(&b);
        rows.push(Row {
            id: ["", "fanout-4", "fanout-16", "fanout-64"][i],
            scenario: format!("{n} parallel builds / 1 build"),
            unit: "x",
            zoryn: z,
            baseline: Some(("same by hand".into(), b)),
            ratio: Some((ratio, "zoryn/by hand")),
            limit: Some("1.0".into()),
            target: (*n == 16).then(|| Target {
                text: "< 1.10".into(),
                met: zr < 1.10,
            }),
        });
    }
    rows.push(Row {
        id: "fanout-1",
        scenario: "one remote build with delay 3 s, wall".into(),
        unit: "ms",
        zoryn: wall[0].clone(),
        baseline: Some(("by hand".into(), hand[0].clone())),
        ratio: Some((m1 / h1, "zoryn/by hand")),
        limit: None,
        target: None,
    });
    for (i, n) in [(2usize, 16), (3, 64)] {
        for (mode, stats) in [("plain", &plain_stats[i]), ("--top", &top_stats[i])] {
            let cpu: Vec<f64> = stats
                .iter()
                .zip(&wall[i])
                .map(|(s, w)| (s.0 + s.1) / (w / 1e3) * 100.0)
                .collect();
            let rss: Vec<f64> = stats.iter().map(|s| s.2 as f64 / 1024.0).collect();
            let cpu_m = median(&cpu);
            let rss_max = rss.iter().copied().fold(0.0, f64::max);
            let at64 = n == 64;
            rows.push(Row {
                id: match (n, mode) {
                    (16, "plain") => "cpu-16",
                    (16, _) => "cpu-16-top",
                    (_, "plain") => "cpu-64",
                    _ => "cpu-64-top",
                },
                scenario: format!("zoryn's CPU during {n} builds, {mode}"),
                unit: "%core",
                zoryn: cpu,
                baseline: None,
                ratio: None,
                limit: None,
                target: at64.then(|| Target {
                    text: "< 5% of one core".into(),
                    met: cpu_m < 5.0,
                }),
            });
            rows.push(Row {
                id: match (n, mode) {
                    (16, "plain") => "rss-16",
                    (16, _) => "rss-16-top",
                    (_, "plain") => "rss-64",
                    _ => "rss-64-top",
                },
                scenario: format!("zoryn's peak RSS during {n} builds, {mode}"),
                unit: "MiB",
                zoryn: rss,
                baseline: None,
                ratio: None,
                limit: None,
                target: at64.then(|| Target {
                    text: "< 50 MiB".into(),
                    met: rss_max < 50.0,
                }),
            });
        }
    }
    drop(hosts);
    rows
}

/// Builds the emulators of these hosts have started so far.
fn acquired(hosts: &[support::sshd::TestHost]) -> usize {
    hosts
        .iter()
        .map(|h| {
            std::fs::read_to_string(&h.events)
                .unwrap_or_default()
                .lines()
                .filter(|l| l.contains(" lock-acquired "))
                .count()
        })
        .sum()
}

fn read_stats(p: &Path) -> (f64, f64, u64) {
    let text =
        std::fs::read_to_string(p).unwrap_or_else(|e| panic!("no stats in {}: {e}", p.display()));
    let v: serde_json::Value = serde_json::from_str(&text).expect("stats are JSON");
    (
        v["user_s"].as_f64().expect("user_s"),
        v["sys_s"].as_f64().expect("sys_s"),
        v["max_rss_kb"].as_u64().expect("max_rss_kb"),
    )
}
