//! `zoryn task batch` end to end: real zoryn, git, rpmbuild and sshd test
//! hosts, the hasher emulator installing earlier packages' RPMs.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use support::{both, stderr, stdout, TestEnv};

fn package(env: &TestEnv, name: &str, requires: &[&str]) -> PathBuf {
    env.library_package(name, requires, "")
}

fn package_with(env: &TestEnv, name: &str, requires: &[&str], build_extra: &str) -> PathBuf {
    env.library_package(name, requires, build_extra)
}

/// A named batch in the documented format: `batch/NAME.conf`, packages
/// as directories under `basedir`.
fn batch_file(env: &TestEnv, name: &str, builders: &str, pkgs: &[&str]) -> PathBuf {
    let mut text = format!("[batch]\nbasedir = \"~/src\"\nbuilders = \"{builders}\"\n");
    for p in pkgs {
        text.push_str(&format!("\n[{p}]\n"));
    }
    env.write(&format!(".config/zoryn/batch/{name}.conf"), &text)
}

#[test]
fn builds_in_dependency_order_and_later_packages_install_earlier_rpms() {
    let env = TestEnv::new();
    env.local_slots(&[2, 3]);
    package(&env, "libfoo", &[]);
    package(&env, "libbar", &["libfoo"]);
    package(&env, "app", &["libbar", "libfoo"]);
    package(&env, "tool", &[]);
    batch_file(
        &env,
        "fam",
        "local[2-3]",
        &["app", "libbar", "tool", "libfoo"],
    );
    let out = env.zoryn(&["task", "batch", "fam", "--plan"], &env.home);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let plan = stdout(&out);
    assert!(
        plan.contains("lane x86_64/sisyphus: 2 slot(s): local2, local3"),
        "{plan}"
    );
    assert!(
        plan.contains("level 0: libfoo, tool") || plan.contains("level 0: tool, libfoo"),
        "{plan}"
    );
    assert!(plan.contains("level 1: libbar"), "{plan}");
    assert!(plan.contains("level 2: app"), "{plan}");
    assert!(plan.contains("estimated makespan"), "{plan}");

    let out = env.zoryn(&["task", "batch", "fam"], &env.home);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let s = stdout(&out);
    for p in ["libfoo", "libbar", "app", "tool"] {
        assert!(
            s.lines().any(|l| l.starts_with(p) && l.ends_with("OK")),
            "{p}: {s}"
        );
    }
    // The emulator installed the real earlier RPMs.
    let ev = env.events_text();
    let installs: Vec<&str> = ev
        .lines()
        .filter(|l| l.contains("deps-installed"))
        .collect();
    assert!(
        installs.iter().any(|l| l.contains("libfoo-devel-1.0-alt1")),
        "{ev}"
    );
    assert!(
        installs.iter().any(|l| l.contains("libbar-devel-1.0-alt1")),
        "{ev}"
    );
    // Report files.
    let state = env.home.join(".local/state/zoryn/batches/fam");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(state.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["exit_code"], 0);
    assert!(state.join("report.html").is_file());
    let _ = stderr(&out);
    let _ = Duration::ZERO;
}

fn journal(env: &TestEnv, batch: &str) -> Vec<serde_json::Value> {
    let p = env
        .home
        .join(format!(".local/state/zoryn/batches/{batch}/journal.jsonl"));
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn wait_journal(env: &TestEnv, batch: &str, pred: impl Fn(&serde_json::Value) -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !journal(env, batch).iter().any(&pred) {
        assert!(
            std::time::Instant::now() < deadline,
            "journal never got there: {:?}",
            journal(env, batch)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_failure_blocks_its_dependents_and_the_rest_continues() {
    let env = TestEnv::new();
    env.local_slots(&[2]);
    package(&env, "libfoo", &[]);
    package_with(&env, "broken", &[], "exit 1\n");
    package(&env, "needsbroken", &["broken"]);
    package(&env, "app", &["libfoo"]);
    batch_file(
        &env,
        "b",
        "local2",
        &["libfoo", "broken", "needsbroken", "app"],
    );
    let out = env.zoryn(&["task", "batch", "b"], &env.home);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let s = stdout(&out);
    assert!(s.contains("broken       FAIL"), "{s}");
    assert!(s.contains("needsbroken  BLOCKED"), "{s}");
    assert!(
        s.contains("needsbroken @ x86_64/sisyphus: not built: dependency broken failed"),
        "{s}"
    );
    assert!(s.contains("app          OK"), "{s}");
}

#[test]
fn one_run_at_a_time_ctrl_c_and_continue() {
    let env = TestEnv::new();
    env.local_slots(&[2]);
    let gate = env.home.join("gate");
    package(&env, "libfoo", &[]);
    package_with(
        &env,
        "libbar",
        &["libfoo"],
        &format!("while [ ! -e {} ]; do sleep 0.1; done\n", gate.display()),
    );
    package(&env, "app", &["libbar"]);
    batch_file(&env, "c", "local2", &["libfoo", "libbar", "app"]);
    let child = env.spawn_zoryn(&["task", "batch", "c"], &env.home);
    wait_journal(&env, "c", |r| {
        r["ev"] == "job-started" && r["pkg"] == "libbar"
    });
    // A second run of the same batch is refused while this one runs.
    let out = env.zoryn(&["task", "batch", "c"], &env.home);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert!(
        stderr(&out).contains("batch c is already running (pid "),
        "{}",
        both(&out)
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", both(&out));
    let j = journal(&env, "c");
    assert_eq!(j.last().unwrap()["status"], "interrupted", "{j:?}");
    // Without --continue the unfinished run is pointed out.
    let out = env.zoryn(&["task", "batch", "c"], &env.home);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert!(
        stderr(&out).contains("has an unfinished run"),
        "{}",
        both(&out)
    );
    std::fs::write(&gate, "").unwrap();
    let builds_before = env
        .events_text()
        .lines()
        .filter(|l| l.contains(" build-start "))
        .count();
    let out = env.zoryn(&["task", "batch", "c", "--continue"], &env.home);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let s = stdout(&out);
    assert!(s.contains("libfoo   KEPT"), "{s}");
    assert!(
        s.contains("libbar   OK") && s.contains("app      OK"),
        "{s}"
    );
    // libfoo was not built again: exactly two more builds (libbar, app).
    let builds_after = env
        .events_text()
        .lines()
        .filter(|l| l.contains(" build-start "))
        .count();
    assert_eq!(builds_after - builds_before, 2, "{}", env.events_text());
}

#[test]
fn abort_stops_a_running_batch_and_cleans_up() {
    let env = TestEnv::new();
    env.local_slots(&[2]);
    package_with(&env, "slow", &[], "sleep 600\n");
    batch_file(&env, "d", "local2", &["slow"]);
    let child = env.spawn_zoryn(&["task", "batch", "d"], &env.home);
    wait_journal(&env, "d", |r| r["ev"] == "job-started");
    env.wait_for_event("build-start", Duration::from_secs(30));
    let out = env.zoryn(&["task", "batch", "d", "--abort"], &env.home);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(stdout(&out).contains("aborted batch d"), "{}", both(&out));
    let first = child.wait_with_output().unwrap();
    assert_eq!(first.status.code(), Some(130), "{}", both(&first));
    env.wait_for_event("lock-released", Duration::from_secs(10));
    assert_eq!(journal(&env, "d").last().unwrap()["status"], "aborted");
    // A new run starts fresh.
    let out = env.zoryn(&["task", "batch", "d", "--plan"], &env.home);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
}

#[test]
fn invalid_batch_files_get_precise_errors() {
    let env = TestEnv::new();
    env.write(
        ".config/zoryn/batch/bad.conf",
        "[batch]\nbasedir = \"~/src\"\nbuilders = \"local\"\n\n[x]\npaht = \"~/src/x\"\n",
    );
    let out = env.zoryn(&["task", "batch", "bad"], &env.home);
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    assert!(e.contains("bad.conf:6:1: unknown key `paht` in [x]"), "{e}");
    assert!(e.contains("did you mean `path`?"), "{e}");
    env.write(
        ".config/zoryn/batch/bad.conf",
        "[batch]\nbasedir = \"~/src\"\nmacro = { a = \"1\" }\n[x]\n",
    );
    let out = env.zoryn(&["task", "batch", "bad"], &env.home);
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    assert!(
        e.contains("bad.conf:3:1: unknown key `macro` in [batch]"),
        "{e}"
    );
    assert!(e.contains("did you mean `macros`?"), "{e}");
    // Unknown names list the batches there.
    let out = env.zoryn(&["task", "batch", "bads"], &env.home);
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    assert!(e.contains("no batch named `bads`"), "{e}");
    assert!(e.contains("did you mean `bad`?"), "{e}");
    assert!(e.contains(".config/zoryn/batch: bad"), "{e}");
    env.write(
        ".config/zoryn/batch/missing.conf",
        "[batch]\nbasedir = \"~/src\"\n\n[none]\n",
    );
    let out = env.zoryn(&["task", "batch", "missing"], &env.home);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("missing.conf:4: package [none]"),
        "{}",
        stderr(&out)
    );
}

fn remote_slot(env: &TestEnv, alias: &str, numbers: &[u32]) {
    let cmd: String = numbers
        .iter()
        .map(|n| format!("mkdir -p ~/hasher_{n} && hasher-useradd --number={n} \"$(id -un)\" && "))
        .collect();
    let out = env.ssh(alias, &format!("{cmd}true"));
    assert!(out.status.success(), "{}", both(&out));
}

#[test]
fn twelve_packages_over_local_slots_and_three_hosts() {
    let env = TestEnv::new();
    let h1 = env.add_host("h1", "x86_64");
    let h2 = env.add_host("h2", "x86_64");
    let h3 = env.add_host("h3", "aarch64");
    remote_slot(&env, "h1", &[1]);
    remote_slot(&env, "h2", &[1]);
    remote_slot(&env, "h3", &[1, 2]);
    env.local_slots(&[2]);
    env.builder(
        "r1",
        "host = \"h1\"\narch = \"x86_64\"\nhasher_number = 1\n",
    );
    env.builder(
        "r2",
        "host = \"h2\"\narch = \"x86_64\"\nhasher_number = 1\n",
    );
    env.builder(
        "a1",
        "host = \"h3\"\narch = \"aarch64\"\nhasher_number = 1\n",
    );
    env.builder(
        "a2",
        "host = \"h3\"\narch = \"aarch64\"\nhasher_number = 2\n",
    );
    let graph = support::PACKAGE_FAMILY;
    for (name, deps) in graph {
        let dir = package(&env, name, deps);
        if name == "x86only" {
            let spec = dir.join("x86only.spec");
            let text = std::fs::read_to_string(&spec).unwrap().replacen(
                "Source:",
                "ExclusiveArch: x86_64\nSource:",
                1,
            );
            std::fs::write(&spec, text).unwrap();
            env.sh("git commit -qam exclusive", &dir);
        }
    }
    let names: Vec<&str> = graph.iter().map(|(n, _)| *n).collect();
    batch_file(&env, "big", "local2,r1,r2,a1,a2", &names);
    let out = env.zoryn(&["task", "batch", "big", "--json"], &env.home);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let state = env.home.join(".local/state/zoryn/batches/big");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(state.join("report.json")).unwrap()).unwrap();
    let jobs = report["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 24, "{report}");
    for j in jobs {
        let want = if j["package"] == "x86only" && j["lane"] == "aarch64/sisyphus" {
            "SKIP"
        } else {
            "OK"
        };
        assert_eq!(j["result"], want, "{j}");
        if want == "SKIP" {
            assert_eq!(
                j["message"], "x86only excludes aarch64 (ExclusiveArch: x86_64)",
                "{j}"
            );
        }
    }
    // Dependencies finished before their dependents started, in every lane.
    for lane in ["x86_64/sisyphus", "aarch64/sisyphus"] {
        let time = |p: &str, k: &str| {
            jobs.iter()
                .find(|j| j["package"] == p && j["lane"] == lane)
                .and_then(|j| j[k].as_f64())
        };
        for (name, deps) in graph {
            for d in deps {
                if let (Some(end), Some(start)) = (time(d, "end"), time(name, "start")) {
                    assert!(
                        end <= start,
                        "{lane}: {name} started at {start} before {d} ended at {end}"
                    );
                }
            }
        }
    }
    // Remote builds installed RPMs built earlier in the batch (chain repo).
    let remote_installs: String = [&h1, &h2, &h3].iter().map(|h| h.events_text()).collect();
    assert!(
        remote_installs.contains("libcore-devel-1.0-alt1"),
        "{remote_installs}"
    );
    assert!(
        h3.events_text().contains("deps-installed"),
        "{}",
        h3.events_text()
    );
    // Every slot was used.
    let used: std::collections::BTreeSet<&str> =
        jobs.iter().filter_map(|j| j["builder"].as_str()).collect();
    assert_eq!(used.len(), 5, "{used:?}");
}

#[test]
fn a_host_killed_mid_batch_is_retried_elsewhere() {
    let env = TestEnv::new();
    let mut h1 = env.add_host("h1", "x86_64");
    let _h2 = env.add_host("h2", "x86_64");
    remote_slot(&env, "h1", &[1]);
    remote_slot(&env, "h2", &[1]);
    env.builder(
        "r1",
        "host = \"h1\"\narch = \"x86_64\"\nhasher_number = 1\n",
    );
    env.builder(
        "r2",
        "host = \"h2\"\narch = \"x86_64\"\nhasher_number = 1\n",
    );
    let gate = env.home.join("gate");
    package_with(
        &env,
        "victim",
        &[],
        &format!("while [ ! -e {} ]; do sleep 0.1; done\n", gate.display()),
    );
    batch_file(&env, "k", "r1,r2", &["victim"]);
    let child = env.spawn_zoryn(&["task", "batch", "k"], &env.home);
    h1.wait_for_event("build-start", Duration::from_secs(60));
    h1.stop();
    std::fs::write(&gate, "").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let s = stdout(&out);
    assert!(s.contains("victim   OK"), "{s}");
    let j = journal(&env, "k");
    assert!(
        j.iter()
            .any(|r| r["ev"] == "job-finished" && r["outcome"] == "retry" && r["builder"] == "r1"),
        "{j:?}"
    );
    assert!(
        j.iter()
            .any(|r| r["ev"] == "job-finished" && r["outcome"] == "done" && r["builder"] == "r2"),
        "{j:?}"
    );
    assert!(
        stderr(&out).contains("retrying on another slot"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn packages_from_git_urls_are_cloned_at_their_ref() {
    let env = TestEnv::new();
    env.local_slots(&[2]);
    let upstream = package(&env, "fromgit", &[]);
    env.sh("git branch stable && git checkout -q -b dev && sed -i 's/^Version: 1.0/Version: 2.0/' fromgit.spec && git commit -qam v2 && git checkout -q stable", &upstream);
    env.write(
        ".config/zoryn/batch/g.conf",
        &format!(
            "[batch]\nbuilders = \"local2\"\n\n[fromgit]\ngit = \"file://{}\"\nref = \"dev\"\n",
            upstream.display()
        ),
    );
    let out = env.zoryn(&["task", "batch", "g"], &env.home);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let cache = env.home.join(".cache/zoryn/git");
    let clones = support::names_in(&cache);
    assert_eq!(clones.len(), 1, "{clones:?}");
    assert!(clones[0].starts_with("fromgit-"), "{clones:?}");
    let rpms = support::names_in(&cache.join(&clones[0]).join("hasher_out/local2"));
    assert!(
        rpms.contains(&"fromgit-2.0-alt1.x86_64.rpm".to_string()),
        "{rpms:?}"
    );
}

#[test]
fn fail_fast_restart_and_json_report() {
    let env = TestEnv::new();
    env.local_slots(&[2]);
    package_with(&env, "broken", &[], "exit 1\n");
    package(&env, "other", &[]);
    package(&env, "third", &[]);
    batch_file(&env, "f", "local2", &["broken", "other", "third"]);
    let out = env.zoryn(&["task", "batch", "f", "--fail-fast", "--json"], &env.home);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let last: serde_json::Value =
        serde_json::from_str(stdout(&out).lines().last().unwrap()).unwrap();
    assert_eq!(last["event"], "batch-report");
    let results: Vec<(String, String)> = last["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            (
                j["package"].as_str().unwrap().to_string(),
                j["result"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        results.contains(&("broken".into(), "FAIL".into())),
        "{results:?}"
    );
    // Nothing else ran after the failure (one slot, broken first by name order).
    assert!(
        results.iter().filter(|(_, r)| r == "NOT RUN").count() >= 1,
        "{results:?}"
    );
    // The run ended (failed); a plain new run starts over, --restart too.
    let out = env.zoryn(&["task", "batch", "f", "--restart"], &env.home);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    assert!(stdout(&out).contains("other    OK"), "{}", both(&out));
    let archived = support::names_in(&env.home.join(".local/state/zoryn/batches/f"));
    assert!(
        archived
            .iter()
            .any(|n| n.starts_with("journal.") && n != "journal.jsonl"),
        "{archived:?}"
    );
}
