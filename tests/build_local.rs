//! `zoryn build` on local builders, end to end: real zoryn binary, real git,
//! rpmbuild and flock, the hasher/gear emulators, an unprivileged account.

mod support;

use std::time::Duration;

use support::{both, names_in, stdout, TestEnv};

fn rpm_query(path: &std::path::Path, fmt: &str) -> String {
    let out = std::process::Command::new("rpm")
        .args(["-qp", "--nosignature", "--qf", fmt])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "rpm -qp {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn builds_on_the_builtin_local_builder() {
    let env = TestEnv::new();
    env.hasher_slot("hasher", None);
    let repo = env.gear_repo("hello", "");
    let out = env.zoryn(&["build"], &repo);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));

    let results = repo.join("hasher_out/local");
    assert_eq!(
        names_in(&results),
        ["hello-1.0-alt1.src.rpm", "hello-1.0-alt1.x86_64.rpm"]
    );
    let rpm = results.join("hello-1.0-alt1.x86_64.rpm");
    assert_eq!(rpm_query(&rpm, "%{NAME} %{ARCH}"), "hello x86_64");

    let log = std::fs::read_to_string(repo.join(".gear/build.local.log")).unwrap();
    assert!(log.contains("Executing(%build)"), "log:\n{log}");
    assert!(log.contains("building hello"), "log:\n{log}");

    let s = stdout(&out);
    assert!(s.starts_with("BUILDER"), "{s}");
    assert!(s.contains("local    x86_64  sisyphus  OK"), "{s}");
    assert!(
        s.contains("hasher_out/local/hello-1.0-alt1.x86_64.rpm"),
        "{s}"
    );

    // Results and logs are ignored by git without touching tracked files.
    let exclude = std::fs::read_to_string(repo.join(".git/info/exclude")).unwrap();
    assert!(exclude.lines().any(|l| l == "/hasher_out/"), "{exclude}");
    assert!(
        exclude.lines().any(|l| l == "/.gear/build.local.log"),
        "{exclude}"
    );
    let status = env.sh("git status --porcelain", &repo);
    assert_eq!(stdout(&status), "");
}

#[test]
fn only_this_builds_packages_are_collected() {
    let env = TestEnv::new();
    let workdir = env.hasher_slot("hasher", None);
    // An older result of another package already sits in hasher's repo.
    let old = workdir.join("repo/x86_64/RPMS.hasher");
    std::fs::create_dir_all(&old).unwrap();
    std::fs::write(old.join("other-0.1-alt1.x86_64.rpm"), "old").unwrap();
    let repo = env.gear_repo("hello", "");
    let out = env.zoryn(&["build"], &repo);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!(
        names_in(&repo.join("hasher_out/local")),
        ["hello-1.0-alt1.src.rpm", "hello-1.0-alt1.x86_64.rpm"]
    );
}

#[test]
fn failing_build_shows_the_log_tail_and_exits_1() {
    let env = TestEnv::new();
    env.hasher_slot("hasher", None);
    let repo = env.gear_repo("hello", "");
    let mut env = env;
    env.extra_env
        .push(("HASHER_EMU_FAIL".into(), "build".into()));
    let out = env.zoryn(&["build"], &repo);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let s = stdout(&out);
    assert!(s.contains("local    x86_64  sisyphus  FAIL"), "{s}");
    assert!(s.contains("local: hsh exited with status"), "{s}");
    assert!(
        s.contains(&format!(
            "last lines of {}",
            repo.join(".gear/build.local.log").display()
        )),
        "{s}"
    );
    assert!(s.contains("  | "), "{s}");
    assert!(names_in(&repo.join("hasher_out/local")).is_empty());
}

#[test]
fn two_numbered_local_builders_build_in_parallel_into_separate_dirs() {
    let mut env = TestEnv::new();
    env.hasher_slot("hasher_2", Some(2));
    env.hasher_slot("hasher_3", Some(3));
    env.builder("local2", "type = \"local\"\nhasher_number = 2\n");
    env.builder("local3", "type = \"local\"\nhasher_number = 3\n");
    // Long enough that the two builds must overlap if they run concurrently.
    env.extra_env.push(("HASHER_EMU_DELAY".into(), "1".into()));
    let repo = env.gear_repo("hello", "");
    let out = env.zoryn(&["build", "-b", "local2,local3", "-p"], &repo);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    for b in ["local2", "local3"] {
        assert_eq!(
            names_in(&repo.join("hasher_out").join(b)),
            ["hello-1.0-alt1.src.rpm", "hello-1.0-alt1.x86_64.rpm"],
            "{b}"
        );
        assert!(repo.join(format!(".gear/build.{b}.log")).is_file());
    }
    // True concurrency, from the emulator's own clock: each build started
    // before the other one ended.
    let events = env.events_text();
    let time = |kind: &str, number: &str| -> u128 {
        events
            .lines()
            .find(|l| {
                l.split_whitespace().nth(1) == Some(kind)
                    && l.contains(&format!("number={number} "))
            })
            .and_then(|l| l.split_whitespace().next())
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| panic!("no {kind} for number {number} in:\n{events}"))
    };
    assert!(
        time("build-start", "2") < time("build-end", "3"),
        "{events}"
    );
    assert!(
        time("build-start", "3") < time("build-end", "2"),
        "{events}"
    );
    assert!(
        events.contains("workdir=") && events.contains("hasher_2") && events.contains("hasher_3")
    );
}

#[test]
fn a_builder_never_overwrites_another_builders_results() {
    let env = TestEnv::new();
    env.hasher_slot("hasher_2", Some(2));
    env.hasher_slot("hasher_3", Some(3));
    env.builder("local2", "hasher_number = 2\n");
    env.builder("local3", "hasher_number = 3\n");
    let repo = env.gear_repo("hello", "");
    let out = env.zoryn(&["build", "-b", "local2"], &repo);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let first = repo.join("hasher_out/local2/hello-1.0-alt1.x86_64.rpm");
    let before = std::fs::read(&first).unwrap();
    let mtime = std::fs::metadata(&first).unwrap().modified().unwrap();
    let out = env.zoryn(
        &[
            "build",
            "-b",
            "local3",
            "--packager",
            "Other Person <other@example.invalid>",
        ],
        &repo,
    );
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!(std::fs::read(&first).unwrap(), before);
    assert_eq!(
        std::fs::metadata(&first).unwrap().modified().unwrap(),
        mtime
    );
    let second = repo.join("hasher_out/local3/hello-1.0-alt1.x86_64.rpm");
    assert_eq!(
        rpm_query(&second, "%{PACKAGER}"),
        "Other Person <other@example.invalid>"
    );
    assert_ne!(
        rpm_query(&first, "%{PACKAGER}"),
        "Other Person <other@example.invalid>"
    );
}

#[test]
fn rpmbuild_args_reach_rpmbuild() {
    let env = TestEnv::new();
    env.hasher_slot("hasher", None);
    let repo = env.gear_repo(
        "hello",
        "%define zoryn_marker %{?marker}%{!?marker:unset}\nVendor: %zoryn_marker",
    );
    let out = env.zoryn(
        &["build", "--rpmbuild-args=--define 'marker from-zoryn'"],
        &repo,
    );
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let rpm = repo.join("hasher_out/local/hello-1.0-alt1.x86_64.rpm");
    assert_eq!(rpm_query(&rpm, "%{VENDOR}"), "from-zoryn");
}

#[test]
fn json_output_is_events_then_a_summary() {
    let env = TestEnv::new();
    env.hasher_slot("hasher", None);
    let repo = env.gear_repo("hello", "");
    let out = env.zoryn(&["build", "--json"], &repo);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    let kinds: Vec<&str> = lines.iter().map(|v| v["event"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"run-started"));
    assert!(kinds.contains(&"started"));
    assert!(kinds.contains(&"phase"));
    let last = lines.last().unwrap();
    assert_eq!(last["event"], "run-finished");
    assert_eq!(last["exit_code"], 0);
    assert_eq!(last["results"][0]["outcome"], "success");
    assert_eq!(last["results"][0]["packages"].as_array().unwrap().len(), 2);
}

#[test]
fn ctrl_c_stops_hsh_releases_the_lock_and_exits_130() {
    let mut env = TestEnv::new();
    let workdir = env.hasher_slot("hasher", None);
    env.extra_env
        .push(("HASHER_EMU_HANG".into(), "build".into()));
    let repo = env.gear_repo("hello", "");
    let child = env.spawn_zoryn(&["build"], &repo);
    let start = env.wait_for_event("build-start", Duration::from_secs(60));
    let hsh_pid: i32 = start
        .split_whitespace()
        .find_map(|w| w.strip_prefix("pid="))
        .and_then(|p| p.parse().ok())
        .expect("pid in build-start event");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", both(&out));
    assert!(stdout(&out).contains("CANCELLED"), "{}", both(&out));
    // hsh itself is gone, and so is everything it started.
    let alive =
        std::fs::read_to_string(format!("/proc/{hsh_pid}/stat")).is_ok_and(|s| !s.contains(") Z "));
    assert!(!alive, "hsh {hsh_pid} survived");
    let ps = std::process::Command::new("ps")
        .args(["-eo", "pid,args"])
        .output()
        .unwrap();
    let leftovers: Vec<String> = String::from_utf8_lossy(&ps.stdout)
        .lines()
        .filter(|l| l.contains(&*env.root.to_string_lossy()) && !l.contains(" ps "))
        .map(str::to_string)
        .collect();
    assert!(leftovers.is_empty(), "processes left behind: {leftovers:?}");
    // Nobody holds the workdir lock any more.
    let f = std::fs::File::open(&workdir).unwrap();
    assert!(nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusiveNonblock).is_ok());
}

#[test]
fn build_from_another_directory_with_dash_c() {
    let env = TestEnv::new();
    env.hasher_slot("hasher", None);
    let repo = env.gear_repo("hello", "");
    let sub = repo.join("hello");
    let out = env.zoryn(&["build", "-C", sub.to_str().unwrap()], &env.home);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!(names_in(&repo.join("hasher_out/local")).len(), 2);
}

const GREEN_OK: &str = "\x1b[32mOK";

#[test]
fn result_words_are_coloured_only_when_asked_or_on_a_terminal() {
    let env = TestEnv::new();
    env.hasher_slot("hasher", None);
    let repo = env.gear_repo("hello", "");

    // Piped: no colour by default or with never; always colours both the
    // plain lines and the summary, even with NO_COLOR.
    for flag in [None, Some("--color=never")] {
        let args: Vec<&str> = std::iter::once("build").chain(flag).collect();
        let out = env.zoryn(&args, &repo);
        assert_eq!(out.status.code(), Some(0), "{}", both(&out));
        assert!(!both(&out).contains('\x1b'), "{flag:?}: {}", both(&out));
        assert!(stdout(&out).contains("sisyphus  OK"), "{}", both(&out));
    }
    let mut env = env;
    env.extra_env.push(("NO_COLOR".into(), "1".into()));
    let out = env.zoryn(&["build", "--color=always"], &repo);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(
        stdout(&out).contains(&format!("sisyphus  {GREEN_OK}    \x1b[0m  ")),
        "{:?}",
        stdout(&out)
    );
    assert!(
        support::stderr(&out).contains(&format!("[local] {GREEN_OK}\x1b[0m in ")),
        "{:?}",
        support::stderr(&out)
    );

    // A terminal: colour in auto mode, none with NO_COLOR.
    env.extra_env.clear();
    let extra = vec![("ZORYN_NO_LIVE".to_string(), "1".to_string())];
    let script = "zoryn build; echo SPLIT-$?; NO_COLOR=1 zoryn build";
    let t = env.tmux_with_env(&["bash", "-c", script], &repo, 150, 50, &extra);
    t.wait_for("[exit 0]", Duration::from_secs(60));
    let screen = t.screen_with_escapes();
    let (auto, no_color) = screen
        .split_once("SPLIT-0")
        .unwrap_or_else(|| panic!("the first build failed: {screen:?}"));
    assert!(auto.contains("\x1b[32mOK"), "{auto:?}");
    assert!(no_color.contains("sisyphus  OK"), "{no_color:?}");
    assert!(!no_color.contains("\x1b[32m"), "{no_color:?}");
}

/// `ZORYN_LOG=zoryn::commands=debug` lists each command zoryn ran with its
/// time, on lines stamped with the seconds since zoryn started (plain text
/// when stderr is not a terminal); without `ZORYN_LOG`, none of it.
#[test]
fn zoryn_log_lists_each_command_with_its_time() {
    let env = TestEnv::new();
    env.hasher_slot("hasher", None);
    let repo = env.gear_repo("hello", "");
    env.chown_all();
    let out = env
        .command(env.bin_dir.join("zoryn"))
        .args(["build", "-q"])
        .env("ZORYN_LOG", "zoryn::commands=debug")
        .current_dir(&repo)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    let gear = err
        .lines()
        .find(|l| l.contains("ms: gear --commit"))
        .unwrap_or_else(|| panic!("no timed gear line: {err}"));
    let words: Vec<&str> = gear.split_whitespace().collect();
    assert!(
        words[0].ends_with('s') && words[0].trim_end_matches('s').parse::<f64>().is_ok(),
        "stamped with the time since start: {gear}"
    );
    assert_eq!(&words[1..3], ["DEBUG", "zoryn::commands:"], "{gear}");
    assert!(words[3].parse::<f64>().is_ok(), "{gear}");
    assert!(!err.contains('\x1b'), "no colours off a terminal: {err}");
    assert!(err.lines().any(|l| l.contains("ms: git ")), "{err}");

    let out = env.zoryn(&["build", "-q"], &repo);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(out.stderr.is_empty(), "{}", both(&out));
}
