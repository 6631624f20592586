//! The batch report's HTML page in a real browser: headless Chromium loads
//! the page from disk, dumps the DOM it built and takes a screenshot.
//!
//! Needs the Debian package `chromium` (installed by `.ci/run`); without it
//! the test fails and says so. Chromium runs in its own process group with
//! a private HOME and profile, bounded by a timeout; a guard kills whatever
//! it started (the group, plus helpers such as crashpad that leave the
//! group, found through a marker in their environment or because they were
//! reparented to this process, which is made a child subreaper) and reaps
//! it, on success and on failure alike.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, killpg, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::Pid;
use zoryn::report::batch::html;
use zoryn::report::batch::{BatchReport, JobReport, LaneReport};

const WIDTH: u32 = 1400;
const HEIGHT: u32 = 1000;
/// Bound on one Chromium run (a cold start takes a few seconds).
const TIMEOUT: Duration = Duration::from_secs(90);
/// Environment variable carrying a per-run token to every process Chromium
/// starts with its environment intact.
const MARKER_VAR: &str = "ZORYN_REPORT_HTML_TEST_RUN";

// ---------------------------------------------------------------------------
// A realistic batch: 3 lanes, 10 packages.

const X86: &str = "x86_64/sisyphus";
const ARM: &str = "aarch64/sisyphus";
const I586: &str = "i586/p11";

const PACKAGES: [&str; 10] = [
    "libfmt",
    "spdlog",
    "yaml-cpp",
    "php8.4",
    "php8.4-pear",
    "php8.4-pecl-redis",
    "qt6-base",
    "kf6-kcoreaddons",
    "intel-media-driver",
    "python3-module-pydantic-core",
];

/// (package, seconds, result, message) in dispatch order for one lane.
type Plan<'a> = [(&'a str, f64, &'a str, Option<&'a str>)];

/// Jobs of one lane: those with a duration are placed on the slot that
/// becomes free first (list scheduling), the others get no times.
fn lane_jobs(lane: &str, slots: &[&str], plan: &Plan) -> Vec<JobReport> {
    let mut free = vec![0.0_f64; slots.len()];
    let mut jobs = Vec::new();
    for (pkg, secs, result, message) in plan {
        let timed = *secs > 0.0;
        let mut j = JobReport {
            package: pkg.to_string(),
            lane: lane.to_string(),
            result: (*result).into(),
            builder: None,
            start: None,
            end: None,
            message: message.map(str::to_string),
            log: None,
            packages: vec![],
        };
        if timed {
            let (slot, at) = free
                .iter()
                .copied()
                .enumerate()
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .expect("a lane has slots");
            let start = at + 1.5;
            free[slot] = start + secs;
            j.builder = Some(slots[slot].to_string());
            j.start = Some(start);
            j.end = Some(start + secs);
            let arch = lane.split('/').next().unwrap_or(lane);
            j.log = Some(format!(
                "/home/builder/.local/state/zoryn/batches/spring & co/logs/{pkg}.{arch}.{}.log",
                slots[slot]
            ));
            if *result == "OK" {
                j.packages = vec![
                    format!("hasher_out/{}/{pkg}-1.0-alt1.{arch}.rpm", slots[slot]),
                    format!("hasher_out/{}/{pkg}-devel-1.0-alt1.{arch}.rpm", slots[slot]),
                ];
            }
        }
        jobs.push(j);
    }
    jobs
}

fn realistic_report() -> BatchReport {
    let lane = |name: &str, slots: &[&str], est: f64, lb: f64, cycles: Vec<String>| LaneReport {
        lane: name.into(),
        slots: slots.iter().map(|s| s.to_string()).collect(),
        estimated_makespan: est,
        lower_bound: lb,
        cycles,
    };
    let x86_slots = ["local", "local2", "local3"];
    let arm_slots = ["arm1", "arm2"];
    let i586_slots = ["bignode1"];
    let blocked_pear = Some("not built: dependency php8.4-pear failed");
    let blocked_qt = Some("not built: dependency qt6-base failed");
    let mut jobs = lane_jobs(
        X86,
        &x86_slots,
        &[
            ("libfmt", 95.0, "OK", None),
            ("yaml-cpp", 140.0, "OK", None),
            ("php8.4", 610.0, "OK", None),
            ("spdlog", 120.0, "OK", None),
            ("qt6-base", 780.0, "OK", None),
            (
                "php8.4-pear",
                75.0,
                "FAIL",
                Some("error: Bad exit status from /usr/src/tmp/rpm-tmp.81 (%check): test <pear-install> failed & 3 more"),
            ),
            ("php8.4-pecl-redis", 0.0, "BLOCKED", blocked_pear),
            ("kf6-kcoreaddons", 260.0, "OK", None),
            ("intel-media-driver", 330.0, "OK", None),
            ("python3-module-pydantic-core", 180.0, "OK", None),
        ],
    );
    jobs.extend(lane_jobs(
        ARM,
        &arm_slots,
        &[
            ("libfmt", 160.0, "OK", None),
            ("yaml-cpp", 230.0, "OK", None),
            ("spdlog", 210.0, "OK", None),
            (
                "qt6-base",
                920.0,
                "FAIL",
                Some("qatomic.h:42: error: no matching function for call to 'QAtomicInt::load<std::memory_order>()' <script>alert(1)</script>"),
            ),
            ("php8.4", 700.0, "OK", None),
            ("php8.4-pear", 90.0, "OK", None),
            ("php8.4-pecl-redis", 110.0, "OK", None),
            ("kf6-kcoreaddons", 0.0, "BLOCKED", blocked_qt),
            (
                "intel-media-driver",
                0.0,
                "SKIP",
                Some("ExclusiveArch: x86_64 %ix86"),
            ),
            ("python3-module-pydantic-core", 300.0, "OK", None),
        ],
    ));
    jobs.extend(lane_jobs(
        I586,
        &i586_slots,
        &[
            (
                "libfmt",
                0.0,
                "KEPT",
                Some("built in an earlier run; results intact"),
            ),
            ("yaml-cpp", 150.0, "OK", None),
            ("spdlog", 130.0, "OK", None),
            ("php8.4", 540.0, "OK", None),
            ("php8.4-pear", 80.0, "OK", None),
            ("php8.4-pecl-redis", 95.0, "OK", None),
            ("qt6-base", 0.0, "SKIP", Some("ExcludeArch: %ix86")),
            ("kf6-kcoreaddons", 0.0, "SKIP", Some("ExcludeArch: %ix86")),
            (
                "intel-media-driver",
                240.0,
                "CANCELLED",
                Some("cancelled: --fail-fast after a failure"),
            ),
            (
                "python3-module-pydantic-core",
                0.0,
                "NOT RUN",
                Some("not run: the batch stopped (--fail-fast)"),
            ),
        ],
    ));
    let wall = jobs.iter().filter_map(|j| j.end).fold(0.0, f64::max) + 4.0;
    BatchReport {
        batch: "spring-rebuild <php & qt>".into(),
        started_unix: 1_747_300_000.0,
        wall_secs: wall,
        lanes: vec![
            lane(
                X86,
                &x86_slots,
                845.0,
                790.0,
                vec![
                    "cycle php8.4 -> php8.4-pear -> php8.4: built php8.4 first; its BuildRequires \
                     php8.4-pear is ignored (taken from the repository)"
                        .into(),
                ],
            ),
            lane(ARM, &arm_slots, 1240.0, 1150.0, vec![]),
            lane(I586, &i586_slots, 1300.0, 1235.0, vec![]),
        ],
        packages: PACKAGES.iter().map(|p| p.to_string()).collect(),
        jobs,
        exit_code: 1,
    }
}

// ---------------------------------------------------------------------------
// Running Chromium.

/// `chromium` on PATH, or a failure naming the package to install.
fn chromium_binary() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("chromium"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "this test renders the HTML report in headless Chromium, but `chromium` is \
                 not on PATH: install the Debian package `chromium` \
                 (apt-get install --no-install-recommends chromium), as .ci/run does"
            )
        })
}

/// One Chromium run; dropping it kills and reaps everything it started.
struct Browser {
    child: Option<Child>,
    pgid: i32,
    marker: String,
}

/// (pid, state, ppid, pgid) from /proc/PID/stat.
fn stat(pid: i32) -> Option<(char, i32, i32)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: fields after the last ')'.
    let rest = &s[s.rfind(')')? + 1..];
    let mut f = rest.split_whitespace();
    let state = f.next()?.chars().next()?;
    let ppid = f.next()?.parse().ok()?;
    let pgid = f.next()?.parse().ok()?;
    Some((state, ppid, pgid))
}

impl Browser {
    fn spawn(args: &[String], home: &Path, stdout: &Path, stderr: &Path) -> Browser {
        static SUBREAPER: Once = Once::new();
        SUBREAPER.call_once(|| {
            // Helpers that daemonize are reparented here, not to init, so
            // the guard can find and reap them.
            nix::sys::prctl::set_child_subreaper(true).expect("PR_SET_CHILD_SUBREAPER");
        });
        let marker = format!(
            "{}-{}",
            std::process::id(),
            home.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        );
        let child = Command::new(chromium_binary())
            .args(args)
            .env("HOME", home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .env(MARKER_VAR, &marker)
            .stdin(Stdio::null())
            .stdout(File::create(stdout).expect("stdout file"))
            .stderr(File::create(stderr).expect("stderr file"))
            .process_group(0)
            .spawn()
            .expect("start chromium");
        let pgid = i32::try_from(child.id()).expect("pid fits i32");
        Browser {
            child: Some(child),
            pgid,
            marker,
        }
    }

    /// The exit status, or None when it did not exit within `timeout`.
    fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            let child = self.child.as_mut()?;
            match child.try_wait() {
                Ok(Some(st)) => {
                    self.child = None;
                    return Some(st);
                }
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                _ => return None,
            }
        }
    }

    /// Every live or zombie process this run started: in its process
    /// group, carrying its marker, or reparented to us (this test process
    /// starts nothing else).
    fn leftovers(&self) -> Vec<(i32, i32)> {
        let me = i32::try_from(std::process::id()).unwrap_or(0);
        let main = self.child.as_ref().map(|c| c.id() as i32);
        let needle = format!("{MARKER_VAR}={}", self.marker);
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return vec![];
        };
        let mut found = Vec::new();
        for e in dir.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            if pid == me || Some(pid) == main {
                continue;
            }
            let Some((_, ppid, pgid)) = stat(pid) else {
                continue;
            };
            let marked = std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes()));
            if pgid == self.pgid || ppid == me || marked {
                found.push((pid, ppid));
            }
        }
        found
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let me = i32::try_from(std::process::id()).unwrap_or(0);
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let _ = killpg(Pid::from_raw(self.pgid), Signal::SIGKILL);
            if let Some(c) = self.child.as_mut() {
                let _ = c.kill();
                if let Ok(Some(_)) = c.try_wait() {
                    self.child = None;
                }
            }
            let left = self.leftovers();
            for (pid, ppid) in &left {
                let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
                if *ppid == me {
                    let _ = waitpid(Pid::from_raw(*pid), Some(WaitPidFlag::WNOHANG));
                }
            }
            if left.is_empty() && self.child.is_none() {
                return;
            }
            if Instant::now() > deadline {
                eprintln!("warning: chromium processes still there after SIGKILL: {left:?}");
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// `file://` URL of an absolute path (bytes outside a safe set
/// percent-encoded).
fn file_url(p: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut url = String::from("file://");
    for b in p.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(b) {
            url.push(char::from(*b));
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url
}

struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// Run headless Chromium with a fresh profile on `url`, `mode` being
/// `--dump-dom` or `--screenshot=PNG`.
fn chromium(work: &Path, name: &str, mode: &str, url: &str) -> Run {
    let home = work.join(format!("home-{name}"));
    let profile = work.join(format!("profile-{name}"));
    std::fs::create_dir_all(&home).expect("home dir");
    std::fs::create_dir_all(&profile).expect("profile dir");
    let args: Vec<String> = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([
        format!("--user-data-dir={}", profile.display()),
        format!("--window-size={WIDTH},{HEIGHT}"),
        mode.to_string(),
        url.to_string(),
    ])
    .collect();
    let out = work.join(format!("{name}.stdout"));
    let err = work.join(format!("{name}.stderr"));
    let started = Instant::now();
    let mut browser = Browser::spawn(&args, &home, &out, &err);
    let status = browser.wait(TIMEOUT);
    drop(browser);
    let stdout = std::fs::read_to_string(&out).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err).unwrap_or_default();
    let Some(status) = status else {
        panic!(
            "chromium {mode} did not finish within {TIMEOUT:?} (killed); stderr:\n{}",
            tail(&stderr)
        );
    };
    eprintln!("chromium {mode}: {status} in {:.1?}", started.elapsed());
    Run {
        status,
        stdout,
        stderr,
    }
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

// ---------------------------------------------------------------------------
// Minimal PNG reading: signature, IHDR, chunk walk to IEND.

struct Png {
    width: u32,
    height: u32,
    idat_bytes: usize,
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn read_png(data: &[u8]) -> Result<Png, String> {
    if data.get(..8) != Some(b"\x89PNG\r\n\x1a\n".as_slice()) {
        return Err("not a PNG signature".into());
    }
    let mut at = 8;
    let mut size = None;
    let mut idat_bytes = 0usize;
    loop {
        let len = be32(data, at).ok_or("truncated chunk length")? as usize;
        let kind = data.get(at + 4..at + 8).ok_or("truncated chunk type")?;
        let body = data
            .get(at + 8..at + 8 + len)
            .ok_or("truncated chunk data")?;
        be32(data, at + 8 + len).ok_or("truncated chunk CRC")?;
        match kind {
            b"IHDR" if at == 8 && len == 13 => {
                size = Some((be32(body, 0).unwrap_or(0), be32(body, 4).unwrap_or(0)));
            }
            b"IHDR" => return Err("misplaced IHDR".into()),
            b"IDAT" => idat_bytes += len,
            b"IEND" => break,
            _ => {}
        }
        at += 12 + len;
    }
    let (width, height) = size.ok_or("no IHDR")?;
    Ok(Png {
        width,
        height,
        idat_bytes,
    })
}

// ---------------------------------------------------------------------------

#[test]
fn report_renders_in_headless_chromium() {
    let report = realistic_report();
    let bars = report
        .jobs
        .iter()
        .filter(|j| j.start.is_some() && j.end.is_some())
        .count();
    assert_eq!(report.jobs.len(), 30);
    assert_eq!(bars, 23, "the fixture has 23 timed jobs");

    let work = tempfile::tempdir().expect("temp dir");
    let page = work.path().join("report.html");
    std::fs::write(&page, html::render(&report)).expect("write page");
    let url = file_url(&page);

    // The DOM as Chromium built it from the page.
    let dom = chromium(work.path(), "dom", "--dump-dom", &url);
    assert!(
        dom.status.success(),
        "chromium --dump-dom failed: {}\n{}",
        dom.status,
        tail(&dom.stderr)
    );
    let dom = dom.stdout;
    assert!(
        dom.contains("<svg id=\"timeline\""),
        "no timeline SVG in the DOM:\n{dom}"
    );
    assert_eq!(
        dom.matches("<rect class=\"job\"").count(),
        bars,
        "job bars in the DOM"
    );
    assert_eq!(
        dom.matches("<tr class=\"pkg\">").count(),
        PACKAGES.len(),
        "table rows"
    );
    assert_eq!(dom.matches("<th class=\"lane\"").count(), 3, "lane columns");
    assert_eq!(dom.matches("<td class=\"cell ").count(), 30, "table cells");
    for p in PACKAGES {
        assert!(
            dom.contains(&format!("<th scope=\"row\">{p}</th>")),
            "row of {p}"
        );
    }
    // User text stayed text: no element came out of a message or a name.
    assert!(
        !dom.contains("<script"),
        "a message became a script element"
    );
    assert!(!dom.contains("<pear-install>") && !dom.contains("<std::memory_order>"));
    assert!(dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(dom.contains("spring-rebuild &lt;php &amp; qt&gt;"));
    assert!(dom.contains("cycle php8.4 -&gt; php8.4-pear -&gt; php8.4"));

    // The screenshot.
    let png_path = work.path().join("report.png");
    let shot = chromium(
        work.path(),
        "shot",
        &format!("--screenshot={}", png_path.display()),
        &url,
    );
    assert!(
        shot.status.success(),
        "chromium --screenshot failed: {}\n{}",
        shot.status,
        tail(&shot.stderr)
    );
    let data = std::fs::read(&png_path).unwrap_or_else(|e| {
        panic!(
            "no screenshot at {}: {e}\n{}",
            png_path.display(),
            tail(&shot.stderr)
        )
    });
    let png = read_png(&data).unwrap_or_else(|e| panic!("bad PNG {}: {e}", png_path.display()));
    assert_eq!((png.width, png.height), (WIDTH, HEIGHT), "screenshot size");
    // A blank 1400x1000 page compresses to a few KB; this one has text,
    // coloured cells and bars all over.
    assert!(
        data.len() > 40_000 && png.idat_bytes > 35_000,
        "screenshot looks blank: {} bytes, {} in IDAT",
        data.len(),
        png.idat_bytes
    );
    if let Some(dir) = std::env::var_os("ZORYN_REPORT_HTML_KEEP") {
        // For looking at the page by hand.
        let dir = PathBuf::from(dir);
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::copy(&page, dir.join("report.html"));
        let _ = std::fs::copy(&png_path, dir.join("report.png"));
    }
}

#[test]
fn png_reader_rejects_garbage() {
    assert!(read_png(b"GIF89a").is_err());
    assert!(read_png(b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR").is_err());
}

#[test]
fn file_urls_are_percent_encoded() {
    assert_eq!(
        file_url(Path::new("/tmp/a b/r&port.html")),
        "file:///tmp/a%20b/r%26port.html"
    );
}
