//! `zoryn build --top` on a real terminal (tmux): rows appear, phases
//! change, cancelling the selected build leaves the others running, quitting
//! restores the terminal and prints the summary.

mod support;

use std::time::Duration;

use support::TestEnv;

#[test]
fn top_view_cancel_selected_and_quit() {
    let mut env = TestEnv::new();
    env.local_slots(&[2, 3, 4]);
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
    env.local_slots(&[2, 3]);
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
    let screen = t.wait_for("finished (exit 0)", Duration::from_secs(60));
    // The totals line counts the batch's queue.
    assert!(
        screen.contains("queue: 0 waiting, 0 running, 2 done, 0 failed"),
        "{screen}"
    );
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

/// The screen's line that starts with `start` (empty when none does).
fn line_starting(screen: &str, start: &str) -> String {
    screen
        .lines()
        .find(|l| l.starts_with(start))
        .unwrap_or("")
        .to_string()
}

/// Wait (polling the screen) until `pred` holds for the screen.
fn wait_until(t: &support::tty::Tmux, what: &str, pred: impl Fn(&str) -> bool) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let s = t.screen();
        if pred(&s) {
            return s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what} never happened; screen:\n{s}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// 80×24: the longest phase is not cut, the totals line counts the farm,
/// the table takes only the lines it needs, cancelled rows keep a partial
/// bar, the clock stops at the end and the footer says `q: quit` once.
#[test]
fn top_80x24_fits_status_totals_and_stops_at_the_end() {
    let mut env = TestEnv::new();
    env.local_slots(&[2, 3]);
    env.extra_env
        .push(("HASHER_EMU_HANG_N2".into(), "buildreq".into()));
    env.extra_env
        .push(("HASHER_EMU_HANG_N3".into(), "build".into()));
    env.extra_env.push(("NO_COLOR".into(), "1".into()));
    let repo = env.gear_repo("hello", "");
    let zoryn = env.bin_dir.join("zoryn");
    let t = env.tmux(
        &[
            zoryn.to_str().unwrap(),
            "build",
            "-b",
            "local[2-3]",
            "-p",
            "--top",
        ],
        &repo,
        80,
        24,
    );
    let screen = wait_until(&t, "both builds under way", |s| {
        line_starting(s, "local2").contains("installing build deps")
            && line_starting(s, "local3").contains("%build")
    });
    let lines: Vec<&str> = screen.lines().collect();
    assert!(lines[0].starts_with("zoryn: hello"), "{screen}");
    assert!(
        lines[1].starts_with(
            "builders on localhost: 2 busy, 0 free, 0 waiting | builds: 0 done, 0 failed"
        ),
        "{screen}"
    );
    assert!(lines[2].starts_with("BUILDER ARCH"), "{screen}");
    // The whole phase, then the time column.
    let row2 = line_starting(&screen, "local2");
    assert!(row2.contains("installing build deps "), "{screen}");
    // The table is header + 2 rows; the log pane starts right below.
    assert!(lines[5].starts_with(" log: local2 "), "{screen}");
    assert_eq!(lines.len(), 24, "{screen}");
    assert!(lines[23].starts_with("2 running |"), "{screen}");
    // Cancel everything.
    t.type_text("C");
    t.wait_for(
        "cancel all 2 running builds? [y/N]",
        Duration::from_secs(10),
    );
    t.type_text("y");
    let screen = t.wait_for("finished (exit", Duration::from_secs(60));
    for n in ["local2", "local3"] {
        let row = line_starting(&screen, n);
        assert!(row.contains("CANCELLED"), "{screen}");
        assert!(
            row.contains('░'),
            "a cancelled row shows a full bar:\n{screen}"
        );
    }
    let footer = screen.lines().last().unwrap_or("").to_string();
    assert_eq!(footer.matches("q: quit").count(), 1, "{screen}");
    assert!(!footer.contains("C: cancel all"), "{screen}");
    assert!(
        screen.contains("builds: 0 done, 0 failed, 2 cancelled"),
        "{screen}"
    );
    // The clock stays where the last build ended, redraws or not.
    let title = screen.lines().next().unwrap_or("").to_string();
    t.send(&["Down"]);
    t.wait_for(" log: local3 ", Duration::from_secs(10));
    let deadline = std::time::Instant::now() + Duration::from_millis(1500);
    while std::time::Instant::now() < deadline {
        let now = t.screen();
        assert_eq!(now.lines().next().unwrap_or(""), title, "{now}");
        std::thread::sleep(Duration::from_millis(100));
    }
    t.type_text("q");
    t.wait_for("[exit 130]", Duration::from_secs(30));
}

/// 200×60 with builders on two hosts: grouped under a heading per host,
/// the farm totals, and the log pane taking what the table does not need.
#[test]
fn top_200x60_groups_builders_by_host() {
    let mut env = TestEnv::new();
    let host = env.remote_builder("arm1", "armhost", "aarch64", "aarch64", 1);
    host.set_knob("HASHER_EMU_HANG", "build");
    env.hasher_slot("hasher_2", Some(2));
    env.builder("local2", "hasher_number = 2\n");
    env.extra_env
        .push(("HASHER_EMU_HANG_N2".into(), "build".into()));
    env.extra_env.push(("NO_COLOR".into(), "1".into()));
    let repo = env.gear_repo("hello", "");
    let zoryn = env.bin_dir.join("zoryn");
    let t = env.tmux(
        &[
            zoryn.to_str().unwrap(),
            "build",
            "-b",
            "arm1,local2",
            "-p",
            "--top",
        ],
        &repo,
        200,
        60,
    );
    let screen = wait_until(&t, "both builds in %build", |s| {
        line_starting(s, "arm1").contains("%build") && line_starting(s, "local2").contains("%build")
    });
    let lines: Vec<&str> = screen.lines().collect();
    assert!(
        lines[1].starts_with("builders: 2 busy, 0 free, 0 waiting | builds: 0 done, 0 failed"),
        "{screen}"
    );
    assert!(lines[2].starts_with("BUILDER ARCH"), "{screen}");
    // Hosts in the order the builders were selected, a heading each.
    let heading =
        |l: &str, host: &str| l.starts_with(&format!("── {host}: 1 builder(s), 1 busy ──"));
    let (first, second) = if lines[4].starts_with("arm1") {
        ("armhost", "localhost")
    } else {
        ("localhost", "armhost")
    };
    assert!(heading(lines[3], first), "{screen}");
    assert!(heading(lines[5], second), "{screen}");
    assert!(
        lines[3].chars().count() == 200 && lines[3].ends_with('─'),
        "{screen}"
    );
    assert!(
        lines[6].starts_with(if first == "armhost" { "local2" } else { "arm1" }),
        "{screen}"
    );
    // Header, 2 headings, 2 rows: the log pane starts on line 7 and runs to
    // the status bar.
    assert!(lines[7].starts_with(" log: "), "{screen}");
    assert!(lines[59].starts_with("2 running |"), "{screen}");
    t.type_text("C");
    t.wait_for(
        "cancel all 2 running builds? [y/N]",
        Duration::from_secs(10),
    );
    t.type_text("y");
    t.wait_for("finished (exit", Duration::from_secs(60));
    t.type_text("q");
    t.wait_for("[exit 130]", Duration::from_secs(30));
}
