//! The edit-build cycle on a remote builder does not repeat transfers whose
//! input did not change (issue 13 item 6): real zoryn, a real sshd test
//! host, real rsync behind a wrapper that records its runs.

mod support;

use support::{both, TestEnv};

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
    let runs = env.home.join("tmp/rsync.runs");
    let wrapper = env.bin_dir.join("counting-rsync");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\necho \"$*\" >>'{}'\nexec rsync \"$@\"\n",
            runs.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    env.write(
        ".zoryn",
        &format!("{}rsync = \"counting-rsync\"\n", env.ssh_commands_toml()),
    );
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
