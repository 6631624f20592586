//! Remote builders against real sshd test hosts on loopback addresses:
//! builds, transfers, cancellation, ControlMaster handling, quoting, and the
//! `builder` subcommands that talk to hosts.

mod support;

use std::path::Path;
use std::time::Duration;

use support::{both, names_in, stderr, stdout, TestEnv};

fn rpm_arch(path: &Path) -> String {
    let out = std::process::Command::new("rpm")
        .args(["-qp", "--nosignature", "--qf", "%{ARCH}"])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json_events(out: &std::process::Output) -> Vec<serde_json::Value> {
    stdout(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

#[test]
fn remote_build_brings_back_this_builds_rpms() {
    let env = TestEnv::new();
    let host = env.remote_builder("arm", "arm", "aarch64", "aarch64", 1);
    let repo = env.gear_repo("hello", "");
    let out = env.zoryn(&["build", "-b", "arm"], &repo);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let results = repo.join("hasher_out/arm");
    assert_eq!(
        names_in(&results),
        ["hello-1.0-alt1.aarch64.rpm", "hello-1.0-alt1.src.rpm"]
    );
    assert_eq!(
        rpm_arch(&results.join("hello-1.0-alt1.aarch64.rpm")),
        "aarch64"
    );
    let log = std::fs::read_to_string(repo.join(".gear/build.arm.log")).unwrap();
    assert!(log.contains("Executing(%build)"), "{log}");
    assert!(
        !log.contains("zoryn-remote-pid"),
        "marker leaked into the log:\n{log}"
    );
    assert!(!log.contains('\r'), "log has CRs");
    // The build ran on the host, in its workdir, as its slot.
    let start = host.wait_for_event("build-start", Duration::from_secs(5));
    assert!(
        start.contains(&format!("workdir={}", host.home.join("hasher_1").display())),
        "{start}"
    );
    assert!(start.contains("number=1 "), "{start}");
    // The source (small: sent whole, renamed into place) stays on the host
    // for the next delta.
    let remote_tar = host.home.join(".cache/zoryn/upload/hello/hello.tar");
    let listing = std::process::Command::new("tar")
        .arg("-tf")
        .arg(&remote_tar)
        .output()
        .unwrap();
    assert!(listing.status.success(), "{}", both(&listing));
    assert!(
        stdout(&listing).contains("hello.spec"),
        "{}",
        stdout(&listing)
    );
    assert_eq!(
        names_in(&host.home.join(".cache/zoryn/upload/hello")),
        ["hello.tar"],
        "no partial upload left"
    );
    let s = stdout(&out);
    assert!(s.contains("arm      aarch64  sisyphus  OK"), "{s}");
}

/// A package's build prints lines that look like the build wrapper's own
/// (a fake pid, a fake "after" listing naming an older RPM in the hasher
/// repo by another spelling): zoryn ignores them — it neither takes the
/// older RPM for a result nor rejects the build — and brings back exactly
/// what the build produced.
#[test]
fn a_build_cannot_forge_the_wrapper_lines() {
    let env = TestEnv::new();
    let host = env.remote_builder("arm", "arm", "aarch64", "aarch64", 1);
    let hello = env.gear_repo("hello", "");
    let out = env.zoryn(&["build", "-b", "arm"], &hello);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let old = host
        .home
        .join("hasher_1/repo/aarch64/RPMS.hasher/hello-1.0-alt1.aarch64.rpm");
    assert!(old.is_file(), "the older RPM is in the host's hasher repo");

    let forger = env.gear_repo("forger", "");
    let spec = std::fs::read_to_string(forger.join("forger.spec")).unwrap();
    let forged = format!(
        "echo building forger\n\
         echo zoryn-remote:pid=1\n\
         echo zoryn-remote:start\n\
         echo zoryn-remote:end\n\
         echo 'zoryn-remote:rpm=1 1.0 1 {}/../RPMS.hasher/{}'\n",
        old.parent().unwrap().display(),
        old.file_name().unwrap().to_string_lossy()
    );
    std::fs::write(
        forger.join("forger.spec"),
        spec.replacen("echo building forger\n", &forged, 1),
    )
    .unwrap();
    env.sh("git commit -qam forge", &forger);
    let out = env.zoryn(&["build", "-b", "arm"], &forger);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let log = std::fs::read_to_string(forger.join(".gear/build.arm.log")).unwrap();
    assert!(
        log.contains("building forger"),
        "the forging %build ran:\n{log}"
    );
    assert_eq!(
        names_in(&forger.join("hasher_out/arm")),
        ["forger-1.0-alt1.aarch64.rpm", "forger-1.0-alt1.src.rpm"],
        "only this build's RPMs come back"
    );
}

#[test]
fn remote_target_arch_and_failure() {
    let env = TestEnv::new();
    // The host is i686 (ALT: i586) and the builder builds for i586: no --target.
    let host = env.remote_builder("x32", "x32", "i686", "i586", 2);
    let repo = env.gear_repo("hello", "");
    let out = env.zoryn(&["build", "-b", "x32"], &repo);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(
        repo.join("hasher_out/x32/hello-1.0-alt1.i586.rpm")
            .is_file(),
        "{}",
        both(&out)
    );

    host.set_knob("HASHER_EMU_FAIL", "install");
    let out = env.zoryn(&["build", "-b", "x32"], &repo);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let s = stdout(&out);
    assert!(s.contains("x32: hsh exited with status 1 on x32"), "{s}");
    assert!(s.contains("last lines of"), "{s}");
    // The earlier results are still there, untouched.
    assert!(repo
        .join("hasher_out/x32/hello-1.0-alt1.i586.rpm")
        .is_file());
}

/// On a remote i586 builder (host uname i686), `ExcludeArch: %ix86` is
/// SKIP before anything runs on the host, and `ExclusiveArch: %ix86 x86_64`
/// really builds there.
#[test]
fn remote_skip_uses_alt_arch_groups() {
    let env = TestEnv::new();
    let host = env.remote_builder("x32", "x32", "i686", "i586", 2);
    let repo = env.gear_repo("hello", "ExcludeArch: %ix86");
    let out = env.zoryn(&["build", "-b", "x32"], &repo);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let s = stdout(&out);
    assert!(s.contains("SKIP"), "{s}");
    assert!(
        s.contains("x32: hello excludes i586 (ExcludeArch: %ix86)"),
        "{s}"
    );
    assert!(
        !host.events_text().contains("build-start"),
        "hsh ran: {}",
        host.events_text()
    );

    env.sh(
        "sed -i 's/^ExcludeArch: %ix86$/ExclusiveArch: %ix86 x86_64/' hello.spec && git commit -qam exclusive",
        &repo,
    );
    let out = env.zoryn(&["build", "-b", "x32"], &repo);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    host.wait_for_event("build-start", Duration::from_secs(5));
    assert!(
        repo.join("hasher_out/x32/hello-1.0-alt1.i586.rpm")
            .is_file(),
        "{}",
        both(&out)
    );
}

#[test]
fn second_upload_after_a_one_line_change_sends_a_delta() {
    let env = TestEnv::new();
    let _host = env.remote_builder("arm", "arm", "aarch64", "aarch64", 1);
    let repo = env.gear_repo("hello", "");
    // A big, incompressible source file so the delta is obvious.
    let big: String = (0..40_000)
        .map(|i| {
            format!(
                "line {i} {:x}\n",
                (i as u64).wrapping_mul(0x9e3779b97f4a7c15)
            )
        })
        .collect();
    std::fs::write(repo.join("hello/data.txt"), &big).unwrap();
    env.sh("git add -A && git commit -qm data", &repo);
    let bytes = |out: &std::process::Output| -> (u64, u64) {
        let ev = json_events(out);
        let up = ev
            .iter()
            .find(|e| e["event"] == "uploaded")
            .expect("uploaded event");
        (
            up["bytes_sent"].as_u64().unwrap(),
            up["tarball_bytes"].as_u64().unwrap(),
        )
    };
    let first = env.zoryn(&["build", "-b", "arm", "--json"], &repo);
    assert_eq!(first.status.code(), Some(0), "{}", both(&first));
    let (sent1, size) = bytes(&first);
    assert!(sent1 > size / 2, "first upload sent {sent1} of {size}");
    let changed = big.replacen("line 20000 ", "line 20000 changed ", 1);
    std::fs::write(repo.join("hello/data.txt"), changed).unwrap();
    // Not committed: gear --commit packs the work tree.
    let second = env.zoryn(&["build", "-b", "arm", "--json"], &repo);
    assert_eq!(second.status.code(), Some(0), "{}", both(&second));
    let (sent2, _) = bytes(&second);
    assert!(sent2 < size / 10, "second upload sent {sent2} of {size}");
}

#[test]
fn ctrl_c_stops_the_remote_hsh_and_frees_its_lock() {
    let env = TestEnv::new();
    let host = env.remote_builder("arm", "arm", "aarch64", "aarch64", 1);
    host.set_knob("HASHER_EMU_HANG", "build");
    let repo = env.gear_repo("hello", "");
    let child = env.spawn_zoryn(&["build", "-b", "arm"], &repo);
    let start = host.wait_for_event("build-start", Duration::from_secs(60));
    let pid: i32 = start
        .split_whitespace()
        .find_map(|w| w.strip_prefix("pid="))
        .and_then(|p| p.parse().ok())
        .unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", both(&out));
    host.wait_for_event("lock-released", Duration::from_secs(10));
    let alive =
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "));
    assert!(!alive, "remote hsh {pid} survived");
    let wd = host.home.join("hasher_1");
    let f = std::fs::File::open(&wd).unwrap();
    assert!(
        nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusiveNonblock).is_ok(),
        "workdir still locked"
    );
}

#[test]
fn quoting_survives_spaces_quotes_and_dollars() {
    let env = TestEnv::new();
    let host = env.add_host("arm", "aarch64");
    let dir = "hasher it's 1";
    let out = env.ssh(
        "arm",
        &format!(
            "mkdir -p ~/{} && hasher-useradd --number=1 \"$(id -un)\"",
            shell_words::quote(dir)
        ),
    );
    assert!(out.status.success(), "{}", both(&out));
    env.builder(
        "arm",
        "type = \"remote\"\nhost = \"arm\"\narch = \"aarch64\"\nhasher_number = 1\nhasher_dir = \"~/hasher it's {hasher_number}\"\n",
    );
    // The package lives in a directory with a space, a quote and a dollar.
    let repo = env.gear_repo("hello", "");
    let odd = env.home.join("src/my pkg's $HOME");
    std::fs::rename(&repo, &odd).unwrap();
    let out = env.zoryn(&["build", "-b", "arm"], &odd);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(odd
        .join("hasher_out/arm/hello-1.0-alt1.aarch64.rpm")
        .is_file());
    let start = host.wait_for_event("build-start", Duration::from_secs(5));
    assert!(
        start.contains(&format!("workdir={}", host.home.join(dir).display())),
        "{start}"
    );
    // Arguments reach a remote command byte for byte.
    let out = env.zoryn(
        &[
            "builder", "run", "-b", "arm", "--", "printf", "<%s>\\n", "a b", "it's", "$HOME",
            "`x`", "*",
        ],
        &env.home,
    );
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!(stdout(&out), "<a b>\n<it's>\n<$HOME>\n<`x`>\n<*>\n");
}

#[test]
fn works_without_multiplexing_and_recovers_a_dead_master() {
    let env = TestEnv::new();
    let _host = env.remote_builder("arm", "arm", "aarch64", "aarch64", 1);
    let repo = env.gear_repo("hello", "");
    // First with multiplexing: a master appears in the runtime dir.
    let out = env.zoryn(&["build", "-b", "arm"], &repo);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let rt = env.root.join("run/zoryn");
    let sockets = names_in(&rt);
    assert_eq!(sockets.len(), 1, "{sockets:?}");
    // Kill the master; its socket stays behind, stale.
    let cfg = env.ssh_config_path();
    let check = env
        .command("ssh")
        .arg("-F")
        .arg(&cfg)
        .arg("-o")
        .arg(format!("ControlPath={}/%C", rt.display()))
        .args(["-O", "check", "arm"])
        .output()
        .unwrap();
    let text = both(&check);
    let pid: i32 = text
        .split("pid=")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no master pid in {text}"));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(
        rt.join(&sockets[0]).exists(),
        "socket should be stale, not gone"
    );
    let out = env.zoryn(&["build", "-b", "arm"], &repo);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    // And without multiplexing no socket is made at all.
    std::fs::remove_dir_all(&rt).unwrap();
    env.write(
        ".zoryn",
        &format!("[ssh]\nmultiplexing = false\n\n{}", env.ssh_commands_toml()),
    );
    let out = env.zoryn(&["build", "-b", "arm"], &repo);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(names_in(&rt).is_empty(), "{:?}", names_in(&rt));
}

#[test]
fn unreachable_host_is_an_infrastructure_failure() {
    let env = TestEnv::new();
    let mut host = env.remote_builder("arm", "arm", "aarch64", "aarch64", 1);
    host.stop();
    let repo = env.gear_repo("hello", "");
    let out = env.zoryn(&["build", "-b", "arm"], &repo);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    let s = stdout(&out);
    assert!(s.contains("arm: cannot reach arm: "), "{s}");
    assert!(s.contains("hint:"), "{s}");
}

#[test]
fn remote_preflight_names_the_fix() {
    let env = TestEnv::new();
    let host = env.add_host("arm", "aarch64");
    env.builder(
        "arm",
        "type = \"remote\"\nhost = \"arm\"\narch = \"aarch64\"\nhasher_number = 4\n",
    );
    let repo = env.gear_repo("hello", "");
    let out = env.zoryn(&["build", "-b", "arm"], &repo);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    assert!(stdout(&out).contains("hasher workdir"), "{}", both(&out));
    assert!(stdout(&out).contains("ssh arm mkdir -p"), "{}", both(&out));
    std::fs::create_dir_all(host.home.join("hasher_4")).unwrap();
    let out = env.zoryn(&["build", "-b", "arm"], &repo);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    assert!(
        stdout(&out).contains("hasher-useradd --number=4"),
        "{}",
        both(&out)
    );
    let out = env.ssh("arm", "hasher-useradd --number=4 \"$(id -un)\"");
    assert!(out.status.success());
    env.builder(
        "arm",
        "type = \"remote\"\nhost = \"arm\"\narch = \"aarch64\"\nhasher_number = 4\ncommand = \"hsh --lazy-cleanup --mountpoints=/proc,/dev/kvm\"\n",
    );
    let out = env.zoryn(&["build", "-b", "arm"], &repo);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    let s = stdout(&out);
    // /dev/kvm is a device for hasher-priv (mount.c): allowed_devices.
    assert!(s.contains("device(s) /dev/kvm not allowed"), "{s}");
    assert!(s.contains("allowed_devices=/dev/kvm"), "{s}");
    assert!(s.contains("etc/hasher-priv/user.d/"), "{s}");
    let _ = stderr(&out);
}

#[test]
fn local_and_two_remote_hosts_build_in_parallel() {
    let env = TestEnv::new();
    env.hasher_slot("hasher", None);
    let arm = env.remote_builder("arm", "arm", "aarch64", "aarch64", 1);
    let x32 = env.remote_builder("x32", "x32", "i686", "i586", 1);
    for h in [&arm, &x32] {
        h.set_knob("HASHER_EMU_DELAY", "1");
    }
    let mut env = env;
    env.extra_env.push(("HASHER_EMU_DELAY".into(), "1".into()));
    let repo = env.gear_repo("hello", "");
    let out = env.zoryn(&["build", "-b", "local,arm,x32", "-p"], &repo);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    for (b, rpm) in [("local", "x86_64"), ("arm", "aarch64"), ("x32", "i586")] {
        assert!(
            repo.join(format!("hasher_out/{b}/hello-1.0-alt1.{rpm}.rpm"))
                .is_file(),
            "{b}"
        );
    }
    // Concurrency from the emulators' own clocks: every build started before
    // any of them ended.
    let stamp = |text: &str, kind: &str| -> u128 {
        text.lines()
            .rev()
            .find(|l| l.split_whitespace().nth(1) == Some(kind))
            .and_then(|l| l.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| panic!("no {kind} in {text}"))
    };
    let logs = [env.events_text(), arm.events_text(), x32.events_text()];
    let last_start = logs.iter().map(|t| stamp(t, "build-start")).max().unwrap();
    let first_end = logs.iter().map(|t| stamp(t, "build-end")).min().unwrap();
    assert!(last_start < first_end, "builds did not overlap");
}
