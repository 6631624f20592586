//! The edit-build cycle on a remote builder does not repeat transfers whose
//! input did not change (issue 13 item 6): real zoryn, a real sshd test
//! host, real rsync behind a wrapper that records its runs.

mod support;

use support::{both, file_holds, uploaded_bytes, TestEnv};

/// A builder's generated apt config is sent to its host only when the
/// host's copy differs from this side's, file by file: not again for an
/// unchanged config, but after a local change, after the host's copy was
/// changed there, and when the host has a file this side does not.
#[test]
fn an_unchanged_apt_config_is_not_sent_again() {
    let env = TestEnv::new();
    let host = env.remote_builder("arm", "arm", "aarch64", "aarch64", 1);
    let repo = env.gear_repo("hello", "");
    let local_apt = env.home.join(".config/zoryn/builders.d/arm/apt");
    std::fs::create_dir_all(&local_apt).unwrap();
    std::fs::write(local_apt.join("apt.conf"), "// zoryn test config, one\n").unwrap();
    std::fs::write(local_apt.join("sources.list"), "# no sources\n").unwrap();
    let runs = counting_rsync(&env);
    let remote_apt = host.home.join(".cache/zoryn/apt/arm");
    // Build; whether the apt config went to the host (an rsync of the apt dir).
    let build = || -> bool {
        let before = std::fs::read_to_string(&runs).unwrap_or_default();
        env.chown_all();
        let out = env.zoryn(&["build", "-b", "arm"], &repo);
        assert_eq!(out.status.code(), Some(0), "{}", both(&out));
        let after = std::fs::read_to_string(&runs).unwrap_or_default();
        let new = &after[before.len()..];
        // The builder's hsh got that config.
        let log = std::fs::read_to_string(repo.join(".gear/build.arm.log")).unwrap_or_default();
        assert!(
            !log.contains("broken Dir::Etc"),
            "the build did not get a usable apt config: {log}"
        );
        new.lines().any(|l| l.contains("/apt/"))
    };
    let same_as_local = || {
        for f in ["apt.conf", "sources.list"] {
            assert_eq!(
                std::fs::read(remote_apt.join(f)).unwrap(),
                std::fs::read(local_apt.join(f)).unwrap(),
                "{f} on the host"
            );
        }
    };

    assert!(build(), "the first build sends the apt config");
    same_as_local();
    assert!(!build(), "unchanged: not sent again");

    std::fs::write(local_apt.join("apt.conf"), "// zoryn test config, two\n").unwrap();
    assert!(build(), "changed here: sent");
    same_as_local();
    assert!(!build(), "unchanged again");

    let out = env.ssh(
        "arm",
        &format!(
            "printf 'theirs\\n' >'{}'",
            remote_apt.join("sources.list").display()
        ),
    );
    assert!(out.status.success(), "{}", both(&out));
    assert!(build(), "changed on the host: sent");
    same_as_local();

    let out = env.ssh(
        "arm",
        &format!(
            "printf 'x\\n' >'{}'",
            remote_apt.join("preferences").display()
        ),
    );
    assert!(out.status.success(), "{}", both(&out));
    assert!(build(), "a file only the host has: sent");
    assert!(
        !remote_apt.join("preferences").exists(),
        "the stray file was removed"
    );
    assert!(!build());
}

/// A gear repo `hello` with a data file big enough that it is not simply
/// sent whole (over 64 KiB); returns the repo and the file's text.
fn big_package(env: &TestEnv) -> (std::path::PathBuf, String) {
    let repo = env.gear_repo("hello", "");
    let data: String = (0..20_000u64)
        .map(|i| format!("{i:06} {:016x}\n", i.wrapping_mul(0x9e37_79b9_7f4a_7c15)))
        .collect();
    std::fs::write(repo.join("hello/data.txt"), &data).unwrap();
    env.sh("git add -A && git commit -qm data", &repo);
    (repo, data)
}

/// Make `~/.zoryn`'s rsync a wrapper that logs each run ([`TestEnv::counting_wrapper`]).
fn counting_rsync(env: &TestEnv) -> std::path::PathBuf {
    let runs = env.counting_wrapper("rsync");
    env.write(
        ".zoryn",
        &format!("{}rsync = \"counting-rsync\"\n", env.ssh_commands_toml()),
    );
    runs
}

/// A batch keeps its packages' tarballs in a cache of its own: a changed
/// package there goes to the host as a delta against the copy it has too,
/// and the host's copy is then the new source.
#[test]
fn a_batch_sends_a_changed_package_as_a_delta_too() {
    let env = TestEnv::new();
    let host = env.remote_builder("arm", "arm", "aarch64", "aarch64", 1);
    let (repo, _) = big_package(&env);
    let runs = counting_rsync(&env);
    env.write(
        ".config/zoryn/batch/t.conf",
        "[batch]\nbasedir = \"~/src\"\nbuilders = \"arm\"\n\n[hello]\n",
    );
    // Run the batch; whether rsync sent the tarball.
    let batch = || -> bool {
        let before = std::fs::read_to_string(&runs).unwrap_or_default();
        env.chown_all();
        let out = env.zoryn(&["task", "batch", "t"], &env.home);
        assert_eq!(out.status.code(), Some(0), "{}", both(&out));
        let after = std::fs::read_to_string(&runs).unwrap_or_default();
        after[before.len()..]
            .lines()
            .any(|l| l.contains("hello.tar"))
    };
    assert!(batch(), "the first run sends the tarball with rsync");
    env.sh("echo batch edit >>hello/README", &repo);
    assert!(
        !batch(),
        "the changed package went as a delta, without rsync"
    );
    assert!(
        file_holds(
            &host.home.join(".cache/zoryn/upload/hello/hello.tar"),
            b"batch edit"
        ),
        "the host has the new source"
    );
}

/// After a small change the source goes to the host as a delta against
/// the copy it has, in one ssh session without rsync: only the changed
/// blocks are sent, and the host ends up with exactly the new tarball
/// (its build runs the edit). An edit inside one big file, which shifts
/// the rest of it, goes with rsync as before.
#[test]
fn a_changed_source_goes_as_a_delta_against_the_hosts_copy() {
    let env = TestEnv::new();
    let host = env.remote_builder("arm", "arm", "aarch64", "aarch64", 1);
    let (repo, data) = big_package(&env);
    let runs = counting_rsync(&env);
    let remote_tar = host.home.join(".cache/zoryn/upload/hello/hello.tar");
    // Build; the bytes sent and whether rsync sent the tarball.
    let build = || -> (u64, bool) {
        let before = std::fs::read_to_string(&runs).unwrap_or_default();
        env.chown_all();
        let out = env.zoryn(&["build", "-b", "arm", "--json"], &repo);
        assert_eq!(out.status.code(), Some(0), "{}", both(&out));
        let after = std::fs::read_to_string(&runs).unwrap_or_default();
        let rsync = after[before.len()..]
            .lines()
            .any(|l| l.contains("hello.tar"));
        (uploaded_bytes(&out), rsync)
    };
    let log = || std::fs::read_to_string(repo.join(".gear/build.arm.log")).unwrap();
    let (first, _) = build();
    assert!(
        first > 300_000,
        "the first build sends it all ({first} bytes)"
    );

    env.sh(
        "sed -i 's/^echo building hello$/echo building hello, edit 1/' hello.spec && echo more >>hello/README",
        &repo,
    );
    let (sent, rsync) = build();
    assert!(!rsync, "the delta went without rsync");
    assert!(sent > 0 && sent < 16 * 1024, "a delta of {sent} bytes");
    assert!(log().contains("building hello, edit 1"), "{}", log());
    assert!(
        file_holds(&remote_tar, b"edit 1"),
        "the host has the new source"
    );
    assert_eq!(build().0, 0, "unchanged: nothing sent");

    // A line inserted in the middle of the big file: not block-aligned.
    let changed = data.replacen("010000 ", "010000 inserted ", 1);
    std::fs::write(repo.join("hello/data.txt"), changed).unwrap();
    let (sent, rsync) = build();
    assert!(rsync, "rsync sends an edit inside one big file");
    assert!(sent < 64 * 1024, "still a delta: {sent} bytes");
    assert!(file_holds(&remote_tar, b"010000 inserted"));
}

/// The ControlMaster an earlier run kept the host's facts for is not
/// asked after with `ssh -O check` while it still runs: a warm rebuild
/// starts no ssh for it. A stopped master is checked (and replaced) as
/// before, and the build still works.
#[test]
fn a_running_master_is_not_asked_after_again() {
    let env = TestEnv::new();
    let _host = env.remote_builder("arm", "arm", "aarch64", "aarch64", 1);
    let repo = env.gear_repo("hello", "");
    let runs = env.counting_wrapper("ssh");
    env.write(
        ".zoryn",
        &format!(
            "[commands]\nssh = \"counting-ssh -F {}\"\n",
            env.ssh_config_path().display()
        ),
    );
    // Build; how many `-O check`s it ran.
    let build = || -> usize {
        let before = std::fs::read_to_string(&runs).unwrap_or_default();
        env.chown_all();
        let out = env.zoryn(&["build", "-q", "-b", "arm"], &repo);
        assert_eq!(out.status.code(), Some(0), "{}", both(&out));
        let after = std::fs::read_to_string(&runs).unwrap_or_default();
        after[before.len()..]
            .lines()
            .filter(|l| l.contains("-O check"))
            .count()
    };
    assert_eq!(build(), 1, "a new master is checked");
    assert_eq!(build(), 1, "its facts are kept by this run");
    assert_eq!(build(), 0, "the kept master runs: not asked again");
    assert_eq!(build(), 0);
    // The master stopped: asked again (and replaced); the build works.
    let kept: Vec<_> = std::fs::read_dir(env.root.join("run/zoryn"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("facts-"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    let pid: i32 = kept[0]
        .split("master=")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .expect("the master's pid in the kept facts");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGSTOP,
    )
    .unwrap();
    let checks = build();
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    );
    assert!(checks >= 1, "a stopped master is checked");
}

/// Make `~/.zoryn`'s ssh and rsync wrappers that log each run
/// ([`TestEnv::counting_wrapper`]): (ssh runs, rsync runs).
fn counting_ssh_and_rsync(env: &TestEnv) -> (std::path::PathBuf, std::path::PathBuf) {
    let (ssh_runs, rsync_runs) = (env.counting_wrapper("ssh"), env.counting_wrapper("rsync"));
    env.write(
        ".zoryn",
        &format!(
            "[commands]\nssh = \"counting-ssh -F {}\"\nrsync = \"counting-rsync\"\n",
            env.ssh_config_path().display()
        ),
    );
    (ssh_runs, rsync_runs)
}

/// Alone on its host, a builder sends a small delta on its build
/// session's command line: the host rebuilds the source and then runs
/// hsh in that same session, so a changed source costs no session of its
/// own (pre-flight, build, download). When the delta cannot be applied
/// there, hsh does not run on the old source: the source goes with rsync
/// and the build runs after it. Two builders on one host share one
/// upload, which goes first, in a session of its own.
#[test]
fn a_small_delta_rides_on_the_build_session() {
    let env = TestEnv::new();
    let host = env.remote_builder("arm", "arm", "aarch64", "aarch64", 1);
    let (repo, _) = big_package(&env);
    let (ssh_runs, rsync_runs) = counting_ssh_and_rsync(&env);
    let remote_tar = host.home.join(".cache/zoryn/upload/hello/hello.tar");
    let new_lines = |file: &std::path::Path, before: &str| -> Vec<String> {
        let after = std::fs::read_to_string(file).unwrap_or_default();
        after[before.len()..].lines().map(str::to_string).collect()
    };
    // Build; (ssh runs, whether rsync sent the tarball, bytes sent).
    let build = |builders: &str, edit: &str| -> (Vec<String>, bool, u64) {
        env.sh(&format!("echo {edit} >>hello/README"), &repo);
        let ssh_before = std::fs::read_to_string(&ssh_runs).unwrap_or_default();
        let rsync_before = std::fs::read_to_string(&rsync_runs).unwrap_or_default();
        env.chown_all();
        let out = env.zoryn(&["build", "-b", builders, "--json"], &repo);
        assert_eq!(out.status.code(), Some(0), "{}", both(&out));
        assert!(
            file_holds(&remote_tar, edit.as_bytes()),
            "the host has the new source"
        );
        let log = std::fs::read_to_string(repo.join(".gear/build.arm.log")).unwrap();
        assert!(log.contains("hello"), "{log}");
        let rsync = new_lines(&rsync_runs, &rsync_before)
            .iter()
            .any(|l| l.contains("hello.tar"));
        (
            new_lines(&ssh_runs, &ssh_before),
            rsync,
            uploaded_bytes(&out),
        )
    };
    let (_, rsync, _) = build("arm", "first-edit");
    assert!(rsync, "the first build sends the whole source");

    let (ssh, rsync, sent) = build("arm", "second-edit");
    assert!(!rsync, "the delta went without rsync");
    assert!(sent > 0 && sent < 16 * 1024, "a delta of {sent} bytes");
    let carrying: Vec<&String> = ssh.iter().filter(|l| l.contains("zoryn-delta")).collect();
    assert_eq!(carrying.len(), 1, "{ssh:#?}");
    assert!(
        carrying[0].contains("zoryn-hsh"),
        "the delta rode on the build session: {}",
        carrying[0]
    );
    // Besides asking after the master and the host's facts (kept from
    // the second run on).
    let sessions = ssh
        .iter()
        .filter(|l| !l.contains(" -O ") && !l.contains("home=%s"))
        .count();
    assert_eq!(sessions, 3, "pre-flight, build, download: {ssh:#?}");

    // The host cannot rebuild it (its dd fails): hsh does not run on the
    // old source; rsync sends it and the build goes on.
    let dd = env.root.join("emu/bin/dd");
    std::fs::write(&dd, "#!/bin/sh\necho 'dd: broken on purpose' >&2\nexit 1\n").unwrap();
    std::fs::set_permissions(&dd, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let (ssh, rsync, _) = build("arm", "third-edit");
    std::fs::remove_file(&dd).unwrap();
    assert!(ssh.iter().any(|l| l.contains("zoryn-delta")), "{ssh:#?}");
    assert!(rsync, "the source went with rsync after the failed delta");
    let builds = host
        .events_text()
        .lines()
        .filter(|l| l.contains("third-edit"))
        .count();
    assert!(builds <= 1, "hsh ran once, on the new source");

    // Two builders on the host: one shared upload, in its own session.
    env.remote_builder_on(&host, "arm2", "aarch64", 2);
    let (ssh, rsync, _) = build("arm,arm2", "fourth-edit");
    assert!(!rsync, "still a delta");
    let carrying: Vec<&String> = ssh.iter().filter(|l| l.contains("zoryn-delta")).collect();
    assert_eq!(carrying.len(), 1, "sent once: {ssh:#?}");
    assert!(
        !carrying[0].contains("zoryn-hsh"),
        "shared: not on a build session"
    );
    assert!(
        !ssh.iter().any(|l| l.contains("zoryn-fetch")),
        "shared: no download session opened ahead either"
    );
}

/// Processes on this machine (the test hosts run here too) whose command
/// line holds `needle`.
fn processes_with(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        if !e
            .file_name()
            .to_string_lossy()
            .bytes()
            .all(|b| b.is_ascii_digit())
        {
            continue;
        }
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cmd.contains(needle) {
                found.push(cmd);
            }
        }
    }
    found
}

/// A build alone on its host opens its download's session before hsh
/// runs: the host's shell waits for the list of results while hsh builds,
/// so after the build only the transfer is left, and the results arrive as
/// before. Unused (the build failed, or was interrupted), it ends with the
/// run and leaves nothing running, here or on the host.
#[test]
fn the_download_session_opens_while_hsh_runs() {
    let env = TestEnv::new();
    let host = env.remote_builder("arm", "arm", "aarch64", "aarch64", 1);
    let repo = env.gear_repo("hello", "");
    let (ssh_runs, _) = counting_ssh_and_rsync(&env);
    let build = |code: i32| -> Vec<String> {
        let before = std::fs::read_to_string(&ssh_runs).unwrap_or_default();
        env.chown_all();
        let out = env.zoryn(&["build", "-b", "arm"], &repo);
        assert_eq!(out.status.code(), Some(code), "{}", both(&out));
        let after = std::fs::read_to_string(&ssh_runs).unwrap_or_default();
        after[before.len()..].lines().map(str::to_string).collect()
    };
    let none_left = || {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !processes_with("zoryn-fetch").is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert_eq!(
            processes_with("zoryn-fetch"),
            Vec::<String>::new(),
            "nothing left"
        );
    };
    let ssh = build(0);
    assert!(
        ssh.iter().any(|l| l.contains("zoryn-fetch")),
        "the download went through the session opened ahead: {ssh:#?}"
    );
    assert!(
        !ssh.iter().any(|l| l.contains("-- arm tar -c")),
        "no download session of its own after the build: {ssh:#?}"
    );
    let results = repo.join("hasher_out/arm");
    let rpms: Vec<_> = std::fs::read_dir(&results)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        rpms.iter().any(|n| n.ends_with(".aarch64.rpm"))
            && rpms.iter().any(|n| n.ends_with(".src.rpm")),
        "{rpms:?}"
    );
    assert!(!rpms.iter().any(|n| n.starts_with(".zoryn-dl")), "{rpms:?}");

    // One session at a time to the host: none is held for the download
    // (the build would wait for it forever).
    let config = std::fs::read_to_string(env.home.join(".zoryn")).unwrap();
    env.write(".zoryn", &format!("{config}\n[ssh]\nmax_sessions = 1\n"));
    let ssh = build(0);
    assert!(!ssh.iter().any(|l| l.contains("zoryn-fetch")), "{ssh:#?}");
    env.write(".zoryn", &config);

    // The build fails: the session opened for nothing ends.
    host.set_knob("HASHER_EMU_FAIL", "build");
    let ssh = build(1);
    assert!(ssh.iter().any(|l| l.contains("zoryn-fetch")), "{ssh:#?}");
    none_left();
    host.set_knob("HASHER_EMU_FAIL", "");

    // While hsh runs, the session is there; Ctrl-C ends it with the build.
    host.set_knob("HASHER_EMU_HANG", "build");
    env.chown_all();
    let starts = || host.events_text().matches("build-start").count();
    let earlier = starts();
    let child = env.spawn_zoryn(&["build", "-b", "arm"], &repo);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while starts() == earlier && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        starts() > earlier,
        "hsh did not start:\n{}",
        host.events_text()
    );
    let open = processes_with("zoryn-fetch");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!open.is_empty(), "no download session while hsh ran");
    assert_eq!(out.status.code(), Some(130), "{}", both(&out));
    none_left();
}
