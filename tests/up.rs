//! `zoryn up` end to end: real zoryn binary as the test account, real git
//! (local upstream repositories), a loopback HTTP server and `file://` for
//! release archives, the gear/hasher emulators for the build.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use support::{both, names_in, stderr, stdout, TestEnv};

/// An upstream git repository with annotated tags `v1.0` and `later`
/// (made after the packaging repository was cloned, so `up` must fetch
/// them), and a packaging repository cloned from it: branch `sisyphus` at
/// v1.0, remote `upstream`, `.gear/rules` with `tar: v@version@:.`, v1.0
/// stored in `.gear/tags` as gear-store-tags does.
fn git_layout(env: &TestEnv, later: &[&str], packaging_readme: Option<&str>) -> (PathBuf, PathBuf) {
    let up = env.home.join("upstream/hello");
    std::fs::create_dir_all(&up).unwrap();
    env.sh(
        "git init -q . && echo 'hello 1.0' > README && git add -A && git commit -qm 'hello 1.0' && git tag -a v1.0 -m 'hello 1.0'",
        &up,
    );
    let pkg = env.home.join("src/hello");
    std::fs::create_dir_all(env.home.join("src")).unwrap();
    env.sh(
        &format!(
            "git clone -q {} hello && cd hello && git remote rename origin upstream && git checkout -q -b sisyphus v1.0",
            up.display()
        ),
        &env.home.join("src"),
    );
    std::fs::create_dir_all(pkg.join(".gear/tags")).unwrap();
    std::fs::write(pkg.join("hello.spec"), support::spec("hello", "")).unwrap();
    std::fs::write(
        pkg.join(".gear/rules"),
        "spec: hello.spec\ntar: v@version@:.\n",
    )
    .unwrap();
    let mut script = String::from(
        "sha=$(git rev-parse v1.0) && git cat-file tag $sha > .gear/tags/$sha && echo \"$sha v1.0\" > .gear/tags/list",
    );
    if let Some(text) = packaging_readme {
        script.push_str(&format!(" && echo '{text}' > README"));
    }
    script.push_str(" && git add -A && git commit -qm 1.0-alt1");
    env.sh(&script, &pkg);
    for v in later {
        env.sh(
            &format!("echo 'hello {v}' > README && git commit -qam 'hello {v}' && git tag -a v{v} -m 'hello {v}'"),
            &up,
        );
    }
    (up, pkg)
}

/// Everything `--abort` must restore and "up to date" must not change:
/// HEAD and its branch, every ref (branches and tags), the index, the
/// state of every file, the bytes of every file outside .git, no merge.
fn snapshot(env: &TestEnv, repo: &Path) -> String {
    let out = env.sh(
        "git symbolic-ref -q HEAD || echo detached; git rev-parse HEAD; git for-each-ref; git ls-files -s; \
         git status --porcelain --untracked-files=all --ignored; \
         find . -path ./.git -prune -o -type f -print0 | sort -z | xargs -0 sha256sum; \
         find . -path ./.git -prune -o -print | sort; \
         if test -e .git/MERGE_HEAD; then echo merging; else echo no-merge; fi",
        repo,
    );
    stdout(&out)
}

fn git(env: &TestEnv, repo: &Path, cmd: &str) -> String {
    stdout(&env.sh(&format!("git {cmd}"), repo))
        .trim_end()
        .to_string()
}

fn journal_files(env: &TestEnv) -> Vec<String> {
    names_in(&env.home.join(".local/state/zoryn/up"))
}

#[test]
fn git_layout_end_to_end_fetches_merges_stores_the_tag_edits_the_spec_commits_and_builds() {
    let env = TestEnv::new();
    env.hasher_slot("hasher", None);
    let (up, pkg) = git_layout(&env, &["1.1", "1.10", "1.9", "2.0rc1"], None);
    // A tag of another form: .gear/rules says `v@version@`, so gear could
    // never find `2.5` from the spec's Version; it is not a candidate.
    env.sh("git tag 2.5", &up);
    // A hook that edits a tracked file (committed with the update) and
    // records its environment.
    std::fs::create_dir_all(pkg.join(".gear/up.d")).unwrap();
    std::fs::write(
        pkg.join(".gear/up.d/10-notes"),
        "#!/bin/sh\nset -e\necho \"$1: $ZORYN_UP_OLD_VERSION -> $ZORYN_UP_NEW_VERSION in $ZORYN_UP_REPO ($(pwd))\" >> NOTES\n",
    )
    .unwrap();
    // The zoryn family's merge-up.d runs first, with the tag and commit.
    std::fs::create_dir_all(pkg.join(".gear/merge-up.d")).unwrap();
    std::fs::write(
        pkg.join(".gear/merge-up.d/01-tag"),
        "#!/bin/sh\necho \"merge-up $1 $TAG $COMMIT $SHORTCOMMIT\" >> NOTES\n",
    )
    .unwrap();
    std::fs::write(
        pkg.join(".gear/up.d/README.txt"),
        "not executable: not run\n",
    )
    .unwrap();
    std::fs::write(pkg.join("NOTES"), "notes\n").unwrap();
    env.sh(
        "chmod +x .gear/up.d/10-notes .gear/merge-up.d/01-tag && git add -A && git commit -qm hooks",
        &pkg,
    );
    let before = git(&env, &pkg, "rev-parse HEAD");

    let out = env.zoryn(&["up", "-v", "-b", "local"], &pkg);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let err = stderr(&out);
    // rpm order: 1.10 > 1.9; 2.0rc1 is a prerelease.
    assert!(
        err.contains("zoryn: up: detect: 1.0 -> 1.10 (v1.10)"),
        "{err}"
    );
    for stage in [
        "detect", "fetch", "merge", "hooks", "spec", "commit", "build",
    ] {
        assert!(
            err.contains(&format!("zoryn: up: {stage}")),
            "no {stage} line:\n{err}"
        );
    }

    // Built by `zoryn build`: results and log where it leaves them.
    assert_eq!(
        names_in(&pkg.join("hasher_out/local")),
        ["hello-1.10-alt1.src.rpm", "hello-1.10-alt1.x86_64.rpm"]
    );
    assert!(
        stdout(&out).contains("local    x86_64  sisyphus  OK"),
        "{}",
        stdout(&out)
    );

    // The merge brought upstream 1.10; the update is one more commit on the
    // same branch, in gear-commit style.
    assert_eq!(git(&env, &pkg, "symbolic-ref HEAD"), "refs/heads/sisyphus");
    assert_eq!(
        std::fs::read_to_string(pkg.join("README")).unwrap(),
        "hello 1.10\n"
    );
    assert_eq!(
        git(&env, &pkg, "log -1 --format=%B"),
        "1.10-alt1\n\n- 1.0 -> 1.10"
    );
    assert_eq!(git(&env, &pkg, "rev-parse HEAD^1^1"), before);
    assert_eq!(
        git(&env, &pkg, "rev-parse HEAD^1^2"),
        git(&env, &pkg, "rev-parse v1.10^{commit}")
    );
    assert_eq!(
        git(&env, &pkg, "status --porcelain --untracked-files=no"),
        ""
    );

    // .gear/tags as gear-store-tags writes it: list line and tag object.
    let tag_sha = git(&env, &pkg, "rev-parse v1.10");
    let list = git(&env, &pkg, "show HEAD:.gear/tags/list");
    assert!(
        list.lines().any(|l| l == format!("{tag_sha} v1.10")),
        "{list}"
    );
    assert!(list.lines().any(|l| l.ends_with(" v1.0")), "{list}");
    assert_eq!(
        git(&env, &pkg, &format!("show HEAD:.gear/tags/{tag_sha}")),
        git(&env, &pkg, &format!("cat-file tag {tag_sha}"))
    );

    // The spec: Version, Release, the changelog entry in ALT's format.
    let spec = std::fs::read_to_string(pkg.join("hello.spec")).unwrap();
    assert!(spec.contains("\nVersion: 1.10\nRelease: alt1\n"), "{spec}");
    let entry = spec.split("%changelog\n").nth(1).unwrap();
    let header = entry.lines().next().unwrap();
    assert!(header.starts_with("* "), "{entry}");
    assert!(
        header.ends_with(" Test Maintainer <test@example.invalid> 1.10-alt1"),
        "{header}"
    );
    let date = &header[2..17];
    assert_eq!(date.len(), 15, "{header}");
    assert!(
        entry.starts_with(&format!("{header}\n- 1.0 -> 1.10\n\n* Sat Nov 28 2026")),
        "{entry}"
    );

    // The hook ran after the merge, with its documented environment, and
    // its change is in the commit.
    let notes = git(&env, &pkg, "show HEAD:NOTES");
    let repo_path = pkg.canonicalize().unwrap();
    let commit = git(&env, &pkg, "rev-parse v1.10^{commit}");
    assert_eq!(
        notes,
        format!(
            "notes\nmerge-up 1.10 v1.10 {commit} {}\n1.10: 1.0 -> 1.10 in {} ({})",
            &commit[..7],
            repo_path.display(),
            repo_path.display()
        )
    );
    // Nothing left behind: the journal is gone once every stage is done.
    assert_eq!(journal_files(&env), Vec::<String>::new());
    // Nothing pushed: the upstream repository has no packaging commit.
    assert!(!git(&env, &up, "log --all --format=%s").contains("1.10-alt1"));
}

#[test]
fn up_to_date_changes_nothing_and_names_skipped_prereleases_then_force_takes_one() {
    let env = TestEnv::new();
    env.hasher_slot("hasher", None);
    let (_up, pkg) = git_layout(&env, &["0.9", "1.1rc1"], None);
    let before = snapshot(&env, &pkg);
    let out = env.zoryn(&["up", "-b", "local"], &pkg);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(
        stdout(&out).contains("already up to date: 1.0"),
        "{}",
        both(&out)
    );
    assert!(
        stderr(&out).contains("newer prereleases skipped: 1.1rc1 (take them with -f)"),
        "{}",
        both(&out)
    );
    assert_eq!(
        snapshot(&env, &pkg),
        before,
        "an up-to-date `up` changed the repository"
    );
    assert_eq!(journal_files(&env), Vec::<String>::new());
    assert!(
        !env.events_text().contains("build-start"),
        "it built:\n{}",
        env.events_text()
    );

    let out = env.zoryn(&["up", "-f", "-b", "local"], &pkg);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!(
        names_in(&pkg.join("hasher_out/local")),
        ["hello-1.1rc1-alt1.src.rpm", "hello-1.1rc1-alt1.x86_64.rpm"]
    );
}

#[test]
fn conflict_stops_at_merge_listing_files_and_continue_finishes() {
    let env = TestEnv::new();
    env.hasher_slot("hasher", None);
    let (_up, pkg) = git_layout(&env, &["1.1"], Some("packaged readme"));
    let out = env.zoryn(&["up", "-b", "local"], &pkg);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let err = stderr(&out);
    assert!(
        err.contains("merging upstream tag `v1.1` stopped with conflicts in: README"),
        "{err}"
    );
    assert!(err.contains("zoryn up --continue"), "{err}");
    assert!(!env.events_text().contains("build-start"));
    assert_eq!(journal_files(&env).len(), 1, "{:?}", journal_files(&env));

    // Continuing before resolving stops again, naming the file.
    let out = env.zoryn(&["up", "--continue", "-b", "local"], &pkg);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    assert!(
        stderr(&out).contains("conflicts in: README"),
        "{}",
        both(&out)
    );

    std::fs::write(pkg.join("README"), "hello 1.1, packaged\n").unwrap();
    env.sh("git add README", &pkg);
    let out = env.zoryn(&["up", "--continue", "-b", "local"], &pkg);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!(
        names_in(&pkg.join("hasher_out/local")),
        ["hello-1.1-alt1.src.rpm", "hello-1.1-alt1.x86_64.rpm"]
    );
    assert_eq!(git(&env, &pkg, "log -1 --format=%s"), "1.1-alt1");
    assert_eq!(git(&env, &pkg, "show HEAD^:README"), "hello 1.1, packaged");
    assert_eq!(journal_files(&env), Vec::<String>::new());
}

#[test]
fn abort_after_a_conflict_restores_everything_byte_for_byte() {
    let env = TestEnv::new();
    env.hasher_slot("hasher", None);
    let (_up, pkg) = git_layout(&env, &["1.1"], Some("packaged readme"));
    let before = snapshot(&env, &pkg);
    let out = env.zoryn(&["up", "-b", "local"], &pkg);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    assert_ne!(
        snapshot(&env, &pkg),
        before,
        "the conflict left no trace: setup broken"
    );
    let out = env.zoryn(&["up", "--abort"], &pkg);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!(snapshot(&env, &pkg), before);
    assert_eq!(journal_files(&env), Vec::<String>::new());
    let out = env.zoryn(&["up", "--continue"], &pkg);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert!(
        stderr(&out).contains("no update in progress"),
        "{}",
        both(&out)
    );
}

#[test]
fn failing_hook_stops_before_the_spec_and_abort_restores_tags_and_index() {
    let env = TestEnv::new();
    env.hasher_slot("hasher", None);
    let (_up, pkg) = git_layout(&env, &["1.1"], None);
    std::fs::create_dir_all(pkg.join(".gear/up.d")).unwrap();
    std::fs::write(
        pkg.join(".gear/up.d/50-check"),
        "#!/bin/sh\necho \"checking $ZORYN_UP_NEW_VERSION\"\necho 'license changed upstream' >&2\nexit 3\n",
    )
    .unwrap();
    env.sh(
        "chmod +x .gear/up.d/50-check && git add -A && git commit -qm hook",
        &pkg,
    );
    let before = snapshot(&env, &pkg);
    let out = env.zoryn(&["up", "-b", "local"], &pkg);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let err = stderr(&out);
    assert!(
        err.contains("hook .gear/up.d/50-check failed (exit 3)"),
        "{err}"
    );
    assert!(err.contains("license changed upstream"), "{err}");
    // Stopped after the merge (tag stored, staged), before the spec.
    assert!(std::fs::read_to_string(pkg.join("hello.spec"))
        .unwrap()
        .contains("Version: 1.0\n"));
    assert!(git(&env, &pkg, "diff --cached --name-only").contains(".gear/tags/list"));
    assert!(!env.events_text().contains("build-start"));

    let out = env.zoryn(&["up", "--abort"], &pkg);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!(snapshot(&env, &pkg), before);
}

#[test]
fn failing_build_keeps_the_commit_and_continue_reruns_only_the_build() {
    let mut env = TestEnv::new();
    env.hasher_slot("hasher", None);
    let (_up, pkg) = git_layout(&env, &["1.1"], None);
    env.extra_env
        .push(("HASHER_EMU_FAIL".into(), "build".into()));
    let out = env.zoryn(&["up", "-b", "local"], &pkg);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    assert!(
        stdout(&out).contains("local    x86_64  sisyphus  FAIL"),
        "{}",
        both(&out)
    );
    assert!(
        stderr(&out).contains("the update commit is kept"),
        "{}",
        both(&out)
    );
    let commit = git(&env, &pkg, "rev-parse HEAD");
    assert_eq!(git(&env, &pkg, "log -1 --format=%s"), "1.1-alt1");

    env.extra_env.clear();
    let out = env.zoryn(&["up", "--continue", "-b", "local"], &pkg);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let err = stderr(&out);
    for stage in ["detect", "fetch", "merge", "hooks", "spec", "commit"] {
        assert!(
            !err.contains(&format!("zoryn: up: {stage}")),
            "{stage} ran again:\n{err}"
        );
    }
    assert!(err.contains("zoryn: up: build: done"), "{err}");
    assert_eq!(git(&env, &pkg, "rev-parse HEAD"), commit);
    assert_eq!(
        env.events_text().matches("build-start").count(),
        2,
        "{}",
        env.events_text()
    );
    assert_eq!(
        names_in(&pkg.join("hasher_out/local")),
        ["hello-1.1-alt1.src.rpm", "hello-1.1-alt1.x86_64.rpm"]
    );
}

/// Release archives `hello-V.tar.gz` (top directory `hello-V/` with a
/// README) in `dir`.
fn release_archives(env: &TestEnv, dir: &Path, versions: &[&str]) {
    std::fs::create_dir_all(dir).unwrap();
    for v in versions {
        env.sh(
            &format!("mkdir -p t/hello-{v} && echo 'hello {v}' > t/hello-{v}/README && echo new > t/hello-{v}/NEWFILE && tar -C t -czf hello-{v}.tar.gz hello-{v} && rm -rf t"),
            dir,
        );
    }
}

/// A loopback HTTP/1.0 server for `dir`: `/rel/` is an HTML index
/// linking to the files; counts the requests it answered.
fn http_server(dir: PathBuf) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            loop {
                let mut l = String::new();
                if reader.read_line(&mut l).unwrap_or(0) == 0 || l == "\r\n" || l == "\n" {
                    break;
                }
            }
            h.fetch_add(1, Ordering::SeqCst);
            let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
            let (status, body): (&str, Vec<u8>) = if path == "/rel/" {
                let mut names = names_in(&dir);
                names.retain(|n| n.ends_with(".tar.gz"));
                let links: String = names
                    .iter()
                    .map(|n| format!("<a href=\"{n}\">{n}</a><br>\n"))
                    .collect();
                (
                    "200 OK",
                    format!("<html><body>\n{links}<a href=\"../\">up</a></body></html>\n")
                        .into_bytes(),
                )
            } else if let Some(name) = path.strip_prefix("/rel/") {
                match std::fs::read(dir.join(name)) {
                    Ok(b) if !name.contains('/') => ("200 OK", b),
                    _ => ("404 Not Found", b"not found\n".to_vec()),
                }
            } else {
                ("404 Not Found", b"not found\n".to_vec())
            };
            let _ = write!(
                stream,
                "HTTP/1.0 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(&body);
        }
    });
    (port, hits)
}

fn tarball_repo(env: &TestEnv, watch: &str) -> PathBuf {
    let pkg = env.gear_repo("hello", "");
    std::fs::write(pkg.join("hello/OLDFILE"), "gone after the import\n").unwrap();
    std::fs::write(pkg.join(".gear/hello.watch"), watch).unwrap();
    env.sh("git add -A && git commit -qm watch", &pkg);
    pkg
}

#[test]
fn tarball_layout_over_http_imports_the_newest_archive_and_builds() {
    let env = TestEnv::new();
    env.hasher_slot("hasher", None);
    let rel = env.root.join("releases");
    release_archives(&env, &rel, &["0.9", "1.2", "1.10"]);
    let (port, hits) = http_server(rel);
    let pkg = tarball_repo(
        &env,
        &format!(
            "version=4\n# releases\nhttp://127.0.0.1:{port}/rel/ hello-(\\d[\\d.]*)\\.tar\\.gz\n"
        ),
    );
    let out = env.zoryn(&["up", "-v", "-b", "local"], &pkg);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    // -v: each stage with its duration (the measurement in the report).
    for l in stderr(&out)
        .lines()
        .filter(|l| l.starts_with("zoryn: up: ") && l.ends_with(" s)"))
    {
        eprintln!("{l}");
    }
    assert!(
        hits.load(Ordering::SeqCst) >= 2,
        "the HTTP server was not used"
    );
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "1.0 -> 1.10 (http://127.0.0.1:{port}/rel/hello-1.10.tar.gz)"
        )),
        "{err}"
    );
    assert!(
        err.contains("zoryn: up: import: hello-1.10.tar.gz into hello/"),
        "{err}"
    );
    // gear-update's result: the upstream directory is the archive's tree.
    assert_eq!(
        std::fs::read_to_string(pkg.join("hello/README")).unwrap(),
        "hello 1.10\n"
    );
    assert!(pkg.join("hello/NEWFILE").is_file());
    assert!(!pkg.join("hello/OLDFILE").exists());
    assert_eq!(git(&env, &pkg, "log -1 --format=%s"), "1.10-alt1");
    assert_eq!(
        git(&env, &pkg, "log -1 --skip=1 --format=%s"),
        "hello: import upstream 1.10 (hello-1.10.tar.gz)"
    );
    assert_eq!(
        git(&env, &pkg, "status --porcelain --untracked-files=no"),
        ""
    );
    assert_eq!(
        names_in(&pkg.join("hasher_out/local")),
        ["hello-1.10-alt1.src.rpm", "hello-1.10-alt1.x86_64.rpm"]
    );
}

#[test]
fn tarball_layout_over_file_url_and_up_to_date() {
    let env = TestEnv::new();
    env.hasher_slot("hasher", None);
    let rel = env.root.join("releases");
    release_archives(&env, &rel, &["1.0", "1.1"]);
    let pkg = tarball_repo(
        &env,
        &format!(
            "version=4\nfile://{}/hello-(\\d[\\d.]*)\\.tar\\.gz\n",
            rel.display()
        ),
    );
    let out = env.zoryn(&["up", "-b", "local"], &pkg);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!(
        std::fs::read_to_string(pkg.join("hello/README")).unwrap(),
        "hello 1.1\n"
    );
    assert_eq!(
        names_in(&pkg.join("hasher_out/local")),
        ["hello-1.1-alt1.src.rpm", "hello-1.1-alt1.x86_64.rpm"]
    );
    let before = snapshot(&env, &pkg);
    let out = env.zoryn(&["up", "-b", "local"], &pkg);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(
        stdout(&out).contains("already up to date: 1.1"),
        "{}",
        both(&out)
    );
    assert_eq!(snapshot(&env, &pkg), before);
}

#[test]
fn bad_watch_file_names_file_and_line() {
    let env = TestEnv::new();
    let pkg = tarball_repo(
        &env,
        "version=4\n\nhttp://127.0.0.1:9/rel/ nogroup\\.tar\\.gz\n",
    );
    let before = snapshot(&env, &pkg);
    let out = env.zoryn(&["up"], &pkg);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert!(
        stderr(&out).contains(".gear/hello.watch:3: pattern `nogroup\\.tar\\.gz` has no (group)"),
        "{}",
        both(&out)
    );
    // Nothing changed and no update is in progress: fix and run again.
    assert_eq!(snapshot(&env, &pkg), before);
    assert_eq!(journal_files(&env), Vec::<String>::new());
}

#[test]
fn unreachable_release_page_is_an_infrastructure_error_naming_the_url() {
    let env = TestEnv::new();
    let rel = env.root.join("releases");
    release_archives(&env, &rel, &["1.1"]);
    let (port, hits) = http_server(rel);
    let pkg = tarball_repo(
        &env,
        &format!("version=4\nhttp://127.0.0.1:{port}/missing/ hello-(\\d[\\d.]*)\\.tar\\.gz\n"),
    );
    let out = env.zoryn(&["up"], &pkg);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    assert!(
        stderr(&out).contains(&format!("cannot fetch http://127.0.0.1:{port}/missing/")),
        "{}",
        both(&out)
    );
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    assert_eq!(journal_files(&env), Vec::<String>::new());
}

#[test]
fn uncommitted_changes_are_refused() {
    let env = TestEnv::new();
    let (_up, pkg) = git_layout(&env, &["1.1"], None);
    std::fs::write(pkg.join("hello.spec"), "changed\n").unwrap();
    let out = env.zoryn(&["up"], &pkg);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert!(
        stderr(&out).contains("uncommitted changes in hello.spec"),
        "{}",
        both(&out)
    );
    assert_eq!(journal_files(&env), Vec::<String>::new());
}

#[test]
fn up_on_a_remote_and_a_local_builder() {
    let env = TestEnv::new();
    env.hasher_slot("hasher", None);
    let _host = env.remote_builder("arm", "arm", "aarch64", "aarch64", 1);
    let (_up, pkg) = git_layout(&env, &["1.1"], None);
    let out = env.zoryn(&["up", "-v", "-b", "arm,local", "-p"], &pkg);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!(
        names_in(&pkg.join("hasher_out/arm")),
        ["hello-1.1-alt1.aarch64.rpm", "hello-1.1-alt1.src.rpm"]
    );
    assert_eq!(
        names_in(&pkg.join("hasher_out/local")),
        ["hello-1.1-alt1.src.rpm", "hello-1.1-alt1.x86_64.rpm"]
    );
    eprintln!(
        "{}",
        stderr(&out)
            .lines()
            .filter(|l| l.starts_with("zoryn: up:"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

fn interrupt(child: &std::process::Child) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
}

fn wait_for_file(p: &Path) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !p.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "{} never appeared",
            p.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn ctrl_c_in_a_hook_exits_130_and_abort_restores_everything() {
    let env = TestEnv::new();
    env.hasher_slot("hasher", None);
    let (_up, pkg) = git_layout(&env, &["1.1"], None);
    std::fs::create_dir_all(pkg.join(".gear/up.d")).unwrap();
    std::fs::write(
        pkg.join(".gear/up.d/10-slow"),
        "#!/bin/sh\ntouch \"$HOME/hook-started\"\nexec sleep 600\n",
    )
    .unwrap();
    env.sh(
        "chmod +x .gear/up.d/10-slow && git add -A && git commit -qm hook",
        &pkg,
    );
    let before = snapshot(&env, &pkg);
    let child = env.spawn_zoryn(&["up", "-b", "local"], &pkg);
    wait_for_file(&env.home.join("hook-started"));
    interrupt(&child);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", both(&out));
    assert!(
        stderr(&out).contains("interrupted while hook .gear/up.d/10-slow ran"),
        "{}",
        both(&out)
    );
    // The journal was written: the update is resumable or abortable.
    let journal = journal_files(&env);
    assert_eq!(journal.len(), 1, "{journal:?}");
    let text =
        std::fs::read_to_string(env.home.join(".local/state/zoryn/up").join(&journal[0])).unwrap();
    let j: serde_json::Value = serde_json::from_str(&text).unwrap();
    let hooks = j["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == "hooks")
        .unwrap();
    assert_eq!(hooks["state"], "running", "{text}");
    assert_eq!(j["new_version"], "1.1", "{text}");
    let out = env.zoryn(&["up", "--abort"], &pkg);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!(snapshot(&env, &pkg), before);
    assert_eq!(journal_files(&env), Vec::<String>::new());
}

#[test]
fn ctrl_c_in_the_build_keeps_the_commit_and_continue_builds() {
    let mut env = TestEnv::new();
    env.hasher_slot("hasher", None);
    let (_up, pkg) = git_layout(&env, &["1.1"], None);
    env.extra_env
        .push(("HASHER_EMU_HANG".into(), "build".into()));
    let child = env.spawn_zoryn(&["up", "-b", "local"], &pkg);
    env.wait_for_event("build-start", std::time::Duration::from_secs(60));
    interrupt(&child);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", both(&out));
    let commit = git(&env, &pkg, "rev-parse HEAD");
    assert_eq!(git(&env, &pkg, "log -1 --format=%s"), "1.1-alt1");
    env.extra_env.clear();
    let out = env.zoryn(&["up", "--continue", "-b", "local"], &pkg);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(
        !stderr(&out).contains("zoryn: up: commit"),
        "{}",
        both(&out)
    );
    assert_eq!(git(&env, &pkg, "rev-parse HEAD"), commit);
    assert_eq!(
        names_in(&pkg.join("hasher_out/local")),
        ["hello-1.1-alt1.src.rpm", "hello-1.1-alt1.x86_64.rpm"]
    );
}

#[test]
fn stage_runs_one_stage_and_from_goes_on_past_a_failing_hook() {
    let env = TestEnv::new();
    env.hasher_slot("hasher", None);
    let (_up, pkg) = git_layout(&env, &["1.1"], None);
    std::fs::create_dir_all(pkg.join(".gear/up.d")).unwrap();
    std::fs::write(pkg.join(".gear/up.d/50-fail"), "#!/bin/sh\nexit 1\n").unwrap();
    env.sh(
        "chmod +x .gear/up.d/50-fail && git add -A && git commit -qm hook",
        &pkg,
    );
    let out = env.zoryn(&["up", "-b", "local"], &pkg);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let head = git(&env, &pkg, "rev-parse HEAD");

    // One stage: the spec is edited, nothing committed, nothing built.
    let out = env.zoryn(&["up", "--stage", "spec"], &pkg);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let spec = std::fs::read_to_string(pkg.join("hello.spec")).unwrap();
    assert!(spec.contains("Version: 1.1\n"), "{spec}");
    assert_eq!(git(&env, &pkg, "rev-parse HEAD"), head);
    assert!(!env.events_text().contains("build-start"));
    assert_eq!(journal_files(&env).len(), 1);

    // From a stage on: commit and build; the failed hook is not run again.
    let out = env.zoryn(&["up", "--from", "commit", "-b", "local"], &pkg);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(!stderr(&out).contains("50-fail"), "{}", both(&out));
    assert_eq!(git(&env, &pkg, "log -1 --format=%s"), "1.1-alt1");
    assert_eq!(
        names_in(&pkg.join("hasher_out/local")),
        ["hello-1.1-alt1.src.rpm", "hello-1.1-alt1.x86_64.rpm"]
    );
    assert_eq!(journal_files(&env), Vec::<String>::new());

    // A stage the scheme does not have is refused by name.
    let out = env.zoryn(&["up", "--stage", "import"], &pkg);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
}

#[test]
fn restart_undoes_the_update_in_progress_and_runs_it_again() {
    let mut env = TestEnv::new();
    env.hasher_slot("hasher", None);
    let (_up, pkg) = git_layout(&env, &["1.1"], None);
    let orig = git(&env, &pkg, "rev-parse HEAD");
    env.extra_env
        .push(("HASHER_EMU_FAIL".into(), "build".into()));
    let out = env.zoryn(&["up", "-b", "local"], &pkg);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    env.extra_env.clear();
    let out = env.zoryn(&["up", "--restart", "-b", "local"], &pkg);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(
        stderr(&out).contains("zoryn: up: detect: 1.0 -> 1.1"),
        "{}",
        both(&out)
    );
    // One merge, one update commit on top of the original HEAD: the first
    // attempt's commits are gone.
    assert_eq!(git(&env, &pkg, "rev-parse HEAD^1^1"), orig);
    assert_eq!(
        git(&env, &pkg, &format!("rev-list --count {orig}..HEAD")),
        "3"
    );
}

#[test]
fn given_tag_skips_detection() {
    let env = TestEnv::new();
    env.hasher_slot("hasher", None);
    let (_up, pkg) = git_layout(&env, &["1.1", "1.2"], None);
    let out = env.zoryn(&["up", "--tag", "v1.1", "-b", "local"], &pkg);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(
        stderr(&out).contains("1.0 -> 1.1 (tag v1.1, given)"),
        "{}",
        both(&out)
    );
    assert_eq!(
        names_in(&pkg.join("hasher_out/local")),
        ["hello-1.1-alt1.src.rpm", "hello-1.1-alt1.x86_64.rpm"]
    );
    let before = snapshot(&env, &pkg);
    let out = env.zoryn(&["up", "--tag", "v1.1"], &pkg);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(
        stdout(&out).contains("already up to date: 1.1"),
        "{}",
        both(&out)
    );
    let out = env.zoryn(&["up", "--tag", "v1.0"], &pkg);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert!(
        stderr(&out).contains("--tag v1.0: version 1.0 is older than the spec's 1.1"),
        "{}",
        both(&out)
    );
    assert_eq!(snapshot(&env, &pkg), before);
    let out = env.zoryn(&["up", "--tag", "v9.9"], &pkg);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert!(
        stderr(&out).contains("--tag v9.9: no such tag"),
        "{}",
        both(&out)
    );
}

#[test]
fn unrelated_upstream_history_needs_the_flag() {
    let env = TestEnv::new();
    env.hasher_slot("hasher", None);
    let up = env.home.join("upstream/hello");
    std::fs::create_dir_all(&up).unwrap();
    env.sh(
        "git init -q . && echo 'hello 1.0' > README && git add -A && git commit -qm 1.0 && git tag -a v1.0 -m 1.0 \
         && echo 'hello 1.1' > README && git commit -qam 1.1 && git tag -a v1.1 -m 1.1",
        &up,
    );
    // Packaging that imported upstream without its history.
    let pkg = env.home.join("src/hello");
    std::fs::create_dir_all(pkg.join(".gear")).unwrap();
    std::fs::write(pkg.join("hello.spec"), support::spec("hello", "")).unwrap();
    std::fs::write(
        pkg.join(".gear/rules"),
        "spec: hello.spec\ntar: v@version@:.\n",
    )
    .unwrap();
    env.sh(
        &format!("git init -q -b sisyphus . && git add -A && git commit -qm 1.0-alt1 && git remote add upstream {}", up.display()),
        &pkg,
    );
    let before = snapshot(&env, &pkg);
    let out = env.zoryn(&["up", "-b", "local"], &pkg);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert!(
        stderr(&out).contains("--allow-unrelated-histories"),
        "{}",
        both(&out)
    );
    let out = env.zoryn(&["up", "--abort"], &pkg);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!(snapshot(&env, &pkg), before);
    let out = env.zoryn(&["up", "--allow-unrelated-histories", "-b", "local"], &pkg);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!(
        names_in(&pkg.join("hasher_out/local")),
        ["hello-1.1-alt1.src.rpm", "hello-1.1-alt1.x86_64.rpm"]
    );
}

#[test]
fn version_macro_epoch_packager_and_up_template() {
    let env = TestEnv::new();
    env.hasher_slot("hasher", None);
    env.write(
        ".zoryn",
        "[add_changelog]\nup_template = \"New version {new_version} of {name} (was {old_version}).\"\n",
    );
    let rel = env.root.join("releases");
    release_archives(&env, &rel, &["1.0", "2.1"]);
    let pkg = tarball_repo(
        &env,
        &format!(
            "version=4\nfile://{}/ hello-(\\d[\\d.]*)\\.tar\\.gz\n",
            rel.display()
        ),
    );
    let spec = std::fs::read_to_string(pkg.join("hello.spec")).unwrap();
    let spec = format!(
        "%define ver 1.0\n{}",
        spec.replace("Version: 1.0\n", "Version: %ver\nEpoch: 2\n")
    );
    std::fs::write(pkg.join("hello.spec"), spec).unwrap();
    env.sh("git commit -qam 'version from a macro'", &pkg);
    let out = env.zoryn(
        &[
            "up",
            "-b",
            "local",
            "--packager",
            "Other Packager <other@example.invalid>",
        ],
        &pkg,
    );
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let spec = std::fs::read_to_string(pkg.join("hello.spec")).unwrap();
    assert!(spec.starts_with("%define ver 2.1\n"), "{spec}");
    assert!(spec.contains("\nVersion: %ver\nEpoch: 2\n"), "{spec}");
    let entry = spec.split("%changelog\n").nth(1).unwrap();
    let mut lines = entry.lines();
    let header = lines.next().unwrap();
    assert!(
        header.ends_with(" Other Packager <other@example.invalid> 2:2.1-alt1"),
        "{header}"
    );
    assert_eq!(lines.next(), Some("- New version 2.1 of hello (was 1.0)."));
    assert_eq!(
        git(&env, &pkg, "log -1 --format=%B"),
        "2:2.1-alt1\n\n- New version 2.1 of hello (was 1.0)."
    );
    assert_eq!(
        names_in(&pkg.join("hasher_out/local")),
        ["hello-2.1-alt1.src.rpm", "hello-2.1-alt1.x86_64.rpm"]
    );
}
