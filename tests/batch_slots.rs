//! `zoryn task batch` when a slot cannot take a job: a builder that turns
//! out unusable is left for the rest of the run and its job moves on; a
//! lane with no usable builder left fails its jobs and blocks what needs
//! them; a busy slot (someone else holds its workdir) cools down and the
//! job goes elsewhere. Moves off unusable or busy slots use up no attempt.

mod support;

use std::path::PathBuf;
use std::process::Output;
use std::sync::mpsc::{channel, RecvTimeoutError};
use std::time::Duration;

use support::{both, stderr, stdout, TestEnv};

/// Longest a batch here may take: a dispatch loop that keeps giving a job
/// to a slot that cannot take it would otherwise never end.
const LIMIT: Duration = Duration::from_secs(120);

/// `zoryn task batch NAME` in the test home; killed, and the test failed,
/// past [`LIMIT`].
fn batch(env: &TestEnv, name: &str) -> Output {
    let child = env.spawn_zoryn(&["task", "batch", name], &env.home);
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let (ended, wait) = channel::<()>();
    let watchdog = std::thread::spawn(move || match wait.recv_timeout(LIMIT) {
        Err(RecvTimeoutError::Timeout) => {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            true
        }
        _ => false,
    });
    let out = child.wait_with_output().expect("wait for zoryn");
    let _ = ended.send(());
    let killed = watchdog.join().expect("watchdog thread");
    if killed {
        let said = both(&out);
        let tail: String = said
            .chars()
            .skip(said.chars().count().saturating_sub(4000))
            .collect();
        panic!("zoryn task batch {name} did not end within {LIMIT:?}; it said, last:\n{tail}");
    }
    out
}

fn batch_file(env: &TestEnv, name: &str, builders: &str, pkgs: &[&str]) -> PathBuf {
    let mut text = format!("[batch]\nbasedir = \"~/src\"\nbuilders = \"{builders}\"\n");
    for p in pkgs {
        text.push_str(&format!("\n[{p}]\n"));
    }
    env.write(&format!(".config/zoryn/batch/{name}.conf"), &text)
}

fn journal(env: &TestEnv, batch: &str) -> Vec<serde_json::Value> {
    let p = env
        .home
        .join(format!(".local/state/zoryn/batches/{batch}/journal.jsonl"));
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

fn with<'a>(j: &'a [serde_json::Value], ev: &str, builder: &str) -> Vec<&'a serde_json::Value> {
    j.iter()
        .filter(|r| r["ev"] == ev && r["builder"] == builder)
        .collect()
}

/// The summary table has `pkg` with `result` in its lane.
fn row(summary: &str, pkg: &str, result: &str) -> bool {
    summary.lines().any(|l| {
        let w: Vec<&str> = l.split_whitespace().collect();
        w.first() == Some(&pkg) && w.last() == Some(&result) && w.len() == 2
    })
}

/// A local builder whose hasher slot was never set up (no satellite users
/// for its number, no workdir): hasher-priv would refuse it.
fn unusable_builder(env: &TestEnv, name: &str, number: u32) {
    env.builder(name, &format!("hasher_number = {number}\n"));
}

#[test]
fn an_unusable_builder_is_left_and_its_job_built_on_another_slot() {
    let env = TestEnv::new();
    env.local_slots(&[2]);
    unusable_builder(&env, "local1", 9);
    env.library_package("alpha", &[], "");
    env.library_package("beta", &[], "");
    batch_file(&env, "u", "local1,local2", &["alpha", "beta"]);
    let out = batch(&env, "u");
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let s = stdout(&out);
    assert!(row(&s, "alpha", "OK"), "{s}");
    assert!(row(&s, "beta", "OK"), "{s}");
    let j = journal(&env, "u");
    // The first job went to local1, came back as a retry, and local1 got
    // no second job.
    let started = with(&j, "job-started", "local1");
    assert_eq!(started.len(), 1, "{j:?}");
    let retried = with(&j, "job-finished", "local1");
    assert_eq!(retried.len(), 1, "{j:?}");
    assert_eq!(retried[0]["outcome"], "retry", "{j:?}");
    assert_eq!(retried[0]["pkg"], started[0]["pkg"], "{j:?}");
    // Both were built on local2, neither used up an attempt.
    let done = with(&j, "job-finished", "local2");
    assert_eq!(done.len(), 2, "{j:?}");
    assert!(done.iter().all(|r| r["outcome"] == "done"), "{j:?}");
    let attempts: Vec<&serde_json::Value> = j
        .iter()
        .filter(|r| r["ev"] == "job-started")
        .map(|r| &r["attempt"])
        .collect();
    assert!(attempts.iter().all(|a| **a == 1), "{j:?}");
    assert!(
        stderr(&out).contains("local1 is unusable"),
        "{}",
        both(&out)
    );
}

#[test]
fn a_lane_without_a_usable_builder_fails_its_jobs_and_blocks_their_dependents() {
    let env = TestEnv::new();
    unusable_builder(&env, "local1", 9);
    env.library_package("libfoo", &[], "");
    env.library_package("app", &["libfoo"], "");
    batch_file(&env, "n", "local1", &["libfoo", "app"]);
    let out = batch(&env, "n");
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let s = stdout(&out);
    assert!(row(&s, "libfoo", "FAIL"), "{s}");
    assert!(row(&s, "app", "BLOCKED"), "{s}");
    assert!(
        s.contains(
            "libfoo @ x86_64/sisyphus: no usable builder left in lane x86_64/sisyphus: local1: "
        ),
        "{s}"
    );
    assert!(
        s.contains("app @ x86_64/sisyphus: not built: dependency libfoo failed"),
        "{s}"
    );
    let j = journal(&env, "n");
    let outcome = |pkg: &str| {
        j.iter()
            .filter(|r| r["ev"] == "job-finished" && r["pkg"] == pkg)
            .map(|r| r["outcome"].as_str().unwrap_or_default().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(outcome("libfoo"), ["retry", "failed"], "{j:?}");
    assert_eq!(outcome("app"), ["blocked"], "{j:?}");
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(env.home.join(".local/state/zoryn/batches/n/report.json"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(report["exit_code"], 1, "{report}");
}

#[test]
fn a_busy_slot_cools_down_and_the_job_goes_to_another_without_using_an_attempt() {
    let env = TestEnv::new();
    env.local_slots(&[2, 3]);
    // local2 is busy for the whole run: this test process holds its
    // workdir lock, as a stranger's hsh would.
    let wd = env.home.join("hasher_2");
    let _held = nix::fcntl::Flock::lock(
        std::fs::File::open(&wd).unwrap(),
        nix::fcntl::FlockArg::LockExclusiveNonblock,
    )
    .unwrap();
    env.library_package("alpha", &[], "");
    env.library_package("beta", &[], "");
    batch_file(&env, "b", "local2,local3", &["alpha", "beta"]);
    let out = batch(&env, "b");
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let s = stdout(&out);
    assert!(row(&s, "alpha", "OK"), "{s}");
    assert!(row(&s, "beta", "OK"), "{s}");
    let j = journal(&env, "b");
    assert!(!with(&j, "job-started", "local2").is_empty(), "{j:?}");
    // A busy slot is no retry: no journal line, no attempt used.
    assert!(with(&j, "job-finished", "local2").is_empty(), "{j:?}");
    let done = with(&j, "job-finished", "local3");
    assert_eq!(done.len(), 2, "{j:?}");
    assert!(done.iter().all(|r| r["outcome"] == "done"), "{j:?}");
    assert!(
        j.iter()
            .filter(|r| r["ev"] == "job-started")
            .all(|r| r["attempt"] == 1),
        "{j:?}"
    );
    assert!(stderr(&out).contains("local2 is busy"), "{}", both(&out));
}
