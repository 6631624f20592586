//! The command-line surface: builder list, completions, man page, usage errors.

mod support;

use support::{both, stdout, TestEnv};

#[test]
fn builder_list_shows_builtin_and_configured_builders() {
    let env = TestEnv::new();
    env.builder("local2", "hasher_number = 2\n");
    env.builder(
        "arm64",
        "host = \"arm.example\"\narch = \"aarch64\"\nbranch = \"p11\"\nhasher_number = 1\n",
    );
    let out = env.zoryn(&["builder", "list"], &env.home);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let s = stdout(&out);
    let lines: Vec<&str> = s.lines().collect();
    assert!(lines[0].starts_with("NAME"), "{s}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("local ") && l.contains("localhost") && l.contains("~/hasher")),
        "{s}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("local2") && l.contains("~/hasher_2")),
        "{s}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("arm64")
            && l.contains("remote")
            && l.contains("aarch64")
            && l.contains("p11")),
        "{s}"
    );

    let out = env.zoryn(&["builder", "list", "--json", "-b", "local*"], &env.home);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["local", "local2"]);
    assert_eq!(v[1]["hasher_number"], 2);
    assert_eq!(v[0]["source"], "built-in");
}

#[test]
fn completions_and_man_page_are_generated() {
    let env = TestEnv::new();
    for shell in ["bash", "zsh", "fish"] {
        let out = env.zoryn(&["completions", shell], &env.home);
        assert_eq!(out.status.code(), Some(0));
        assert!(stdout(&out).contains("zoryn"), "{shell}");
        assert!(stdout(&out).contains("rpmbuild-args"), "{shell}");
    }
    let out = env.zoryn(&["man"], &env.home);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).starts_with(".ie") || stdout(&out).contains(".TH zoryn"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn usage_errors_exit_2() {
    let env = TestEnv::new();
    let out = env.zoryn(&["build", "--no-such-flag"], &env.home);
    assert_eq!(out.status.code(), Some(2));
    let out = env.zoryn(&["build", "-p", "-s"], &env.home);
    assert_eq!(out.status.code(), Some(2));
}
