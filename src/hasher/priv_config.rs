//! hasher-priv configuration checks, done before a build starts.
//!
//! hasher-priv reads `/etc/hasher-priv/system`, then `user.d/USER`, then
//! `user.d/USER:NUMBER` (USER may be the name or the uid; a later setting
//! replaces an earlier one). zoryn checks two things a build needs: the
//! satellite config for the builder's hasher number exists, and every mount
//! point the command asks for (`--mountpoints=`) is allowed. On failure the
//! message says exactly what to run or which line to add to which file.
//!
//! `$ZORYN_HASHER_PRIV_DIR` replaces `/etc/hasher-priv` (used by the test
//! suite's emulated hasher).

use std::path::PathBuf;

pub const DEFAULT_DIR: &str = "/etc/hasher-priv";

pub fn config_dir() -> PathBuf {
    std::env::var_os("ZORYN_HASHER_PRIV_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DIR))
}

/// Who the checks are for.
#[derive(Clone, Debug)]
pub struct Caller {
    pub user: String,
    pub uid: u32,
}

impl Caller {
    pub fn current() -> Caller {
        let uid = nix::unistd::getuid();
        let user = nix::unistd::User::from_uid(uid)
            .ok()
            .flatten()
            .map(|u| u.name)
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| uid.to_string());
        Caller {
            user,
            uid: uid.as_raw(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivProblem {
    pub message: String,
    pub hint: String,
}

/// A hasher-priv configuration tree zoryn can read: the local
/// `/etc/hasher-priv`, or the files a remote host sent back.
pub trait PrivTree {
    /// Where it lives, for messages.
    fn dir(&self) -> String;
    /// Whether `user.d` could be listed (if not, nothing is judged).
    fn readable(&self) -> bool;
    /// The text of `rel` (e.g. `system`, `user.d/me:2`), if it exists.
    fn read(&self, rel: &str) -> Option<String>;
}

/// The tree on this machine.
pub struct LocalTree(pub PathBuf);

impl PrivTree for LocalTree {
    fn dir(&self) -> String {
        self.0.display().to_string()
    }
    fn readable(&self) -> bool {
        std::fs::read_dir(self.0.join("user.d")).is_ok()
    }
    fn read(&self, rel: &str) -> Option<String> {
        let p = self.0.join(rel);
        p.is_file()
            .then(|| std::fs::read_to_string(&p).ok())
            .flatten()
    }
}

/// Candidate per-user file names, in the order hasher-priv reads them.
pub fn candidate_files(caller: &Caller, number: Option<u32>) -> Vec<String> {
    let mut v = vec![
        "system".to_string(),
        format!("user.d/{}", caller.user),
        format!("user.d/{}", caller.uid),
    ];
    if let Some(n) = number {
        v.push(format!("user.d/{}:{n}", caller.user));
        v.push(format!("user.d/{}:{n}", caller.uid));
    }
    v
}

fn option_in(text: &str, option: &str) -> Option<String> {
    let mut value = None;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            if k.trim().eq_ignore_ascii_case(option) {
                value = Some(v.trim().to_string());
            }
        }
    }
    value
}

/// Check the satellite config and mount points for one build.
/// A config tree zoryn cannot read is not judged (hasher will).
pub fn check(
    tree: &dyn PrivTree,
    caller: &Caller,
    number: Option<u32>,
    mountpoints: &[String],
) -> Result<(), PrivProblem> {
    if !tree.readable() {
        return Ok(());
    }
    let pick = |suffix: &str| {
        [
            format!("user.d/{}{suffix}", caller.user),
            format!("user.d/{}{suffix}", caller.uid),
        ]
        .into_iter()
        .find(|rel| tree.read(rel).is_some())
    };
    let base = pick("");
    let numbered = number.and_then(|n| pick(&format!(":{n}")));
    let own = if number.is_some() {
        numbered.clone()
    } else {
        base.clone()
    };
    let Some(own) = own else {
        let (cmd, file) = match number {
            Some(n) => (
                format!("hasher-useradd --number={n} {}", caller.user),
                format!("{}/user.d/{}:{n}", tree.dir(), caller.uid),
            ),
            None => (
                format!("hasher-useradd {}", caller.user),
                format!("{}/user.d/{}", tree.dir(), caller.uid),
            ),
        };
        let slot = number.map_or("the default hasher slot".to_string(), |n| {
            format!("hasher number {n}")
        });
        return Err(PrivProblem {
            message: format!(
                "no hasher satellite users for {} and {slot} (no {file})",
                caller.user
            ),
            hint: format!("create them as root: {cmd}"),
        });
    };
    if mountpoints.is_empty() {
        return Ok(());
    }
    let mut files = vec!["system".to_string()];
    files.extend(base);
    files.extend(numbered);
    let allowed: Vec<String> = files
        .iter()
        .rev()
        .find_map(|f| {
            tree.read(f)
                .and_then(|t| option_in(&t, "allowed_mountpoints"))
        })
        .map(|v| {
            v.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let missing: Vec<&String> = mountpoints
        .iter()
        .filter(|m| !allowed.contains(m))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let mut all = allowed.clone();
    all.extend(missing.iter().map(|m| m.to_string()));
    let missing_s: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
    Err(PrivProblem {
        message: format!(
            "mount point(s) {} not allowed by hasher-priv for {}",
            missing_s.join(","),
            caller.user
        ),
        hint: format!(
            "as root, set this line in {}/{own}:\n    allowed_mountpoints={}",
            tree.dir(),
            all.join(",")
        ),
    })
}

/// Mount points an hsh argv requests.
pub fn requested_mountpoints(argv: &[String]) -> Vec<String> {
    super::invocation::option_value(argv, "--mountpoints")
        .map(|v| {
            v.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller() -> Caller {
        Caller {
            user: "me".into(),
            uid: 1000,
        }
    }

    fn tree() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("user.d")).unwrap();
        std::fs::write(t.path().join("system"), "allowed_mountpoints=/proc\n").unwrap();
        t
    }

    #[test]
    fn missing_satellites_say_what_to_run() {
        let t = tree();
        let e = check(&LocalTree(t.path().to_path_buf()), &caller(), Some(2), &[]).unwrap_err();
        assert_eq!(e.hint, "create them as root: hasher-useradd --number=2 me");
        std::fs::write(t.path().join("user.d/1000:2"), "user1=me_a2\nuser2=me_b2\n").unwrap();
        assert!(check(&LocalTree(t.path().to_path_buf()), &caller(), Some(2), &[]).is_ok());
        assert!(check(&LocalTree(t.path().to_path_buf()), &caller(), None, &[]).is_err());
    }

    #[test]
    fn mountpoints_use_the_last_setting_and_print_the_line() {
        let t = tree();
        std::fs::write(t.path().join("user.d/me"), "user1=a\n").unwrap();
        let mp = vec!["/proc".to_string(), "/dev/pts".to_string()];
        let e = check(&LocalTree(t.path().to_path_buf()), &caller(), None, &mp).unwrap_err();
        assert_eq!(
            e.message,
            "mount point(s) /dev/pts not allowed by hasher-priv for me"
        );
        assert!(
            e.hint.ends_with("allowed_mountpoints=/proc,/dev/pts"),
            "{}",
            e.hint
        );
        std::fs::write(
            t.path().join("user.d/me"),
            "user1=a\n ALLOWED_MOUNTPOINTS = /proc,/dev/pts\n",
        )
        .unwrap();
        assert!(check(&LocalTree(t.path().to_path_buf()), &caller(), None, &mp).is_ok());
    }

    #[test]
    fn unreadable_tree_is_not_judged() {
        let t = tempfile::tempdir().unwrap();
        assert!(check(
            &LocalTree(t.path().to_path_buf()),
            &caller(),
            Some(1),
            &["/proc".into()]
        )
        .is_ok());
    }

    #[test]
    fn mountpoints_from_argv() {
        let a: Vec<String> = ["hsh", "--mountpoints=/proc,/dev/pts"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(requested_mountpoints(&a), ["/proc", "/dev/pts"]);
    }
}
