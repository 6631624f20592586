//! Test harness: a throwaway maintainer account for every test.
//!
//! [`TestEnv`] makes a temporary HOME with XDG directories, an emulated
//! hasher installation (`tests/support/emu`, see its README) and a git
//! identity, and runs the real `zoryn` binary in it. Real users are never
//! root (hasher refuses root), so when the suite runs as root — as CI does —
//! every command runs as the unprivileged user `zoryn-test` through
//! `setpriv`, with the binary and emulators copied where that user can reach
//! them.

#![allow(dead_code)]

pub mod netns;
pub mod sshd;
pub mod tty;

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const TEST_USER: &str = "zoryn-test";

/// Twelve packages with inter-package BuildRequires (name, what it needs):
/// chains, a diamond, fan-out and an independent pair. `x86only` is made
/// ExclusiveArch by the tests that need an excluded package.
pub const PACKAGE_FAMILY: [(&str, &[&str]); 12] = [
    ("libcore", &[]),
    ("liba", &["libcore"]),
    ("libb", &["libcore"]),
    ("libc", &["liba", "libb"]),
    ("app1", &["libc"]),
    ("app2", &["liba"]),
    ("app3", &["libb", "libcore"]),
    ("app4", &["libc", "liba"]),
    ("tool1", &[]),
    ("tool2", &["tool1"]),
    ("plugin", &["app1"]),
    ("x86only", &["libcore"]),
];

/// uid/gid to run as, or None when the suite already runs unprivileged.
fn drop_to() -> Option<(u32, u32)> {
    if nix::unistd::geteuid().as_raw() != 0 {
        return None;
    }
    ensure_test_user();
    let u = nix::unistd::User::from_name(TEST_USER)
        .expect("passwd lookup")
        .expect("test user exists after ensure_test_user");
    Some((u.uid.as_raw(), u.gid.as_raw()))
}

/// Create the unprivileged test account once (under a lock: nextest runs
/// tests in parallel processes).
fn ensure_test_user() {
    let lock = std::fs::File::create("/tmp/zoryn-test-user.lock").expect("lock file");
    let _guard = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive).expect("flock");
    if nix::unistd::User::from_name(TEST_USER)
        .ok()
        .flatten()
        .is_none()
    {
        create_test_user();
    }
    // hasher-priv serves only the `hashman` group (the emulator checks it,
    // as zoryn's pre-flight does): the account is a member, as
    // hasher-useradd makes a real maintainer.
    let group = nix::unistd::Group::from_name("hashman").ok().flatten();
    if group.is_none() {
        let st = Command::new("groupadd")
            .args(["--system", "hashman"])
            .status()
            .expect("run groupadd");
        assert!(st.success(), "groupadd hashman failed");
    }
    if !group.is_some_and(|g| g.mem.iter().any(|m| m == TEST_USER)) {
        let st = Command::new("usermod")
            .args(["-a", "-G", "hashman", TEST_USER])
            .status()
            .expect("run usermod");
        assert!(st.success(), "usermod -a -G hashman {TEST_USER} failed");
    }
}

fn create_test_user() {
    let st = Command::new("useradd")
        .args([
            "--system",
            "--create-home",
            "--shell",
            "/bin/bash",
            "--home-dir",
            "/var/lib/zoryn-test",
            TEST_USER,
        ])
        .status()
        .expect("run useradd");
    assert!(st.success(), "useradd {TEST_USER} failed");
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let to = dst.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), &to).unwrap();
        }
    }
}

pub struct TestEnv {
    _tmp: tempfile::TempDir,
    pub root: PathBuf,
    pub home: PathBuf,
    pub emu_root: PathBuf,
    pub bin_dir: PathBuf,
    pub events: PathBuf,
    user: Option<(u32, u32)>,
    pub extra_env: Vec<(String, String)>,
    /// PATH without the emulators (to test "not installed" errors).
    pub path_override: Option<String>,
}

impl TestEnv {
    pub fn new() -> TestEnv {
        let tmp = tempfile::Builder::new()
            .prefix("zoryn-t.")
            .tempdir_in("/tmp")
            .unwrap();
        let root = tmp.path().to_path_buf();
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
        let home = root.join("home");
        let emu_root = root.join("emu-root");
        let bin_dir = root.join("bin");
        for d in [
            home.join(".config/zoryn/builders.d"),
            home.join("tmp"),
            emu_root.join("etc/hasher-priv/user.d"),
            bin_dir.clone(),
        ] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(emu_root.join("etc/passwd"), "").unwrap();
        std::fs::write(
            emu_root.join("etc/hasher-priv/system"),
            "# emulated /etc/hasher-priv/system\nallowed_mountpoints=/proc,/dev/pts\n",
        )
        .unwrap();
        // `ZORYN_BENCH_BIN` lets the benchmarks time another build of zoryn
        // (an older commit) with the same hosts and emulators.
        let zoryn_bin = std::env::var_os("ZORYN_BENCH_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_zoryn")));
        std::fs::copy(&zoryn_bin, bin_dir.join("zoryn"))
            .unwrap_or_else(|e| panic!("copy {}: {e}", zoryn_bin.display()));
        copy_dir(&repo_root().join("tests/support/emu"), &root.join("emu"));
        std::fs::write(
            home.join(".gitconfig"),
            "[user]\n\tname = Test Maintainer\n\temail = test@example.invalid\n[init]\n\tdefaultBranch = master\n",
        )
        .unwrap();
        let events = root.join("emu-events.log");
        TestEnv {
            _tmp: tmp,
            root,
            home,
            emu_root,
            bin_dir,
            events,
            user: drop_to(),
            extra_env: Vec::new(),
            path_override: None,
        }
    }

    pub fn builders_dir(&self) -> PathBuf {
        self.home.join(".config/zoryn/builders.d")
    }

    pub fn user_name(&self) -> String {
        match self.user {
            Some(_) => TEST_USER.to_string(),
            None => nix::unistd::User::from_uid(nix::unistd::getuid())
                .ok()
                .flatten()
                .map(|u| u.name)
                .unwrap_or_else(|| std::env::var("USER").unwrap_or_default()),
        }
    }

    pub fn uid(&self) -> u32 {
        self.user
            .map(|u| u.0)
            .unwrap_or_else(|| nix::unistd::getuid().as_raw())
    }

    /// Hand everything under the env to the test user (after setup as root).
    /// Only what is not the user's yet is changed: a file that already is
    /// keeps its ctime, so git's stat data of it stays fresh, as in a
    /// maintainer's own checkout (a `chown -R` of everything made every
    /// tracked file look modified to git before each command). Files that
    /// vanish meanwhile (a running build's temporary ones) are skipped.
    pub fn chown_all(&self) {
        if let Some((uid, gid)) = self.user {
            chown_tree(&self.root, uid, gid);
        }
    }

    pub fn path_var(&self) -> String {
        self.path_override.clone().unwrap_or_else(|| {
            format!(
                "{}:{}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
                self.root.join("emu/bin").display(),
                self.bin_dir.display()
            )
        })
    }

    /// A command run as the maintainer, with a clean environment.
    pub fn command(&self, program: impl Into<OsString>) -> Command {
        let program = program.into();
        let mut cmd = match self.user {
            Some((uid, gid)) => {
                let mut c = Command::new("setpriv");
                c.arg(format!("--reuid={uid}"))
                    .arg(format!("--regid={gid}"))
                    .arg("--init-groups")
                    .arg("--")
                    .arg(program);
                c
            }
            None => Command::new(program),
        };
        cmd.env_clear()
            .env("HOME", &self.home)
            .env("USER", self.user_name())
            .env("LOGNAME", self.user_name())
            .env("PATH", self.path_var())
            .env("LANG", "C.UTF-8")
            .env("TMPDIR", self.home.join("tmp"))
            .env("XDG_CONFIG_HOME", self.home.join(".config"))
            .env("XDG_STATE_HOME", self.home.join(".local/state"))
            .env("XDG_RUNTIME_DIR", self.root.join("run"))
            .env("HASHER_EMU_ROOT", &self.emu_root)
            .env("HASHER_EMU_EVENTS", &self.events)
            .env(
                "ZORYN_HASHER_PRIV_DIR",
                self.emu_root.join("etc/hasher-priv"),
            )
            .stdin(Stdio::null());
        for (k, v) in &self.extra_env {
            cmd.env(k, v);
        }
        cmd
    }

    pub fn zoryn(&self, args: &[&str], cwd: &Path) -> Output {
        self.chown_all();
        let mut cmd = self.command(self.bin_dir.join("zoryn"));
        cmd.args(args).current_dir(cwd);
        cmd.output().expect("run zoryn")
    }

    pub fn spawn_zoryn(&self, args: &[&str], cwd: &Path) -> Child {
        self.chown_all();
        let mut cmd = self.command(self.bin_dir.join("zoryn"));
        cmd.args(args)
            .current_dir(cwd)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd.spawn().expect("spawn zoryn")
    }

    /// Run a shell command as the maintainer (for setup); panics on failure.
    pub fn sh(&self, script: &str, cwd: &Path) -> Output {
        self.chown_all();
        let out = self
            .command("bash")
            .arg("-c")
            .arg(script)
            .current_dir(cwd)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "setup command failed: {script}\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Make the hasher slot usable: workdir plus satellite users for
    /// `number` (through the emulated hasher-useradd).
    pub fn hasher_slot(&self, workdir: &str, number: Option<u32>) -> PathBuf {
        let dir = self.home.join(workdir);
        std::fs::create_dir_all(&dir).unwrap();
        let user = self.user_name();
        let cmd = match number {
            Some(n) => format!("hasher-useradd --number={n} {user}"),
            None => format!("hasher-useradd {user}"),
        };
        self.sh(&cmd, &self.home);
        dir
    }

    /// A wrapper `counting-PROGRAM` on the PATH that logs each run's
    /// arguments (on one line, whatever they hold: escaped bytes, a
    /// script's newlines) to the returned file, then runs PROGRAM.
    pub fn counting_wrapper(&self, program: &str) -> PathBuf {
        let runs = self.home.join(format!("tmp/{program}.runs"));
        let wrapper = self.bin_dir.join(format!("counting-{program}"));
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"$*\" | tr '\\n' ' ' >>'{0}'\necho >>'{0}'\nexec {program} \"$@\"\n",
                runs.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(
            &wrapper,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        runs
    }

    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.home.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }

    /// Local builders `localN` on usable slots `~/hasher_N`, one per number.
    pub fn local_slots(&self, numbers: &[u32]) {
        for n in numbers {
            self.hasher_slot(&format!("hasher_{n}"), Some(*n));
            self.builder(&format!("local{n}"), &format!("hasher_number = {n}\n"));
        }
    }

    pub fn builder(&self, name: &str, text: &str) -> PathBuf {
        self.write(&format!(".config/zoryn/builders.d/{name}.conf"), text)
    }

    /// A committed gear repository with a buildable spec.
    pub fn gear_repo(&self, name: &str, spec_extra: &str) -> PathBuf {
        let dir = self.home.join("src").join(name);
        std::fs::create_dir_all(dir.join(".gear")).unwrap();
        std::fs::create_dir_all(dir.join(name)).unwrap();
        std::fs::write(
            dir.join(".gear/rules"),
            format!("spec: {name}.spec\ntar: {name}\n"),
        )
        .unwrap();
        std::fs::write(dir.join(name).join("README"), format!("{name} sources\n")).unwrap();
        std::fs::write(dir.join(format!("{name}.spec")), spec(name, spec_extra)).unwrap();
        self.sh(
            "git init -q . && git add -A && git commit -qm initial",
            &dir,
        );
        dir
    }

    /// A gear repo whose package provides `NAME` and `NAME-devel` (a header in
    /// /usr/include/NAME/), needs `requires` to build, and checks in %build that
    /// each required -devel header is really installed in the build root.
    pub fn library_package(&self, name: &str, requires: &[&str], build_extra: &str) -> PathBuf {
        let br = if requires.is_empty() {
            String::new()
        } else {
            format!(
                "BuildRequires: {}\n",
                requires
                    .iter()
                    .map(|r| format!("{r}-devel >= 1.0"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let checks: String = requires
            .iter()
            .map(|r| format!("test -f \"${{HASHER_EMU_SYSROOT:-}}/usr/include/{r}/{r}.h\"\n"))
            .collect();
        let spec = format!(
            "Name: {name}\nVersion: 1.0\nRelease: alt1\nSummary: {name}\nLicense: GPL\nGroup: Other\nSource: %name-%version.tar\n{br}\n\
    %description\n{name}\n\n%package devel\nSummary: {name} headers\nGroup: Development/C\n\n%description devel\nheaders\n\n\
    %prep\n%setup\n\n%build\n{build_extra}{checks}echo built {name}\n\n%install\nmkdir -p %buildroot%_datadir/{name} %buildroot%_includedir/{name}\n\
    echo 1.0 > %buildroot%_datadir/{name}/VERSION\necho '/* {name} */' > %buildroot%_includedir/{name}/{name}.h\n\n\
    %files\n%_datadir/{name}\n\n%files devel\n%_includedir/{name}\n\n%changelog\n* Sat Nov 28 2026 T <t@e.invalid> 1.0-alt1\n- x\n"
        );
        let dir = self.home.join("src").join(name);
        std::fs::create_dir_all(dir.join(".gear")).unwrap();
        std::fs::create_dir_all(dir.join(name)).unwrap();
        std::fs::write(
            dir.join(".gear/rules"),
            format!("spec: {name}.spec\ntar: {name}\n"),
        )
        .unwrap();
        std::fs::write(dir.join(name).join("README"), "x\n").unwrap();
        std::fs::write(dir.join(format!("{name}.spec")), spec).unwrap();
        self.sh(
            "git init -q . && git add -A && git commit -qm initial",
            &dir,
        );
        dir
    }

    /// Wait until the emulator's event log has a line containing `needle`.
    pub fn wait_for_event(&self, needle: &str, timeout: Duration) -> String {
        wait_for_line(&self.events, needle, timeout, "")
    }

    pub fn events_text(&self) -> String {
        std::fs::read_to_string(&self.events).unwrap_or_default()
    }
}

/// Wait until the file `events` (an emulator event log) has a line
/// containing `needle`; that line. Polls with a deadline; `where_` goes into
/// the failure message.
pub fn wait_for_line(events: &Path, needle: &str, timeout: Duration, where_: &str) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        let text = std::fs::read_to_string(events).unwrap_or_default();
        if let Some(l) = text.lines().find(|l| l.contains(needle)) {
            return l.to_string();
        }
        assert!(
            Instant::now() < deadline,
            "no `{needle}` event{where_} in time; events:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn spec(name: &str, extra: &str) -> String {
    format!(
        "Name: {name}\n\
Version: 1.0\n\
Release: alt1\n\
Summary: Test package {name}\n\
License: GPL-2.0-or-later\n\
Group: Development/Other\n\
Source: %name-%version.tar\n\
{extra}\n\
%description\n\
A package for zoryn's tests.\n\
\n\
%prep\n\
%setup\n\
\n\
%build\n\
echo building {name}\n\
\n\
%install\n\
mkdir -p %buildroot%_datadir/{name}\n\
cp README %buildroot%_datadir/{name}/\n\
\n\
%files\n\
%_datadir/{name}\n\
\n\
%changelog\n\
* Sat Nov 28 2026 Test Maintainer <test@example.invalid> 1.0-alt1\n\
- initial\n"
    )
}

/// The bytes sent to the host, from a `--json` build's `uploaded` event.
pub fn uploaded_bytes(out: &Output) -> u64 {
    stdout(out)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["event"] == "uploaded")
        .and_then(|v| v["bytes_sent"].as_u64())
        .expect("an uploaded event")
}

/// Whether the file at `path` holds `needle` (a file that cannot be read
/// holds nothing).
pub fn file_holds(path: &Path, needle: &[u8]) -> bool {
    std::fs::read(path).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle))
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn both(o: &Output) -> String {
    format!("{}{}", stdout(o), stderr(o))
}

/// Sorted file names in a directory (empty if it does not exist).
pub fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// `chown -R -h uid:gid dir`, changing only entries owned otherwise and
/// skipping entries that vanish while it walks.
fn chown_tree(dir: &Path, uid: u32, gid: u32) {
    use std::os::unix::fs::MetadataExt;
    let gone = |e: &std::io::Error| e.kind() == std::io::ErrorKind::NotFound;
    let meta = match std::fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(e) if gone(&e) => return,
        Err(e) => panic!("{}: {e}", dir.display()),
    };
    if meta.uid() != uid || meta.gid() != gid {
        match std::os::unix::fs::lchown(dir, Some(uid), Some(gid)) {
            Err(e) if !gone(&e) => panic!("chown {}: {e}", dir.display()),
            _ => {}
        }
    }
    if !meta.is_dir() {
        return;
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if gone(&e) => return,
        Err(e) => panic!("{}: {e}", dir.display()),
    };
    for entry in entries {
        match entry {
            Ok(entry) => chown_tree(&entry.path(), uid, gid),
            Err(e) if gone(&e) => {}
            Err(e) => panic!("{}: {e}", dir.display()),
        }
    }
}
