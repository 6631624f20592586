//! The configuration as a maintainer really has it, through the real binary
//! as the unprivileged test account: the zoryn family's full `~/.zoryn`,
//! `builder list` filters, broken builder files, and git's own refusals.

mod support;

use std::path::Path;

use support::{both, names_in, stderr, stdout, TestEnv};

const FAMILY_ZORYN: &str = include_str!("fixtures/zoryn-family-full.toml");

/// Every build log under the repository's `.gear/`, concatenated.
fn logs(repo: &Path) -> String {
    let mut text = String::new();
    for name in names_in(&repo.join(".gear")) {
        if name.ends_with(".log") {
            text.push_str(&std::fs::read_to_string(repo.join(".gear").join(name)).unwrap());
        }
    }
    text
}

/// The family's documented full `~/.zoryn` (every section, dotted command
/// keys, the documented hsh command with `--mountpoint=...,/dev/kvm`) loads
/// unchanged and a build with it succeeds; `-v` names what the farm ignores.
#[test]
fn the_familys_full_zoryn_loads_and_builds() {
    let env = TestEnv::new();
    env.write(".zoryn", FAMILY_ZORYN);
    // The documented command passes --number={hasher_number}: `local` gets
    // a number through its local.conf, as a maintainer would write it.
    env.builder(
        "local",
        "type = \"local\"\nhasher_number = 1\nhasher_dir = \"~/hasher_{hasher_number}\"\n",
    );
    env.hasher_slot("hasher_1", Some(1));
    // A stand-in for the [checks] command the file names, recording its
    // arguments (the checks themselves are another change's business).
    let check = env.bin_dir.join("sisyphus_check");
    std::fs::write(
        &check,
        format!(
            "#!/bin/sh\necho \"$@\" >> {}\n",
            env.root.join("checks.log").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&check, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let repo = env.gear_repo("hello", "");

    // First without /dev/kvm allowed: the documented --mountpoint= option
    // really reaches hasher(-priv), which refuses the mount point.
    let out = env.zoryn(&["build"], &repo);
    assert_ne!(out.status.code(), Some(0), "{}", both(&out));
    let said = format!("{}{}", both(&out), logs(&repo));
    assert!(said.contains("/dev/kvm"), "{said}");

    // Allowed (hasher-priv's system config and its fstab): the build works.
    std::fs::write(
        env.emu_root.join("etc/hasher-priv/system"),
        "allowed_mountpoints=/proc,/dev/pts,/dev/kvm\n",
    )
    .unwrap();
    std::fs::write(
        env.emu_root.join("etc/hasher-priv/fstab"),
        "/dev/kvm /dev/kvm bind bind 0 0\n",
    )
    .unwrap();
    let out = env.zoryn(&["-v", "build"], &repo);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!(
        names_in(&repo.join("hasher_out/local")),
        ["hello-1.0-alt1.src.rpm", "hello-1.0-alt1.x86_64.rpm"]
    );
    // The slot from the template: --number=1 and the numbered workdir.
    let events = env.events_text();
    assert!(
        events.contains("number=1 ") && events.contains("hasher_1"),
        "{events}"
    );
    let e = stderr(&out);
    let zoryn_file = env.home.join(".zoryn");
    for what in [
        "[gitery]",
        "[gyle]",
        "[sources]",
        "[rebuild]",
        "[sandbox]",
        "[commands] git.fetch",
        "[commands] ssh.gitery",
    ] {
        assert!(
            e.lines().any(
                |l| l.starts_with(&format!("zoryn: note: {}:", zoryn_file.display()))
                    && l.ends_with(&format!(
                        " {what} is for other zoryn commands; the build farm ignores it"
                    ))
            ),
            "{what} not named:\n{e}"
        );
    }
    // Without -v the family's sections pass silently.
    let out = env.zoryn(&["builder", "list", "--simple"], &repo);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!(stderr(&out), "");
    assert_eq!(stdout(&out), "local\n");
}

/// What the farm reads stays strict: an unknown top-level section and an
/// unknown key in a section the farm reads fail with file, line, key and a
/// suggestion, even next to the family's sections.
#[test]
fn unknown_sections_and_keys_still_fail_with_place_and_suggestion() {
    let env = TestEnv::new();
    let zoryn = env.home.join(".zoryn");
    env.write(
        ".zoryn",
        &format!("{FAMILY_ZORYN}\n[notfiy]\nenabled = true\n"),
    );
    let line = FAMILY_ZORYN.lines().count() + 2;
    let out = env.zoryn(&["builder", "list"], &env.home);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    let e = stderr(&out);
    assert!(
        e.contains(&format!(
            "zoryn: error: {}:{line}:2: unknown key `notfiy` at the top level",
            zoryn.display()
        )),
        "{e}"
    );
    assert!(e.contains("hint: did you mean `notify`?"), "{e}");

    env.write(
        ".zoryn",
        "[gitery]\nhost = \"gitery\"\n\n[notify]\nafter = \"1m\"\nenable = false\n",
    );
    let out = env.zoryn(&["builder", "list"], &env.home);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    let e = stderr(&out);
    assert!(
        e.contains(&format!(
            "{}:6:1: unknown key `enable` in [notify]",
            zoryn.display()
        )),
        "{e}"
    );
    assert!(e.contains("hint: did you mean `enabled`?"), "{e}");

    env.write(".zoryn", "[checks]\ncommands = [\"sisyphus_check\", 3]\n");
    let out = env.zoryn(&["builder", "list"], &env.home);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert!(
        stderr(&out).contains(&format!(
            "{}:2:12: [checks] commands: expected a list of strings",
            zoryn.display()
        )),
        "{}",
        stderr(&out)
    );
}

/// A small farm: two local slots and three remote builders that are never
/// contacted (`builder list` only reads the files).
fn listed_farm(env: &TestEnv) {
    env.builder("local2", "type = \"local\"\nhasher_number = 2\n");
    env.builder(
        "arm1",
        "type = \"remote\"\nhost = \"arm.internal\"\narch = \"aarch64\"\nhasher_number = 1\n",
    );
    env.builder(
        "arm2",
        "type = \"remote\"\nhost = \"arm.internal\"\narch = \"aarch64\"\nbranch = \"p11\"\nhasher_number = 2\n",
    );
    env.builder(
        "p11-x86",
        "type = \"remote\"\nhost = \"bignode\"\narch = \"x86_64\"\nbranch = \"p11\"\nhasher_number = 5\n",
    );
}

fn list(env: &TestEnv, args: &[&str]) -> String {
    let mut argv = vec!["builder", "list"];
    argv.extend_from_slice(args);
    let out = env.zoryn(&argv, &env.home);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", both(&out));
    stdout(&out)
}

#[test]
fn builder_list_filters_each_narrow() {
    let env = TestEnv::new();
    listed_farm(&env);
    // builders.d files load in name order after the built-in local.
    assert_eq!(
        list(&env, &["--simple"]),
        "local\narm1\narm2\nlocal2\np11-x86\n"
    );
    assert_eq!(list(&env, &["--simple", "-a", "aarch64"]), "arm1\narm2\n");
    assert_eq!(list(&env, &["--simple", "-B", "p11"]), "arm2\np11-x86\n");
    assert_eq!(
        list(&env, &["--simple", "-a", "aarch64", "-B", "p11"]),
        "arm2\n"
    );
    assert_eq!(
        list(&env, &["--simple", "--host", "localhost"]),
        "local\nlocal2\n"
    );
    assert_eq!(
        list(
            &env,
            &["--simple", "--host", "arm.*,bignode", "-a", "x86_64"]
        ),
        "p11-x86\n"
    );
    // Filters narrow a -b selection too.
    assert_eq!(
        list(&env, &["--simple", "-b", "arm*,local2", "-B", "sisyphus"]),
        "arm1\nlocal2\n"
    );
    // The table and JSON show the same narrowed set.
    let table = list(&env, &["-a", "aarch64"]);
    let names: Vec<&str> = table
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(names, ["arm1", "arm2"], "{table}");
    assert!(table.starts_with("NAME"), "{table}");
    let json: serde_json::Value =
        serde_json::from_str(&list(&env, &["--json", "--host", "bignode"])).unwrap();
    let rows = json.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{json}");
    assert_eq!(rows[0]["name"], "p11-x86");
    assert_eq!(rows[0]["branch"], "p11");
    // --explain says which filter dropped a builder.
    let explained = list(&env, &["--explain", "-b", "@all", "--host", "arm.internal"]);
    assert!(
        explained.contains("- local2")
            && explained.contains("dropped by --host arm.internal (it is on localhost)"),
        "{explained}"
    );
    assert!(explained.contains("selected: arm1, arm2"), "{explained}");
    assert_eq!(
        list(
            &env,
            &["--explain", "--simple", "-b", "@all", "-a", "aarch64"]
        ),
        "arm1\narm2\n"
    );
    // Nothing left: said on stderr, nothing on stdout, not an error.
    let out = env.zoryn(&["builder", "list", "-a", "riscv64"], &env.home);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!(stdout(&out), "");
    assert!(
        stderr(&out).contains("no builder matches -a riscv64 (arches: aarch64, x86_64;"),
        "{}",
        stderr(&out)
    );
}

/// A broken builder file warns (file, line, error) in commands that do not
/// select it, which still work; selecting it by name is an error; `builder
/// remove` deletes it and its apt dir.
#[test]
fn a_broken_builder_file_blocks_only_what_selects_it() {
    let env = TestEnv::new();
    env.hasher_slot("hasher", None);
    let broken = env.builder(
        "riscv",
        "type = \"remote\"\nhost = \"riscv.internal\"\narhc = \"riscv64\"\n",
    );
    let apt = env.write(
        ".config/zoryn/builders.d/riscv/apt/apt.conf",
        "Dir \"/\";\n",
    );
    env.builder("typo", "hasher_number = \"two\"\n");
    env.builder("syntax", "type = remote\n");
    let repo = env.gear_repo("hello", "");

    let out = env.zoryn(&["build"], &repo);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!(
        names_in(&repo.join("hasher_out/local")),
        ["hello-1.0-alt1.src.rpm", "hello-1.0-alt1.x86_64.rpm"]
    );
    let e = stderr(&out);
    assert!(
        e.contains(&format!(
            "zoryn: warning: builder `riscv` is left out, its file is broken: {}:3:1: unknown key `arhc` at the top level",
            broken.display()
        )),
        "{e}"
    );
    assert!(e.contains("hint: did you mean `arch`?"), "{e}");
    assert!(e.contains("`zoryn builder remove riscv`"), "{e}");
    assert!(
        e.contains("typo.conf:1:17: hasher_number: expected an integer, found a string"),
        "{e}"
    );
    assert!(e.contains("syntax.conf:1:8: invalid TOML"), "{e}");

    // @all and exclusions leave broken files out; list shows the rest.
    let out = env.zoryn(&["builder", "list", "--simple", "-b", "@all"], &env.home);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!(stdout(&out), "local\n");

    // Naming it (or a glob that matches it) is an error naming the file.
    for pattern in ["riscv", "local,r*"] {
        let out = env.zoryn(&["build", "-b", pattern], &repo);
        assert_eq!(out.status.code(), Some(2), "{pattern}: {}", both(&out));
        let e = stderr(&out);
        assert!(
            e.contains(&format!(
                "zoryn: error: builder `riscv` (selected by `{}`) cannot be used: {}:3: unknown key `arhc` at the top level",
                pattern.trim_start_matches("local,"),
                broken.display()
            )),
            "{pattern}: {e}"
        );
        assert!(e.contains("`zoryn builder remove riscv`"), "{e}");
    }

    // remove deletes the broken file and its apt dir; the warnings go.
    let out = env.zoryn(&["builder", "remove", "riscv", "typo", "syntax"], &env.home);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(!broken.exists());
    assert!(!apt.exists() && !env.builders_dir().join("riscv").exists());
    assert!(stdout(&out).contains("removed: riscv"), "{}", stdout(&out));
    let out = env.zoryn(&["builder", "list", "--simple"], &env.home);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!(stderr(&out), "");
    assert_eq!(names_in(&env.builders_dir()), Vec::<String>::new());
}

/// A repository that belongs to someone else: git's dubious-ownership
/// refusal and its fix come through, not "not inside a git repository".
#[test]
fn gits_dubious_ownership_refusal_is_passed_through() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root to make a repository that belongs to another user");
        return;
    }
    let env = TestEnv::new();
    // Outside the test env (which is handed to the test account): owned by root.
    let foreign = tempfile::Builder::new()
        .prefix("zoryn-foreign.")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::set_permissions(
        foreign.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let repo = foreign.path().join("hello");
    std::fs::create_dir_all(repo.join(".gear")).unwrap();
    std::fs::write(repo.join(".gear/rules"), "tar: .\n").unwrap();
    let init = std::process::Command::new("git")
        .args(["init", "-q"])
        .arg(&repo)
        .output()
        .unwrap();
    assert!(init.status.success(), "{}", both(&init));
    assert!(repo.join(".git").is_dir());

    let out = env.zoryn(&["build", "-C", &repo.to_string_lossy()], &env.home);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    let e = stderr(&out);
    assert!(
        e.contains(&format!(
            "zoryn: error: git refuses to work in {}: detected dubious ownership in repository at '{}'",
            repo.display(),
            repo.display()
        )),
        "{e}"
    );
    assert!(
        e.contains(&format!(
            "git config --global --add safe.directory {}",
            repo.display()
        )),
        "{e}"
    );
    assert!(!e.contains("not inside a git repository"), "{e}");

    // A plain directory is still "not a git repository", in git's words.
    let plain = foreign.path().join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    let out = env.zoryn(&["build", "-C", &plain.to_string_lossy()], &env.home);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    let e = stderr(&out);
    assert!(
        e.contains(&format!(
            "zoryn: error: {} is not inside a git repository (git: not a git repository",
            plain.display()
        )),
        "{e}"
    );
}
