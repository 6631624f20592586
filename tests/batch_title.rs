//! `[batch] name`, the batch's display title (SPEC 7), heads what a batch
//! shows: the `--plan` header, the plain run's header and summary, the
//! report's JSON (`title`) and HTML page. The identifier (the file name,
//! what `zoryn task batch` takes) stays beside it.
//!
//! The pieces are `BatchFile::label`, `BatchReport::summary`,
//! `BatchReport::to_json` and `report::batch::html::render_titled`, used by
//! `batch::session` and `cli/task.rs`.

mod support;

use support::{both, stdout, TestEnv};

#[test]
fn the_title_heads_the_plan_the_run_and_the_report() {
    let env = TestEnv::new();
    env.local_slots(&[2]);
    env.library_package("libfoo", &[], "");
    env.write(
        ".config/zoryn/batch/t.conf",
        "[batch]\nname = \"Spring rebuild\"\nbasedir = \"~/src\"\nbuilders = \"local2\"\n\n[libfoo]\n",
    );
    let out = env.zoryn(&["task", "batch", "t", "--plan"], &env.home);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(
        stdout(&out).starts_with("batch t \"Spring rebuild\": 1 packages, 1 lane(s)\n"),
        "{}",
        stdout(&out)
    );

    let out = env.zoryn(&["task", "batch", "t"], &env.home);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    // The live header (stderr) and the summary (stdout).
    let s = both(&out);
    assert!(
        s.contains("building batch t \"Spring rebuild\" (1 packages)"),
        "{s}"
    );
    assert!(
        stdout(&out).contains("batch t \"Spring rebuild\": 1 job(s) in "),
        "{s}"
    );

    let state = env.home.join(".local/state/zoryn/batches/t");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(state.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["title"], "Spring rebuild");
    assert_eq!(report["batch"], "t");
    let html = std::fs::read_to_string(state.join("report.html")).unwrap();
    assert!(html.contains("<h1>Spring rebuild</h1>"), "{html}");
    assert!(html.contains("<title>Spring rebuild — zoryn batch report</title>"));

    let out = env.zoryn(&["task", "batch", "t", "--json"], &env.home);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let last: serde_json::Value =
        serde_json::from_str(stdout(&out).lines().last().unwrap_or_default()).unwrap();
    assert_eq!(last["event"], "batch-report");
    assert_eq!(last["title"], "Spring rebuild");
}

#[test]
fn the_title_heads_the_top_view() {
    let env = TestEnv::new();
    env.local_slots(&[2]);
    env.library_package("libfoo", &[], "");
    env.write(
        ".config/zoryn/batch/t.conf",
        "[batch]\nname = \"Spring rebuild\"\nbasedir = \"~/src\"\nbuilders = \"local2\"\n\n[libfoo]\n",
    );
    let zoryn = env.bin_dir.join("zoryn");
    let t = env.tmux(
        &[zoryn.to_str().unwrap(), "task", "batch", "t", "--top"],
        &env.home,
        100,
        30,
    );
    t.wait_for(
        "zoryn: batch t \"Spring rebuild\" (1 packages)",
        std::time::Duration::from_secs(30),
    );
    t.wait_for("finished (exit 0)", std::time::Duration::from_secs(60));
    t.type_text("q");
    t.wait_for("[exit 0]", std::time::Duration::from_secs(30));
}
