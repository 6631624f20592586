//! `zoryn build` (plain, `-r`, `--section`) on a gear repository whose
//! rules say `specsubst: VAR` (issue 13 item 2): gear itself refuses a
//! `--commit` build without a tag, so zoryn takes the values, as gear
//! would, from the nearest annotated tag with `X-gear-specsubst:` lines and
//! hands hasher a spec without `@VAR@`. Real zoryn, git and rpmbuild; the
//! gear and hasher emulators. rpm refuses `@` in `Name:`, and the archive
//! name comes from the substituted `Name:` (`@name@` in the rules), so any
//! placeholder left over fails the build.

mod support;

use std::path::{Path, PathBuf};

use support::{both, names_in, spec, stderr, TestEnv};

/// A committed repository `subst` whose spec is `Name: subst-@flavour@` and
/// whose archive is named from the spec's name (`@name@-@version@`).
fn subst_repo(env: &TestEnv) -> PathBuf {
    let dir = env.home.join("src/subst");
    std::fs::create_dir_all(dir.join(".gear")).unwrap();
    std::fs::create_dir_all(dir.join("subst")).unwrap();
    std::fs::write(
        dir.join(".gear/rules"),
        "spec: subst.spec\ntar: subst name=@name@-@version@\nspecsubst: flavour\n",
    )
    .unwrap();
    std::fs::write(dir.join("subst/README"), "subst sources\n").unwrap();
    std::fs::write(dir.join("subst.spec"), spec("subst-@flavour@", "")).unwrap();
    env.sh(
        "git init -q . && git add -A && git commit -qm initial",
        &dir,
    );
    dir
}

/// An annotated tag on HEAD with `message`.
fn tag(env: &TestEnv, repo: &Path, name: &str, message: &str) {
    env.sh(
        &format!("git tag -a -F - {name} <<'EOF'\n{message}\nEOF"),
        repo,
    );
}

/// [`subst_repo`] with the release tagged as gear would, `flavour=main`.
fn tagged_subst_repo(env: &TestEnv) -> PathBuf {
    let repo = subst_repo(env);
    tag(
        env,
        &repo,
        "subst-1.0-alt1",
        "subst-1.0-alt1\n\nX-gear-specsubst: flavour=main",
    );
    repo
}

fn commit(env: &TestEnv, repo: &Path, what: &str) {
    env.sh(
        &format!("echo '{what}' >> subst/README && git commit -qam '{what}'"),
        repo,
    );
}

fn log_of(repo: &Path) -> String {
    std::fs::read_to_string(repo.join(".gear/build.local.log")).unwrap_or_default()
}

/// The binary packages the last build brought back.
fn results(repo: &Path) -> Vec<String> {
    names_in(&repo.join("hasher_out/local"))
        .into_iter()
        .filter(|n| !n.ends_with(".src.rpm"))
        .collect()
}

#[test]
fn build_takes_the_values_from_the_nearest_tag_as_gear_does() {
    let env = TestEnv::new();
    env.hasher_slot("hasher", None);
    let repo = subst_repo(&env);

    // No tag: what gear says, and where the values must come from.
    let out = env.zoryn(&["build"], &repo);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let e = stderr(&out);
    assert!(
        e.contains(".gear/rules line 3 has `specsubst: flavour`")
            && e.contains("no annotated tag reachable from HEAD"),
        "{e}"
    );
    assert!(e.contains("X-gear-specsubst: flavour=VALUE"), "{e}");
    assert!(
        !env.events_text().contains("build-start"),
        "nothing is built"
    );

    // The release tag carries the value; an upstream tag made later (and so
    // nearer to HEAD) has none and is passed over, as are commits and an
    // uncommitted change after the release.
    tag(
        &env,
        &repo,
        "subst-1.0-alt1",
        "subst-1.0-alt1\n\nX-gear-specsubst: flavour=main",
    );
    commit(&env, &repo, "after the release");
    tag(&env, &repo, "v2.0", "upstream 2.0");
    env.sh("echo uncommitted >> subst/README", &repo);
    let out = env.zoryn(&["build"], &repo);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!(results(&repo), ["subst-main-1.0-alt1.x86_64.rpm"]);
    assert!(names_in(&repo.join("hasher_out/local"))
        .contains(&"subst-main-1.0-alt1.src.rpm".to_string()));
    assert!(
        log_of(&repo).contains("building subst-main"),
        "{}",
        log_of(&repo)
    );
    // Only the packed spec changed: the work tree and the index did not.
    assert!(std::fs::read_to_string(repo.join("subst.spec"))
        .unwrap()
        .contains("Name: subst-@flavour@"));
    let status = env.sh("git status --porcelain", &repo);
    assert_eq!(
        String::from_utf8_lossy(&status.stdout).trim(),
        "M subst/README",
        "the index was touched"
    );

    // A newer release tag with another value wins.
    env.sh("git commit -qam next", &repo);
    tag(
        &env,
        &repo,
        "subst-1.0-alt2",
        "subst-1.0-alt2\n\nX-gear-specsubst: flavour=extra",
    );
    std::fs::remove_dir_all(repo.join("hasher_out/local")).unwrap();
    let out = env.zoryn(&["build"], &repo);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!(results(&repo), ["subst-extra-1.0-alt1.x86_64.rpm"]);

    // The nearest tag with values lacks this variable: gear's complaint,
    // with the rules line and the tag.
    commit(&env, &repo, "third");
    tag(
        &env,
        &repo,
        "subst-1.0-alt3",
        "subst-1.0-alt3\n\nX-gear-specsubst: other=1",
    );
    let out = env.zoryn(&["build"], &repo);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let e = stderr(&out);
    assert!(
        e.contains(".gear/rules line 3 has `specsubst: flavour`, but tag subst-1.0-alt3")
            && e.contains("defines no value for flavour"),
        "{e}"
    );
}

#[test]
fn rebuild_and_sections_get_the_substituted_spec() {
    let env = TestEnv::new();
    let workdir = env.hasher_slot("hasher", None);
    let repo = tagged_subst_repo(&env);
    let out = env.zoryn(&["build"], &repo);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));

    std::fs::remove_dir_all(repo.join("hasher_out/local")).unwrap();
    let out = env.zoryn(&["build", "-r"], &repo);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!(results(&repo), ["subst-main-1.0-alt1.x86_64.rpm"]);
    std::fs::remove_dir_all(repo.join("hasher_out/local")).unwrap();

    let section = |name: &str| {
        let out = env.zoryn(&["build", "--section", name], &repo);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", both(&out));
        log_of(&repo)
    };
    section("prep");
    // %setup unpacked the archive named after the substituted Name.
    assert!(workdir
        .join("chroot/usr/src/RPM/BUILD/subst-main-1.0/README")
        .is_file());
    let log = section("build");
    assert!(log.contains("building subst-main"), "{log}");
    assert!(!log.contains("@flavour@"), "{log}");
    section("install");
    section("bb");
    assert_eq!(results(&repo), ["subst-main-1.0-alt1.x86_64.rpm"]);
}

#[test]
fn a_remote_builder_gets_the_substituted_spec_too() {
    let env = TestEnv::new();
    let host = env.remote_builder("arm", "arm", "aarch64", "aarch64", 1);
    let repo = tagged_subst_repo(&env);
    let out = env.zoryn(&["build", "-b", "arm"], &repo);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(
        names_in(&repo.join("hasher_out/arm"))
            .contains(&"subst-main-1.0-alt1.aarch64.rpm".to_string()),
        "{:?}",
        names_in(&repo.join("hasher_out/arm"))
    );
    let out = env.zoryn(&["build", "-b", "arm", "--section", "prep"], &repo);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(host
        .home
        .join("hasher_1/chroot/usr/src/RPM/BUILD/subst-main-1.0/README")
        .is_file());
}

#[test]
fn the_run_header_names_the_substituted_package() {
    let env = TestEnv::new();
    env.hasher_slot("hasher", None);
    let repo = tagged_subst_repo(&env);
    let out = env.zoryn(&["build"], &repo);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let text = both(&out);
    assert!(text.contains("building subst-main 1.0-alt1"), "{text}");
    assert!(!text.contains("@flavour@"), "{text}");
}
