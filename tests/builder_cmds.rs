//! `zoryn builder add/status/shell/run/clean/remove` against real sshd test
//! hosts and the local emulated hasher.

mod support;

use std::path::Path;
use std::time::Duration;

use support::sshd::TestHost;
use support::{both, names_in, stderr, stdout, TestEnv};

fn release(host: &TestHost, repo: &str, arch: &str, suite: &str) {
    let dir = host.home.join(repo).join(arch).join("base");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("release"),
        format!("Origin: ALT Linux Team\nLabel: {suite}\nSuite: {suite}\nArchitectures: {arch}\n"),
    )
    .unwrap();
}

fn allow_sudo(host: &TestHost) {
    std::fs::write(host.emu_root.join("etc/sudoers-nopasswd"), "").unwrap();
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// `builder add` of the remote builder `arm64` on host `pi`.
const ADD_ARM64: &[&str] = &[
    "builder",
    "add",
    "--name",
    "arm64",
    "--host",
    "pi",
    "--repo",
    "~/repo/sisyphus",
    "-y",
];

#[test]
fn add_remote_detects_arch_and_branch_generates_apt_and_creates_users() {
    let env = TestEnv::new();
    let host = env.add_host("pi", "aarch64");
    release(&host, "repo/sisyphus", "aarch64", "Sisyphus");
    allow_sudo(&host);
    let out = env.zoryn(ADD_ARM64, &env.home);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let s = stdout(&out);
    assert!(s.contains("created: arm64"), "{s}");
    assert!(s.contains("created satellite users"), "{s}");
    let conf = read(&env.builders_dir().join("arm64.conf"));
    for line in [
        "type = \"remote\"",
        "host = \"pi\"",
        "arch = \"aarch64\"",
        "branch = \"sisyphus\"",
        "hasher_dir = \"~/hasher\"",
        "repo = \"~/repo/sisyphus\"",
    ] {
        assert!(
            conf.lines().any(|l| l == line),
            "missing {line} in:\n{conf}"
        );
    }
    let apt = env.builders_dir().join("arm64/apt");
    let sources = read(&apt.join("sources.list"));
    let repo = host.home.join("repo/sisyphus");
    assert!(
        sources.contains(&format!("rpm file:{} aarch64 classic", repo.display())),
        "{sources}"
    );
    assert!(
        sources.contains(&format!("rpm file:{} noarch classic", repo.display())),
        "{sources}"
    );
    let conf_apt = read(&apt.join("apt.conf"));
    assert!(
        conf_apt.contains(&format!(
            "Dir::Etc::SourceList \"{}/.cache/zoryn/apt/arm64/sources.list\";",
            host.home.display()
        )),
        "{conf_apt}"
    );
    assert!(conf_apt.contains("Dir::Etc::SourceParts \"/var/empty\";"));
    assert_eq!(
        names_in(&host.emu_root.join("etc/hasher-priv/user.d")).len(),
        1,
        "satellite config on the host"
    );

    // The same command again changes nothing.
    let before = std::fs::metadata(env.builders_dir().join("arm64.conf"))
        .unwrap()
        .modified()
        .unwrap();
    let out = env.zoryn(ADD_ARM64, &env.home);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!(
        stdout(&out).trim(),
        format!(
            "unchanged: arm64 ({})",
            env.builders_dir().join("arm64.conf").display()
        )
    );
    let after = std::fs::metadata(env.builders_dir().join("arm64.conf"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(before, after);

    // A build on it uses the generated apt config on the host.
    std::fs::create_dir_all(host.home.join("hasher")).unwrap();
    let pkg = env.gear_repo("hello", "");
    let out = env.zoryn(&["build", "-b", "arm64"], &pkg);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(host
        .home
        .join(".cache/zoryn/apt/arm64/sources.list")
        .is_file());
}

#[test]
fn multi_add_dry_run_changes_nothing_then_creates_all() {
    let env = TestEnv::new();
    let host = env.add_host("node", "x86_64");
    release(&host, "r/sisyphus", "x86_64", "Sisyphus");
    release(&host, "r/p11", "x86_64", "p11");
    allow_sudo(&host);
    let args = [
        "builder",
        "add",
        "--name",
        "farm",
        "--host",
        "node",
        "--multi-add",
        "2",
        "--repo",
        "~/r/sisyphus",
        "--repo",
        "~/r/p11",
        "-y",
    ];
    let mut dry = args.to_vec();
    dry.push("--dry-run");
    let out = env.zoryn(&dry, &env.home);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let s = stdout(&out);
    for n in 1..=4 {
        assert!(
            s.contains(&format!(
                "would create: {}",
                env.builders_dir().join(format!("farm{n}.conf")).display()
            )),
            "{s}"
        );
        assert!(
            s.contains(&format!(
                "would run on node: sudo -n hasher-useradd --number={n} "
            )),
            "{s}"
        );
    }
    assert!(s.contains("branch = \"p11\""), "{s}");
    assert!(
        names_in(&env.builders_dir()).is_empty(),
        "dry run wrote {:?}",
        names_in(&env.builders_dir())
    );
    assert!(names_in(&host.emu_root.join("etc/hasher-priv/user.d")).is_empty());

    let out = env.zoryn(&args, &env.home);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let out = env.zoryn(&["builder", "list", "--json"], &env.home);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let farm: Vec<(String, String, u64, String)> = v
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["name"].as_str().unwrap().starts_with("farm"))
        .map(|b| {
            (
                b["name"].as_str().unwrap().to_string(),
                b["branch"].as_str().unwrap().to_string(),
                b["hasher_number"].as_u64().unwrap(),
                b["hasher_dir"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        farm,
        [
            ("farm1".into(), "sisyphus".into(), 1, "~/hasher_1".into()),
            ("farm2".into(), "sisyphus".into(), 2, "~/hasher_2".into()),
            ("farm3".into(), "p11".into(), 3, "~/hasher_3".into()),
            ("farm4".into(), "p11".into(), 4, "~/hasher_4".into()),
        ]
    );
    assert_eq!(
        names_in(&host.emu_root.join("etc/hasher-priv/user.d")).len(),
        4
    );
}

#[test]
fn add_says_what_to_run_when_sudo_wants_a_password_or_the_branch_is_unknown() {
    let env = TestEnv::new();
    let host = env.add_host("pi", "aarch64");
    release(&host, "repo", "aarch64", "Sisyphus");
    let out = env.zoryn(
        &[
            "builder", "add", "--name", "arm", "--host", "pi", "--number", "3", "--repo", "~/repo",
            "-y",
        ],
        &env.home,
    );
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    let e = stderr(&out);
    assert!(e.contains("could not create satellite users"), "{e}");
    assert!(
        e.contains(&format!(
            "run it yourself: ssh -t pi sudo hasher-useradd --number=3 {}",
            env.user_name()
        )),
        "{e}"
    );
    assert!(
        env.builders_dir().join("arm.conf").is_file(),
        "the builder is defined anyway"
    );

    let out = env.zoryn(
        &[
            "builder",
            "add",
            "--name",
            "arm2",
            "--host",
            "pi",
            "--number",
            "4",
            "--repo",
            "~/norepo",
            "--no-create-hasher-users",
            "-y",
        ],
        &env.home,
    );
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    let e = stderr(&out);
    assert!(
        e.contains("cannot tell the branch of ~/norepo on pi; looked at:"),
        "{e}"
    );
    assert!(e.contains("norepo/aarch64/base/release (not found)"), "{e}");
    assert!(e.contains("hint: pass --branch"), "{e}");
    assert!(!env.builders_dir().join("arm2.conf").exists());
}

#[test]
fn add_local_slot_and_remove() {
    let mut env = TestEnv::new();
    env.extra_env
        .push(("HASHER_EMU_SUDO".into(), "nopasswd".into()));
    let out = env.zoryn(
        &[
            "builder", "add", "--name", "local2", "--type", "local", "--number", "2", "-y",
        ],
        &env.home,
    );
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let conf = read(&env.builders_dir().join("local2.conf"));
    assert!(
        conf.contains("type = \"local\"")
            && conf.contains("hasher_number = 2")
            && conf.contains("hasher_dir = \"~/hasher_{hasher_number}\""),
        "{conf}"
    );
    assert!(env
        .emu_root
        .join(format!("etc/hasher-priv/user.d/{}:2", env.uid()))
        .is_file());
    // Conflicting workdir with an existing builder is refused.
    let out = env.zoryn(
        &[
            "builder", "add", "--name", "other", "--type", "local", "--number", "2", "-y",
        ],
        &env.home,
    );
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert!(
        stderr(&out).contains("builder `local2` already uses hasher_dir"),
        "{}",
        stderr(&out)
    );

    let out = env.zoryn(&["builder", "remove", "local"], &env.home);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("built-in"), "{}", stderr(&out));
    let out = env.zoryn(&["builder", "remove", "lcoal2"], &env.home);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("did you mean `local2`?"),
        "{}",
        stderr(&out)
    );
    let out = env.zoryn(&["builder", "remove", "local2"], &env.home);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(!env.builders_dir().join("local2.conf").exists());
}

#[test]
fn status_free_busy_unreachable_misconfigured() {
    let env = TestEnv::new();
    let a = env.add_host("a", "x86_64");
    let mut b = env.add_host("b", "aarch64");
    for (h, alias) in [(&a, "a"), (&b, "b")] {
        let out = env.ssh(alias, "mkdir -p ~/hasher_1 ~/hasher_2 && hasher-useradd --number=1 \"$(id -un)\" && hasher-useradd --number=2 \"$(id -un)\"");
        assert!(out.status.success(), "{}", both(&out));
        let _ = h;
    }
    env.builder("a1", "host = \"a\"\narch = \"x86_64\"\nhasher_number = 1\n");
    env.builder("a2", "host = \"a\"\narch = \"x86_64\"\nhasher_number = 2\n");
    env.builder("a3", "host = \"a\"\narch = \"x86_64\"\nhasher_number = 3\n");
    env.builder(
        "b1",
        "host = \"b\"\narch = \"aarch64\"\nhasher_number = 1\n",
    );
    // a2 is busy: someone (this test process) holds its workdir lock.
    let wd = a.home.join("hasher_2");
    let me = std::process::id();
    std::fs::write(wd.join("pid"), format!("{me}\n")).unwrap();
    let _held = nix::fcntl::Flock::lock(
        std::fs::File::open(&wd).unwrap(),
        nix::fcntl::FlockArg::LockExclusiveNonblock,
    )
    .unwrap();
    b.stop();
    let out = env.zoryn(&["builder", "status", "-b", "a*,b1", "--json"], &env.home);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let state = |n: &str| {
        v.as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == n)
            .map(|s| {
                (
                    s["state"].as_str().unwrap().to_string(),
                    s["detail"].as_str().unwrap().to_string(),
                )
            })
            .unwrap()
    };
    assert_eq!(state("a1").0, "free");
    let (st, detail) = state("a2");
    assert_eq!(st, "busy");
    assert!(detail.contains(&format!("pid {me}")), "{detail}");
    assert_eq!(
        v.as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "a2")
            .unwrap()["holder_pid"],
        me
    );
    let (st, detail) = state("a3");
    assert_eq!(st, "misconfigured");
    assert!(detail.contains("hasher_3 does not exist"), "{detail}");
    let (st, detail) = state("b1");
    assert_eq!(st, "unreachable");
    assert!(detail.contains("cannot reach b"), "{detail}");
    // The table form says the same.
    let out = env.zoryn(&["builder", "status", "-b", "a2"], &env.home);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).lines().nth(1).unwrap().contains("busy"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn clean_dry_run_lists_then_clean_removes() {
    let env = TestEnv::new();
    let host = env.add_host("arm", "aarch64");
    let out = env.ssh(
        "arm",
        "mkdir -p ~/hasher_1 && hasher-useradd --number=1 \"$(id -un)\"",
    );
    assert!(out.status.success());
    env.builder(
        "arm",
        "host = \"arm\"\narch = \"aarch64\"\nhasher_number = 1\n",
    );
    let repo = env.gear_repo("hello", "");
    let out = env.zoryn(&["build", "-b", "arm"], &repo);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let wd = host.home.join("hasher_1");
    assert!(wd.join("chroot").is_dir() && wd.join("repo").is_dir());
    let out = env.zoryn(
        &["builder", "clean", "--all-remote", "--dry-run"],
        &env.home,
    );
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let s = stdout(&out);
    for p in [
        wd.join("chroot"),
        wd.join("repo"),
        host.home.join(".cache/zoryn/upload"),
    ] {
        assert!(
            s.contains(&format!("arm: would remove arm:{}", p.display())),
            "{s}"
        );
    }
    assert!(
        wd.join("chroot").is_dir() && host.home.join(".cache/zoryn/upload").is_dir(),
        "dry run removed something"
    );
    let out = env.zoryn(&["builder", "clean", "-b", "arm"], &env.home);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(!wd.join("chroot").exists() && !wd.join("repo").exists());
    assert!(!host.home.join(".cache/zoryn/upload").exists());
    assert!(wd.is_dir(), "the workdir itself stays");
    let out = env.zoryn(&["builder", "clean", "--all-remote"], &env.home);
    assert!(
        stdout(&out).contains("arm: nothing to clean"),
        "{}",
        both(&out)
    );
}

#[test]
fn shell_and_run_through_a_terminal() {
    let env = TestEnv::new();
    let host = env.add_host("arm", "aarch64");
    let out = env.ssh("arm", "mkdir -p ~/hasher_1 && hasher-useradd --number=1 \"$(id -un)\" && hsh --initroot-only --number=1 ~/hasher_1");
    assert!(out.status.success(), "{}", both(&out));
    env.builder(
        "arm",
        "host = \"arm\"\narch = \"aarch64\"\nhasher_number = 1\n",
    );
    let t = env.tmux(
        &[
            env.bin_dir.join("zoryn").to_str().unwrap(),
            "builder",
            "shell",
            "-b",
            "arm",
        ],
        &env.home,
        120,
        30,
    );
    t.type_text("echo \"inside=$HASHER_EMU_CHROOT at $(pwd)\"");
    t.send(&["Enter"]);
    let screen = t.wait_for("inside=1 at", Duration::from_secs(20));
    assert!(
        screen.contains(&format!(
            "inside=1 at {}",
            host.home.join("hasher_1/chroot").display()
        )),
        "{screen}"
    );
    t.type_text("exit 7");
    t.send(&["Enter"]);
    t.wait_for("[exit 7]", Duration::from_secs(20));

    let out = env.zoryn(
        &[
            "builder",
            "run",
            "-b",
            "arm",
            "--",
            "sh",
            "-c",
            "echo run-in=$HASHER_EMU_CHROOT; exit 3",
        ],
        &env.home,
    );
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    assert_eq!(stdout(&out), "run-in=1\n");
}

#[test]
fn interactive_add_completes_remote_paths() {
    let env = TestEnv::new();
    let host = env.add_host("pi", "aarch64");
    release(&host, "repos/sisyphus", "aarch64", "Sisyphus");
    allow_sudo(&host);
    let t = env.tmux(
        &[
            env.bin_dir.join("zoryn").to_str().unwrap(),
            "builder",
            "add",
        ],
        &env.home,
        140,
        30,
    );
    t.wait_for("Name:", Duration::from_secs(20));
    t.type_text("arm64");
    t.send(&["Enter"]);
    t.wait_for("Host (ssh destination", Duration::from_secs(10));
    t.type_text("pi");
    t.send(&["Enter"]);
    // Detected over SSH and offered as the default.
    t.wait_for("Architecture [aarch64]:", Duration::from_secs(20));
    t.send(&["Enter"]);
    t.wait_for("Hasher number", Duration::from_secs(10));
    t.type_text("2");
    t.send(&["Enter"]);
    t.wait_for(
        "Hasher dir [~/hasher_{hasher_number}]:",
        Duration::from_secs(10),
    );
    t.send(&["Enter"]);
    t.wait_for("Repo for apt", Duration::from_secs(10));
    // `~/rep` + TAB completes on the remote host to the only match.
    t.type_text("~/rep");
    t.send(&["Tab"]);
    t.wait_for("~/repos/", Duration::from_secs(20));
    t.type_text("sis");
    t.send(&["Tab"]);
    t.wait_for("~/repos/sisyphus/", Duration::from_secs(20));
    t.send(&["Enter"]);
    let screen = t.wait_for("[exit ", Duration::from_secs(30));
    assert!(screen.contains("created: arm64"), "{screen}");
    assert!(screen.contains("[exit 0]"), "{screen}");
    let conf = read(&env.builders_dir().join("arm64.conf"));
    assert!(
        conf.contains("branch = \"sisyphus\"")
            && conf.contains("hasher_number = 2")
            && conf.contains("repo = \"~/repos/sisyphus/\""),
        "{conf}"
    );
}

#[test]
fn local_multi_add_creates_the_workdirs_and_dry_run_says_it_would() {
    let env = TestEnv::new();
    let args = [
        "builder",
        "add",
        "--name",
        "local",
        "--type",
        "local",
        "--multi-add",
        "3",
        "--start-number",
        "2",
        "--no-create-hasher-users",
        "-y",
    ];
    let mut dry = args.to_vec();
    dry.push("--dry-run");
    let out = env.zoryn(&dry, &env.home);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let s = stdout(&out);
    for n in 2..=4 {
        let dir = env.home.join(format!("hasher_{n}"));
        assert!(
            s.contains(&format!(
                "would create the hasher workdir {}",
                dir.display()
            )),
            "{s}"
        );
        assert!(!dir.exists(), "dry run created {}", dir.display());
    }

    let out = env.zoryn(&args, &env.home);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    for n in 2..=4 {
        let dir = env.home.join(format!("hasher_{n}"));
        assert!(dir.is_dir(), "{} missing: {}", dir.display(), both(&out));
        assert!(
            stdout(&out).contains(&format!("created the hasher workdir {}", dir.display())),
            "{}",
            both(&out)
        );
    }
    // The workdirs belong to the maintainer (hsh writes into them).
    let probe = env.sh("test -w ~/hasher_3 && echo writable", &env.home);
    assert_eq!(stdout(&probe).trim(), "writable");

    // Idempotent: nothing left to do, nothing said about workdirs.
    let out = env.zoryn(&dry, &env.home);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(!stdout(&out).contains("workdir"), "{}", both(&out));
    assert!(stdout(&out).contains("nothing to do"), "{}", both(&out));
    let out = env.zoryn(&args, &env.home);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(!stdout(&out).contains("workdir"), "{}", both(&out));
}

/// Files to copy: `a.txt` and a directory `d` with `sub/f`.
fn copy_sources(env: &TestEnv) -> std::path::PathBuf {
    let dir = env.home.join("files");
    env.write("files/a.txt", "alpha\n");
    env.write("files/d/sub/f", "deep\n");
    dir
}

#[test]
fn copy_into_and_out_of_a_local_chroot() {
    let env = TestEnv::new();
    env.hasher_slot("hasher_2", Some(2));
    env.builder("local2", "hasher_number = 2\n");
    let files = copy_sources(&env);
    let chroot = env.home.join("hasher_2/chroot");

    // No chroot yet: say so and how to get one.
    let out = env.zoryn(&["builder", "copy", "-b", "local2", "a.txt", ":x"], &files);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    let e = stderr(&out);
    assert!(
        e.contains("builder `local2` has no chroot yet")
            && e.contains(&chroot.display().to_string()),
        "{e}"
    );
    assert!(e.contains("zoryn build -b local2"), "{e}");

    env.sh(
        "hsh --initroot-only --number=2 ~/hasher_2 >/dev/null",
        &env.home,
    );
    assert!(chroot.is_dir());

    // Into: through hsh-copy; a directory's contents go into the destination.
    let out = env.zoryn(
        &[
            "builder",
            "copy",
            "-b",
            "local2",
            "a.txt",
            "d",
            ":/usr/src/incoming/",
        ],
        &files,
    );
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!(read(&chroot.join("usr/src/incoming/a.txt")), "alpha\n");
    assert_eq!(read(&chroot.join("usr/src/incoming/sub/f")), "deep\n");
    assert!(
        env.events_text().contains("hsh-copy dest="),
        "{}",
        env.events_text()
    );
    // A relative chroot path is under the builder's home, /usr/src.
    let out = env.zoryn(
        &["builder", "copy", "-b", "local2", "a.txt", ":renamed.txt"],
        &files,
    );
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!(read(&chroot.join("usr/src/renamed.txt")), "alpha\n");

    // Out: into an existing directory, and a directory onto a new name.
    std::fs::create_dir_all(files.join("out")).unwrap();
    let out = env.zoryn(
        &[
            "builder",
            "copy",
            "-b",
            "local2",
            ":incoming/a.txt",
            ":/usr/src/renamed.txt",
            "out",
        ],
        &files,
    );
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!(read(&files.join("out/a.txt")), "alpha\n");
    assert_eq!(read(&files.join("out/renamed.txt")), "alpha\n");
    let out = env.zoryn(
        &["builder", "copy", "-b", "local2", ":incoming", "got"],
        &files,
    );
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!(read(&files.join("got/sub/f")), "deep\n");
    assert_eq!(read(&files.join("got/a.txt")), "alpha\n");
    // No temporary files left behind.
    assert_eq!(names_in(&files.join("out")), ["a.txt", "renamed.txt"]);

    // Errors name what is wrong and exit 2.
    for (args, needle) in [
        (
            vec![":nope", "."],
            "no such file in the chroot of `local2`: /usr/src/nope",
        ),
        (vec![":../../etc/passwd", "."], "goes up with `..`"),
        (vec!["a.txt", "b"], "no operand is in the chroot"),
        (vec!["a.txt", ":x", "out"], "mix local paths"),
        (vec!["missing.txt", ":x"], "cannot copy missing.txt"),
        (
            vec![":incoming/a.txt", ":renamed.txt", "nodir"],
            "nodir is not a directory",
        ),
    ] {
        let mut argv = vec!["builder", "copy", "-b", "local2"];
        argv.extend(args.iter().copied());
        let out = env.zoryn(&argv, &files);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", both(&out));
        assert!(stderr(&out).contains(needle), "{args:?}: {}", both(&out));
    }
    let out = env.zoryn(&["builder", "copy", "-b", "locl2", "a.txt", ":x"], &files);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert!(
        stderr(&out).contains("did you mean `local2`?"),
        "{}",
        both(&out)
    );
}

#[test]
fn copy_into_and_out_of_a_remote_chroot() {
    let env = TestEnv::new();
    let host = env.add_host("arm", "aarch64");
    let out = env.ssh(
        "arm",
        "mkdir -p ~/hasher_1 ~/hasher_2 && hasher-useradd --number=1 \"$(id -un)\" && hsh --initroot-only --number=1 ~/hasher_1 >/dev/null",
    );
    assert!(out.status.success(), "{}", both(&out));
    env.builder(
        "arm",
        "host = \"arm\"\narch = \"aarch64\"\nhasher_number = 1\n",
    );
    env.builder(
        "arm2",
        "host = \"arm\"\narch = \"aarch64\"\nhasher_number = 2\n",
    );
    let files = copy_sources(&env);
    let chroot = host.home.join("hasher_1/chroot");

    let out = env.zoryn(
        &[
            "builder",
            "copy",
            "-b",
            "arm",
            "a.txt",
            "d",
            ":/usr/src/in 2/",
        ],
        &files,
    );
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!(read(&chroot.join("usr/src/in 2/a.txt")), "alpha\n");
    assert_eq!(read(&chroot.join("usr/src/in 2/sub/f")), "deep\n");
    let events = std::fs::read_to_string(&host.events).unwrap_or_default();
    assert!(events.contains("hsh-copy dest="), "{events}");

    let out = env.zoryn(&["builder", "copy", "-b", "arm", ":in 2", "back"], &files);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!(read(&files.join("back/a.txt")), "alpha\n");
    assert_eq!(read(&files.join("back/sub/f")), "deep\n");
    std::fs::create_dir_all(files.join("one")).unwrap();
    let out = env.zoryn(
        &["builder", "copy", "-b", "arm", ":in 2/a.txt", "one"],
        &files,
    );
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!(names_in(&files.join("one")), ["a.txt"]);

    let out = env.zoryn(&["builder", "copy", "-b", "arm", ":nope", "."], &files);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert!(
        stderr(&out).contains("no such file in the chroot of `arm`: /usr/src/nope"),
        "{}",
        both(&out)
    );
    let out = env.zoryn(&["builder", "copy", "-b", "arm2", "a.txt", ":x"], &files);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert!(
        stderr(&out).contains("builder `arm2` has no chroot yet")
            && stderr(&out).contains("hasher_2/chroot on arm"),
        "{}",
        both(&out)
    );
}

#[test]
fn config_of_a_remote_builder_uses_the_hosts_facts() {
    let env = TestEnv::new();
    let host = env.add_host("arm", "aarch64");
    env.builder(
        "arm",
        "host = \"arm\"\narch = \"aarch64\"\nhasher_number = 1\n",
    );
    env.builder(
        "arm-i586",
        "host = \"arm\"\narch = \"i586\"\nhasher_number = 2\ncommand = \"hsh -v\"\n",
    );
    env.write(
        ".config/zoryn/builders.d/arm/apt/apt.conf",
        "Dir::Etc::SourceList \"x\";\n",
    );
    let home = host.home.display().to_string();

    let out = env.zoryn(&["builder", "config", "-b", "arm"], &env.home);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let s = stdout(&out);
    assert!(s.contains(&format!("{home}/hasher_1")), "{s}");
    assert!(
        s.contains(&format!(
            "hsh --lazy-cleanup --number=1 --apt-config={home}/.cache/zoryn/apt/arm/apt.conf --no-wait-lock {home}/hasher_1 {home}/.cache/zoryn/upload/PKG/PKG.tar"
        )),
        "{s}"
    );
    assert!(!s.contains("note:"), "{s}");

    // Another arch than the host's: --target; the builder's own command, with its line.
    let out = env.zoryn(&["builder", "config", "-b", "arm-i586"], &env.home);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let s = stdout(&out);
    assert!(
        s.contains("hsh -v --number=2 --target=i586 --no-wait-lock"),
        "{s}"
    );
    assert!(s.contains("arm-i586.conf:4"), "{s}");
}
