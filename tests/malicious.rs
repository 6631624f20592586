//! A compromised build host, hostile names and what must stay private.
//!
//! - A remote `hsh` that, after a real build, plants symlinks, a FIFO, a
//!   directory and odd names among the results, and a remote `find` that
//!   adds forged lines to the result listing zoryn's wrapper asks for: zoryn
//!   writes nothing outside the results dir, follows no symlink, still
//!   brings back the build's real RPMs and names each rejected entry with
//!   its host.
//! - Builder names that are paths, options or shell words are refused, on
//!   `builder add` and in `builders.d`.
//! - The runtime dir is private, batch state files are 0600, and no secret
//!   (the ssh private key, a secret in the environment) reaches any output
//!   or file zoryn writes, even at the highest verbosity.

mod support;

use std::collections::BTreeMap;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use support::sshd::TestHost;
use support::{both, names_in, stderr, stdout, TestEnv};

/// What a tree looks like: kind, size, mtime and link target per path.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.filter_map(Result::ok) {
            let p = e.path();
            let Ok(m) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            let ft = m.file_type();
            let desc = if ft.is_symlink() {
                format!("link -> {:?}", std::fs::read_link(&p).unwrap_or_default())
            } else if ft.is_dir() {
                stack.push(p.clone());
                format!("dir {:o}", m.mode())
            } else {
                format!(
                    "{} {} {}.{} {:o}",
                    if ft.is_file() { "file" } else { "special" },
                    m.len(),
                    m.mtime(),
                    m.mtime_nsec(),
                    m.mode()
                )
            };
            out.insert(p, desc);
        }
    }
    out
}

/// Paths that differ between two snapshots (added, removed or changed).
fn changed(a: &BTreeMap<PathBuf, String>, b: &BTreeMap<PathBuf, String>) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = a
        .keys()
        .chain(b.keys())
        .filter(|p| a.get(*p) != b.get(*p))
        .cloned()
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Replace the env's `hsh` by a "compromised" one: it runs the real
/// emulator, then, when the host's `$HASHER_EMU_ROOT/hostile.sh` exists,
/// sources it in the workdir (what a compromised host can do after any
/// build: touch the repo, print anything on hsh's stdout). And the host's
/// `find` lies too: when it lists results for zoryn's build wrapper after
/// hsh (`-printf 'zoryn-remote:rpm=...'`), it adds the lines of
/// `$HASHER_EMU_ROOT/hostile-find.sh` — a host that is compromised controls
/// every line zoryn gets from it, not only hsh's output.
fn compromise_hsh(env: &TestEnv) {
    let bin = env.root.join("emu/bin");
    std::fs::rename(bin.join("hsh"), bin.join("hsh.real")).unwrap();
    std::fs::write(
        bin.join("hsh"),
        "#!/bin/bash\n\
         # A compromised hsh (tests/malicious.rs): the real build, then hostile.sh.\n\
         \"$(dirname \"$0\")/hsh.real\" \"$@\"\nrc=$?\n\
         if [ \"$rc\" = 0 ] && [ -f \"$HASHER_EMU_ROOT/hostile.sh\" ]; then\n\
         \t. \"$HASHER_EMU_ROOT/hostile.sh\"\nfi\nexit \"$rc\"\n",
    )
    .unwrap();
    std::fs::set_permissions(bin.join("hsh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(
        bin.join("find"),
        "#!/bin/bash\n\
         # A compromised find (tests/malicious.rs).\n\
         /usr/bin/find \"$@\"\nrc=$?\n\
         case \"$*\" in *zoryn-remote:rpm=*)\n\
         \t[ -f \"$HASHER_EMU_ROOT/hostile-find.sh\" ] && . \"$HASHER_EMU_ROOT/hostile-find.sh\";;\n\
         esac\nexit \"$rc\"\n",
    )
    .unwrap();
    std::fs::set_permissions(bin.join("find"), std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Install the attack on `host`: the planting script and the lying `find`.
fn plant(host: &TestHost, canary: &Path, local_home: &Path) {
    let vars = format!(
        "CANARY='{}'\nLOCAL_HOME='{}'\nr=repo/x86_64/RPMS.hasher s=repo/SRPMS.hasher\nwd=$(pwd -P)\n",
        canary.display(),
        local_home.display()
    );
    std::fs::write(host.emu_root.join("hostile.sh"), format!("{vars}{HOSTILE}")).unwrap();
    std::fs::write(
        host.emu_root.join("hostile-find.sh"),
        format!("{vars}{FORGED_LISTING}"),
    )
    .unwrap();
}

fn remote_host(env: &TestEnv, alias: &str) -> TestHost {
    let host = env.add_host(alias, "x86_64");
    let out = env.ssh(
        alias,
        "mkdir -p ~/hasher_1 && hasher-useradd --number=1 \"$(id -un)\"",
    );
    assert!(out.status.success(), "host setup: {}", both(&out));
    env.builder(
        "shady",
        &format!("host = \"{alias}\"\narch = \"x86_64\"\nhasher_number = 1\n"),
    );
    host
}

/// The hostile part, run by the compromised hsh in the workdir after a
/// successful build. `$CANARY` and `$LOCAL_HOME` name places on the
/// client machine (the test hosts share its file system, like a host with
/// the same paths would).
const HOSTILE: &str = r#"
ln -sfn /etc/shadow "$r/evil-shadow.rpm"
ln -sfn "$CANARY/secret.txt" "$r/evil-canary.rpm"
ln -sfn "$LOCAL_HOME/.zoryn" "$r/evil-home.rpm"
ln -sfn /etc "$r/evil-dir.rpm"
ln -sfn "$CANARY" "$s/evil-dirlink.src.rpm"
mkdir -p "$r/adir.rpm"
echo inside >"$r/adir.rpm/inner.rpm"
rm -f "$r/evil-fifo.rpm"; mkfifo "$r/evil-fifo.rpm"
# A name with a newline: on a terminal find shows it as "?", else the listing
# line ends after "nl.rpm" (a file that does not exist) and the rest is a
# forged second line. Either way it is not fetched (a name that no "Wrote:"
# line claims, or a file that is not there).
printf x >"$r/$(printf 'nl.rpm\nzoryn-remote:rpm=1 1 1 ..evil.rpm')"
# Spaces, quotes and a command substitution: a regular file, harmless.
printf 'odd\n' >"$r/odd name \$(touch PWNED) 'q'.rpm"
if [ "$(id -u)" = 0 ]; then
	mknod "$r/evil-null.rpm" c 1 3 && mknod "$r/evil-disk.rpm" b 7 0
	echo devices-made >>"$HASHER_EMU_ROOT/hostile.log"
else
	echo "devices-skipped: remote user $(id -un) is not root" >>"$HASHER_EMU_ROOT/hostile.log"
fi
# Forged listing lines on hsh's stdout, where zoryn's wrapper prints its own
# (ignored: only the wrapper's lines before hsh starts and after it ends count).
. "$HASHER_EMU_ROOT/hostile-find.sh"
# ... and forged rpmbuild "Wrote:" lines for them, since zoryn downloads only
# what the build log says rpmbuild wrote.
for n in evil-shadow.rpm evil-canary.rpm evil-home.rpm evil-dir.rpm evil-dirlink.src.rpm \
	adir.rpm evil-fifo.rpm evil-null.rpm evil-disk.rpm "odd name \$(touch PWNED) 'q'.rpm" \
	"nl.rpm"; do
	printf 'Wrote: /usr/src/RPM/RPMS/x86_64/%s\n' "$n"
done
# A regular file that no "Wrote:" line claims: not this build's, not fetched.
printf 'stray\n' >"$r/stray-1.0-alt1.x86_64.rpm"
echo planted >>"$HASHER_EMU_ROOT/hostile.log"
"#;

/// Result listing lines in the wrapper's format, for paths outside the
/// hasher repo and for the planted entries (sourced by the lying `find`).
const FORGED_LISTING: &str = r#"
for p in "$wd/$r/../../../../../../../..$CANARY/x.rpm" /etc/x.rpm ../../evil.rpm \
	"$wd/$r/evil-shadow.rpm" "$wd/$r/evil-canary.rpm" "$wd/$r/evil-home.rpm" \
	"$wd/$r/evil-dir.rpm" "$wd/$s/evil-dirlink.src.rpm" "$wd/$r/adir.rpm" \
	"$wd/$r/evil-fifo.rpm" "$wd/$r/.hidden.rpm" "$wd/$r/evil-null.rpm" \
	"$wd/$r/evil-disk.rpm" "$wd/$r/adir.rpm/inner.rpm"; do
	printf 'zoryn-remote:rpm=9%s 1 1 %s\n' "$RANDOM" "$p"
done
"#;

/// The builder `shady` on a compromised host `badhost`, and the canary dir
/// (with a secret) on this machine that the attack aims at.
fn compromised_host(env: &TestEnv) -> (TestHost, PathBuf) {
    compromise_hsh(env);
    let host = remote_host(env, "badhost");
    let canary = env.root.join("canary");
    std::fs::create_dir_all(&canary).unwrap();
    std::fs::write(canary.join("secret.txt"), "canary secret\n").unwrap();
    plant(&host, &canary, &env.home);
    (host, canary)
}

#[test]
fn compromised_host_cannot_write_outside_the_results_dir() {
    let env = TestEnv::new();
    let (host, canary) = compromised_host(&env);
    let repo = env.gear_repo("hello", "");
    env.chown_all();
    let home_before = snapshot(&env.home);
    let canary_before = snapshot(&canary);

    let out = env.zoryn(&["build", "-b", "shady"], &repo);
    let text = both(&out);

    // The attack really happened on the host.
    let hostile_log = std::fs::read_to_string(host.emu_root.join("hostile.log")).unwrap();
    assert!(hostile_log.contains("planted"), "{hostile_log}\n{text}");
    // Device files need root on the host; as another user the hostile
    // script says so (and the forged listing still names them: "gone").
    assert!(
        hostile_log.contains("devices-made")
            || hostile_log.contains("devices-skipped: remote user"),
        "{hostile_log}"
    );
    let remote_rpms = host.home.join("hasher_1/repo/x86_64/RPMS.hasher");
    for n in [
        "evil-shadow.rpm",
        "evil-canary.rpm",
        "evil-home.rpm",
        "evil-dir.rpm",
    ] {
        let m = std::fs::symlink_metadata(remote_rpms.join(n)).unwrap();
        assert!(m.file_type().is_symlink(), "{n} not planted");
    }
    let fifo = std::fs::symlink_metadata(remote_rpms.join("evil-fifo.rpm")).unwrap();
    assert!(fifo.file_type().is_fifo());
    assert!(remote_rpms.join("adir.rpm").is_dir());

    // The real results arrived, and only regular files did.
    let results = repo.join("hasher_out/shady");
    let names = names_in(&results);
    for want in ["hello-1.0-alt1.x86_64.rpm", "hello-1.0-alt1.src.rpm"] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} missing: {names:?}\n{text}"
        );
    }
    for n in &names {
        let m = std::fs::symlink_metadata(results.join(n)).unwrap();
        assert!(
            m.file_type().is_file(),
            "{n} in results is not a regular file"
        );
        assert!(!n.starts_with('.'), "left-over {n} in results");
        assert!(
            !n.starts_with("evil") && n != "adir.rpm" && !n.contains('\n'),
            "{n} was downloaded\n{text}"
        );
    }
    assert!(!names.iter().any(|n| n.starts_with("stray")), "{names:?}");
    assert_eq!(
        names.len(),
        3,
        "expected the two RPMs and the odd regular file: {names:?}"
    );
    assert_eq!(
        std::fs::read_to_string(results.join("odd name $(touch PWNED) 'q'.rpm")).unwrap(),
        "odd\n"
    );

    // Nothing written outside the results dir (the build log and zoryn's
    // own state and source-tarball cache are expected), the canary untouched.
    assert_eq!(canary_before, snapshot(&canary), "canary dir changed");
    let home_after = snapshot(&env.home);
    let allowed = |p: &Path| {
        p.starts_with(&results)
            || p == repo.join("hasher_out")
            || p.starts_with(repo.join(".git"))
            || p.starts_with(env.home.join(".local/state/zoryn"))
            || p == env.home.join(".local/state")
            || p == env.home.join(".local")
            || p.starts_with(env.home.join(".cache/zoryn"))
            || p == env.home.join(".cache")
            || p.starts_with(env.home.join("tmp"))
            || (p.parent() == Some(&repo.join(".gear"))
                && p.file_name().is_some_and(|n| {
                    let n = n.to_string_lossy();
                    n.starts_with("build.") && n.ends_with(".log")
                }))
            || p == repo.join(".gear")
    };
    let unexpected: Vec<_> = changed(&home_before, &home_after)
        .into_iter()
        .filter(|p| !allowed(p))
        .collect();
    assert!(
        unexpected.is_empty(),
        "written outside results: {unexpected:?}"
    );
    for p in ["/etc/x.rpm", "/x.rpm", "/evil.rpm", "/tmp/evil.rpm"] {
        assert!(!Path::new(p).exists(), "{p} was created");
    }
    assert!(
        !canary.join("x.rpm").exists() && !env.root.join("evil.rpm").exists(),
        "a traversal name was written"
    );
    let pwned: Vec<_> = snapshot(&env.root)
        .into_keys()
        .filter(|p| p.file_name().is_some_and(|n| n == "PWNED"))
        .collect();
    assert!(pwned.is_empty(), "a name was run by a shell: {pwned:?}");

    // Every rejected entry is named, with the host; the exit code says the
    // host misbehaved (3) although the build itself succeeded.
    let summary = stdout(&out);
    for n in [
        "evil-shadow.rpm",
        "evil-canary.rpm",
        "evil-home.rpm",
        "evil-dir.rpm",
        "evil-dirlink.src.rpm",
        "adir.rpm",
        "evil-fifo.rpm",
        "/etc/x.rpm",
        "../../evil.rpm",
        ".hidden.rpm",
        "x.rpm",
    ] {
        assert!(
            summary.lines().any(|l| l
                .starts_with("shady: warning: rejected result from badhost: ")
                && l.contains(n)),
            "no warning naming {n} and the host:\n{summary}"
        );
    }
    assert_eq!(out.status.code(), Some(3), "{text}");
    eprintln!("--- zoryn's output for the compromised host ---\n{text}");
    let hostile_log = std::fs::read_to_string(host.emu_root.join("hostile.log")).unwrap();
    eprintln!("hostile.log: {hostile_log}");
}

/// Names that are paths, options, whitespace or shell words.
const BAD_NAMES: [&str; 16] = [
    "../evil",
    "a/b",
    "..",
    ".",
    "-rf",
    "--help",
    " lead",
    "a b",
    "tab\tx",
    "new\nline",
    "semi;colon",
    "$(touch PWNED)",
    "back`tick`",
    "pipe|x",
    "star*",
    "ünï",
];

#[test]
fn builder_add_refuses_hostile_names() {
    let env = TestEnv::new();
    let before = snapshot(&env.home);
    for bad in BAD_NAMES {
        let name_arg = format!("--name={bad}");
        for extra in [&[][..], &["--multi-add", "2"][..]] {
            let mut args = vec!["builder", "add", "--type", "local", name_arg.as_str()];
            args.extend_from_slice(extra);
            let out = env.zoryn(&args, &env.home);
            let err = stderr(&out);
            assert_eq!(
                out.status.code(),
                Some(2),
                "{bad:?} {extra:?}: {}",
                both(&out)
            );
            assert!(
                err.contains(&format!("builder name `{}`", bad.escape_debug()))
                    || (bad.is_empty() && err.contains("cannot be empty")),
                "{bad:?}: the error does not name it:\n{err}"
            );
        }
    }
    assert_eq!(names_in(&env.builders_dir()), Vec::<String>::new());
    let touched: Vec<_> = changed(&before, &snapshot(&env.home))
        .into_iter()
        .filter(|p| !p.starts_with(env.home.join(".local/state")))
        .collect();
    assert!(
        touched.is_empty(),
        "refused names changed files: {touched:?}"
    );
    assert!(!env.home.join("PWNED").exists() && !env.root.join("evil.conf").exists());
}

#[test]
fn hostile_builder_file_names_and_name_keys_are_reported_by_file() {
    let env = TestEnv::new();
    let dir = env.builders_dir();
    std::fs::write(dir.join("good.conf"), "hasher_number = 1\n").unwrap();
    let bad_files: Vec<String> = BAD_NAMES
        .iter()
        .filter(|n| !n.contains('/') && **n != "." && **n != "..")
        .map(|n| format!("{n}.conf"))
        .chain(["..conf".to_string(), ".hidden.conf".to_string()])
        .collect();
    for f in &bad_files {
        std::fs::write(dir.join(f), "hasher_number = 2\n").unwrap();
    }
    // A `name` key cannot rename a builder into a path either.
    std::fs::write(dir.join("renamed.conf"), "name = \"../../evil\"\n").unwrap();
    let out = env.zoryn(&["builder", "list", "--simple"], &env.home);
    let err = stderr(&out);
    // Broken files are left out with a warning; the good one is listed.
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!(stdout(&out), "local\ngood\n", "{}", both(&out));
    for f in &bad_files {
        let path = dir.join(f).display().to_string();
        assert!(
            err.contains(&format!("{}: builder name", path.escape_debug())),
            "{f:?} not named in:\n{err}"
        );
    }
    assert!(
        err.contains("renamed.conf") && err.contains("name"),
        "{err}"
    );
    // A hostile name cannot forge lines of the error output.
    assert!(
        err.lines()
            .all(|l| l.starts_with("zoryn: warning: ") || l.starts_with("  hint: ")),
        "raw control characters in the warnings:\n{err}"
    );
    assert!(!err.contains("good.conf"), "a good file was blamed:\n{err}");
    // Building on the good builder works; nothing of the hostile files runs.
    env.hasher_slot("hasher_1", Some(1));
    let repo = env.gear_repo("hello", "");
    let out = env.zoryn(&["build", "-b", "good"], &repo);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!(
        names_in(&repo.join("hasher_out/good")),
        ["hello-1.0-alt1.src.rpm", "hello-1.0-alt1.x86_64.rpm"]
    );
    assert!(!env.home.join("PWNED").exists() && !repo.join("PWNED").exists());
}

/// Every regular file below `root` (recursively), with its bytes.
fn all_files(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    snapshot(root)
        .into_iter()
        .filter(|(_, d)| d.starts_with("file "))
        .filter_map(|(p, _)| std::fs::read(&p).ok().map(|b| (p, b)))
        .collect()
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

const SECRET: &str = "hunter2-Zx9q-do-not-log-4f1c";

#[test]
fn runtime_dir_and_batch_state_are_private_and_no_secret_is_logged() {
    let mut env = TestEnv::new();
    let host = env.add_host("sec", "x86_64");
    let out = env.ssh(
        "sec",
        "mkdir -p ~/hasher_1 && hasher-useradd --number=1 \"$(id -un)\"",
    );
    assert!(out.status.success(), "{}", both(&out));
    env.builder(
        "r1",
        "host = \"sec\"\narch = \"x86_64\"\nhasher_number = 1\n",
    );
    // Secrets in the environment, including ones ssh/rsync could see.
    env.extra_env.extend([
        ("ZORYN_TEST_SECRET".to_string(), SECRET.to_string()),
        ("PASSWORD".to_string(), SECRET.to_string()),
        ("ZORYN_LOG".to_string(), "trace".to_string()),
    ]);
    // The private key's body: every base64 line between the armour lines.
    let key = std::fs::read_to_string(env.ssh_identity_path()).unwrap();
    let key_lines: Vec<String> = key
        .lines()
        .filter(|l| !l.starts_with("-----") && l.len() > 20)
        .map(str::to_string)
        .collect();
    assert!(!key_lines.is_empty(), "no key body in {key}");

    // The secret really is in the environment zoryn runs with.
    let probe = env
        .command("sh")
        .args(["-c", "printf %s \"$ZORYN_TEST_SECRET\""])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&probe.stdout), SECRET);
    let hello = env.gear_repo("hello", "");
    let build = env.zoryn(&["-vvv", "build", "-b", "r1"], &hello);
    assert_eq!(build.status.code(), Some(0), "{}", both(&build));
    // -v and up stream every build log line (zoryn has few tracing events;
    // ZORYN_LOG=trace enables them all).
    assert!(
        stderr(&build).contains("[r1] | Executing(%build)"),
        "not at the highest verbosity:\n{}",
        stderr(&build)
    );
    for p in ["one", "two"] {
        env.library_package(p, &[], "");
    }
    env.write(
        ".config/zoryn/batch/sec.conf",
        "[batch]\nbasedir = \"~/src\"\nbuilders = \"r1\"\n\n[one]\n\n[two]\n",
    );
    let batch = env.zoryn(&["-vvv", "task", "batch", "sec"], &env.home);
    assert_eq!(batch.status.code(), Some(0), "{}", both(&batch));

    // Permissions: the runtime dir (ControlMaster sockets) and batch state.
    let rt = env.root.join("run/zoryn");
    let mode = |p: &Path| std::fs::symlink_metadata(p).unwrap().mode() & 0o7777;
    assert_eq!(mode(&rt), 0o700, "runtime dir {}", rt.display());
    let sockets: Vec<_> = std::fs::read_dir(&rt)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_socket()))
        .collect();
    assert!(
        !sockets.is_empty(),
        "no ControlMaster socket in {}",
        rt.display()
    );
    let state = env.home.join(".local/state/zoryn/batches/sec");
    for f in ["journal.jsonl", "batch.lock"] {
        let p = state.join(f);
        assert!(
            p.is_file(),
            "{} missing: {:?}",
            p.display(),
            names_in(&state)
        );
        assert_eq!(mode(&p), 0o600, "{}", p.display());
    }
    assert!(state.join("report.json").is_file() && state.join("report.html").is_file());

    // No secret in any output stream or any file zoryn wrote (build logs,
    // journal, reports, history), here or in the remote home.
    let mut haystacks: Vec<(String, Vec<u8>)> = Vec::new();
    for (what, o) in [("build", &build), ("batch", &batch)] {
        haystacks.push((format!("{what} stdout"), o.stdout.clone()));
        haystacks.push((format!("{what} stderr"), o.stderr.clone()));
    }
    for root in [&env.home, &host.home, &rt] {
        for (p, b) in all_files(root) {
            haystacks.push((p.display().to_string(), b));
        }
    }
    let logs = haystacks
        .iter()
        .filter(|(n, _)| n.ends_with(".log") || n.contains("report.") || n.contains("journal"))
        .count();
    assert!(logs >= 5, "too few logs and reports scanned: {logs}");
    for (name, bytes) in &haystacks {
        assert!(!contains(bytes, SECRET), "the secret is in {name}");
        for l in &key_lines {
            assert!(!contains(bytes, l), "private key text is in {name}");
        }
    }
    eprintln!(
        "scanned {} streams and files ({logs} logs/reports/journals) for the secret and {} key lines",
        haystacks.len(),
        key_lines.len()
    );
}

#[test]
fn runtime_dir_of_another_user_is_not_used_for_sockets() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root to make a runtime dir that belongs to another user");
        return;
    }
    let mut env = TestEnv::new();
    let _host = env.add_host("rt", "x86_64");
    let out = env.ssh(
        "rt",
        "mkdir -p ~/hasher_1 && hasher-useradd --number=1 \"$(id -un)\"",
    );
    assert!(out.status.success(), "{}", both(&out));
    env.builder(
        "r1",
        "host = \"rt\"\narch = \"x86_64\"\nhasher_number = 1\n",
    );
    // Outside the env root (chown_all would hand it to the test user):
    // root's world-writable dir, as another user could plant in /tmp.
    let planted = tempfile::Builder::new()
        .prefix("zoryn-rt.")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::set_permissions(planted.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let rt = planted.path().join("zoryn");
    std::fs::create_dir(&rt).unwrap();
    std::fs::set_permissions(&rt, std::fs::Permissions::from_mode(0o1777)).unwrap();
    env.extra_env.push((
        "XDG_RUNTIME_DIR".into(),
        planted.path().display().to_string(),
    ));
    let repo = env.gear_repo("hello", "");
    let out = env.zoryn(&["build", "-b", "r1"], &repo);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(
        stderr(&out).contains("not sharing ssh connections")
            && stderr(&out).contains("belongs to uid 0"),
        "{}",
        both(&out)
    );
    assert_eq!(
        names_in(&rt),
        Vec::<String>::new(),
        "sockets in a foreign dir"
    );
    assert_eq!(std::fs::metadata(&rt).unwrap().mode() & 0o7777, 0o1777);
}

#[test]
fn batch_on_a_compromised_host_keeps_real_rpms_and_reports_rejections() {
    let env = TestEnv::new();
    let (host, canary) = compromised_host(&env);
    env.library_package("base", &[], "");
    env.library_package("user", &["base"], "");
    env.write(
        ".config/zoryn/batch/bad.conf",
        "[batch]\nbasedir = \"~/src\"\nbuilders = \"shady\"\n\n[base]\n\n[user]\n",
    );
    let canary_before = snapshot(&canary);
    let out = env.zoryn(&["task", "batch", "bad"], &env.home);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(env.home.join(".local/state/zoryn/batches/bad/report.json"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(report["exit_code"], 3, "{report}");
    for j in report["jobs"].as_array().unwrap() {
        assert_eq!(j["result"], "OK", "{j}");
        let msg = j["message"].as_str().unwrap_or_default();
        assert!(
            msg.contains("rejected result(s)")
                && msg.contains("badhost: ")
                && msg.contains("evil-shadow.rpm"),
            "{j}"
        );
        for p in j["packages"].as_array().unwrap() {
            let p = Path::new(p.as_str().unwrap());
            let m = std::fs::symlink_metadata(p).unwrap();
            assert!(m.file_type().is_file(), "{}", p.display());
            assert!(!p.file_name().unwrap().to_string_lossy().starts_with("evil"));
        }
    }
    // The dependent package really got base's RPM through the chain.
    assert!(
        host.events_text().contains("base-devel-1.0-alt1"),
        "{}",
        host.events_text()
    );
    assert_eq!(canary_before, snapshot(&canary), "canary dir changed");
}
