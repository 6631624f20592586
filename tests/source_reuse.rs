//! The edit-build loop does not repeat `gear --commit` when what gear would
//! pack is unchanged (issue 13 item 6): real zoryn, real git, the gear
//! emulator behind a wrapper that counts its runs.

mod support;

use std::path::Path;

use support::{both, file_holds, stdout, uploaded_bytes, TestEnv};

struct Loop {
    env: TestEnv,
    repo: std::path::PathBuf,
    runs: std::path::PathBuf,
}

impl Loop {
    fn new() -> Loop {
        let env = TestEnv::new();
        env.hasher_slot("hasher", None);
        let repo = env.gear_repo("hello", "");
        let runs = env.counting_wrapper("gear");
        env.write(".zoryn", "[commands]\ngear = \"counting-gear\"\n");
        Loop { env, repo, runs }
    }

    fn gear_runs(&self) -> usize {
        std::fs::read_to_string(&self.runs)
            .unwrap_or_default()
            .lines()
            .count()
    }

    /// Build; whether the source was reused, checked against gear's runs.
    fn build(&self) -> bool {
        let before = self.gear_runs();
        let out = self.env.zoryn(&["build", "--json"], &self.repo);
        assert_eq!(out.status.code(), Some(0), "{}", both(&out));
        let ready: serde_json::Value = stdout(&out)
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .find(|v| v["event"] == "source-ready")
            .expect("a source-ready event");
        let reused = ready["reused"].as_bool().expect("reused flag");
        assert_eq!(
            self.gear_runs(),
            before + usize::from(!reused),
            "gear ran although the source was reused, or the other way round"
        );
        reused
    }

    fn sh(&self, script: &str) {
        self.env.sh(script, &self.repo);
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.repo.join(".gear/build.local.log")).unwrap()
    }
}

fn spec_path(repo: &Path) -> std::path::PathBuf {
    repo.join("hello.spec")
}

#[test]
fn an_unchanged_tree_reuses_the_tarball_and_any_tracked_change_does_not() {
    let l = Loop::new();
    assert!(spec_path(&l.repo).is_file(), "the fixture's spec moved");
    l.sh("echo install >hello/INSTALL && git add hello/INSTALL && git commit -qm install");
    assert!(!l.build(), "first build: gear runs");
    assert!(l.build(), "nothing changed: reused");

    // Neither untracked files nor a touched (same content) file count.
    l.sh("echo junk >untracked.txt && touch hello.spec");
    assert!(l.build(), "untracked file / new mtime: reused");

    // An unstaged edit: gear runs, and the build really got the new source.
    l.sh("sed -i 's/^echo building hello$/echo building hello, edit 1/' hello.spec");
    assert!(!l.build(), "unstaged edit");
    assert!(l.log().contains("building hello, edit 1"), "{}", l.log());
    assert!(l.build(), "the edit, unchanged: reused");

    // Staged, then edited again.
    l.sh("git add hello.spec");
    assert!(
        l.build(),
        "staging what the work tree had packs the same tree"
    );
    l.sh("sed -i 's/edit 1$/edit 2/' hello.spec");
    assert!(!l.build(), "edited after staging");
    assert!(l.log().contains("building hello, edit 2"), "{}", l.log());

    // A new tracked file, a mode change, a deleted file.
    l.sh("echo new >NEWS && git add NEWS");
    assert!(!l.build(), "new tracked file");
    l.sh("chmod +x NEWS");
    assert!(!l.build(), "mode change");
    l.sh("rm hello/INSTALL");
    assert!(!l.build(), "deleted file");

    // Back to an earlier content: the key is the content, so reused.
    l.sh("git checkout -q -- hello/INSTALL");
    assert!(l.build(), "same tree as the mode-change build");
    l.sh("git rm -q -f NEWS");
    assert!(l.build(), "same tree as the edit-2 build");

    // Committing changes HEAD (a temporary commit is no longer needed).
    l.sh("git commit -qam 'edit'");
    assert!(!l.build(), "new HEAD");
    assert!(l.build());
}

/// An unchanged rebuild on a remote builder sends nothing: the host already
/// has that very tarball (its SHA-256, asked in the pre-flight, matches).
/// A tarball on the host that differs (another client, a damaged file) is
/// replaced.
#[test]
fn an_unchanged_rebuild_does_not_upload_again() {
    let env = TestEnv::new();
    let host = env.remote_builder("arm", "arm", "aarch64", "aarch64", 1);
    let repo = env.gear_repo("hello", "");
    env.write(".zoryn", &env.ssh_commands_toml());
    let build = || {
        let out = env.zoryn(&["build", "-b", "arm", "--json"], &repo);
        assert_eq!(out.status.code(), Some(0), "{}", both(&out));
        out
    };
    let first = uploaded_bytes(&build());
    assert!(first > 0, "first build uploads");
    assert_eq!(uploaded_bytes(&build()), 0, "unchanged: nothing sent");

    // A one-line change is sent.
    env.sh("echo 'one more line' >>hello/README", &repo);
    assert!(uploaded_bytes(&build()) > 0, "changed source is sent");
    assert_eq!(uploaded_bytes(&build()), 0);

    // Someone else's tarball at that path: replaced, and the build uses ours.
    let remote_tar = host.home.join(".cache/zoryn/upload/hello/hello.tar");
    let out = env.ssh("arm", &format!("printf junk >'{}'", remote_tar.display()));
    assert!(out.status.success(), "{}", both(&out));
    assert!(
        uploaded_bytes(&build()) > 0,
        "a different remote tarball is replaced"
    );
    assert!(
        file_holds(&remote_tar, b"one more line"),
        "the host has our source again"
    );
}

/// A host's facts (home, arch, user) are asked once per ControlMaster, not
/// once per build: kept in the runtime dir under the master's pid and start
/// time. Shown by planting a different home in the kept answer (zoryn then
/// looks for the workdir there, without asking the host), and by a new
/// master, which asks again.
#[test]
fn host_facts_are_asked_once_per_master() {
    let env = TestEnv::new();
    let _host = env.remote_builder("arm", "arm", "aarch64", "aarch64", 1);
    let repo = env.gear_repo("hello", "");
    env.write(".zoryn", &env.ssh_commands_toml());
    let build = || env.zoryn(&["build", "-q", "-b", "arm"], &repo);
    // The first build starts the master; the second knows its pid.
    for _ in 0..2 {
        let out = build();
        assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    }
    let run_dir = env.root.join("run/zoryn");
    let kept: Vec<_> = std::fs::read_dir(&run_dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("facts-"))
        .map(|e| e.path())
        .collect();
    assert_eq!(kept.len(), 1, "one facts file: {kept:?}");
    let text = std::fs::read_to_string(&kept[0]).unwrap();
    assert!(text.contains("master="), "{text}");
    let planted: String = text
        .lines()
        .map(|l| {
            if l.starts_with("home=") {
                "home=/nonexistent-kept-home".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    std::fs::write(&kept[0], planted).unwrap();
    let out = build();
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    assert!(
        both(&out).contains("/nonexistent-kept-home/hasher_1"),
        "the kept facts were not used: {}",
        both(&out)
    );
    // A new master: the facts are asked again, the build works.
    env.chown_all();
    let out = env
        .command("ssh")
        .arg("-F")
        .arg(env.ssh_config_path())
        .arg("-o")
        .arg(format!("ControlPath={}/%C", run_dir.display()))
        .args(["-O", "exit", "arm"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", both(&out));
    for _ in 0..2 {
        let out = build();
        assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    }
}
