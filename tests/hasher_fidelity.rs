//! hsh and hasher-priv as they really behave (issue 11, items 6 and 7):
//! the command template read with hsh's getopt rules, hasher-priv's mount
//! point / device judgement and config precedence, root and `hashman`,
//! every problem of a builder at once, and `--apt-config` for local
//! builders. Real zoryn binary, run as the unprivileged test account.

mod support;

use std::process::{Command, Output};
use std::time::Duration;

use support::{both, names_in, stdout, TestEnv};

/// SPEC 3.3's documented command template.
const DOCUMENTED: &str =
    "hsh -v --number={hasher_number} --mountpoint=/proc,/dev/pts,/dev/kvm --lazy-cleanup {hasher_dir}";

/// The `argv` events of the emulated hsh, one per build.
fn argv_events(env: &TestEnv) -> Vec<String> {
    env.events_text()
        .lines()
        .filter(|l| l.split_whitespace().nth(1) == Some("argv"))
        // printf %q quotes commas; the test paths need no other quoting.
        .map(|l| l.replace('\\', ""))
        .collect()
}

#[test]
fn documented_template_works_end_to_end() {
    let env = TestEnv::new();
    let wd = env.hasher_slot("hasher_2", Some(2));
    env.builder(
        "local2",
        &format!("type = \"local\"\nhasher_number = 2\ncommand = \"{DOCUMENTED}\"\n"),
    );
    let repo = env.gear_repo("hello", "");

    // /dev/kvm is a device for hasher-priv: pre-flight names the exact line
    // and file, and hsh is never started.
    let out = env.zoryn(&["build", "-b", "local2"], &repo);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    let s = both(&out);
    let file = env
        .emu_root
        .join(format!("etc/hasher-priv/user.d/{}:2", env.uid()));
    assert!(
        s.contains(&format!("set this line in {}:", file.display())),
        "{s}"
    );
    assert!(s.contains("allowed_devices=/dev/kvm"), "{s}");
    assert!(!s.contains("allowed_mountpoints="), "{s}");
    assert!(argv_events(&env).is_empty(), "{}", env.events_text());

    // The line added where it says: the build runs and succeeds.
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str("allowed_devices=/dev/kvm\n");
    std::fs::write(&file, text).unwrap();
    let out = env.zoryn(&["build", "-b", "local2"], &repo);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!(
        names_in(&repo.join("hasher_out/local2")),
        ["hello-1.0-alt1.src.rpm", "hello-1.0-alt1.x86_64.rpm"]
    );
    let argv = argv_events(&env);
    assert_eq!(argv.len(), 1, "{argv:?}");
    let words: Vec<&str> = argv[0].split_whitespace().collect();
    let wd_s = wd.to_string_lossy().to_string();
    // The workdir reaches hsh exactly once, --number exactly once (the
    // template's), the mount points as written.
    assert_eq!(
        words.iter().filter(|w| **w == wd_s).count(),
        1,
        "{}",
        argv[0]
    );
    assert_eq!(
        words.iter().filter(|w| w.starts_with("--number")).count(),
        1,
        "{}",
        argv[0]
    );
    assert!(words.contains(&"--number=2"), "{}", argv[0]);
    assert!(
        words.contains(&"--mountpoint=/proc,/dev/pts,/dev/kvm"),
        "{}",
        argv[0]
    );
    assert!(env
        .events_text()
        .contains(&format!("workdir={wd_s} number=2")));
}

#[test]
fn every_problem_of_a_builder_at_once() {
    let env = TestEnv::new();
    // No workdir, no satellite users, /dev/kvm and /srv not allowed.
    env.builder(
        "local5",
        "type = \"local\"\nhasher_number = 5\nhasher_dir = \"~/hasher_5\"\ncommand = \"hsh --mountp /proc,/dev/kvm,/sys\"\n",
    );
    let repo = env.gear_repo("hello", "");
    let out = env.zoryn(&["build", "-b", "local5"], &repo);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    let s = both(&out);
    assert!(s.contains("4 problems"), "{s}");
    assert!(s.contains("hasher_5"), "{s}");
    assert!(s.contains("hasher-useradd --number=5"), "{s}");
    assert!(s.contains("allowed_mountpoints=/proc,/dev/pts,/sys"), "{s}");
    assert!(s.contains("allowed_devices=/dev/kvm"), "{s}");

    // builder status lists the same builder's problems at once, too.
    let out = env.zoryn(&["builder", "status", "-b", "local5"], &repo);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    let s = stdout(&out);
    assert!(s.contains("misconfigured"), "{s}");
    assert!(s.contains("4 problems"), "{s}");
    assert!(
        s.contains("hasher_5") && s.contains("hasher-useradd --number=5"),
        "{s}"
    );
    assert!(s.contains("allowed_devices=/dev/kvm"), "{s}");
}

#[test]
fn a_template_hsh_would_refuse_is_reported_with_its_file() {
    let env = TestEnv::new();
    env.hasher_slot("hasher", None);
    env.write(".zoryn", "[build]\ncommand = \"hsh --w {hasher_dir}\"\n");
    let repo = env.gear_repo("hello", "");
    let out = env.zoryn(&["build"], &repo);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    let s = both(&out);
    assert!(
        s.contains("hsh: option '--w' is ambiguous; possibilities: '--wait-lock'"),
        "{s}"
    );
    assert!(s.contains("[build] command in ~/.zoryn"), "{s}");
    assert!(argv_events(&env).is_empty());
}

#[test]
fn local_builder_gets_the_apt_config_of_its_repo() {
    let env = TestEnv::new();
    let p11 = env.home.join("repo/p11");
    std::fs::create_dir_all(p11.join("x86_64/RPMS.classic")).unwrap();
    std::fs::create_dir_all(p11.join("noarch/RPMS.classic")).unwrap();
    let repo_s = p11.to_string_lossy().to_string();
    env.hasher_slot("hasher_6", Some(6));
    let out = env.zoryn(
        &[
            "builder",
            "add",
            "--name",
            "p11",
            "--type",
            "local",
            "--number",
            "6",
            "--branch",
            "p11",
            "--repo",
            &repo_s,
            "--no-create-hasher-users",
            "-y",
        ],
        &env.home,
    );
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    env.builder(
        "p11",
        &format!(
            "type = \"local\"\nbranch = \"p11\"\nhasher_number = 6\nhasher_dir = \"~/hasher_6\"\nrepo = \"{repo_s}\"\n"
        ),
    );
    let apt = env.builders_dir().join("p11/apt/apt.conf");
    assert!(apt.is_file(), "builder add wrote no apt.conf");
    let src = env.gear_repo("hello", "");
    let out = env.zoryn(&["build", "-b", "p11"], &src);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let argv = argv_events(&env);
    assert_eq!(argv.len(), 1, "{argv:?}");
    assert!(
        argv[0].contains(&format!(" --apt-config={} ", apt.display())),
        "{}",
        argv[0]
    );
    // hsh really used it: its aptbox holds a copy naming the p11 sources.
    let copy = std::fs::read_to_string(env.home.join("hasher_6/aptbox/etc/apt/apt.conf")).unwrap();
    assert_eq!(copy, std::fs::read_to_string(&apt).unwrap());
    assert!(copy.contains("builders.d/p11/apt/sources.list"), "{copy}");

    // A template that sets --apt-config (here by a prefix) wins.
    let mine = env.write("my-apt.conf", "// mine\n");
    env.builder(
        "p11",
        &format!(
            "type = \"local\"\nbranch = \"p11\"\nhasher_number = 6\nhasher_dir = \"~/hasher_6\"\nrepo = \"{repo_s}\"\ncommand = \"hsh --lazy-cleanup --apt-c {}\"\n",
            mine.display()
        ),
    );
    let out = env.zoryn(&["build", "-b", "p11"], &src);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let argv = argv_events(&env);
    assert_eq!(argv.len(), 2, "{argv:?}");
    assert!(!argv[1].contains("--apt-config="), "{}", argv[1]);
    assert!(
        argv[1].contains(&format!("--apt-c {}", mine.display())),
        "{}",
        argv[1]
    );
}

/// `cmd` (built by [`TestEnv::command`]) rebuilt with `program_args`
/// replacing its program and the setpriv part: same environment.
fn rebuilt(cmd: &Command, program_args: &[String]) -> Command {
    let mut c = Command::new(&program_args[0]);
    c.args(&program_args[1..]);
    c.env_clear();
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            c.env(k, v);
        }
    }
    c
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

#[test]
fn root_is_refused_with_the_reason() {
    assert!(
        is_root(),
        "this test needs the suite to run as root (as .ci/run does), to run zoryn as root"
    );
    let env = TestEnv::new();
    env.hasher_slot("hasher", None);
    let repo = env.gear_repo("hello", "");
    // git's own ownership check is not what this test is about.
    let gitconfig = env.home.join(".gitconfig");
    let mut g = std::fs::read_to_string(&gitconfig).unwrap_or_default();
    g.push_str("[safe]\n\tdirectory = *\n");
    std::fs::write(&gitconfig, g).unwrap();
    env.chown_all();
    let zoryn = env.bin_dir.join("zoryn").to_string_lossy().to_string();
    let base = env.command(&zoryn);
    let mut c = rebuilt(&base, &[zoryn, "build".into()]);
    c.current_dir(&repo);
    let out: Output = c.output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    let s = both(&out);
    assert!(s.contains("hasher refuses root"), "{s}");
    assert!(s.contains("run zoryn as your ordinary user"), "{s}");
    assert!(!s.contains("/root/hasher"), "{s}");
    assert!(argv_events(&env).is_empty());
}

#[test]
fn a_session_without_hashman_is_told_to_log_in_again() {
    assert!(
        is_root(),
        "this test needs the suite to run as root (as .ci/run does), to drop the session's groups"
    );
    let env = TestEnv::new();
    env.hasher_slot("hasher", None);
    let repo = env.gear_repo("hello", "");
    env.chown_all();
    let zoryn = env.bin_dir.join("zoryn").to_string_lossy().to_string();
    let base = env.command(&zoryn);
    // The account is in hashman (group database), this session is not: as
    // right after `usermod -a -G hashman` without a new login.
    let args: Vec<String> = std::iter::once(base.get_program())
        .chain(base.get_args())
        .map(|a| {
            a.to_string_lossy()
                .replace("--init-groups", "--clear-groups")
        })
        .chain(["build".to_string()])
        .collect();
    assert!(args.iter().any(|a| a == "--clear-groups"), "{args:?}");
    let mut c = rebuilt(&base, &args);
    c.current_dir(&repo);
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    let s = both(&out);
    assert!(
        s.contains("was added to the hashman group after this session started"),
        "{s}"
    );
    assert!(s.contains("log in again"), "{s}");
    assert!(argv_events(&env).is_empty());

    // The emulated hasher-priv refuses such a session as the real one does.
    let mut c = rebuilt(
        &base,
        &args[..args.len() - 2]
            .iter()
            .cloned()
            .chain([
                "hsh".into(),
                env.home.join("hasher").to_string_lossy().into(),
            ])
            .chain(["/etc/hostname".into()])
            .collect::<Vec<_>>(),
    );
    c.current_dir(&env.home);
    let out = c.output().unwrap();
    assert_ne!(out.status.code(), Some(0), "{}", both(&out));
    assert!(
        both(&out).contains("is not a member of group hashman"),
        "{}",
        both(&out)
    );
}

#[test]
fn emulated_hasher_priv_judges_devices_and_mount_points_like_the_real_one() {
    let env = TestEnv::new();
    let wd = env.hasher_slot("hasher", None);
    let user_file = env
        .emu_root
        .join(format!("etc/hasher-priv/user.d/{}", env.uid()));
    let base = std::fs::read_to_string(&user_file).unwrap();
    let pkg = env.gear_repo("hello", "");
    env.sh("gear --commit --no-compress ../hello.tar", &pkg);
    let tar = pkg.parent().unwrap().join("hello.tar");
    let run = |extra: &str, mounts: &str| -> String {
        std::fs::write(&user_file, format!("{base}{extra}")).unwrap();
        env.chown_all();
        let out = env
            .command("hsh")
            .arg(format!("--mountpoint={mounts}"))
            .arg(&wd)
            .arg(&tar)
            .current_dir(&env.home)
            .output()
            .unwrap();
        format!("rc={:?} {}", out.status.code(), both(&out))
    };
    let s = run("", "/proc,/dev/kvm");
    assert!(
        s.contains("hasher-priv: /dev/kvm: mount point is not allowed"),
        "{s}"
    );
    let s = run("allowed_mountpoints=/proc,/dev/kvm\n", "/proc,/dev/kvm");
    assert!(
        s.contains("hasher-priv: /dev/kvm: mount point is not supported"),
        "{s}"
    );
    let s = run(
        "allowed_mountpoints=/proc,/dev/kvm\nallowed_devices=/dev/kvm\n",
        "/dev/kvm",
    );
    assert!(
        s.contains("/dev/kvm: configured as device and mount point simultaneously"),
        "{s}"
    );
    let s = run("allowed_devices=/opt\n", "/opt");
    assert!(
        s.contains("hasher-priv: /opt: device name is not supported"),
        "{s}"
    );
    let s = run("allowed_devices=/dev/kvm\n", "/proc,/dev/kvm");
    assert!(s.starts_with("rc=Some(0)"), "{s}");
    env.wait_for_event("build-end rc=0", Duration::from_secs(5));
}

#[test]
fn remote_builder_documented_template_and_every_problem_at_once() {
    let env = TestEnv::new();
    let host = env.add_host("arm", "aarch64");
    env.builder(
        "arm",
        &format!(
            "type = \"remote\"\nhost = \"arm\"\narch = \"aarch64\"\nhasher_number = 4\ncommand = \"{DOCUMENTED}\"\n"
        ),
    );
    let repo = env.gear_repo("hello", "");
    // No workdir, no satellite users, /dev/kvm not allowed: all in one run.
    let out = env.zoryn(&["build", "-b", "arm"], &repo);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    let s = both(&out);
    assert!(s.contains("3 problems"), "{s}");
    assert!(s.contains("ssh arm mkdir -p"), "{s}");
    assert!(s.contains("hasher-useradd --number=4"), "{s}");
    assert!(s.contains("allowed_devices=/dev/kvm"), "{s}");
    assert!(host.events_text().is_empty(), "{}", host.events_text());

    // Fixed as told: the build runs with the template's options.
    let out = env.ssh(
        "arm",
        "mkdir -p ~/hasher_4 && hasher-useradd --number=4 \"$(id -un)\"",
    );
    assert!(out.status.success(), "{}", both(&out));
    let file = host
        .emu_root
        .join(format!("etc/hasher-priv/user.d/{}:4", env.uid()));
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str("allowed_devices=/dev/kvm\n");
    std::fs::write(&file, text).unwrap();
    let out = env.zoryn(&["build", "-b", "arm"], &repo);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let argv: Vec<String> = host
        .events_text()
        .lines()
        .filter(|l| l.split_whitespace().nth(1) == Some("argv"))
        .map(|l| l.replace('\\', ""))
        .collect();
    assert_eq!(argv.len(), 1, "{argv:?}");
    let wd = host.home.join("hasher_4").to_string_lossy().to_string();
    let words: Vec<&str> = argv[0].split_whitespace().collect();
    assert_eq!(words.iter().filter(|w| **w == wd).count(), 1, "{}", argv[0]);
    assert_eq!(
        words.iter().filter(|w| w.starts_with("--number")).count(),
        1,
        "{}",
        argv[0]
    );
    // Same arch as the host: hsh gets no --target.
    assert!(!argv[0].contains("--target"), "{}", argv[0]);
    assert!(
        words.contains(&"--mountpoint=/proc,/dev/pts,/dev/kvm"),
        "{}",
        argv[0]
    );
}
