//! `zoryn task batch` end to end: real zoryn, git, rpmbuild and sshd test
//! hosts, the hasher emulator installing earlier packages' RPMs.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use support::{both, stderr, stdout, TestEnv};

/// A gear repo whose package provides `NAME` and `NAME-devel` (a header in
/// /usr/include/NAME/), needs `requires` to build, and checks in %build that
/// each required -devel header is really installed in the build root.
fn package(env: &TestEnv, name: &str, requires: &[&str]) -> PathBuf {
    package_with(env, name, requires, "")
}

/// Like [`package`], with extra shell lines at the start of %build.
fn package_with(env: &TestEnv, name: &str, requires: &[&str], build_extra: &str) -> PathBuf {
    let br = if requires.is_empty() {
        String::new()
    } else {
        format!(
            "BuildRequires: {}\n",
            requires
                .iter()
                .map(|r| format!("{r}-devel >= 1.0"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let checks: String = requires
        .iter()
        .map(|r| format!("test -f \"${{HASHER_EMU_SYSROOT:-}}/usr/include/{r}/{r}.h\"\n"))
        .collect();
    let spec = format!(
        "Name: {name}\nVersion: 1.0\nRelease: alt1\nSummary: {name}\nLicense: GPL\nGroup: Other\nSource: %name-%version.tar\n{br}\n\
%description\n{name}\n\n%package devel\nSummary: {name} headers\nGroup: Development/C\n\n%description devel\nheaders\n\n\
%prep\n%setup\n\n%build\n{build_extra}{checks}echo built {name}\n\n%install\nmkdir -p %buildroot%_datadir/{name} %buildroot%_includedir/{name}\n\
echo 1.0 > %buildroot%_datadir/{name}/VERSION\necho '/* {name} */' > %buildroot%_includedir/{name}/{name}.h\n\n\
%files\n%_datadir/{name}\n\n%files devel\n%_includedir/{name}\n\n%changelog\n* Sat Nov 28 2026 T <t@e.invalid> 1.0-alt1\n- x\n"
    );
    let dir = env.home.join("src").join(name);
    std::fs::create_dir_all(dir.join(".gear")).unwrap();
    std::fs::create_dir_all(dir.join(name)).unwrap();
    std::fs::write(
        dir.join(".gear/rules"),
        format!("spec: {name}.spec\ntar: {name}\n"),
    )
    .unwrap();
    std::fs::write(dir.join(name).join("README"), "x\n").unwrap();
    std::fs::write(dir.join(format!("{name}.spec")), spec).unwrap();
    env.sh(
        "git init -q . && git add -A && git commit -qm initial",
        &dir,
    );
    dir
}

fn batch_file(env: &TestEnv, name: &str, builders: &str, pkgs: &[&str]) -> PathBuf {
    let mut text = format!("[batch]\nbuilders = \"{builders}\"\n");
    for p in pkgs {
        text.push_str(&format!("\n[[package]]\npath = \"~/src/{p}\"\n"));
    }
    env.write(&format!(".config/zoryn/batches/{name}.toml"), &text)
}

fn slots(env: &TestEnv, numbers: &[u32]) {
    for n in numbers {
        env.hasher_slot(&format!("hasher_{n}"), Some(*n));
        env.builder(&format!("local{n}"), &format!("hasher_number = {n}\n"));
    }
}

#[test]
fn builds_in_dependency_order_and_later_packages_install_earlier_rpms() {
    let env = TestEnv::new();
    slots(&env, &[2, 3]);
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
    slots(&env, &[2]);
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
    slots(&env, &[2]);
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
    slots(&env, &[2]);
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
        ".config/zoryn/batches/bad.toml",
        "[batch]\nbuilders = \"local\"\n\n[[package]]\npaht = \"~/src/x\"\n",
    );
    let out = env.zoryn(&["task", "batch", "bad"], &env.home);
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    assert!(
        e.contains("bad.toml:5:1: unknown key `paht` in [package #1]"),
        "{e}"
    );
    assert!(e.contains("did you mean `path`?"), "{e}");
    let out = env.zoryn(&["task", "batch", "nosuch"], &env.home);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no batch named `nosuch`"),
        "{}",
        stderr(&out)
    );
    env.write(
        ".config/zoryn/batches/missing.toml",
        "[[package]]\npath = \"~/src/none\"\n",
    );
    let out = env.zoryn(&["task", "batch", "missing"], &env.home);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("missing.toml:2: package"),
        "{}",
        stderr(&out)
    );
}
