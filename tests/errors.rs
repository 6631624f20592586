//! Mistakes a newcomer makes, each with its exit code and a message that
//! names the file/builder and says what to do.

mod support;

use support::{both, names_in, stderr, TestEnv};

/// A PATH with git, rpmbuild and the emulated hsh, but no gear.
fn path_without_gear(env: &TestEnv) -> String {
    let only = env.root.join("only-hsh");
    std::fs::create_dir_all(&only).unwrap();
    std::os::unix::fs::symlink(env.root.join("emu/bin/hsh"), only.join("hsh")).unwrap();
    format!("{}:/usr/local/bin:/usr/bin:/bin", only.display())
}

#[test]
fn not_inside_a_git_repository() {
    let env = TestEnv::new();
    let dir = env.home.join("plain");
    std::fs::create_dir_all(&dir).unwrap();
    let out = env.zoryn(&["build"], &dir);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    let e = stderr(&out);
    assert!(
        e.contains(&format!(
            "zoryn: error: {} is not inside a git repository",
            dir.display()
        )),
        "{e}"
    );
    assert!(
        e.contains("hint: run zoryn build inside a gear repository"),
        "{e}"
    );
}

#[test]
fn no_gear_rules_and_no_spec() {
    let env = TestEnv::new();
    let repo = env.gear_repo("hello", "");
    env.sh("git rm -q -r .gear && git commit -qm 'drop rules'", &repo);
    let out = env.zoryn(&["build"], &repo);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert!(
        stderr(&out).contains("has no .gear/rules: not a gear repository"),
        "{}",
        both(&out)
    );

    let repo = env.gear_repo("nospec", "");
    std::fs::write(repo.join(".gear/rules"), "tar: nospec\n").unwrap();
    std::fs::remove_file(repo.join("nospec.spec")).unwrap();
    let out = env.zoryn(&["build"], &repo);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    let e = stderr(&out);
    assert!(e.contains("no spec file in"), "{e}");
    assert!(e.contains("hint: add NAME.spec"), "{e}");
}

#[test]
fn gear_or_hsh_not_installed() {
    let mut env = TestEnv::new();
    env.hasher_slot("hasher", None);
    let repo = env.gear_repo("hello", "");
    // A PATH with git and rpmbuild but without the emulators.
    env.path_override = Some(path_without_gear(&env));
    let out = env.zoryn(&["build"], &repo);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    let e = stderr(&out);
    assert!(e.contains("`gear` is not installed"), "{e}");
    assert!(e.contains("ALT package `gear`"), "{e}");

    env.path_override = Some("/usr/local/bin:/usr/bin:/bin".into());
    let out = env.zoryn(&["build"], &repo);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    let e = stderr(&out);
    assert!(e.contains("`hsh` is not installed"), "{e}");
    assert!(e.contains("ALT package `hasher`"), "{e}");
}

#[test]
fn hasher_workdir_missing_or_not_writable() {
    let env = TestEnv::new();
    env.hasher_slot("hasher", None);
    std::fs::remove_dir(env.home.join("hasher")).unwrap();
    let repo = env.gear_repo("hello", "");
    let out = env.zoryn(&["build"], &repo);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    let s = both(&out);
    assert!(
        s.contains(&format!(
            "hasher workdir {} does not exist",
            env.home.join("hasher").display()
        )),
        "{s}"
    );
    assert!(s.contains("hint: create it: mkdir -p"), "{s}");
    assert!(s.contains("ERROR"), "{s}");

    if env.uid() != 0 {
        let wd = env.home.join("hasher");
        std::fs::create_dir_all(&wd).unwrap();
        env.chown_all();
        env.sh(&format!("chmod 0555 '{}'", wd.display()), &env.home);
        let mut cmd = env.command(env.bin_dir.join("zoryn"));
        let out = cmd.arg("build").current_dir(&repo).output().unwrap();
        assert_eq!(out.status.code(), Some(3), "{}", both(&out));
        assert!(both(&out).contains("is not writable"), "{}", both(&out));
    }
}

#[test]
fn missing_satellite_users_say_what_to_run() {
    let env = TestEnv::new();
    std::fs::create_dir_all(env.home.join("hasher_2")).unwrap();
    env.builder("local2", "hasher_number = 2\n");
    let repo = env.gear_repo("hello", "");
    let out = env.zoryn(&["build", "-b", "local2"], &repo);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    let s = both(&out);
    assert!(
        s.contains(&format!(
            "hint: create them as root: hasher-useradd --number=2 {}",
            env.user_name()
        )),
        "{s}"
    );
}

#[test]
fn disallowed_mountpoint_prints_the_line_to_add() {
    let env = TestEnv::new();
    env.hasher_slot("hasher", None);
    env.write(
        ".zoryn",
        "[build]\ncommand = \"hsh --lazy-cleanup --mountpoints=/proc,/dev/kvm\"\n",
    );
    let repo = env.gear_repo("hello", "");
    let out = env.zoryn(&["build"], &repo);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    let s = both(&out);
    // /dev/kvm is a device for hasher-priv (mount.c): allowed_devices.
    assert!(
        s.contains("device(s) /dev/kvm not allowed by hasher-priv"),
        "{s}"
    );
    assert!(s.contains("allowed_devices=/dev/kvm"), "{s}");
    assert!(s.contains(&format!("user.d/{}", env.uid())), "{s}");
}

#[test]
fn unknown_builder_suggests_a_name() {
    let env = TestEnv::new();
    env.builder("local2", "hasher_number = 2\n");
    let repo = env.gear_repo("hello", "");
    let out = env.zoryn(&["build", "-b", "lcoal2"], &repo);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    let e = stderr(&out);
    assert!(e.contains("no builder matches `lcoal2`"), "{e}");
    assert!(e.contains("did you mean `local2`?"), "{e}");
}

#[test]
fn config_errors_name_file_line_and_key_and_change_nothing() {
    let env = TestEnv::new();
    env.hasher_slot("hasher", None);
    let repo = env.gear_repo("hello", "");
    let cfg = env.write(
        ".zoryn",
        "[builders]\ndefault = \"local\"\nparalel = \"on\"\n",
    );
    let out = env.zoryn(&["build"], &repo);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    let e = stderr(&out);
    assert!(
        e.contains(&format!(
            "{}:3:1: unknown key `paralel` in [builders]",
            cfg.display()
        )),
        "{e}"
    );
    assert!(e.contains("did you mean `parallel`?"), "{e}");
    assert!(names_in(&repo.join("hasher_out")).is_empty());
    assert_eq!(
        std::fs::read_to_string(&cfg).unwrap(),
        "[builders]\ndefault = \"local\"\nparalel = \"on\"\n"
    );

    env.write(
        ".zoryn",
        "[build]\nlog_filename = \"build.{bulider}.log\"\n",
    );
    let out = env.zoryn(&["builder", "list"], &repo);
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    assert!(
        e.contains(":2:23: [build] log_filename: unknown placeholder `{bulider}`"),
        "{e}"
    );
    assert!(e.contains("did you mean `{builder}`?"), "{e}");

    env.write(".zoryn", "[build\ncommand = 1\n");
    let out = env.zoryn(&["builder", "list"], &repo);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(":1:7: invalid TOML"),
        "{}",
        stderr(&out)
    );
}

/// Every broken builder file is reported (a warning: the command itself
/// works without them, see tests/config.rs for selecting one).
#[test]
fn every_broken_builder_file_is_reported() {
    let env = TestEnv::new();
    let a = env.builder("arm", "type = \"remote\"\narch = \"aarch64\"\n");
    let b = env.builder("x86", "hasher_number = \"two\"\n");
    env.builder("9lives", "");
    let out = env.zoryn(&["builder", "list", "--simple"], &env.home);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!(support::stdout(&out), "local\n");
    let e = stderr(&out);
    assert_eq!(e.matches("zoryn: warning: builder `").count(), 3, "{e}");
    assert!(
        e.contains(&format!(
            "{}: remote builder `arm` has no host",
            a.display()
        )),
        "{e}"
    );
    assert!(
        e.contains(&format!(
            "{}:1:17: hasher_number: expected an integer, found a string",
            b.display()
        )),
        "{e}"
    );
    assert!(
        e.contains("builder name `9lives` must start with a letter"),
        "{e}"
    );
}

#[test]
fn zoryn_config_env_must_point_at_a_file() {
    let mut env = TestEnv::new();
    env.extra_env.push((
        "ZORYN_CONFIG".into(),
        env.home.join("nope.toml").display().to_string(),
    ));
    let out = env.zoryn(&["builder", "list"], &env.home);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("nope.toml: cannot read the config file"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn preflight_comes_before_packing_the_source() {
    let mut env = TestEnv::new();
    let repo = env.gear_repo("hello", "");
    // No ~/hasher, and no gear on PATH: the workdir problem is reported,
    // gear is never needed.
    env.path_override = Some(path_without_gear(&env));
    let out = env.zoryn(&["build"], &repo);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    let s = both(&out);
    assert!(
        s.contains("hasher workdir") && s.contains("does not exist"),
        "{s}"
    );
    assert!(!s.contains("gear"), "gear was involved: {s}");
}

/// Every problem the farm has is printed, each in the one format (its own
/// `zoryn: error:` line and hint), and they end every command with 2: a
/// builder command and `build` alike, before anything else happens.
#[test]
fn several_farm_errors_are_all_printed_in_the_one_format() {
    let env = TestEnv::new();
    let same = "type = \"local\"\nhasher_dir = \"~/hasher_x\"\n";
    for name in ["a", "b", "c"] {
        env.builder(name, same);
    }
    let repo = env.gear_repo("hello", "");
    for (args, dir) in [
        (&["builder", "list"][..], &env.home),
        (&["builder", "status", "-b", "a"][..], &env.home),
        (&["build", "-b", "a"][..], &repo),
    ] {
        let out = env.zoryn(args, dir);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", both(&out));
        let e = stderr(&out);
        let errors: Vec<&str> = e
            .lines()
            .filter(|l| l.starts_with("zoryn: error: "))
            .collect();
        // a=b, a=c, b=c: three pairs share the directory.
        assert_eq!(errors.len(), 3, "{args:?}: {e}");
        for pair in ["`a` and `b`", "`a` and `c`", "`b` and `c`"] {
            assert!(
                errors
                    .iter()
                    .any(|l| l.contains(pair) && l.contains("use the same hasher_dir")),
                "{args:?}: {pair}: {e}"
            );
        }
        // Each error is followed by its own hint.
        let lines: Vec<&str> = e.lines().collect();
        for (i, l) in lines.iter().enumerate() {
            if l.starts_with("zoryn: error: ") {
                assert!(
                    lines
                        .get(i + 1)
                        .is_some_and(|h| h.starts_with("  hint: give each its own hasher_number")),
                    "{args:?}: {e}"
                );
            }
        }
        assert!(out.stdout.is_empty(), "{args:?}: {}", both(&out));
    }
}
