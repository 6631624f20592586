//! Post-build checks (`[checks]` in ~/.zoryn, SPEC 5.1), end to end: the real
//! zoryn binary, real check programs (shell scripts on PATH that record
//! what they were given), local and remote builders on the emulators.

mod support;

use std::path::Path;
use std::time::Duration;

use support::{both, stdout, TestEnv};

/// A check program `name` in the env's bin dir: records its argv (one per
/// line) and that every argument after the options is an existing file in
/// `rec`, prints `lines` lines of output, then exits with `status`.
fn check_program(env: &TestEnv, name: &str, rec: &Path, lines: usize, status: i32) {
    let script = format!(
        "#!/bin/sh\n\
         for a in \"$@\"; do echo \"arg $a\"; case $a in -*) ;; *) [ -f \"$a\" ] && echo \"file $a\";; esac; done >>'{rec}'\n\
         i=1; while [ $i -le {lines} ]; do echo \"{name} line $i\"; i=$((i+1)); done\n\
         exit {status}\n",
        rec = rec.display()
    );
    let p = env.bin_dir.join(name);
    std::fs::write(&p, script).unwrap();
    std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
}

fn checks_config(env: &TestEnv, commands: &[&str], extra: &str) {
    let list: Vec<String> = commands.iter().map(|c| format!("{c:?}")).collect();
    env.write(
        ".zoryn",
        &format!("{extra}\n[checks]\ncommands = [{}]\n", list.join(", ")),
    );
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

#[test]
fn a_passing_check_gets_the_downloaded_rpms_and_its_output_goes_to_the_log() {
    let env = TestEnv::new();
    env.hasher_slot("hasher", None);
    let repo = env.gear_repo("hello", "");
    let rec = env.home.join("tmp/lint.rec");
    check_program(&env, "lint-ok", &rec, 3, 0);
    checks_config(&env, &["lint-ok --strict"], "");
    let out = env.zoryn(&["build"], &repo);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let results = repo.join("hasher_out/local");
    let rec = read(&rec);
    assert!(rec.contains("arg --strict\n"), "{rec}");
    for rpm in ["hello-1.0-alt1.x86_64.rpm", "hello-1.0-alt1.src.rpm"] {
        // Given as the downloaded file, which existed when the check ran.
        let line = format!("file {}\n", results.join(rpm).display());
        assert!(rec.contains(&line), "{line} missing in:\n{rec}");
    }
    let log = read(&repo.join(".gear/build.local.log"));
    assert!(log.contains("Executing(%build)"), "{log}");
    assert!(
        log.contains("zoryn: post-build check lint-ok: lint-ok --strict"),
        "{log}"
    );
    assert!(log.contains("lint-ok line 3"), "{log}");
    assert!(
        log.contains("zoryn: post-build check lint-ok passed"),
        "{log}"
    );
    let s = stdout(&out);
    assert!(s.contains("local: checks passed: lint-ok ("), "{s}");
}

#[test]
fn a_failing_check_fails_the_builder_with_its_last_lines() {
    let env = TestEnv::new();
    env.hasher_slot("hasher", None);
    let repo = env.gear_repo("hello", "");
    let ok_rec = env.home.join("tmp/ok.rec");
    let bad_rec = env.home.join("tmp/bad.rec");
    check_program(&env, "lint-ok", &ok_rec, 1, 0);
    check_program(&env, "lint-bad", &bad_rec, 40, 1);
    checks_config(&env, &["lint-ok", "lint-bad -v"], "");
    let out = env.zoryn(&["build"], &repo);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let s = stdout(&out);
    assert!(s.contains("local    x86_64  sisyphus  FAIL"), "{s}");
    assert!(
        s.contains("local: post-build check `lint-bad` failed (exit status 1)"),
        "{s}"
    );
    assert!(
        s.contains("hint: fix what it reports, or skip it once with --skip-check=lint-bad"),
        "{s}"
    );
    // Its last lines, not its first ones, and not hsh's.
    assert!(s.contains("  | lint-bad line 40\n"), "{s}");
    assert!(s.contains("  | lint-bad line 26\n"), "{s}");
    assert!(!s.contains("lint-bad line 25\n"), "{s}");
    assert!(!s.contains("lint-ok line 1"), "{s}");
    assert!(!read(&ok_rec).is_empty(), "the first check ran");
    // The packages are still where the check saw them.
    assert!(repo
        .join("hasher_out/local/hello-1.0-alt1.x86_64.rpm")
        .is_file());
}

#[test]
fn skip_check_skips_by_tool_name_and_without_a_value_skips_all() {
    let env = TestEnv::new();
    env.hasher_slot("hasher", None);
    let repo = env.gear_repo("hello", "");
    let ok_rec = env.home.join("tmp/ok.rec");
    let bad_rec = env.home.join("tmp/bad.rec");
    check_program(&env, "lint-ok", &ok_rec, 1, 0);
    check_program(&env, "lint-bad", &bad_rec, 1, 1);
    // The name is the first word's basename, whatever the path.
    let bad_path = env.bin_dir.join("lint-bad");
    checks_config(
        &env,
        &["lint-ok", &format!("{} --all", bad_path.display())],
        "",
    );
    let out = env.zoryn(&["build", "--skip-check=lint-bad"], &repo);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(
        read(&bad_rec).is_empty(),
        "lint-bad ran: {}",
        read(&bad_rec)
    );
    assert!(!read(&ok_rec).is_empty(), "lint-ok did not run");

    std::fs::remove_file(&ok_rec).unwrap();
    let out = env.zoryn(&["build", "--skip-check"], &repo);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(read(&ok_rec).is_empty() && read(&bad_rec).is_empty());

    // Without --skip-check the failing one does run (so the skips above
    // were what kept it away).
    let out = env.zoryn(&["build"], &repo);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    assert!(!read(&bad_rec).is_empty());
}

#[test]
fn json_carries_the_check_results() {
    let env = TestEnv::new();
    env.hasher_slot("hasher", None);
    let repo = env.gear_repo("hello", "");
    check_program(&env, "lint-ok", &env.home.join("tmp/ok.rec"), 2, 0);
    check_program(&env, "lint-bad", &env.home.join("tmp/bad.rec"), 2, 3);
    checks_config(&env, &["lint-ok", "lint-bad"], "");
    let out = env.zoryn(&["build", "--json"], &repo);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let last: serde_json::Value =
        serde_json::from_str(stdout(&out).lines().last().unwrap()).unwrap();
    assert_eq!(last["event"], "run-finished");
    let r = &last["results"][0];
    assert_eq!(r["outcome"], "failed");
    let checks = r["checks"].as_array().expect("checks in the result");
    assert_eq!(checks.len(), 2);
    assert_eq!(checks[0]["name"], "lint-ok");
    assert_eq!(checks[0]["exit_status"], 0);
    assert_eq!(checks[0]["passed"], true);
    assert_eq!(checks[1]["name"], "lint-bad");
    assert_eq!(checks[1]["exit_status"], 3);
    assert_eq!(checks[1]["passed"], false);
    assert!(checks[1]["duration"].as_f64().unwrap() >= 0.0);
    assert_eq!(
        checks[1]["tail"],
        serde_json::json!(["lint-bad line 1", "lint-bad line 2"])
    );
    let cmd = checks[1]["command"].as_array().unwrap();
    assert_eq!(cmd[0], "lint-bad");
    assert!(cmd[1].as_str().unwrap().ends_with(".rpm"), "{cmd:?}");
}

#[test]
fn a_check_that_is_not_installed_says_what_to_do() {
    let env = TestEnv::new();
    env.hasher_slot("hasher", None);
    let repo = env.gear_repo("hello", "");
    checks_config(&env, &["no-such-linter -x"], "");
    let out = env.zoryn(&["build"], &repo);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let s = stdout(&out);
    assert!(
        s.contains("post-build check `no-such-linter` could not run"),
        "{s}"
    );
    assert!(
        s.contains("install `no-such-linter` or remove it from [checks] commands in ~/.zoryn"),
        "{s}"
    );
}

#[test]
fn a_remote_builders_check_runs_here_on_its_downloaded_rpms() {
    let env = TestEnv::new();
    let _host = env.remote_builder("arm", "arm", "aarch64", "aarch64", 1);
    let repo = env.gear_repo("hello", "");
    let rec = env.home.join("tmp/lint.rec");
    check_program(&env, "lint-bad", &rec, 2, 1);
    checks_config(&env, &["lint-bad"], &env.ssh_commands_toml());
    let out = env.zoryn(&["build", "-b", "arm"], &repo);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let line = format!(
        "file {}\n",
        repo.join("hasher_out/arm/hello-1.0-alt1.aarch64.rpm")
            .display()
    );
    assert!(read(&rec).contains(&line), "{}", read(&rec));
    let s = stdout(&out);
    assert!(
        s.contains("arm: post-build check `lint-bad` failed (exit status 1)"),
        "{s}"
    );
    assert!(s.contains("  | lint-bad line 2"), "{s}");
    let log = read(&repo.join(".gear/build.arm.log"));
    assert!(log.contains("lint-bad line 1"), "{log}");
}

/// One builder's checks run as soon as its own download is done, while
/// another builder is still building: builder `slow` hangs in %build until
/// the run is interrupted, and `fast`'s check still runs.
#[test]
fn checks_run_while_other_builders_still_build() {
    let mut env = TestEnv::new();
    env.hasher_slot("hasher_1", Some(1));
    env.hasher_slot("hasher_2", Some(2));
    env.builder("fast", "hasher_dir = \"~/hasher_1\"\nhasher_number = 1\n");
    env.builder("slow", "hasher_dir = \"~/hasher_2\"\nhasher_number = 2\n");
    env.extra_env
        .push(("HASHER_EMU_HANG_N2".into(), "build".into()));
    let repo = env.gear_repo("hello", "");
    let rec = env.home.join("tmp/lint.rec");
    check_program(&env, "lint-ok", &rec, 1, 0);
    checks_config(&env, &["lint-ok"], "");
    let mut child = env.spawn_zoryn(&["build", "-p", "-b", "fast,slow"], &repo);
    // If the test fails before the Ctrl-C below, slow's hanging build is
    // stopped all the same.
    let mut ctrl_c = CtrlCOnDrop(Some(child.id()));
    // fast's check runs although slow never ends its build (it hangs until
    // the SIGINT below): the check did not wait for the other builder.
    let line = support::wait_for_line(
        &rec,
        "hasher_out/fast/",
        Duration::from_secs(60),
        " (fast's check)",
    );
    assert!(!line.contains("hasher_out/slow"), "{line}");
    // fast ends (its check done) while slow still builds; only then Ctrl-C.
    // (Progress lines go to stderr, the summary to stdout.)
    let (tx, rx) = std::sync::mpsc::channel();
    let so = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in std::io::BufRead::lines(std::io::BufReader::new(so)).map_while(Result::ok) {
            let _ = tx.send(line.clone());
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("fast never finished");
        if line.starts_with("[fast] OK in ") {
            break;
        }
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    ctrl_c.0 = None;
    let progress = reader.join().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}{progress}", both(&out));
    let s = stdout(&out);
    assert!(s.contains("fast: checks passed: lint-ok"), "{s}");
    assert!(s.contains("slow     x86_64  sisyphus  CANCELLED"), "{s}");
    assert!(!read(&rec).contains("hasher_out/slow"), "{}", read(&rec));
}

/// Each job of a batch runs the checks on its own packages; a failed check
/// fails that job (the batch exits 1), the others stay OK.
#[test]
fn each_batch_job_runs_the_checks_on_its_packages() {
    let env = TestEnv::new();
    env.hasher_slot("hasher_2", Some(2));
    env.builder("local2", "hasher_number = 2\n");
    env.library_package("libfoo", &[], "");
    env.library_package("tool", &[], "");
    env.write(
        ".config/zoryn/batch/fam.conf",
        "[batch]\nbuilders = \"local2\"\nbasedir = \"~/src\"\n\n[libfoo]\n\n[tool]\n",
    );
    let rec = env.home.join("tmp/lint.rec");
    // Fails on tool's packages only.
    let script = format!(
        "#!/bin/sh\nfor a in \"$@\"; do echo \"file $a\"; done >>'{}'\ncase \"$*\" in *tool-1.0*) echo 'tool: E: bad'; exit 1;; esac\n",
        rec.display()
    );
    let p = env.bin_dir.join("lint-tool");
    std::fs::write(&p, script).unwrap();
    std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    checks_config(&env, &["lint-tool"], "");
    let out = env.zoryn(&["task", "batch", "fam"], &env.home);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let s = stdout(&out);
    assert!(
        s.lines()
            .any(|l| l.starts_with("libfoo") && l.ends_with("OK")),
        "{s}"
    );
    assert!(
        s.lines()
            .any(|l| l.starts_with("tool") && l.contains("FAIL")),
        "{s}"
    );
    let r = read(&rec);
    assert!(r.contains("/libfoo-1.0-alt1.x86_64.rpm"), "{r}");
    assert!(r.contains("/tool-1.0-alt1.x86_64.rpm"), "{r}");

    // Skipped by name, the batch passes.
    let out = env.zoryn(
        &[
            "task",
            "batch",
            "fam",
            "--restart",
            "--skip-check=lint-tool",
        ],
        &env.home,
    );
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
}

/// Sends zoryn SIGINT (Ctrl-C: it stops its builds and exits) when dropped
/// while still armed: a test that fails half-way leaves nothing running.
struct CtrlCOnDrop(Option<u32>);

impl Drop for CtrlCOnDrop {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGINT,
            );
        }
    }
}
