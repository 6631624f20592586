//! The remote side of a build's pre-flight and result listing.
//!
//! One fixed POSIX shell script per question, sent with its inputs as
//! separate, quoted arguments (never pasted into the script). The answers are
//! line-oriented and parsed here into the same values the local checks use:
//! workdir state, the session's groups (for `hashman`), the hasher-priv
//! files, the workdir lock, the checksums of the uploaded source and of
//! the builder's apt config there, and the result directories' contents.
//! The pre-flight is on the path of every build, so in the usual case
//! (everything in place, nothing changed) it starts few processes: `id`,
//! `stat` for the kept source checksum, `flock` for the lock.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use super::priv_config::PrivTree;
use super::results::Snapshot;
use super::workdir::LockState;

/// Checks the workdir, prints the session's groups and whether `hashman`
/// exists, prints the hasher-priv files that exist, probes the lock, creates
/// zoryn's own directories, says whether hasher's chroot is there (for
/// `-r`/`--section`), the SHA-256 of the uploaded source and of each file
/// of the builder's apt config there (so unchanged ones are not sent
/// again), and lists the result dirs.
/// Arguments: WORKDIR NFILES FILE... NMKDIR DIR... 0|1 SOURCE APTDIR RESULTDIR...
pub const PREFLIGHT_SCRIPT: &str = r#"
wd=$1; shift
if [ ! -e "$wd" ]; then echo "workdir=missing"
elif [ ! -d "$wd" ]; then echo "workdir=notdir"
elif [ ! -w "$wd" ] || [ ! -x "$wd" ]; then echo "workdir=unwritable"
else echo "workdir=ok"; fi
groups=$(id -Gn 2>/dev/null)
echo "groups=$groups"
# A member of hashman needs no look-up to know the group exists.
case " $groups " in
  *" hashman "*) echo "hashman=yes" ;;
  *) if getent group hashman >/dev/null 2>&1 || grep -q '^hashman:' /etc/group 2>/dev/null; then echo "hashman=yes"; else echo "hashman=no"; fi ;;
esac
if [ -d "$wd/chroot" ]; then echo "chroot=yes"; fi
pd=${ZORYN_HASHER_PRIV_DIR:-/etc/hasher-priv}
echo "privdir=$pd"
if [ -r "$pd/user.d" ]; then echo "userd=readable"; else echo "userd=unreadable"; fi
n=$1; shift
while [ "$n" -gt 0 ]; do
  f=$1; shift; n=$((n-1))
  if [ -f "$pd/$f" ] && [ -r "$pd/$f" ]; then
    echo "file=$f"
    while IFS= read -r l || [ -n "$l" ]; do printf '| %s\n' "$l"; done <"$pd/$f"
  fi
done
n=$1; shift
while [ "$n" -gt 0 ]; do
  if [ -d "$1" ] || mkdir -p -- "$1"; then echo "mkdir=ok"; else echo "mkdir=failed $1"; fi
  shift; n=$((n-1))
done
if [ "$1" = 1 ] && [ -f "$2" ] && command -v sha256sum >/dev/null 2>&1; then
  # Kept beside the file with its identity (device, inode, size, mtime and
  # ctime to the nanosecond): replaced or rewritten, it is hashed again.
  id=$(stat -c '%d %i %s %y %z' -- "$2" 2>/dev/null) kept=
  IFS= read -r kept 2>/dev/null <"$2.zoryn-sha256"
  if [ -n "$id" ] && [ "${kept%|*}" = "$id" ]; then sum=${kept##*|}
  else
    sum=$(sha256sum <"$2" | cut -c1-64)
    [ -z "$id" ] || { printf '%s|%s\n' "$id" "$sum" >"$2.zoryn-sha256.$$" && mv -f -- "$2.zoryn-sha256.$$" "$2.zoryn-sha256"; } 2>/dev/null
  fi
  echo "source_sha256=$sum"
fi
shift 2
if [ -n "$1" ] && [ -d "$1" ] && command -v sha256sum >/dev/null 2>&1; then
  echo "apt=listed"
  (cd "$1" || exit 0
  set --
  for f in * .[!.]* ..?*; do
    if [ -f "$f" ] && [ ! -L "$f" ]; then set -- "$@" "./$f"; fi
  done
  [ $# -eq 0 ] || sha256sum -- "$@" 2>/dev/null | while read -r sum name; do
    printf 'apt_sha256=%s %s\n' "$sum" "${name#./}"
  done)
fi
shift
if [ -d "$wd" ]; then
  if command -v flock >/dev/null 2>&1; then
    if flock -n "$wd" true 2>/dev/null; then echo "lock=free"
    else
      pid=$(head -c32 "$wd/pid" 2>/dev/null | tr -dc 0-9)
      since=$(stat -c %Y "$wd/pid" 2>/dev/null)
      now=$(date +%s)
      # The kernel's holder wins over a stale pid file (see hasher::workdir).
      dev=$(stat -c %d "$wd" 2>/dev/null) ino=$(stat -c %i "$wd" 2>/dev/null)
      if [ -n "$dev" ] && [ -r /proc/locks ]; then
        key=$(printf '%02x:%02x:%s' $(( (dev >> 8) & 0xfff )) $(( (dev & 0xff) | ((dev >> 12) & 0xfff00) )) "$ino")
        holder=$(awk -v k="$key" '$2 == "FLOCK" && $6 == k { print $5; exit }' /proc/locks 2>/dev/null)
        if [ -n "$holder" ] && [ "$holder" != "$pid" ]; then pid=$holder since=; fi
      fi
      # Unlisted by the kernel: a pid file naming a dead process is stale.
      if [ -z "${holder:-}" ] && [ -n "$pid" ] && [ ! -d "/proc/$pid" ]; then pid= since=; fi
      echo "lock=busy pid=${pid:-} age=${since:+$(( ${now:-0} - since ))}"
    fi
  else echo "lock=unknown"; fi
fi
for d in "$@"; do
  [ -d "$d" ] && find "$d" -maxdepth 1 -type f -name '*.rpm' -printf 'rpm=%i %T@ %s %p\n' 2>/dev/null
done
exit 0
"#;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkdirState {
    Ok,
    Missing,
    NotDir,
    Unwritable,
}

/// The parsed answer of [`PREFLIGHT_SCRIPT`].
#[derive(Debug, Clone)]
pub struct Preflight {
    pub workdir: WorkdirState,
    pub priv_dir: String,
    pub userd_readable: bool,
    pub files: HashMap<String, String>,
    pub mkdir_failed: Vec<String>,
    /// `id -Gn` of the login session (the groups hsh will run with).
    pub groups: Option<String>,
    /// Whether the host has a `hashman` group.
    pub hashman_group: Option<bool>,
    pub lock: Option<LockState>,
    /// `WORKDIR/chroot` exists (an earlier hsh left its chroot).
    pub chroot: bool,
    pub results: Snapshot,
    /// SHA-256 of the source tarball already on the host, when one was
    /// asked about, exists, and `sha256sum` is there.
    pub source_sha256: Option<String>,
    /// The builder's apt config on the host, file name → SHA-256, when it
    /// was asked about and the directory is there.
    pub apt_sha256: Option<BTreeMap<String, String>>,
}

impl PrivTree for Preflight {
    fn dir(&self) -> String {
        self.priv_dir.clone()
    }
    fn readable(&self) -> bool {
        self.userd_readable
    }
    fn read(&self, rel: &str) -> Option<String> {
        self.files.get(rel).cloned()
    }
}

/// argv for the preflight: `sh -c SCRIPT zoryn-preflight ARGS...`.
pub fn preflight_argv(
    workdir: &str,
    priv_files: &[String],
    mkdirs: &[String],
    result_dirs: &[String],
) -> Vec<String> {
    preflight_argv_with_source(workdir, priv_files, mkdirs, None, result_dirs)
}

/// [`preflight_argv`] that also asks for the SHA-256 of `source` (the
/// uploaded tarball's path on the host), so an unchanged source need not
/// be sent again.
pub fn preflight_argv_with_source(
    workdir: &str,
    priv_files: &[String],
    mkdirs: &[String],
    source: Option<&str>,
    result_dirs: &[String],
) -> Vec<String> {
    preflight_argv_full(workdir, priv_files, mkdirs, source, None, result_dirs)
}

/// [`preflight_argv_with_source`] that also asks for the SHA-256 of each
/// file in `apt_dir` (the builder's apt config on the host).
pub fn preflight_argv_full(
    workdir: &str,
    priv_files: &[String],
    mkdirs: &[String],
    source: Option<&str>,
    apt_dir: Option<&str>,
    result_dirs: &[String],
) -> Vec<String> {
    let mut v = vec![
        "sh".into(),
        "-c".into(),
        PREFLIGHT_SCRIPT.into(),
        "zoryn-preflight".into(),
        workdir.into(),
    ];
    v.push(priv_files.len().to_string());
    v.extend(priv_files.iter().cloned());
    v.push(mkdirs.len().to_string());
    v.extend(mkdirs.iter().cloned());
    match source {
        Some(s) => v.extend(["1".to_string(), s.to_string()]),
        None => v.extend(["0".to_string(), String::new()]),
    }
    v.push(apt_dir.unwrap_or_default().to_string());
    v.extend(result_dirs.iter().cloned());
    v
}

fn rpm_entry(line: &str) -> Option<(PathBuf, String)> {
    let rest = line.strip_prefix("rpm=")?;
    let mut it = rest.splitn(4, ' ');
    let (ino, mtime, size, path) = (it.next()?, it.next()?, it.next()?, it.next()?);
    Some((PathBuf::from(path), format!("{ino} {mtime} {size}")))
}

/// Parse a result listing (`rpm=` lines of the pre-flight or the build wrapper).
pub fn parse_listing(out: &str) -> Snapshot {
    Snapshot::from_entries(out.lines().filter_map(rpm_entry))
}

pub fn parse_preflight(out: &str) -> Preflight {
    let mut p = Preflight {
        workdir: WorkdirState::Missing,
        priv_dir: "/etc/hasher-priv".into(),
        userd_readable: false,
        files: HashMap::new(),
        mkdir_failed: Vec::new(),
        groups: None,
        hashman_group: None,
        lock: None,
        chroot: false,
        results: parse_listing(out),
        source_sha256: None,
        apt_sha256: None,
    };
    let mut current: Option<String> = None;
    for line in out.lines() {
        if let Some(text) = line
            .strip_prefix("| ")
            .or_else(|| (line == "|").then_some(""))
        {
            if let Some(f) = &current {
                let e = p.files.entry(f.clone()).or_default();
                e.push_str(text);
                e.push('\n');
            }
            continue;
        }
        current = None;
        if let Some(v) = line.strip_prefix("workdir=") {
            p.workdir = match v {
                "ok" => WorkdirState::Ok,
                "notdir" => WorkdirState::NotDir,
                "unwritable" => WorkdirState::Unwritable,
                _ => WorkdirState::Missing,
            };
        } else if let Some(v) = line.strip_prefix("groups=") {
            p.groups = Some(v.to_string());
        } else if let Some(v) = line.strip_prefix("hashman=") {
            p.hashman_group = Some(v == "yes");
        } else if line == "chroot=yes" {
            p.chroot = true;
        } else if let Some(v) = line.strip_prefix("privdir=") {
            p.priv_dir = v.to_string();
        } else if let Some(v) = line.strip_prefix("userd=") {
            p.userd_readable = v == "readable";
        } else if let Some(v) = line.strip_prefix("file=") {
            p.files.insert(v.to_string(), String::new());
            current = Some(v.to_string());
        } else if let Some(v) = line.strip_prefix("mkdir=failed ") {
            p.mkdir_failed.push(v.to_string());
        } else if line == "apt=listed" {
            p.apt_sha256.get_or_insert_with(BTreeMap::new);
        } else if let Some(v) = line.strip_prefix("apt_sha256=") {
            // A name this side would not write (or a broken line) makes
            // the listing unlike any local one: the config is sent again.
            let entry = v
                .split_once(' ')
                .filter(|(sum, _)| sum.len() == 64 && sum.bytes().all(|b| b.is_ascii_hexdigit()));
            let files = p.apt_sha256.get_or_insert_with(BTreeMap::new);
            match entry {
                Some((sum, name)) => files.insert(name.to_string(), sum.to_ascii_lowercase()),
                None => files.insert(format!("\0{v}"), String::new()),
            };
        } else if let Some(v) = line.strip_prefix("source_sha256=") {
            if v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()) {
                p.source_sha256 = Some(v.to_ascii_lowercase());
            }
        } else if let Some(v) = line.strip_prefix("lock=") {
            p.lock = match v.split_whitespace().next() {
                Some("free") => Some(LockState::Free),
                Some("busy") => {
                    let field = |k: &str| {
                        v.split_whitespace()
                            .find_map(|w| w.strip_prefix(k))
                            .and_then(|x| x.parse::<u64>().ok())
                    };
                    Some(LockState::Busy {
                        pid: field("pid=").map(|x| x as u32),
                        since: field("age=").and_then(|a| {
                            std::time::SystemTime::now()
                                .checked_sub(std::time::Duration::from_secs(a))
                        }),
                    })
                }
                _ => None,
            };
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn run(argv: &[String]) -> String {
        run_env(argv, std::path::Path::new("/nonexistent"))
    }

    fn run_env(argv: &[String], priv_dir: &std::path::Path) -> String {
        let out = Command::new(&argv[0])
            .args(&argv[1..])
            .env("ZORYN_HASHER_PRIV_DIR", priv_dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// The script runs under a real sh and its answer parses back.
    #[test]
    fn preflight_script_round_trip() {
        let t = tempfile::tempdir().unwrap();
        let wd = t.path().join("hasher 1 $x");
        let priv_dir = t.path().join("priv");
        std::fs::create_dir_all(priv_dir.join("user.d")).unwrap();
        std::fs::create_dir_all(&wd).unwrap();
        std::fs::write(priv_dir.join("system"), "allowed_mountpoints=/proc\n").unwrap();
        std::fs::write(priv_dir.join("user.d/me:1"), "user1=me_a1\nuser2=me_b1\n").unwrap();
        let repo = wd.join("repo/x86_64/RPMS.hasher");
        std::fs::create_dir_all(&repo).unwrap();
        std::fs::write(repo.join("a-1.rpm"), "x").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", repo.join("evil.rpm")).unwrap();
        let up = t.path().join("up/pkg");
        let argv = preflight_argv(
            &wd.to_string_lossy(),
            &["system".into(), "user.d/me".into(), "user.d/me:1".into()],
            &[up.to_string_lossy().into_owned()],
            &[repo.to_string_lossy().into_owned(), "/nonexistent/x".into()],
        );
        let p = parse_preflight(&run_env(&argv, &priv_dir));
        assert_eq!(p.workdir, WorkdirState::Ok);
        // The session's groups and whether hashman exists, as this machine says.
        let id = Command::new("id").arg("-Gn").output().unwrap();
        assert_eq!(
            p.groups.as_deref(),
            Some(String::from_utf8_lossy(&id.stdout).trim())
        );
        let exists = nix::unistd::Group::from_name("hashman")
            .ok()
            .flatten()
            .is_some();
        assert_eq!(p.hashman_group, Some(exists));
        assert!(p.userd_readable);
        assert_eq!(
            p.read("user.d/me:1").as_deref(),
            Some("user1=me_a1\nuser2=me_b1\n")
        );
        assert_eq!(p.read("user.d/me"), None);
        assert!(up.is_dir());
        assert_eq!(p.lock, Some(LockState::Free));
        // Only the regular file is listed; the symlink is not.
        let produced = Snapshot::default().produced_since(&p.results);
        assert_eq!(produced, vec![repo.join("a-1.rpm")]);
    }

    /// The source's checksum is asked only when a path is given, and a
    /// missing file gives none.
    #[test]
    fn preflight_reports_the_sources_sha256() {
        let t = tempfile::tempdir().unwrap();
        let tar = t.path().join("pkg.tar");
        std::fs::write(&tar, "abc").unwrap();
        let tar_s = tar.to_string_lossy().into_owned();
        let res = t.path().join("res");
        std::fs::create_dir_all(&res).unwrap();
        std::fs::write(res.join("a-1.rpm"), "x").unwrap();
        let argv = preflight_argv_with_source(
            "/nonexistent/wd",
            &[],
            &[],
            Some(&tar_s),
            &[res.to_string_lossy().into_owned()],
        );
        let p = parse_preflight(&run(&argv));
        assert_eq!(
            p.source_sha256.as_deref(),
            Some("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        // The arguments after it are still read as result dirs.
        assert_eq!(
            Snapshot::default().produced_since(&p.results),
            vec![res.join("a-1.rpm")]
        );
        let none = preflight_argv_with_source(
            "/nonexistent/wd",
            &[],
            &[],
            Some("/nonexistent/x.tar"),
            &[],
        );
        assert_eq!(parse_preflight(&run(&none)).source_sha256, None);
        let not_asked = preflight_argv("/nonexistent/wd", &[], &[], &[]);
        assert_eq!(parse_preflight(&run(&not_asked)).source_sha256, None);
    }

    /// The source's checksum is kept beside it and used while the file
    /// is the same (same inode, size, times); a rewrite is hashed again.
    #[test]
    fn the_sources_checksum_is_kept_while_the_file_is_unchanged() {
        let t = tempfile::tempdir().unwrap();
        let tar = t.path().join("pkg.tar");
        std::fs::write(&tar, "abc").unwrap();
        let tar_s = tar.to_string_lossy().into_owned();
        let argv = preflight_argv_with_source("/nonexistent/wd", &[], &[], Some(&tar_s), &[]);
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(
            parse_preflight(&run(&argv)).source_sha256.as_deref(),
            Some(abc)
        );
        let kept = t.path().join("pkg.tar.zoryn-sha256");
        let text = std::fs::read_to_string(&kept).unwrap();
        let (id, sum) = text.trim_end().rsplit_once('|').unwrap();
        assert_eq!(sum, abc);
        // A planted sum for the same file is what the pre-flight reports:
        // it was not hashed again.
        let fake = "0".repeat(64);
        std::fs::write(&kept, format!("{id}|{fake}\n")).unwrap();
        assert_eq!(
            parse_preflight(&run(&argv)).source_sha256.as_deref(),
            Some(fake.as_str())
        );
        // Rewritten in place with the same size: hashed again.
        std::fs::write(&tar, "abd").unwrap();
        let abd = parse_preflight(&run(&argv)).source_sha256.unwrap();
        assert_ne!(abd, fake);
        assert_ne!(abd, abc);
    }

    #[test]
    fn missing_workdir_is_reported() {
        let argv = preflight_argv("/nonexistent/zoryn-wd", &[], &[], &[]);
        let p = parse_preflight(&run(&argv));
        assert_eq!(p.workdir, WorkdirState::Missing);
        assert_eq!(p.lock, None);
    }
}
