//! The maintainer's fast loop on `zoryn build`: `-r/--rebuild` (hsh-rebuild
//! in the existing chroot), `--section` (one rpmbuild stage there) and
//! `--skip-check` (`%check` the ALT way, hasher's sisyphus_check), on local
//! and remote builders; real zoryn binary, git, rpmbuild, sshd, the hasher
//! emulator (which has hsh-rebuild and sisyphus_check).

mod support;

use std::path::Path;

use support::{both, names_in, stdout, TestEnv};

fn log_of(repo: &Path, builder: &str) -> String {
    std::fs::read_to_string(repo.join(format!(".gear/build.{builder}.log"))).unwrap_or_default()
}

fn set_release(env: &TestEnv, repo: &Path, release: &str) {
    env.sh(
        &format!(
            "sed -i 's/^Release: .*/Release: {release}/' hello.spec && git commit -qam '{release}'"
        ),
        repo,
    );
}

#[test]
fn rebuild_and_section_without_a_chroot_fail_naming_the_builder_and_the_fix() {
    let env = TestEnv::new();
    let workdir = env.hasher_slot("hasher", None);
    let repo = env.gear_repo("hello", "");
    for flags in [&["-r"][..], &["--rebuild"][..], &["--section", "build"][..]] {
        let mut args = vec!["build"];
        args.extend_from_slice(flags);
        let out = env.zoryn(&args, &repo);
        assert_eq!(out.status.code(), Some(3), "{flags:?}: {}", both(&out));
        let text = both(&out);
        assert!(
            text.contains(&format!(
                "builder `local` has no hasher chroot in {}",
                workdir.display()
            )),
            "{flags:?}: {text}"
        );
        assert!(text.contains("zoryn build -b local"), "{flags:?}: {text}");
    }
    // Pre-flight stopped it: hsh-rebuild never ran.
    assert!(
        !env.events_text().contains("build-start"),
        "{}",
        env.events_text()
    );
}

#[test]
fn rebuild_builds_the_new_source_in_the_chroot_the_full_build_left() {
    let env = TestEnv::new();
    let workdir = env.hasher_slot("hasher", None);
    let repo = env.gear_repo("hello", "");
    let out = env.zoryn(&["build"], &repo);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    // Something only the old chroot has: a rebuild must keep it.
    let marker = workdir.join("chroot/.zoryn-test-marker");
    std::fs::write(&marker, "x").unwrap();

    set_release(&env, &repo, "alt2");
    let out = env.zoryn(&["build", "-r"], &repo);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(marker.exists(), "the chroot was recreated");
    let log = log_of(&repo, "local");
    assert!(log.contains("Executing(%build)"), "{log}");
    assert!(
        !log.contains("rpmi: setup-"),
        "a fresh chroot was made:\n{log}"
    );
    assert!(
        names_in(&repo.join("hasher_out/local"))
            .iter()
            .any(|n| n == "hello-1.0-alt2.x86_64.rpm"),
        "{:?}",
        names_in(&repo.join("hasher_out/local"))
    );
    assert!(
        stdout(&out).contains("hello-1.0-alt2.x86_64.rpm"),
        "{}",
        stdout(&out)
    );
    // Two builds, the second without a chroot preparation in between.
    let events = env.events_text();
    assert_eq!(events.matches("build-end rc=0").count(), 2, "{events}");
}

#[test]
fn sections_run_one_rpmbuild_stage_in_the_existing_chroot() {
    let env = TestEnv::new();
    let workdir = env.hasher_slot("hasher", None);
    let repo = env.gear_repo("hello", "");
    let out = env.zoryn(&["build"], &repo);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let results = repo.join("hasher_out/local");
    std::fs::remove_dir_all(&results).unwrap();

    let stage = |section: &str| {
        let out = env.zoryn(&["build", "--section", section], &repo);
        assert_eq!(out.status.code(), Some(0), "{section}: {}", both(&out));
        log_of(&repo, "local")
    };
    let log = stage("prep");
    assert!(log.contains("Executing(%prep)"), "{log}");
    assert!(!log.contains("Executing(%build)"), "{log}");
    assert!(workdir
        .join("chroot/usr/src/RPM/BUILD/hello-1.0/README")
        .is_file());
    assert!(names_in(&results).is_empty(), "{:?}", names_in(&results));

    // Short-circuit: %build alone, on the tree %prep left.
    let log = stage("build");
    assert!(log.contains("Executing(%build)"), "{log}");
    assert!(log.contains("building hello"), "{log}");
    assert!(!log.contains("Executing(%prep)"), "{log}");

    let log = stage("install");
    assert!(log.contains("Executing(%install)"), "{log}");
    assert!(!log.contains("Executing(%build)"), "{log}");

    // Binary packaging from the buildroot %install left.
    let log = stage("bb");
    assert!(!log.contains("Executing(%install)"), "{log}");
    assert_eq!(names_in(&results), ["hello-1.0-alt1.x86_64.rpm"]);
}

#[test]
fn skip_check_skips_the_specs_check_as_alts_rpm_does() {
    let env = TestEnv::new();
    env.hasher_slot("hasher", None);
    let repo = env.gear_repo("hello", "");
    let mut env = env;
    env.extra_env
        .push(("HASHER_EMU_FAIL".into(), "check".into()));
    let out = env.zoryn(&["build"], &repo);
    assert_eq!(
        out.status.code(),
        Some(1),
        "%check must run: {}",
        both(&out)
    );
    assert!(log_of(&repo, "local").contains("forced failure at %check"));

    for flag in ["--skip-check=rpmbuild", "--skip-check", "--skip-check=all"] {
        let out = env.zoryn(&["build", flag], &repo);
        assert_eq!(out.status.code(), Some(0), "{flag}: {}", both(&out));
        let log = log_of(&repo, "local");
        assert!(!log.contains("forced failure"), "{flag}: {log}");
    }
    // A named tool does not skip %check.
    let out = env.zoryn(&["build", "--skip-check=sisyphus_check"], &repo);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
}

#[test]
fn skip_check_sisyphus_check_reaches_hashers_own_check() {
    let env = TestEnv::new();
    env.hasher_slot("hasher", None);
    let repo = env.gear_repo("hello", "");
    // sisyphus_check rejects a Packager that is not `Name <address>`.
    let out = env.zoryn(&["build", "--packager=nobody"], &repo);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let log = log_of(&repo, "local");
    assert!(log.contains("sisyphus_check failed"), "{log}");
    assert!(both(&out).contains("sisyphus_check"), "{}", both(&out));

    let out = env.zoryn(
        &["build", "--packager=nobody", "--skip-check=rpmbuild"],
        &repo,
    );
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));

    let out = env.zoryn(
        &["build", "--packager=nobody", "--skip-check=sisyphus_check"],
        &repo,
    );
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(!log_of(&repo, "local").contains("sisyphus_check failed"));
}

#[test]
fn bad_section_and_skip_lists_are_usage_errors() {
    let env = TestEnv::new();
    env.hasher_slot("hasher", None);
    let repo = env.gear_repo("hello", "");
    let out = env.zoryn(&["build", "--section", "check"], &repo);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert!(
        both(&out).contains("prep, build, install, bb, ba"),
        "{}",
        both(&out)
    );
    let out = env.zoryn(&["build", "--skip-check=a,,b"], &repo);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert!(both(&out).contains("empty name"), "{}", both(&out));
    assert!(!env.events_text().contains("build-start"));
}

#[test]
fn remote_rebuild_section_and_skip_check() {
    let env = TestEnv::new();
    let host = env.remote_builder("arm", "arm", "aarch64", "aarch64", 1);
    let repo = env.gear_repo("hello", "");

    let out = env.zoryn(&["build", "-b", "arm", "-r"], &repo);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    let text = both(&out);
    assert!(
        text.contains(&format!(
            "builder `arm` has no hasher chroot in {} on arm",
            host.home.join("hasher_1").display()
        )),
        "{text}"
    );
    assert!(text.contains("zoryn build -b arm"), "{text}");

    let out = env.zoryn(&["build", "-b", "arm"], &repo);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let marker = host.home.join("hasher_1/chroot/.zoryn-test-marker");
    env.ssh(&host.alias, &format!("touch '{}'", marker.display()));
    assert!(marker.exists());

    set_release(&env, &repo, "alt2");
    let out = env.zoryn(&["build", "-b", "arm", "-r"], &repo);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(marker.exists(), "the remote chroot was recreated");
    assert!(
        names_in(&repo.join("hasher_out/arm"))
            .iter()
            .any(|n| n == "hello-1.0-alt2.aarch64.rpm"),
        "{:?}",
        names_in(&repo.join("hasher_out/arm"))
    );
    assert!(!log_of(&repo, "arm").contains("rpmi: setup-"));

    // One stage there, its script shipped next to the tarball; %check skipped.
    host.set_knob("HASHER_EMU_FAIL", "check");
    let out = env.zoryn(&["build", "-b", "arm", "--section", "prep"], &repo);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let log = log_of(&repo, "arm");
    assert!(
        log.contains("Executing(%prep)") && !log.contains("Executing(%build)"),
        "{log}"
    );
    let out = env.zoryn(&["build", "-b", "arm", "--section", "install"], &repo);
    assert_eq!(
        out.status.code(),
        Some(1),
        "%check runs after -bi: {}",
        both(&out)
    );
    let out = env.zoryn(
        &[
            "build",
            "-b",
            "arm",
            "--section",
            "install",
            "--skip-check=rpmbuild",
        ],
        &repo,
    );
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(host
        .home
        .join(".cache/zoryn/upload/hello/section-arm.sh")
        .is_file());

    // hasher's sisyphus_check on the output, under hsh-rebuild: each name
    // in the list skips only its own check.
    host.set_knob("HASHER_EMU_SISYPHUS_CHECK_FAIL", "out");
    let out = env.zoryn(
        &["build", "-b", "arm", "-r", "--skip-check=rpmbuild"],
        &repo,
    );
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    assert!(log_of(&repo, "arm").contains("sisyphus_check failed"));
    let out = env.zoryn(
        &[
            "build",
            "-b",
            "arm",
            "-r",
            "--skip-check=rpmbuild,sisyphus_check",
        ],
        &repo,
    );
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
}

#[test]
fn task_batch_skip_check_reaches_every_job() {
    let mut env = TestEnv::new();
    env.hasher_slot("hasher_2", Some(2));
    env.builder("local2", "hasher_number = 2\n");
    env.library_package("libfoo", &[], "");
    env.library_package("app", &["libfoo"], "");
    env.write(
        ".config/zoryn/batch/fam.conf",
        "[batch]\nbuilders = \"local2\"\nbasedir = \"~/src\"\n\n[libfoo]\n\n[app]\n",
    );
    env.extra_env
        .push(("HASHER_EMU_FAIL".into(), "check".into()));
    let out = env.zoryn(&["task", "batch", "fam"], &env.home);
    assert_eq!(
        out.status.code(),
        Some(1),
        "%check must run: {}",
        both(&out)
    );

    let out = env.zoryn(
        &["task", "batch", "fam", "--restart", "--skip-check=rpmbuild"],
        &env.home,
    );
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let events = env.events_text();
    assert!(events.matches("build-end rc=0").count() >= 2, "{events}");
}

#[test]
fn rebuild_says_so_when_hsh_rebuild_is_missing() {
    let mut env = TestEnv::new();
    env.hasher_slot("hasher", None);
    let repo = env.gear_repo("hello", "");
    // hsh and gear are there, hsh-rebuild is not.
    let bin = env.root.join("only-hsh");
    std::fs::create_dir_all(&bin).unwrap();
    for tool in ["hsh", "gear"] {
        std::os::unix::fs::symlink(env.root.join("emu/bin").join(tool), bin.join(tool)).unwrap();
    }
    env.path_override = Some(format!("{}:/usr/local/bin:/usr/bin:/bin", bin.display()));
    let out = env.zoryn(&["build", "-r"], &repo);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    assert!(
        both(&out).contains("`hsh-rebuild` is not installed"),
        "{}",
        both(&out)
    );
    // The same PATH is fine for a full build.
    let out = env.zoryn(&["build"], &repo);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
}
