//! Driving several builders at once: busy workdirs (wait, skip, fail, prefer
//! free), concurrent zoryn processes, --fail-fast, SKIP on ExcludeArch, and
//! `builder list --explain`.

mod support;

use std::io::BufRead;
use std::time::Duration;

use support::{both, stdout, TestEnv};

/// Hold a hasher workdir lock like a running hsh would (flock + a pid file
/// naming the holder, this test process: zoryn checks the pid file against
/// the kernel's lock list). Returns the lock and the holder's pid.
fn hold_lock(dir: &std::path::Path) -> (nix::fcntl::Flock<std::fs::File>, u32) {
    let pid = std::process::id();
    std::fs::write(dir.join("pid"), format!("{pid}\n")).unwrap();
    let lock = nix::fcntl::Flock::lock(
        std::fs::File::open(dir).unwrap(),
        nix::fcntl::FlockArg::LockExclusiveNonblock,
    )
    .unwrap();
    (lock, pid)
}

#[test]
fn waits_for_a_busy_workdir_and_says_who_holds_it() {
    let env = TestEnv::new();
    let wd = env.hasher_slot("hasher", None);
    let repo = env.gear_repo("hello", "");
    let (lock, holder) = hold_lock(&wd);
    let mut child = env.spawn_zoryn(&["build", "--json"], &repo);
    let stdout = child.stdout.take().unwrap();
    let mut lines = std::io::BufReader::new(stdout).lines();
    let mut seen = Vec::new();
    // Read events until zoryn reports the wait; nothing may have started.
    loop {
        let line = lines.next().expect("zoryn ended without waiting").unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_ne!(v["event"], "started", "started despite the lock: {seen:?}");
        seen.push(line);
        if v["event"] == "waiting" {
            assert_eq!(v["holder_pid"], holder);
            break;
        }
    }
    assert!(
        env.events_text().is_empty(),
        "hsh ran while the workdir was locked"
    );
    drop(lock);
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{rest:?}");
    let last: serde_json::Value = serde_json::from_str(rest.last().unwrap()).unwrap();
    assert_eq!(last["results"][0]["outcome"], "success");
}

#[test]
fn skip_busy_and_fail_if_busy() {
    let env = TestEnv::new();
    let wd = env.hasher_slot("hasher", None);
    let repo = env.gear_repo("hello", "");
    let (_lock, holder) = hold_lock(&wd);
    let out = env.zoryn(&["build", "--skip-busy"], &repo);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let s = stdout(&out);
    assert!(s.contains("local    x86_64  sisyphus  SKIP"), "{s}");
    assert!(
        s.contains(&format!(
            "local: busy: hasher workdir locked by pid {holder}"
        )),
        "{s}"
    );
    let out = env.zoryn(&["build", "--fail-if-busy"], &repo);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    assert!(stdout(&out).contains("BUSY"), "{}", both(&out));
    assert!(env.events_text().is_empty());
}

#[test]
fn prefers_a_free_equivalent_builder() {
    let env = TestEnv::new();
    env.local_slots(&[2, 3]);
    let repo = env.gear_repo("hello", "");
    let (_lock, holder) = hold_lock(&env.home.join("hasher_2"));
    let out = env.zoryn(&["build", "-b", "local[2-3]", "-p"], &repo);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let s = stdout(&out);
    assert!(
        s.contains(&format!(
            "local2: busy (hasher workdir locked by pid {holder}"
        )),
        "{s}"
    );
    assert!(s.contains("x86_64/sisyphus is built on local3"), "{s}");
    assert!(repo
        .join("hasher_out/local3/hello-1.0-alt1.x86_64.rpm")
        .is_file());
    assert!(!repo.join("hasher_out/local2").exists());
}

#[test]
fn two_zoryn_processes_never_share_a_workdir() {
    let mut env = TestEnv::new();
    env.hasher_slot("hasher", None);
    env.extra_env
        .push(("HASHER_EMU_DELAY".into(), "0.5".into()));
    let repo = env.gear_repo("hello", "");
    let a = env.spawn_zoryn(&["build"], &repo);
    let b = env.spawn_zoryn(&["build"], &repo);
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert_eq!(a.status.code(), Some(0), "{}", both(&a));
    assert_eq!(b.status.code(), Some(0), "{}", both(&b));
    // From the emulator's own log: the two lock holds do not overlap.
    let events = env.events_text();
    let mut holds = Vec::new();
    let mut open = std::collections::HashMap::new();
    for l in events.lines() {
        let w: Vec<&str> = l.split_whitespace().collect();
        let ts: u128 = w[0].parse().unwrap();
        let pid = w
            .iter()
            .find(|x| x.starts_with("pid="))
            .unwrap()
            .to_string();
        match w[1] {
            "lock-acquired" => {
                open.insert(pid, ts);
            }
            "lock-released" => {
                holds.push((open.remove(&pid).expect("release without acquire"), ts))
            }
            _ => {}
        }
    }
    assert_eq!(holds.len(), 2, "{events}");
    holds.sort();
    assert!(
        holds[0].1 <= holds[1].0,
        "two builds held the workdir at once:\n{events}"
    );
}

#[test]
fn one_failure_does_not_stop_the_others_unless_fail_fast() {
    let mut env = TestEnv::new();
    env.local_slots(&[2, 3]);
    env.extra_env
        .push(("HASHER_EMU_FAIL_N2".into(), "prep".into()));
    env.extra_env
        .push(("HASHER_EMU_DELAY_N3".into(), "1".into()));
    let repo = env.gear_repo("hello", "");
    let out = env.zoryn(&["build", "-b", "local2,local3", "-p"], &repo);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let s = stdout(&out);
    assert!(s.contains("local2   x86_64  sisyphus  FAIL"), "{s}");
    assert!(s.contains("local3   x86_64  sisyphus  OK"), "{s}");

    env.extra_env.retain(|(k, _)| k != "HASHER_EMU_DELAY_N3");
    env.extra_env
        .push(("HASHER_EMU_HANG_N3".into(), "build".into()));
    let out = env.zoryn(
        &["build", "-b", "local2,local3", "-p", "--fail-fast"],
        &repo,
    );
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let s = stdout(&out);
    assert!(s.contains("local3   x86_64  sisyphus  CANCELLED"), "{s}");
    assert!(
        s.contains("local3: stopped by --fail-fast after `local2` failed"),
        "{s}"
    );
}

#[test]
fn excluded_arch_is_skip_not_fail() {
    let env = TestEnv::new();
    env.hasher_slot("hasher", None);
    env.hasher_slot("hasher_2", Some(2));
    env.builder("x32", "hasher_number = 2\narch = \"i586\"\n");
    let repo = env.gear_repo("hello", "ExcludeArch: i586");
    let out = env.zoryn(&["build", "-b", "local,x32", "-p"], &repo);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let s = stdout(&out);
    assert!(s.contains("x32      i586    sisyphus  SKIP"), "{s}");
    assert!(
        s.contains("x32: hello excludes i586 (ExcludeArch: i586)"),
        "{s}"
    );
    assert!(s.contains("local    x86_64  sisyphus  OK"), "{s}");
}

/// Two local builders, x86_64 (`local`) and i586 (`x32`, built with
/// `--target=i586`: the emulated hsh runs the host's real rpmbuild, which
/// refuses an excluded arch itself), and a build of `hello` with
/// `spec_extra` in its preamble. Returns the output and the repo.
fn build_on_x86_64_and_i586(
    spec_extra: &str,
) -> (std::process::Output, std::path::PathBuf, TestEnv) {
    let env = TestEnv::new();
    env.hasher_slot("hasher", None);
    env.hasher_slot("hasher_2", Some(2));
    env.builder("x32", "hasher_number = 2\narch = \"i586\"\n");
    let repo = env.gear_repo("hello", spec_extra);
    let out = env.zoryn(&["build", "-b", "local,x32", "-p"], &repo);
    (out, repo, env)
}

/// `%ix86` is ALT's group of 32-bit x86 arches: an i586 builder is SKIP
/// (the build would fail in rpmbuild: "Architecture is excluded"), and the
/// summary says which tag decided it.
#[test]
fn exclude_arch_ix86_skips_the_i586_builder() {
    let (out, repo, _env) = build_on_x86_64_and_i586("ExcludeArch: %ix86");
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let s = stdout(&out);
    assert!(s.contains("x32      i586    sisyphus  SKIP"), "{s}");
    assert!(
        s.contains("x32: hello excludes i586 (ExcludeArch: %ix86)"),
        "{s}"
    );
    assert!(s.contains("local    x86_64  sisyphus  OK"), "{s}");
    assert!(repo
        .join("hasher_out/local/hello-1.0-alt1.x86_64.rpm")
        .is_file());
    assert!(!repo
        .join("hasher_out/x32")
        .join("hello-1.0-alt1.i586.rpm")
        .exists());
}

/// `ExclusiveArch: %ix86 x86_64` lists i586 through the group: both
/// builders really build.
#[test]
fn exclusive_arch_ix86_builds_the_i586_builder() {
    let (out, repo, _env) = build_on_x86_64_and_i586("ExclusiveArch: %ix86 x86_64");
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let s = stdout(&out);
    assert!(s.contains("x32      i586    sisyphus  OK"), "{s}");
    assert!(s.contains("local    x86_64  sisyphus  OK"), "{s}");
    assert!(
        repo.join("hasher_out/x32/hello-1.0-alt1.i586.rpm")
            .is_file(),
        "{}",
        both(&out)
    );
    assert!(repo
        .join("hasher_out/local/hello-1.0-alt1.x86_64.rpm")
        .is_file());
}

/// A `BuildArch: noarch` main package is limited by its ExclusiveArch like
/// any other (real Sisyphus packages do this): built on x86_64 only.
#[test]
fn noarch_main_package_keeps_its_exclusive_arch() {
    let (out, repo, _env) = build_on_x86_64_and_i586("BuildArch: noarch\nExclusiveArch: x86_64");
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let s = stdout(&out);
    assert!(s.contains("x32      i586    sisyphus  SKIP"), "{s}");
    assert!(
        s.contains("x32: hello excludes i586 (ExclusiveArch: x86_64)"),
        "{s}"
    );
    assert!(s.contains("local    x86_64  sisyphus  OK"), "{s}");
    assert!(
        repo.join("hasher_out/local/hello-1.0-alt1.noarch.rpm")
            .is_file(),
        "{}",
        both(&out)
    );
}

/// A subpackage's `BuildArch: noarch` does not switch the main package's
/// ExcludeArch off; `%ifarch` around the tag is evaluated per builder.
#[test]
fn noarch_subpackage_and_ifarch_do_not_lift_exclude_arch() {
    let (out, _repo, _env) = build_on_x86_64_and_i586(
        "%ifarch %ix86\nExcludeArch: %ix86\n%endif\n\
         %package doc\nSummary: docs\nGroup: Documentation\nBuildArch: noarch\n\
         %description doc\nDocumentation.\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let s = stdout(&out);
    assert!(s.contains("x32      i586    sisyphus  SKIP"), "{s}");
    assert!(
        s.contains("x32: hello excludes i586 (ExcludeArch: %ix86)"),
        "{s}"
    );
    assert!(s.contains("local    x86_64  sisyphus  OK"), "{s}");
}

#[test]
fn a_local_builder_for_another_arch_gets_target() {
    let env = TestEnv::new();
    env.hasher_slot("hasher_2", Some(2));
    env.builder("x32", "hasher_number = 2\narch = \"i586\"\n");
    let repo = env.gear_repo("hello", "");
    let out = env.zoryn(&["build", "-b", "x32"], &repo);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(
        repo.join("hasher_out/x32/hello-1.0-alt1.i586.rpm")
            .is_file(),
        "{}",
        both(&out)
    );
    let _ = Duration::ZERO;
}

#[test]
fn explain_and_pattern_errors() {
    let env = TestEnv::new();
    env.local_slots(&[2, 3, 4]);
    env.builder(
        "arm",
        "host = \"arm.example\"\narch = \"aarch64\"\nhasher_number = 1\n",
    );
    let out = env.zoryn(
        &["builder", "list", "-b", "local[2-4],^local3", "--explain"],
        &env.home,
    );
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let s = stdout(&out);
    assert!(
        s.contains("pattern \"local[2-4],^local3\" (from -b):"),
        "{s}"
    );
    assert!(s.contains("+ local2  matched `local[2-4]`"), "{s}");
    assert!(
        s.contains("- local3  matched `local[2-4]` but excluded by `^local3`"),
        "{s}"
    );
    assert!(s.contains("- arm     not matched by any term"), "{s}");
    assert!(s.contains("selected: local2, local4"), "{s}");
    let out = env.zoryn(
        &[
            "builder",
            "list",
            "-b",
            "@all",
            "-a",
            "aarch64",
            "--explain",
        ],
        &env.home,
    );
    assert!(
        stdout(&out)
            .contains("- local2  matched `@all` but dropped by -a/--arch aarch64 (it is x86_64)"),
        "{}",
        both(&out)
    );
    let out = env.zoryn(&["builder", "list", "-b", "local[2-x]"], &env.home);
    assert_eq!(out.status.code(), Some(2));
    let e = support::stderr(&out);
    assert!(
        e.contains("malformed builder pattern at column 9: expected a number"),
        "{e}"
    );
    assert!(e.contains("  local[2-x]\n          ^"), "{e}");
    let repo = env.gear_repo("hello", "");
    let out = env.zoryn(&["build", "-b", "@arch:aarch64", "-B", "p11"], &repo);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        support::stderr(&out)
            .contains("-B/--branch p11 left none of the builders \"@arch:aarch64\""),
        "{}",
        both(&out)
    );
}
