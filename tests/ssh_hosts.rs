//! The SSH test-host harness itself (tests/support/sshd.rs): real sshd
//! instances on loopback addresses that look like separate machines.

mod support;

use std::process::{Command, Output};
use std::time::{Duration, Instant};
use support::sshd::TestHost;
use support::{both, stderr, stdout, TestEnv};

/// `ssh -F CFG [extra options] alias -- cmd` as the test user.
fn ssh_with(env: &TestEnv, opts: &[&str], alias: &str, cmd: &str) -> Output {
    env.chown_all();
    env.command("ssh")
        .arg("-F")
        .arg(env.ssh_config_path())
        .args(opts)
        .arg(alias)
        .arg("--")
        .arg(cmd)
        .current_dir(&env.home)
        .output()
        .expect("run ssh")
}

/// What a login on `host` sees, one `KEY=value` per line.
fn remote_facts(env: &TestEnv, host: &TestHost) -> Vec<(String, String)> {
    let out = env.ssh(
        &host.alias,
        r#"echo "HOME=$HOME"; echo "PATH=$PATH"; echo "UNAME_M=$(uname -m)";
           echo "HSH=$(command -v hsh)"; echo "ZORYN=$(command -v zoryn)"; echo "PWD=$(pwd)";
           echo "EMU_ROOT=$HASHER_EMU_ROOT"; echo "PRIV=$ZORYN_HASHER_PRIV_DIR";
           echo "EVENTS=$HASHER_EMU_EVENTS"; echo "LANG=$LANG"; echo "USER=$(id -un)";
           echo "PWHOME=$(getent passwd "$(id -un)" | cut -d: -f6)""#,
    );
    assert!(out.status.success(), "{}", both(&out));
    assert_eq!(stderr(&out), "", "a login must print nothing on stderr");
    stdout(&out)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn fact<'a>(facts: &'a [(String, String)], key: &str) -> &'a str {
    facts
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {key} in {facts:?}"))
}

fn wait_child(child: &mut std::process::Child, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if child.try_wait().unwrap().is_some() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn two_hosts_are_different_machines() {
    let env = TestEnv::new();
    let arm = env.add_host("arm", "aarch64");
    let ia32 = env.add_host("ia32", "i686");
    assert_ne!(arm.addr, ia32.addr, "hosts on distinct loopback addresses");
    assert_ne!(arm.home, ia32.home);

    let emu_bin = env.root.join("emu/bin");
    for (host, arch) in [(&arm, "aarch64"), (&ia32, "i686")] {
        let f = remote_facts(&env, host);
        assert_eq!(fact(&f, "HOME"), host.home.display().to_string(), "{f:?}");
        assert!(
            fact(&f, "PATH").starts_with(&format!("{}:", emu_bin.display())),
            "emulators first on PATH: {f:?}"
        );
        assert_eq!(fact(&f, "UNAME_M"), arch);
        assert_eq!(fact(&f, "HSH"), emu_bin.join("hsh").display().to_string());
        assert_eq!(fact(&f, "ZORYN"), "", "zoryn is not installed on a host");
        assert_eq!(fact(&f, "EMU_ROOT"), host.emu_root.display().to_string());
        assert_eq!(
            fact(&f, "PRIV"),
            host.emu_root.join("etc/hasher-priv").display().to_string()
        );
        assert_eq!(fact(&f, "EVENTS"), host.events.display().to_string());
        assert_eq!(fact(&f, "LANG"), "C.UTF-8");
        assert_eq!(fact(&f, "USER"), env.user_name());
        if host.per_host_cwd() {
            assert_eq!(fact(&f, "PWD"), host.home.display().to_string());
            assert_eq!(fact(&f, "PWHOME"), host.home.display().to_string());
        }
    }

    // Each host has its own emulated hasher-priv tree.
    let out = env.ssh("arm", r#"hasher-useradd "$(id -un)""#);
    assert!(out.status.success(), "{}", both(&out));
    let arm_passwd = std::fs::read_to_string(arm.emu_root.join("etc/passwd")).unwrap();
    let ia32_passwd = std::fs::read_to_string(ia32.emu_root.join("etc/passwd")).unwrap();
    assert!(!arm_passwd.is_empty(), "hasher-useradd wrote arm's tree");
    assert_eq!(ia32_passwd, "", "ia32's tree is untouched");
    assert!(
        std::fs::read_to_string(env.emu_root.join("etc/passwd"))
            .unwrap()
            .is_empty(),
        "the local tree is untouched"
    );

    // ~/.zoryn points zoryn's ssh at the harness config.
    let zoryn_cfg = std::fs::read_to_string(env.home.join(".zoryn")).unwrap();
    assert_eq!(zoryn_cfg, env.ssh_commands_toml());
    assert!(
        zoryn_cfg.contains(&format!("ssh -F {}", env.ssh_config_path().display())),
        "{zoryn_cfg}"
    );
}

#[test]
fn a_wrong_or_unknown_host_key_is_refused() {
    let env = TestEnv::new();
    let good = env.add_host("good", "x86_64");
    let c = env.add_host("c", "x86_64");

    // Replace c's known_hosts entry with some other key.
    let other = env.root.join("other_key");
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&other)
        .status()
        .unwrap();
    assert!(st.success());
    let other_pub = std::fs::read_to_string(other.with_extension("pub")).unwrap();
    let other_pub: Vec<&str> = other_pub.split_whitespace().take(2).collect();
    let kh_path = env.known_hosts_path();
    let kh = std::fs::read_to_string(&kh_path).unwrap();
    let name = c.known_hosts_name();
    assert!(
        kh.contains(&format!("{name} {}", c.host_public_key())),
        "{kh}"
    );
    let wrong: String = kh
        .lines()
        .map(|l| {
            if l.starts_with(&format!("{name} ")) {
                format!("{name} {}\n", other_pub.join(" "))
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(&kh_path, &wrong).unwrap();
    let out = env.ssh("c", "echo reached");
    assert!(!out.status.success(), "{}", both(&out));
    assert!(!stdout(&out).contains("reached"));
    assert!(
        stderr(&out).contains("Host key verification failed")
            || stderr(&out).contains("REMOTE HOST IDENTIFICATION HAS CHANGED"),
        "{}",
        both(&out)
    );
    assert_eq!(std::fs::read_to_string(&kh_path).unwrap(), wrong);

    // No entry at all: refused too, never accepted on first use.
    let without: String = wrong
        .lines()
        .filter(|l| !l.starts_with(&format!("{name} ")))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&kh_path, &without).unwrap();
    let out = env.ssh("c", "echo reached");
    assert!(!out.status.success(), "{}", both(&out));
    assert!(
        stderr(&out).contains("Host key verification failed"),
        "{}",
        both(&out)
    );
    assert_eq!(std::fs::read_to_string(&kh_path).unwrap(), without);

    // The other host is unaffected.
    let out = env.ssh(&good.alias, "echo reached");
    assert!(out.status.success(), "{}", both(&out));
    assert_eq!(stdout(&out), "reached\n");
}

#[test]
fn stopped_host_refuses_fast_and_leaves_no_process() {
    let env = TestEnv::new();
    let mut host = env.add_host("gone", "aarch64");
    let port = host.port;

    // An open session with a running remote command.
    let mut session = env
        .ssh_command("gone", "echo started; exec sleep 300")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let pids = loop {
        let pids = host.process_ids();
        let has_sleep = pids.iter().any(|p| {
            std::fs::read(format!("/proc/{p}/cmdline"))
                .map(|c| c == b"sleep\x00300\x00")
                .unwrap_or(false)
        });
        if has_sleep {
            break pids;
        }
        assert!(Instant::now() < deadline, "remote sleep never started");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(pids.len() >= 3, "listener, connection, command: {pids:?}");

    // A remote command that left its session (daemonized): not below the
    // listener any more, still one of the host's processes.
    let detached = format!("sleep {}", 100_000 + u32::from(port));
    let out = env.ssh(
        "gone",
        &format!("setsid {detached} </dev/null >/dev/null 2>&1 & echo $!"),
    );
    assert!(out.status.success(), "{}", both(&out));
    let detached_pid: u32 = stdout(&out).trim().parse().unwrap();
    assert!(
        std::fs::read_to_string(format!("/proc/{detached_pid}/stat")).is_ok(),
        "detached command runs"
    );
    let pids = host.process_ids();
    assert!(pids.contains(&detached_pid), "{pids:?}");

    host.stop();
    assert!(!host.is_running());
    assert!(
        wait_child(&mut session, Duration::from_secs(10)),
        "the client of a stopped host ends"
    );
    let left = host.leftover_processes(&pids);
    assert!(left.is_empty(), "left behind: {left:?}");
    // The same, independently, through ps.
    let ps = Command::new("ps")
        .args(["-eo", "pid=,stat=,args="])
        .output()
        .unwrap();
    for l in stdout(&ps).lines() {
        let mut f = l.split_whitespace();
        let pid: u32 = f.next().unwrap().parse().unwrap();
        let stat = f.next().unwrap_or("");
        assert!(
            !(pids.contains(&pid) && !stat.starts_with('Z') && l.contains("sshd")),
            "sshd process of the stopped host remains: {l}"
        );
        assert!(
            !(pids.contains(&pid) && l.contains("sleep 300")),
            "remote command of the stopped host remains: {l}"
        );
        assert!(
            !l.contains(&detached),
            "detached command of the stopped host remains: {l}"
        );
    }

    let t = Instant::now();
    let out = env.ssh("gone", "true");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("Connection refused"),
        "{}",
        both(&out)
    );
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());

    host.stop(); // idempotent
    host.restart();
    assert_eq!(host.port, port);
    let out = env.ssh("gone", "uname -m");
    assert!(out.status.success(), "{}", both(&out));
    assert_eq!(stdout(&out), "aarch64\n");
}

#[test]
fn frozen_host_times_out_and_thaw_restores_it() {
    let env = TestEnv::new();
    let host = env.add_host("hung", "i686");
    host.freeze();
    let t = Instant::now();
    let out = ssh_with(&env, &["-o", "ConnectTimeout=2"], "hung", "true");
    let took = t.elapsed();
    assert!(!out.status.success(), "{}", both(&out));
    assert!(stderr(&out).contains("timed out"), "{}", both(&out));
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(15),
        "{took:?}"
    );
    host.thaw();
    let out = ssh_with(&env, &["-o", "ConnectTimeout=2"], "hung", "uname -m");
    assert!(out.status.success(), "{}", both(&out));
    assert_eq!(stdout(&out), "i686\n");
}

#[test]
fn dropping_a_frozen_host_with_sessions_leaves_no_process() {
    let env = TestEnv::new();
    let host = env.add_host("drop", "x86_64");
    let mut session = env
        .ssh_command("drop", "exec sleep 300")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while host.process_ids().len() < 3 {
        assert!(Instant::now() < deadline, "session never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    host.freeze();
    let pids = host.process_ids();
    let listener = host.sshd_pid;
    drop(host);
    assert!(wait_child(&mut session, Duration::from_secs(10)));
    let ps = Command::new("ps")
        .args(["-o", "pid=,stat=,args=", "-p"])
        .arg(
            pids.iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(","),
        )
        .output()
        .unwrap();
    let ps = stdout(&ps);
    let left: Vec<&str> = ps
        .lines()
        .filter(|l| !l.split_whitespace().nth(1).unwrap_or("Z").starts_with('Z'))
        .collect();
    assert!(
        left.is_empty(),
        "listener {listener}; left behind: {left:?}"
    );
}

#[test]
fn rsync_copies_files_to_and_from_a_host() {
    let env = TestEnv::new();
    let host = env.add_host("sync", "aarch64");
    let src = env.write("payload/data.txt", "payload for the remote host\n");
    let rsh = format!("ssh -F {}", env.ssh_config_path().display());
    // Relative remote paths land in the host's HOME when logins start there.
    let dest = if host.per_host_cwd() {
        "sync:incoming/".to_string()
    } else {
        format!("sync:{}/incoming/", host.home.display())
    };
    env.chown_all();
    let out = env
        .command("rsync")
        .args(["-a", "--checksum", "-e", &rsh])
        .arg(&src)
        .arg(&dest)
        .current_dir(&env.home)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", both(&out));
    let copied = host.home.join("incoming/data.txt");
    assert_eq!(
        std::fs::read_to_string(&copied).unwrap(),
        "payload for the remote host\n"
    );

    // And back.
    let out = env.ssh("sync", "echo 'made remotely' > ~/remote.txt");
    assert!(out.status.success(), "{}", both(&out));
    assert!(host.home.join("remote.txt").exists());
    assert!(!env.home.join("remote.txt").exists());
    let back = env.home.join("back");
    std::fs::create_dir_all(&back).unwrap();
    env.chown_all();
    let out = env
        .command("rsync")
        .args(["-a", "-e", &rsh])
        .arg(format!("sync:{}/remote.txt", host.home.display()))
        .arg(&back)
        .current_dir(&env.home)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", both(&out));
    assert_eq!(
        std::fs::read_to_string(back.join("remote.txt")).unwrap(),
        "made remotely\n"
    );
}
