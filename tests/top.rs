//! `zoryn build --top` on a real terminal (tmux): rows appear, phases
//! change, cancelling the selected build leaves the others running, quitting
//! restores the terminal and prints the summary.

mod support;

use std::time::Duration;

use support::TestEnv;

#[test]
fn top_view_cancel_selected_and_quit() {
    let mut env = TestEnv::new();
    for n in [2, 3, 4] {
        env.hasher_slot(&format!("hasher_{n}"), Some(n));
        env.builder(&format!("local{n}"), &format!("hasher_number = {n}\n"));
    }
    env.extra_env
        .push(("HASHER_EMU_HANG_N2".into(), "build".into()));
    env.extra_env
        .push(("HASHER_EMU_DELAY_N3".into(), "3".into()));
    env.extra_env
        .push(("HASHER_EMU_DELAY_N4".into(), "3".into()));
    env.extra_env.push(("NO_COLOR".into(), "1".into()));
    let repo = env.gear_repo("hello", "");
    let zoryn = env.bin_dir.join("zoryn");
    let t = env.tmux(
        &[
            zoryn.to_str().unwrap(),
            "build",
            "-b",
            "local[2-4]",
            "-p",
            "--top",
        ],
        &repo,
        100,
        30,
    );
    let screen = t.wait_for("BUILDER", Duration::from_secs(30));
    for n in [2, 3, 4] {
        assert!(screen.contains(&format!("local{n}")), "{screen}");
    }
    // Phases move on from the emulator's output.
    t.wait_for("%build", Duration::from_secs(30));
    assert!(
        t.alternate_screen(),
        "the view should use the alternate screen"
    );
    // local2 is the first row and selected: cancel it.
    t.type_text("c");
    t.wait_for("cancel the build on local2? [y/N]", Duration::from_secs(10));
    t.type_text("y");
    let screen = t.wait_for("CANCELLED", Duration::from_secs(30));
    let row = |s: &str, n: &str| {
        s.lines()
            .find(|l| l.starts_with(n))
            .unwrap_or("")
            .to_string()
    };
    assert!(row(&screen, "local2").contains("CANCELLED"), "{screen}");
    assert!(!row(&screen, "local3").contains("CANCELLED"), "{screen}");
    // The others finish on their own.
    let screen = t.wait_for("finished (exit", Duration::from_secs(60));
    assert!(row(&screen, "local3").contains("OK"), "{screen}");
    assert!(row(&screen, "local4").contains("OK"), "{screen}");
    // The log pane follows the selected builder.
    t.send(&["Down"]);
    t.wait_for(" log: local3 ", Duration::from_secs(10));
    t.type_text("q");
    let screen = t.wait_for("[exit 130]", Duration::from_secs(30));
    assert!(!t.alternate_screen(), "terminal not restored");
    assert!(
        screen.contains("BUILDER  ARCH    BRANCH    RESULT"),
        "summary missing:\n{screen}"
    );
    assert!(
        screen.contains("local2   x86_64  sisyphus  CANCELLED"),
        "{screen}"
    );
    assert!(screen.contains("local3   x86_64  sisyphus  OK"), "{screen}");
    // Nothing of the cancelled build survives (this env's processes only:
    // other tests running at the same time use slot 2 too).
    let ps = std::process::Command::new("ps")
        .args(["-eo", "args"])
        .output()
        .unwrap();
    let root = env.root.to_string_lossy().into_owned();
    let left: Vec<String> = String::from_utf8_lossy(&ps.stdout)
        .lines()
        .filter(|l| l.contains(&root) && l.contains("hasher_2") && !l.contains("ps -eo"))
        .map(str::to_string)
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn top_refuses_without_a_terminal() {
    let env = TestEnv::new();
    env.hasher_slot("hasher", None);
    let repo = env.gear_repo("hello", "");
    let out = env.zoryn(&["build", "--top"], &repo);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        support::stderr(&out).contains("--top needs a terminal"),
        "{}",
        support::both(&out)
    );
}

#[test]
fn top_view_follows_a_batch() {
    let env = TestEnv::new();
    for n in [2, 3] {
        env.hasher_slot(&format!("hasher_{n}"), Some(n));
        env.builder(&format!("local{n}"), &format!("hasher_number = {n}\n"));
    }
    env.library_package("libfoo", &[], "");
    env.library_package("app", &["libfoo"], "");
    env.write(
        ".config/zoryn/batch/t.conf",
        "[batch]\nbasedir = \"~/src\"\nbuilders = \"local[2-3]\"\n\n[libfoo]\n\n[app]\n",
    );
    let zoryn = env.bin_dir.join("zoryn");
    let t = env.tmux(
        &[zoryn.to_str().unwrap(), "task", "batch", "t", "--top"],
        &env.home,
        100,
        30,
    );
    let screen = t.wait_for("zoryn: batch t", Duration::from_secs(30));
    assert!(
        screen.contains("local2") && screen.contains("local3"),
        "{screen}"
    );
    t.wait_for("finished (exit 0)", Duration::from_secs(60));
    t.type_text("q");
    let screen = t.wait_for("[exit 0]", Duration::from_secs(30));
    assert!(screen.contains("PACKAGE  x86_64/sisyphus"), "{screen}");
    assert!(screen.contains("app      OK"), "{screen}");
}

/// Pids of this env's zoryn binary.
fn zoryn_pids(env: &TestEnv) -> Vec<i32> {
    let me = env.bin_dir.join("zoryn");
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|p| p == me))
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
        })
        .collect()
}

#[test]
fn closing_the_terminal_stops_builds_and_zoryn() {
    let mut env = TestEnv::new();
    env.hasher_slot("hasher", None);
    env.extra_env
        .push(("HASHER_EMU_HANG".into(), "build".into()));
    let repo = env.gear_repo("hello", "");
    let zoryn = env.bin_dir.join("zoryn");
    let t = env.tmux(&[zoryn.to_str().unwrap(), "build", "--top"], &repo, 100, 30);
    t.wait_for("%build", Duration::from_secs(30));
    assert!(!zoryn_pids(&env).is_empty());
    drop(t); // the terminal goes away
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !zoryn_pids(&env).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "zoryn outlived its terminal: {:?}",
            zoryn_pids(&env)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    env.wait_for_event("lock-released", Duration::from_secs(10));
}
