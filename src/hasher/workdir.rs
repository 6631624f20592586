//! The hasher workdir: usable or not, and who holds its lock.
//!
//! hsh takes an flock on the workdir directory and writes its pid to
//! `WORKDIR/pid`. "Busy" means that lock is held right now — by another
//! zoryn, or by someone running hsh by hand. The pid file alone proves
//! nothing (hasher leaves it behind, and a stranger holding the lock — a
//! script, `flock` by hand — writes none): the holder named is the one the
//! kernel lists in `/proc/locks` for the workdir, the pid file only where
//! that list cannot tell and only while the process it names lives.

use std::path::Path;
use std::time::SystemTime;

use nix::fcntl::{Flock, FlockArg};
use nix::unistd::{access, AccessFlags};

/// Why a workdir cannot be used, with the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkdirProblem {
    pub message: String,
    pub hint: String,
}

/// Check a local workdir the way hsh will (exists, is a directory, is
/// writable, has no characters hsh rejects).
pub fn check_local(dir: &Path) -> Result<(), WorkdirProblem> {
    let shown = dir.display();
    let meta = match std::fs::metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(WorkdirProblem {
                message: format!("hasher workdir {shown} does not exist"),
                hint: format!(
                    "create it: mkdir -p '{shown}' (or set hasher_dir in the builder's .conf)"
                ),
            })
        }
        Err(e) => {
            return Err(WorkdirProblem {
                message: format!("hasher workdir {shown} is not accessible: {e}"),
                hint: "check the permissions of the directory and its parents".into(),
            })
        }
    };
    if !meta.is_dir() {
        return Err(WorkdirProblem {
            message: format!("hasher workdir {shown} is not a directory"),
            hint: "point hasher_dir at a directory".into(),
        });
    }
    if access(dir, AccessFlags::W_OK | AccessFlags::X_OK).is_err() {
        return Err(WorkdirProblem {
            message: format!("hasher workdir {shown} is not writable"),
            hint: format!(
                "make it yours: chown \"$USER\" '{shown}' (hasher runs as you, not as root)"
            ),
        });
    }
    if dir.to_string_lossy().contains(['`', '"', '$', '\\']) {
        return Err(WorkdirProblem {
            message: format!("hasher workdir {shown} contains a character hsh refuses (` \" $ \\)"),
            hint: "choose a hasher_dir without those characters".into(),
        });
    }
    Ok(())
}

/// Whether hsh's workdir lock is held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockState {
    Free,
    Busy {
        pid: Option<u32>,
        since: Option<SystemTime>,
    },
}

/// Probe the lock without waiting (take it and let it go at once).
pub fn probe_lock(dir: &Path) -> std::io::Result<LockState> {
    let f = std::fs::File::open(dir)?;
    match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => {
            drop(lock);
            Ok(LockState::Free)
        }
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => {
            let pid_file = dir.join("pid");
            let file_pid: Option<u32> = std::fs::read_to_string(&pid_file)
                .ok()
                .and_then(|s| s.trim().parse().ok());
            let since = std::fs::metadata(&pid_file).and_then(|m| m.modified()).ok();
            let holders = kernel_holders(dir);
            Ok(match holders.first() {
                // The pid file is hsh's, and its age is the build's.
                Some(h) if file_pid == Some(*h) => LockState::Busy {
                    pid: file_pid,
                    since,
                },
                // Someone else holds it: the pid file is stale.
                Some(h) => LockState::Busy {
                    pid: Some(*h),
                    since: None,
                },
                // The kernel does not say (no `/proc/locks`, as in some
                // sandboxes): the pid file names the holder only while
                // that process lives.
                None if file_pid.is_some_and(is_alive) => LockState::Busy {
                    pid: file_pid,
                    since,
                },
                None => LockState::Busy {
                    pid: None,
                    since: None,
                },
            })
        }
        Err((_, e)) => Err(e.into()),
    }
}

/// Pids the kernel lists in `/proc/locks` as holding an flock on `dir`;
/// empty where that list is missing or does not name it.
///
/// The list is read in page-sized pieces and can shift between them while
/// other locks come and go, so a held lock may be missed in one reading: it
/// is read up to three times.
pub fn kernel_holders(dir: &Path) -> Vec<u32> {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata(dir) else {
        return Vec::new();
    };
    for _ in 0..3 {
        let Ok(locks) = std::fs::read_to_string("/proc/locks") else {
            break;
        };
        let holders = flock_holders(&locks, meta.dev(), meta.ino());
        if !holders.is_empty() {
            return holders;
        }
    }
    Vec::new()
}

/// Whether process `pid` exists (visible in this pid namespace).
fn is_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Pids holding an flock on the file `dev`/`ino`, from `/proc/locks` text
/// (`1: FLOCK  ADVISORY  WRITE 4242 08:01:1234 0 EOF`; `->` lines are
/// waiters, not holders).
pub fn flock_holders(locks: &str, dev: u64, ino: u64) -> Vec<u32> {
    let want = format!(
        "{:02x}:{:02x}:{ino}",
        nix::sys::stat::major(dev),
        nix::sys::stat::minor(dev)
    );
    locks
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // [n:, FLOCK, ADVISORY, WRITE, pid, dev:ino, start, end]
            (f.len() >= 6 && f[1] == "FLOCK" && f[5] == want)
                .then(|| f[4].parse().ok())
                .flatten()
                // 0 (or -1): a holder outside this /proc's pid namespace.
                .filter(|pid| *pid > 0)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holders_from_proc_locks() {
        let dev = nix::sys::stat::makedev(0xfd, 1);
        let text = "1: POSIX  ADVISORY  WRITE 10 fd:01:77 0 EOF\n\
                    2: FLOCK  ADVISORY  WRITE 4242 fd:01:77 0 EOF\n\
                    2: -> FLOCK  ADVISORY  WRITE 5555 fd:01:77 0 EOF\n\
                    3: FLOCK  ADVISORY  WRITE 99 fd:01:78 0 EOF\n\
                    4: FLOCK  ADVISORY  WRITE -1 fd:01:79 0 EOF\n\
                    5: FLOCK  ADVISORY  WRITE 0 fd:01:79 0 EOF\n";
        assert_eq!(flock_holders(text, dev, 77), [4242]);
        assert!(flock_holders(text, dev, 79).is_empty());
        assert!(flock_holders(text, dev, 1).is_empty());
    }

    #[test]
    fn a_stranger_holding_the_lock_is_named_not_the_stale_pid_file() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("pid"), "999999\n").unwrap();
        let _held = Flock::lock(
            std::fs::File::open(t.path()).unwrap(),
            FlockArg::LockExclusiveNonblock,
        )
        .unwrap();
        let me = std::process::id();
        // Where the kernel lists flocks the holder is named; where it does
        // not (some sandboxes), the dead pid in the file is not.
        match probe_lock(t.path()).unwrap() {
            LockState::Busy { pid, since } => {
                assert_eq!(since, None);
                match pid {
                    Some(p) => assert_eq!(p, me),
                    None => assert!(!kernel_holders(t.path()).contains(&me)),
                }
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn missing_and_unusable_workdirs() {
        let t = tempfile::tempdir().unwrap();
        let missing = t.path().join("nope");
        assert!(check_local(&missing)
            .unwrap_err()
            .hint
            .starts_with("create it: mkdir -p"));
        let file = t.path().join("f");
        std::fs::write(&file, "").unwrap();
        assert!(check_local(&file)
            .unwrap_err()
            .message
            .ends_with("is not a directory"));
        assert!(check_local(t.path()).is_ok());
        let bad = t.path().join("a$b");
        std::fs::create_dir(&bad).unwrap();
        assert!(check_local(&bad).is_err());
    }

    #[test]
    fn lock_probe_sees_a_holder() {
        let t = tempfile::tempdir().unwrap();
        assert_eq!(probe_lock(t.path()).unwrap(), LockState::Free);
        let me = std::process::id();
        std::fs::write(t.path().join("pid"), format!("{me}\n")).unwrap();
        let held = Flock::lock(
            std::fs::File::open(t.path()).unwrap(),
            FlockArg::LockExclusiveNonblock,
        )
        .unwrap();
        match probe_lock(t.path()).unwrap() {
            LockState::Busy { pid, since } => {
                assert_eq!(pid, Some(me));
                assert!(since.is_some());
            }
            LockState::Free => panic!("lock not seen"),
        }
        drop(held);
        assert_eq!(probe_lock(t.path()).unwrap(), LockState::Free);
    }
}
