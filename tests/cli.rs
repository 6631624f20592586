//! The command-line surface: builder list, completions, man page, usage errors.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::{both, stderr, stdout, TestEnv};

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
    // bash, zsh and fish: the dynamic script that calls zoryn back.
    for shell in ["bash", "zsh", "fish"] {
        let out = env.zoryn(&["completions", shell], &env.home);
        assert_eq!(out.status.code(), Some(0));
        assert!(stdout(&out).contains("ZORYN_COMPLETE"), "{shell}");
    }
    // The others: the static script with every flag.
    for shell in ["elvish", "powershell"] {
        let out = env.zoryn(&["completions", shell], &env.home);
        assert_eq!(out.status.code(), Some(0));
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

/// Every page the command tree has: `zoryn man --out` must write each one.
const PAGES: &[&str] = &[
    "zoryn.1",
    "zoryn-build.1",
    "zoryn-builder.1",
    "zoryn-builder-add.1",
    "zoryn-builder-list.1",
    "zoryn-builder-status.1",
    "zoryn-builder-shell.1",
    "zoryn-builder-run.1",
    "zoryn-builder-copy.1",
    "zoryn-builder-config.1",
    "zoryn-builder-clean.1",
    "zoryn-builder-remove.1",
    "zoryn-task.1",
    "zoryn-task-batch.1",
    "zoryn-up.1",
    "zoryn-completions.1",
    "zoryn-man.1",
];

/// `man -l` renders a page; its warnings (groff's, with --warnings) count
/// as failures.
fn render(page: &Path) -> String {
    let out = Command::new("man")
        .arg("-l")
        .arg("--warnings")
        .arg(page)
        .env("MANWIDTH", "80")
        .env("LANG", "C.UTF-8")
        .output()
        .expect("man (man-db) is installed here; .ci/run installs it");
    assert!(out.status.success(), "{}: {}", page.display(), both(&out));
    assert_eq!(stderr(&out), "", "{}: warnings", page.display());
    stdout(&out)
}

#[test]
fn man_out_writes_a_page_per_command_with_no_dangling_see_also() {
    let env = TestEnv::new();
    let dir = env.home.join("man/man1");
    let out = env.zoryn(&["man", "--out", dir.to_str().unwrap()], &env.home);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let mut written = support::names_in(&dir);
    written.sort();
    let mut expected: Vec<String> = PAGES.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(written, expected);
    for page in PAGES {
        let text = render(&dir.join(page));
        assert!(text.contains("EXIT STATUS"), "{page}:\n{text}");
        // Every SEE ALSO reference names a page that was written.
        let see = text
            .split("SEE ALSO")
            .nth(1)
            .unwrap_or_else(|| panic!("{page} has no SEE ALSO:\n{text}"));
        let see: String = see
            .lines()
            .skip(1)
            .take_while(|l| !l.trim().is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let see = see.replace("\u{2010} ", "").replace("- ", "-");
        let refs: Vec<&str> = see
            .split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .collect();
        assert!(!refs.is_empty(), "{page}: {see}");
        for r in refs {
            let name = r
                .strip_suffix("(1)")
                .unwrap_or_else(|| panic!("{page}: `{r}`"));
            assert!(
                dir.join(format!("{name}.1")).is_file(),
                "{page} refers to {r}"
            );
        }
    }
    let main = render(&dir.join("zoryn.1"));
    for section in [
        "NAME",
        "SYNOPSIS",
        "FILES",
        "ENVIRONMENT",
        "EXIT STATUS",
        "EXAMPLES",
    ] {
        assert!(
            main.lines().any(|l| l == section),
            "zoryn.1 lacks {section}:\n{main}"
        );
    }
    assert!(
        main.contains("builders.d/NAME.conf") && main.contains("ZORYN_CONFIG"),
        "{main}"
    );
    let build = render(&dir.join("zoryn-build.1"));
    assert!(
        build.contains("--rpmbuild-args") && build.contains("EXAMPLES"),
        "{build}"
    );
    // Without --out: the main page on stdout, as before.
    let out = env.zoryn(&["man"], &env.home);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout(&out).as_bytes(),
        std::fs::read(dir.join("zoryn.1")).unwrap()
    );
}

#[test]
fn man_out_into_an_unwritable_place_is_a_clear_error() {
    let env = TestEnv::new();
    let file = env.write("afile", "x");
    let out = env.zoryn(
        &["man", "--out", &format!("{}/sub", file.display())],
        &env.home,
    );
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert!(
        stderr(&out).contains("cannot create") && stderr(&out).contains("afile/sub"),
        "{}",
        both(&out)
    );
}

#[test]
fn version_names_the_git_commit_when_built_from_git() {
    let env = TestEnv::new();
    let out = env.zoryn(&["--version"], &env.home);
    assert_eq!(out.status.code(), Some(0));
    let v = stdout(&out);
    let plain = format!("zoryn {}", env!("CARGO_PKG_VERSION"));
    let head = Command::new("git")
        .args([
            "-C",
            env!("CARGO_MANIFEST_DIR"),
            "rev-parse",
            "--short",
            "HEAD",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| stdout(&o).trim().to_string());
    match head {
        // Built from this checkout: the commit the binary was built at.
        Some(commit) => assert!(
            v.trim() == format!("{plain} ({commit})")
                || v.trim() == format!("{plain} ({commit}-dirty)"),
            "{v} vs {commit}"
        ),
        // From a tarball: the plain version.
        None => assert_eq!(v.trim(), plain),
    }
}

/// A farm for completion: a remote builder on `bignode` (aarch64, p11), a
/// local slot, a broken file (skipped, not fatal) and a batch.
fn completion_farm() -> TestEnv {
    let env = TestEnv::new();
    env.builder(
        "node2",
        "type = \"remote\"\nhost = \"bignode\"\narch = \"aarch64\"\nbranch = \"p11\"\nhasher_number = 2\n",
    );
    env.builder("local3", "hasher_number = 3\n");
    env.builder("broken", "bogus = 1\n");
    env.write(".config/zoryn/batch/php8.4.conf", "[batch]\n");
    env
}

/// (typed on the line, what the line must read after TAB)
const TYPED: &[(&str, &str)] = &[
    ("zoryn build -b @host:b", "zoryn build -b @host:bignode "),
    (
        "zoryn build -b node2,^@arch:a",
        "zoryn build -b node2,^@arch:aarch64 ",
    ),
    ("zoryn build -b @branch:p", "zoryn build -b @branch:p11 "),
    (
        "zoryn build --builder=@host:b",
        "zoryn build --builder=@host:bignode ",
    ),
    (
        "zoryn builder status -b loc",
        "zoryn builder status -b local",
    ),
    ("zoryn builder shell -b no", "zoryn builder shell -b node2 "),
    ("zoryn task batch ph", "zoryn task batch php8.4 "),
    ("zoryn build -a x86_64,aa", "zoryn build -a x86_64,aarch64 "),
    ("zoryn build -B p1", "zoryn build -B p11 "),
    ("zoryn up -b no", "zoryn up -b node2 "),
    ("zoryn up --stage co", "zoryn up --stage commit "),
];

#[test]
fn bash_completes_builders_hosts_values_and_batches() {
    let env = completion_farm();
    let t = env.tmux(&["bash", "--norc", "--noprofile", "-i"], &env.home, 150, 40);
    t.type_text("PS1='$ '; source <(zoryn completions bash) && echo loaded-ok");
    t.send(&["Enter"]);
    t.wait_for("\nloaded-ok", Duration::from_secs(20));
    for (i, (typed, want)) in TYPED.iter().enumerate() {
        t.type_text(typed);
        t.send(&["Tab"]);
        // Mark the line's end, then comment it out so bash runs nothing.
        t.type_text(&format!("|{i}|"));
        t.send(&["C-a"]);
        t.type_text("# ");
        t.send(&["Enter"]);
        t.wait_for(&format!("$ # {want}|{i}|"), Duration::from_secs(20));
    }
}

#[test]
fn zsh_completes_builder_patterns() {
    let env = completion_farm();
    let t = env.tmux(&["zsh", "-f", "-i"], &env.home, 150, 40);
    t.type_text("PS1='$ '; autoload -U compinit && compinit -u && source <(zoryn completions zsh) && echo loaded-ok");
    t.send(&["Enter"]);
    t.wait_for("\nloaded-ok", Duration::from_secs(20));
    for (i, (typed, want)) in [
        ("zoryn build -b @host:b", "zoryn build -b @host:bignode "),
        ("zoryn task batch ph", "zoryn task batch php8.4 "),
    ]
    .iter()
    .enumerate()
    {
        t.type_text(typed);
        t.send(&["Tab"]);
        t.type_text(&format!("X{i}X"));
        t.send(&["C-a"]);
        t.type_text(": ");
        t.send(&["Enter"]);
        t.wait_for(&format!("$ : {want}X{i}X"), Duration::from_secs(20));
    }
}

#[test]
fn fish_completes_builder_patterns() {
    let env = completion_farm();
    let script = "zoryn completions fish | source; \
        complete -C 'zoryn build -b @host:b'; echo ---; \
        complete -C 'zoryn build -b node2,^lo'; echo ---; \
        complete -C 'zoryn builder remove n'";
    let out = env
        .command("fish")
        .args(["--no-config", "-c", script])
        .current_dir(&env.home)
        .output()
        .expect("fish is installed (.ci/run installs it)");
    assert!(out.status.success(), "{}", both(&out));
    let text = stdout(&out);
    let parts: Vec<Vec<&str>> = text
        .split("---\n")
        .map(|p| {
            p.lines()
                .map(|l| l.split('\t').next().unwrap_or(""))
                .collect()
        })
        .collect();
    assert_eq!(
        parts,
        [
            vec!["@host:bignode"],
            vec!["node2,^local", "node2,^local3"],
            vec!["node2"]
        ],
        "{text}"
    );
}

#[test]
fn builder_config_shows_values_origins_and_the_hsh_argv() {
    let env = TestEnv::new();
    env.write(".zoryn", "[build]\ncommand = \"hsh --lazy-cleanup -v\"\n");
    env.builder(
        "local2",
        "type = \"local\"\nhasher_number = 2\nbranch = \"p11\"\n",
    );
    let out = env.zoryn(&["builder", "config", "-b", "local2"], &env.home);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let s = stdout(&out);
    let row = |key: &str| -> String {
        s.lines()
            .find(|l| l.trim_start().starts_with(&format!("{key} ")))
            .unwrap_or_else(|| panic!("no {key} row:\n{s}"))
            .to_string()
    };
    assert!(row("hasher_number").contains("local2.conf:2"), "{s}");
    assert!(
        row("branch").contains("p11") && row("branch").contains("local2.conf:3"),
        "{s}"
    );
    assert!(row("arch").contains("default"), "{s}");
    let home = env.home.display().to_string();
    assert!(
        row("hasher_dir").contains(&format!("{home}/hasher_2"))
            && row("hasher_dir").contains("~/hasher_{hasher_number}"),
        "{s}"
    );
    assert!(row("command").contains(".zoryn:2 ([build] command)"), "{s}");
    let argv = s
        .lines()
        .skip_while(|l| !l.starts_with("hsh argv"))
        .nth(1)
        .unwrap_or("");
    assert_eq!(
        argv.trim(),
        format!("hsh --lazy-cleanup -v --number=2 --no-wait-lock {home}/hasher_2 TMPDIR/PKG.tar"),
        "{s}"
    );

    // The built-in local: no file, the default command.
    std::fs::remove_file(env.home.join(".zoryn")).unwrap();
    let out = env.zoryn(&["builder", "config", "-b", "local"], &env.home);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let s = stdout(&out);
    assert!(
        s.contains("built-in") && s.contains("default (hsh --lazy-cleanup)"),
        "{s}"
    );
    assert!(
        s.contains(&format!(
            "hsh --lazy-cleanup --no-wait-lock {home}/hasher TMPDIR/PKG.tar"
        )),
        "{s}"
    );
}

#[test]
fn builder_config_of_an_unknown_builder_says_what_exists() {
    let env = TestEnv::new();
    env.builder("local2", "hasher_number = 2\n");
    let out = env.zoryn(&["builder", "config", "-b", "locl2"], &env.home);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    let e = stderr(&out);
    assert!(
        e.contains("no builder named `locl2`") && e.contains("did you mean `local2`?"),
        "{e}"
    );
}
