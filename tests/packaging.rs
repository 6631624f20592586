//! zoryn packaged for ALT: the repository's own `.gear/rules` and
//! `.gear/zoryn.spec`, run through the gear emulator on the branch
//! `scripts/alt-vendor` makes, give a source tarball that builds offline:
//! the spec's Version is Cargo.toml's, the tarball holds the sources, the
//! docs the spec lists and every crate of Cargo.lock, and cargo resolves
//! the lock file from it alone (empty `CARGO_HOME`, `--offline`) once the
//! spec's own %prep has run. main's history never carries the crates.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Run `cmd`, which must succeed.
fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed: {}", text(&out));
    out
}

fn git(repo: &Path) -> Command {
    let mut c = Command::new("git");
    c.current_dir(repo)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@localhost")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@localhost")
        .env_remove("GIT_DIR")
        .env_remove("GIT_INDEX_FILE");
    c
}

/// The first `Tag:` value of a spec.
fn spec_tag(spec: &str, tag: &str) -> String {
    spec.lines()
        .find_map(|l| l.strip_prefix(&format!("{tag}:")))
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| panic!("no {tag}: in the spec"))
}

fn cargo_version(manifest: &str) -> String {
    manifest
        .lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .and_then(|v| v.strip_suffix('"'))
        .expect("version in Cargo.toml")
        .to_string()
}

/// The lines of a spec section (`%prep` up to the next section).
fn section(spec: &str, name: &str) -> String {
    let sections = [
        "%prep",
        "%build",
        "%install",
        "%check",
        "%files",
        "%changelog",
        "%description",
    ];
    let mut out = String::new();
    let mut inside = false;
    for l in spec.lines() {
        let word = l.split_whitespace().next().unwrap_or("");
        if sections.contains(&word) {
            inside = word == name;
            continue;
        }
        if inside {
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}

/// A fresh repository with the work tree's files (tracked and new, not
/// ignored), committed: what a maintainer's clone looks like.
fn copy_of_this_repository(dest: &Path) {
    let list = run(Command::new("git").current_dir(root()).args([
        "ls-files",
        "-z",
        "--cached",
        "--others",
        "--exclude-standard",
    ]));
    std::fs::create_dir_all(dest).unwrap();
    for name in list.stdout.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let rel = Path::new(std::str::from_utf8(name).expect("utf-8 file name"));
        let from = root().join(rel);
        if !from.is_file() {
            continue; // deleted in the work tree
        }
        let to = dest.join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&from, &to).unwrap();
    }
    run(git(dest).args(["init", "-q", "-b", "main"]));
    run(git(dest).args(["add", "-A"]));
    run(git(dest).args(["commit", "-q", "-m", "zoryn"]));
}

fn gear(repo: &Path, out: &Path) {
    let emu = root().join("tests/support/emu/bin");
    let mut c = Command::new(emu.join("gear"));
    c.current_dir(repo)
        .env("PATH", format!("{}:/usr/bin:/bin", emu.display()))
        .args(["--commit", "--no-compress"])
        .arg(out);
    run(&mut c);
}

fn tar_list(tarball: &Path) -> Vec<String> {
    let out = run(Command::new("tar").arg("-tf").arg(tarball));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

fn unpack(tarball: &Path, dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    run(Command::new("tar")
        .arg("-xf")
        .arg(tarball)
        .arg("-C")
        .arg(dir));
}

/// Run the spec's %prep (its shell, `%setup` done by us) in `dir`.
fn run_prep(spec: &str, dir: &Path) -> Output {
    let prep: String = section(spec, "%prep")
        .lines()
        .filter(|l| !l.starts_with("%setup"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(!prep.contains('%'), "unexpanded macro in %prep:\n{prep}");
    Command::new("bash")
        .args(["-e", "-c", &prep])
        .current_dir(dir)
        .output()
        .expect("run bash")
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

#[test]
fn gear_packs_zoryn_for_an_offline_hasher_build() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("zoryn");
    copy_of_this_repository(&repo);
    let spec = std::fs::read_to_string(repo.join(".gear/zoryn.spec")).unwrap();
    let manifest = std::fs::read_to_string(repo.join("Cargo.toml")).unwrap();
    let version = cargo_version(&manifest);
    assert_eq!(spec_tag(&spec, "Version"), version, "spec and Cargo.toml");
    assert_eq!(spec_tag(&spec, "Name"), "zoryn");
    assert_eq!(spec_tag(&spec, "Source"), "%name-%version.tar");

    // The vendor commit, from the local registry cache when it has every
    // crate, else from the network.
    let vendor = |extra: &[&str]| {
        Command::new("bash")
            .arg(repo.join("scripts/alt-vendor"))
            .args(extra)
            .current_dir(&repo)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@localhost")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@localhost")
            .output()
            .unwrap()
    };
    let offline = vendor(&["alt", "--", "--offline"]);
    if !offline.status.success() {
        let online = vendor(&["alt"]);
        assert!(
            online.status.success(),
            "scripts/alt-vendor failed offline:\n{}\nand online:\n{}",
            text(&offline),
            text(&online)
        );
    }
    let ls = |rev: &str| {
        String::from_utf8_lossy(&run(git(&repo).args(["ls-tree", "--name-only", rev])).stdout)
            .into_owned()
    };
    assert!(!ls("main").lines().any(|l| l == "vendor"), "vendor on main");
    assert!(ls("alt").lines().any(|l| l == "vendor"), "no vendor on alt");
    let parent = run(git(&repo).args(["rev-parse", "alt^", "main"]));
    let revs: Vec<String> = String::from_utf8_lossy(&parent.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(revs[0], revs[1], "alt is main plus one commit");

    // main alone: the tarball has no crates and %prep says what to do.
    let main_tar = tmp.path().join("main.tar");
    gear(&repo, &main_tar);
    let main_dir = tmp.path().join("main");
    unpack(&main_tar, &main_dir);
    let src = format!("zoryn-{version}");
    unpack(&main_dir.join(format!("{src}.tar")), &main_dir);
    let prep = run_prep(&spec, &main_dir.join(&src));
    assert!(!prep.status.success(), "{}", text(&prep));
    assert!(
        String::from_utf8_lossy(&prep.stderr).contains("scripts/alt-vendor"),
        "{}",
        text(&prep)
    );

    // The vendor branch: what hsh gets.
    run(git(&repo).args(["checkout", "-q", "alt"]));
    let pkg = tmp.path().join("pkg.tar");
    gear(&repo, &pkg);
    let label = run(Command::new("tar").arg("--test-label").arg("-f").arg(&pkg));
    assert_eq!(String::from_utf8_lossy(&label.stdout).trim(), "zoryn.spec");
    // (`tar -t` lists the volume label too.)
    let mut outer: Vec<String> = tar_list(&pkg)
        .into_iter()
        .filter(|e| e.starts_with("./"))
        .collect();
    outer.sort();
    assert_eq!(
        outer,
        ["./", &format!("./{src}.tar"), "./zoryn.spec"],
        "gear output"
    );
    let out_dir = tmp.path().join("out");
    unpack(&pkg, &out_dir);
    assert_eq!(
        std::fs::read_to_string(out_dir.join("zoryn.spec")).unwrap(),
        spec
    );
    let inner = tar_list(&out_dir.join(format!("{src}.tar")));
    let has = |p: &str| inner.iter().any(|e| e == &format!("{src}/{p}"));
    for f in ["Cargo.toml", "Cargo.lock", "src/main.rs", "src/lib.rs"] {
        assert!(has(f), "{f} missing from the source tarball");
    }
    assert!(
        !inner
            .iter()
            .any(|e| e.starts_with(&format!("{src}/target/"))),
        "build output packed"
    );
    // Every %doc file the spec lists.
    let docs: Vec<&str> = spec
        .lines()
        .filter_map(|l| l.strip_prefix("%doc "))
        .flat_map(str::split_whitespace)
        .collect();
    assert!(docs.contains(&"COPYING"), "no license in %doc");
    for d in docs {
        assert!(has(d), "%doc {d} missing from the source tarball");
    }
    // Every crate of Cargo.lock, as `cargo vendor --versioned-dirs` names it.
    let lock = std::fs::read_to_string(repo.join("Cargo.lock")).unwrap();
    let mut crates = 0;
    let mut name = None;
    for l in lock.lines() {
        if let Some(n) = l.strip_prefix("name = \"") {
            name = n.strip_suffix('"').map(str::to_string);
        } else if let Some(v) = l.strip_prefix("version = \"") {
            let (Some(n), Some(v)) = (name.take(), v.strip_suffix('"')) else {
                continue;
            };
            if n == "zoryn" {
                continue;
            }
            crates += 1;
            assert!(
                has(&format!("vendor/{n}-{v}/Cargo.toml")),
                "crate {n} {v} missing from vendor/"
            );
        }
    }
    assert!(crates > 50, "only {crates} crates in Cargo.lock?");

    // Offline: the spec's %prep, then cargo with nothing but the tarball.
    let build = tmp.path().join("build");
    unpack(&out_dir.join(format!("{src}.tar")), &build);
    let top = build.join(&src);
    let prep = run_prep(&spec, &top);
    assert!(prep.status.success(), "%prep: {}", text(&prep));
    let empty_home = tmp.path().join("cargo-home");
    std::fs::create_dir_all(&empty_home).unwrap();
    let metadata = |dir: &Path| {
        Command::new(cargo())
            .args(["metadata", "--offline", "--locked", "--format-version", "1"])
            .current_dir(dir)
            .env("CARGO_HOME", &empty_home)
            .env_remove("CARGO_TARGET_DIR")
            .output()
            .unwrap()
    };
    let ok = metadata(&top);
    assert!(ok.status.success(), "offline resolution: {}", text(&ok));
    // Without %prep's source replacement it would need the network: the
    // check above is not vacuous.
    std::fs::remove_dir_all(top.join(".cargo")).unwrap();
    let bad = metadata(&top);
    assert!(!bad.status.success(), "{}", text(&bad));
}
