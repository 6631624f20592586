//! `[notify]` end to end: a fake `notify-send` on PATH that records its argv
//! (with a session bus address set), the terminal bell on a real pty
//! (`script`), and the switches that keep both quiet.

mod support;

use std::path::Path;

use support::{both, TestEnv};

/// `notify-send` stand-in: appends its argv (one line per argument, then
/// `--`) to `rec`.
fn fake_notify_send(env: &TestEnv, rec: &Path) {
    let p = env.bin_dir.join("notify-send");
    std::fs::write(
        &p,
        format!(
            "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done >>'{}'\necho -- >>'{}'\n",
            rec.display(),
            rec.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
}

fn setup(notify: &str) -> (TestEnv, std::path::PathBuf, std::path::PathBuf) {
    let mut env = TestEnv::new();
    env.hasher_slot("hasher", None);
    env.extra_env.push((
        "DBUS_SESSION_BUS_ADDRESS".into(),
        "unix:path=/nonexistent/bus".into(),
    ));
    let repo = env.gear_repo("hello", "");
    let rec = env.home.join("tmp/notify.rec");
    fake_notify_send(&env, &rec);
    env.write(".zoryn", &format!("[notify]\n{notify}\n"));
    (env, repo, rec)
}

#[test]
fn a_long_run_sends_a_desktop_notification() {
    let (env, repo, rec) = setup("after = \"0s\"");
    let out = env.zoryn(&["build"], &repo);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let argv = std::fs::read_to_string(&rec).expect("notify-send ran");
    let lines: Vec<&str> = argv.lines().collect();
    assert_eq!(lines[0], "--app-name=zoryn", "{argv}");
    assert_eq!(lines[1], "--urgency=normal", "{argv}");
    assert_eq!(lines[2], "zoryn build hello: OK", "{argv}");
    assert!(lines[3].starts_with("local: OK ("), "{argv}");
    assert_eq!(lines.last(), Some(&"--"));

    // A failed run is urgent.
    std::fs::remove_file(&rec).unwrap();
    let mut env = env;
    env.extra_env
        .push(("HASHER_EMU_FAIL".into(), "build".into()));
    let out = env.zoryn(&["build"], &repo);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let argv = std::fs::read_to_string(&rec).expect("notify-send ran");
    assert!(
        argv.contains("--urgency=critical\nzoryn build hello: FAILED\nlocal: FAIL ("),
        "{argv}"
    );
}

#[test]
fn short_runs_and_enabled_false_stay_quiet() {
    let (env, repo, rec) = setup("after = \"1h\"");
    let out = env.zoryn(&["build"], &repo);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(!rec.exists(), "notified after a short run");

    env.write(".zoryn", "[notify]\nenabled = false\nafter = \"0s\"\n");
    let out = env.zoryn(&["build"], &repo);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(!rec.exists(), "notified although disabled");

    // The same run with notifications on does reach notify-send (so the
    // two above were quiet because of the settings).
    env.write(".zoryn", "[notify]\nafter = \"0s\"\n");
    let out = env.zoryn(&["build"], &repo);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(rec.exists());
}

/// Run zoryn on a pty (util-linux `script`); all the terminal's output bytes.
fn on_a_terminal(env: &TestEnv, repo: &Path) -> Vec<u8> {
    env.chown_all();
    let line = env.command_line(&[env.bin_dir.join("zoryn").to_str().unwrap(), "build", "-q"]);
    let out = std::process::Command::new("script")
        .args([
            "-qefc",
            &format!(
                "cd {} && {line}",
                shell_words::quote(&repo.display().to_string())
            ),
        ])
        .arg("/dev/null")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run script");
    assert!(out.status.success(), "{}", both(&out));
    out.stdout
}

#[test]
fn without_a_session_bus_the_terminal_bell_rings() {
    let env = TestEnv::new();
    env.hasher_slot("hasher", None);
    let repo = env.gear_repo("hello", "");
    let rec = env.home.join("tmp/notify.rec");
    fake_notify_send(&env, &rec);
    env.write(".zoryn", "[notify]\nafter = \"0s\"\n");
    let bytes = on_a_terminal(&env, &repo);
    assert!(
        bytes.contains(&0x07),
        "no BEL in:\n{}",
        String::from_utf8_lossy(&bytes)
    );
    assert!(!rec.exists(), "notify-send ran without a session bus");

    env.write(".zoryn", "[notify]\nenabled = false\nafter = \"0s\"\n");
    let bytes = on_a_terminal(&env, &repo);
    assert!(!bytes.contains(&0x07), "BEL although disabled");
}
