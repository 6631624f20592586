//! Farm benchmarks: what zoryn costs on top of hasher, locally and over SSH,
//! and how much a rebuild uploads. Real zoryn binary, real sshd test hosts on
//! loopback, the hasher emulator (same fixtures as the integration tests).
//!
//!     cargo bench --bench farm            # ZORYN_BENCH_RUNS=N (default 9)
//!
//! Every scenario runs interleaved with its baseline in one process and the
//! table gives medians, min-max and ratios. "hsh's own time" is measured by
//! the emulator itself (its lock-acquired → lock-released event stamps), so
//! "overhead" is exactly what zoryn adds around the build.

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::time::Instant;

use support::{both, TestEnv};

struct Series {
    name: String,
    ms: Vec<f64>,
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

fn spread(v: &[f64]) -> String {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(0.0, f64::max);
    format!("{lo:.1}-{hi:.1}")
}

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
    env.chown_all();
    let mut cmd = env.command(env.bin_dir.join("zoryn"));
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

/// `ZORYN_BENCH_ONLY=a,b` runs only those sections (local, remote, fanout, batch).
fn wanted(section: &str) -> bool {
    std::env::var("ZORYN_BENCH_ONLY").map_or(true, |v| v.split(',').any(|s| s.trim() == section))
}

fn main() {
    // `cargo bench` passes --bench; nothing to parse.
    let runs: usize = std::env::var("ZORYN_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(9);
    if wanted("farm") {
        print!("{}", farm(runs));
    }
    if wanted("fanout") {
        // N parallel builds over 4 hosts x 4 slots
        println!("\n{}", fanout(runs.clamp(3, 5)));
    }
    if wanted("batch") {
        // A real batch: makespan against the plan's estimate
        println!("\n{}", batch_e2e());
    }
}

/// Local and remote build overhead, and upload bytes.
fn farm(runs: usize) -> String {
    use std::fmt::Write as _;
    let mut text = String::new();
    let mut table: Vec<(String, f64, String, String)> = Vec::new();
    // ---- local: zoryn build vs the emulator's own time ----
    let env = TestEnv::new();
    env.hasher_slot("hasher", None);
    let repo = env.gear_repo("hello", "");
    timed(&env, &["build", "-q"], &repo); // warm caches
                                          // The manual way, as baselines: gear alone, hsh alone (whole process).
    let tar = env.home.join("tmp/manual.tar");
    let shell = |script: &str| -> f64 {
        env.chown_all();
        let mut c = env.command("bash");
        c.arg("-c").arg(script).current_dir(&repo);
        let t = Instant::now();
        let out = c.output().unwrap();
        assert!(out.status.success(), "{script}: {}", both(&out));
        t.elapsed().as_secs_f64() * 1e3
    };
    let gear_cmd = format!("gear --commit --no-compress {}", tar.display());
    let hsh_cmd = format!(
        "hsh --lazy-cleanup {} {} >/dev/null",
        env.home.join("hasher").display(),
        tar.display()
    );
    let mut z = Series {
        name: "local zoryn build".into(),
        ms: vec![],
    };
    let (mut own, mut gear, mut hsh) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        gear.push(shell(&gear_cmd));
        hsh.push(shell(&hsh_cmd));
        let from = lines(&env.events);
        z.ms.push(timed(&env, &["build", "-q"], &repo));
        own.extend(own_times(&env.events, from));
    }
    let over: Vec<f64> = z.ms.iter().zip(&own).map(|(a, b)| a - b).collect();
    let manual: Vec<f64> = gear.iter().zip(&hsh).map(|(a, b)| a + b).collect();
    table.push((
        "local: gear alone".into(),
        median(&gear),
        spread(&gear),
        String::new(),
    ));
    table.push((
        "local: hsh alone (process)".into(),
        median(&hsh),
        spread(&hsh),
        String::new(),
    ));
    table.push((
        "local: hsh own time (lock to unlock)".into(),
        median(&own),
        spread(&own),
        String::new(),
    ));
    table.push((
        z.name.clone(),
        median(&z.ms),
        spread(&z.ms),
        format!("{:.2}x gear+hsh by hand", median(&z.ms) / median(&manual)),
    ));
    table.push((
        "local: overhead over hsh own time".into(),
        median(&over),
        spread(&over),
        String::new(),
    ));

    // ---- remote: warm master, cold master, no multiplexing ----
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
    std::fs::copy(&naive_script, &naive_copy).unwrap();
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
        let out = c.output().unwrap();
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
        }
    }
    close_master(&env);
    let overhead_of = |n: &str| {
        scenarios
            .iter()
            .find(|(x, _, _)| *x == n)
            .map(|(_, w, o)| median(&w.iter().zip(o).map(|(a, b)| a - b).collect::<Vec<_>>()))
            .unwrap_or(f64::NAN)
    };
    let naive_over = overhead_of("naive peer");
    for (name, wall, own) in &scenarios {
        let over: Vec<f64> = wall.iter().zip(own).map(|(a, b)| a - b).collect();
        table.push((
            if *name == "naive peer" {
                "remote naive peer: gear-remote-hsh style".to_string()
            } else {
                format!("remote {name}: zoryn build")
            },
            median(wall),
            spread(wall),
            format!("{:.2}x hsh", median(wall) / median(own)),
        ));
        table.push((
            format!("remote {name}: overhead"),
            median(&over),
            spread(&over),
            if *name == "naive peer" {
                String::new()
            } else {
                format!(
                    "{:.2}x lower than the naive peer",
                    naive_over / median(&over)
                )
            },
        ));
    }
    env.write(".zoryn", &base_cfg);

    // ---- upload bytes: 20 MB source, then a one-line change ----
    let big = env.gear_repo("bigpkg", "");
    let data: String = (0..400_000u64)
        .map(|i| format!("{i:08} {:016x}\n", i.wrapping_mul(0x9e37_79b9_7f4a_7c15)))
        .collect();
    std::fs::write(big.join("bigpkg/data.txt"), &data).unwrap();
    env.sh("git add -A && git commit -qm data", &big);
    let sent = |env: &TestEnv| -> (u64, u64) {
        let out = env.zoryn(&["build", "-b", "arm", "--json"], &big);
        assert_eq!(out.status.code(), Some(0), "{}", both(&out));
        let s = String::from_utf8_lossy(&out.stdout).into_owned();
        let up: serde_json::Value = s
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| v["event"] == "uploaded")
            .expect("uploaded event");
        (
            up["bytes_sent"].as_u64().unwrap(),
            up["tarball_bytes"].as_u64().unwrap(),
        )
    };
    let (first, size) = sent(&env);
    std::fs::write(
        big.join("bigpkg/data.txt"),
        data.replacen("00200000 ", "00200000 changed ", 1),
    )
    .unwrap();
    let (second, _) = sent(&env);

    let _ = writeln!(
        text,
        "\nzoryn farm benchmark: {runs} runs per scenario, interleaved; {} cores, {}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        std::env::consts::ARCH
    );
    let _ = writeln!(
        text,
        "{:<38} {:>12} {:>16}  ratio",
        "scenario", "median ms", "min-max ms"
    );
    for (name, m, s, r) in &table {
        let _ = writeln!(text, "{name:<38} {m:>12.1} {s:>16}  {r}");
    }
    let _ = writeln!(
        text,
        "\nupload of a {:.1} MB source tarball:",
        size as f64 / 1e6
    );
    let _ = writeln!(
        text,
        "  first build:                        {first:>10} bytes sent"
    );
    let _ = writeln!(
        text,
        "  after a one-line change (+8 bytes): {second:>10} bytes sent ({:.2}% of the tarball)",
        second as f64 * 100.0 / size as f64
    );
    text
}

/// A 12-package batch on 3 local slots (emulator delay 1 s per build): the
/// first run teaches the history the durations; the second run's real
/// makespan is compared with the estimate the scheduler made from them, and
/// with the lower bound.
fn batch_e2e() -> String {
    let env = TestEnv::new();
    for n in 2..=4 {
        env.hasher_slot(&format!("hasher_{n}"), Some(n));
        env.builder(&format!("local{n}"), &format!("hasher_number = {n}\n"));
    }
    let graph = support::PACKAGE_FAMILY;
    let mut text = String::from("[batch]\nbuilders = \"local[2-4]\"\n");
    for (name, deps) in graph {
        env.library_package(name, deps, "sleep 1\n");
        text.push_str(&format!("\n[[package]]\npath = \"~/src/{name}\"\n"));
    }
    env.write(".config/zoryn/batches/e2e.toml", &text);
    let report = |args: &[&str]| -> serde_json::Value {
        timed(&env, args, &env.home);
        let p = env.home.join(".local/state/zoryn/batches/e2e/report.json");
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    };
    report(&["task", "batch", "-q", "e2e"]);
    let r = report(&["task", "batch", "-q", "e2e", "--restart"]);
    let est = r["lanes"][0]["estimated_makespan"].as_f64().unwrap_or(0.0);
    let lb = r["lanes"][0]["lower_bound"].as_f64().unwrap_or(0.0);
    let real = r["wall_secs"].as_f64().unwrap_or(0.0);
    format!(
        "batch of 12 packages on 3 local slots (second run, durations from the first):\n  real makespan {real:.2} s, plan's estimate {est:.2} s (real/estimate {:.2}), lower bound {lb:.2} s (real/lower bound {:.2})",
        real / est.max(1e-9),
        real / lb.max(1e-9)
    )
}

/// Wall time of N parallel builds (N = 1, 4, 16 slots on 4 loopback hosts,
/// emulator delay 3 s) against one build, and zoryn's own CPU time and peak
/// memory during the 16-build run, with and without --top.
fn fanout(runs: usize) -> String {
    let env = TestEnv::new();
    let mut hosts = Vec::new();
    for h in 1..=4 {
        let alias = format!("h{h}");
        let host = env.add_host(&alias, "x86_64");
        let out = env.ssh(
            &alias,
            "for n in 1 2 3 4; do mkdir -p ~/hasher_$n && hasher-useradd --number=$n \"$(id -un)\" || exit 1; done",
        );
        assert!(out.status.success(), "{}", both(&out));
        std::fs::write(host.emu_root.join("knobs"), "HASHER_EMU_DELAY=3\n").unwrap();
        for n in 1..=4 {
            env.builder(
                &format!("h{h}n{n}"),
                &format!("host = \"{alias}\"\narch = \"x86_64\"\nhasher_number = {n}\n"),
            );
        }
        hosts.push(host);
    }
    let repo = env.gear_repo("hello", "");
    let one = "h1n1";
    let four = "h1n1,h2n1,h3n1,h4n1";
    let all = "h*";
    timed(&env, &["build", "-q", "-p", "-b", all], &repo); // masters up, caches warm
    let (mut w1, mut w4, mut w16) = (Vec::new(), Vec::new(), Vec::new());
    let stats_file = env.home.join("tmp/stats.json");
    let mut plain_stats = Vec::new();
    for _ in 0..runs {
        w1.push(timed(&env, &["build", "-q", "-b", one], &repo));
        w4.push(timed(&env, &["build", "-q", "-p", "-b", four], &repo));
        env.chown_all();
        let mut cmd = env.command(env.bin_dir.join("zoryn"));
        cmd.args(["build", "-q", "-p", "-b", all])
            .current_dir(&repo)
            .env("ZORYN_STATS", &stats_file);
        let t = Instant::now();
        let out = cmd.output().unwrap();
        w16.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(out.status.code(), Some(0), "{}", both(&out));
        plain_stats.push(read_stats(&stats_file));
    }
    // The same 16 builds under --top, in a real terminal.
    let mut top_stats = Vec::new();
    for _ in 0..runs.min(3) {
        let _ = std::fs::remove_file(&stats_file);
        let zoryn = env.bin_dir.join("zoryn");
        let mut env2 = TestEnv::clone_settings(&env);
        env2.push(("ZORYN_STATS".into(), stats_file.display().to_string()));
        let t = env.tmux_with_env(
            &[zoryn.to_str().unwrap(), "build", "-p", "-b", all, "--top"],
            &repo,
            120,
            40,
            &env2,
        );
        t.wait_for("finished (exit 0)", std::time::Duration::from_secs(120));
        t.type_text("q");
        t.wait_for("[exit 0]", std::time::Duration::from_secs(30));
        top_stats.push(read_stats(&stats_file));
    }
    let m1 = median(&w1);
    let cpu = |v: &[(f64, f64, u64)]| median(&v.iter().map(|s| s.0 + s.1).collect::<Vec<_>>());
    let rss = |v: &[(f64, f64, u64)]| v.iter().map(|s| s.2).max().unwrap_or(0);
    let mut out = String::new();
    out.push_str(&format!(
        "fan-out over 4 hosts x 4 slots, emulator delay 3 s, {runs} runs:\n"
    ));
    out.push_str(&format!(
        "{:<28} {:>12} {:>16}  ratio to 1\n",
        "builds in parallel", "median ms", "min-max ms"
    ));
    for (name, w) in [("1", &w1), ("4 (one per host)", &w4), ("16", &w16)] {
        out.push_str(&format!(
            "{name:<28} {:>12.1} {:>16}  {:.3}\n",
            median(w),
            spread(w),
            median(w) / m1
        ));
    }
    let m16 = median(&w16) / 1e3;
    out.push_str(&format!(
        "zoryn itself during 16 builds: plain {:.2} s CPU ({:.1}% of one core), peak RSS {} KiB; --top {:.2} s CPU ({:.1}%), peak RSS {} KiB\n",
        cpu(&plain_stats),
        cpu(&plain_stats) / m16 * 100.0,
        rss(&plain_stats),
        cpu(&top_stats),
        cpu(&top_stats) / m16 * 100.0,
        rss(&top_stats),
    ));
    drop(hosts);
    out
}

fn read_stats(p: &Path) -> (f64, f64, u64) {
    let text =
        std::fs::read_to_string(p).unwrap_or_else(|e| panic!("no stats in {}: {e}", p.display()));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    (
        v["user_s"].as_f64().unwrap(),
        v["sys_s"].as_f64().unwrap(),
        v["max_rss_kb"].as_u64().unwrap(),
    )
}
