//! hasher-priv configuration checks, done before a build starts.
//!
//! hasher-priv reads `/etc/hasher-priv/system`, then `user.d/USER`, then
//! `user.d/USER:NUMBER` (USER may be the name or the uid; a later setting
//! replaces an earlier one). zoryn checks what a build needs, as hasher-priv
//! does: the caller is not root and is in the `hashman` group, the satellite
//! config for the hasher number exists, and every mount point the command
//! asks for (`--mountpoints`) is allowed — a device such as `/dev/kvm` in
//! `allowed_devices`, a file system in `allowed_mountpoints` (known from
//! hasher-priv's built-in table or its `fstab`). All problems are reported
//! at once; each says exactly what to run or which line to set in which
//! file. Pure judgement over file texts: reading them is the caller's job
//! (local files, or the remote pre-flight's answer); nothing is changed.
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
        "fstab".to_string(),
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

/// Mount points hasher-priv knows without an `fstab` entry (the built-in
/// table of its `mount.c`).
pub const BUILTIN_MOUNTS: [&str; 6] = [
    "/dev",
    "/proc",
    "/dev/pts",
    "/sys",
    "/dev/shm",
    "/sys/fs/cgroup",
];

/// Mount points listed in hasher-priv's `fstab` (second field of each entry).
fn fstab_mounts(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
        .collect()
}

/// Combine a builder's problems into one (all of them, numbered), so a run
/// reports every problem at once.
pub fn combine(mut problems: Vec<PrivProblem>) -> Option<PrivProblem> {
    match problems.len() {
        0 => None,
        1 => problems.pop(),
        n => Some(PrivProblem {
            message: format!(
                "{n} problems: {}",
                problems
                    .iter()
                    .enumerate()
                    .map(|(i, p)| format!("({}) {}", i + 1, p.message))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            hint: problems
                .iter()
                .enumerate()
                .map(|(i, p)| format!("({}) {}", i + 1, p.hint))
                .collect::<Vec<_>>()
                .join("\n"),
        }),
    }
}

/// Check the satellite config and mount points for one build; every
/// problem combined into one (see [`problems`]).
pub fn check(
    tree: &dyn PrivTree,
    caller: &Caller,
    number: Option<u32>,
    mountpoints: &[String],
) -> Result<(), PrivProblem> {
    match combine(problems(tree, caller, number, mountpoints)) {
        None => Ok(()),
        Some(p) => Err(p),
    }
}

/// Every hasher-priv problem of one build: the satellite subconfig of the
/// number, and each requested mount point judged as hasher-priv's
/// `setup_mountpoints` judges it (`/dev` and `/dev/shm` always pass; a name
/// in `allowed_devices` must be under `/dev/`; one in `allowed_mountpoints`
/// must be a known mount point; never in both). The effective settings
/// follow hasher-priv's order `system`, `user.d/USER`, `user.d/USER:N`.
/// A config tree zoryn cannot read is not judged (hasher will).
pub fn problems(
    tree: &dyn PrivTree,
    caller: &Caller,
    number: Option<u32>,
    mountpoints: &[String],
) -> Vec<PrivProblem> {
    let mut out = Vec::new();
    if !tree.readable() {
        return out;
    }
    let pick = |suffix: &str| {
        [
            format!("user.d/{}{suffix}", caller.uid),
            format!("user.d/{}{suffix}", caller.user),
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
    // The file hasher-useradd writes for this slot.
    let useradd_file = match number {
        Some(n) => format!("user.d/{}:{n}", caller.uid),
        None => format!("user.d/{}", caller.uid),
    };
    if own.is_none() {
        let cmd = match number {
            Some(n) => format!("hasher-useradd --number={n} {}", caller.user),
            None => format!("hasher-useradd {}", caller.user),
        };
        let slot = number.map_or("the default hasher slot".to_string(), |n| {
            format!("hasher number {n}")
        });
        out.push(PrivProblem {
            message: format!(
                "no hasher satellite users for {} and {slot} (no {}/{useradd_file})",
                caller.user,
                tree.dir()
            ),
            hint: format!("create them as root: {cmd}"),
        });
    }
    if mountpoints.is_empty() {
        return out;
    }
    let mut files = vec!["system".to_string()];
    files.extend(base);
    files.extend(numbered);
    let setting = |option: &str| -> Vec<String> {
        files
            .iter()
            .rev()
            .find_map(|f| tree.read(f).and_then(|t| option_in(&t, option)))
            .map(|v| super::hsh_options::split_list(&v))
            .unwrap_or_default()
    };
    let allowed_mounts = setting("allowed_mountpoints");
    let allowed_devices = setting("allowed_devices");
    let mut known: Vec<String> = BUILTIN_MOUNTS.iter().map(|s| s.to_string()).collect();
    known.extend(
        tree.read("fstab")
            .map(|t| fstab_mounts(&t))
            .unwrap_or_default(),
    );
    let at = format!("{}/{}", tree.dir(), own.unwrap_or(useradd_file));
    let mut need_mounts: Vec<&str> = Vec::new();
    let mut need_devices: Vec<&str> = Vec::new();
    for m in mountpoints {
        let m = m.as_str();
        if m == "/dev" || m == "/dev/shm" {
            continue;
        }
        if !m.starts_with('/') || m.starts_with("//") {
            out.push(PrivProblem {
                message: format!("hasher-priv does not support the mount point {m}"),
                hint: "use absolute paths in --mountpoints of the command template".into(),
            });
            continue;
        }
        let is_dev_name = m.starts_with("/dev/");
        let is_known = known.iter().any(|k| k == m);
        let dev = allowed_devices.iter().any(|a| a == m);
        let mp = allowed_mounts.iter().any(|a| a == m);
        match (dev, mp) {
            (true, true) => out.push(PrivProblem {
                message: format!(
                    "{m} is configured as device and mount point simultaneously in hasher-priv's config for {}",
                    caller.user
                ),
                hint: format!(
                    "as root, remove {m} from {} in {at} (or the file that sets it)",
                    if is_dev_name && !is_known {
                        "allowed_mountpoints"
                    } else {
                        "allowed_devices"
                    }
                ),
            }),
            (true, false) if !is_dev_name => out.push(PrivProblem {
                message: format!(
                    "{m} is in allowed_devices but is no device name (hasher-priv takes only /dev/...)"
                ),
                hint: format!(
                    "as root, move {m} from allowed_devices to allowed_mountpoints in {at}"
                ),
            }),
            (false, true) if !is_known => out.push(PrivProblem {
                message: format!(
                    "hasher-priv does not support the mount point {m}: it is neither built in nor in {}/fstab",
                    tree.dir()
                ),
                hint: if is_dev_name {
                    format!("{m} is a device: as root, move it from allowed_mountpoints to allowed_devices in {at}")
                } else {
                    format!("as root, add an fstab line for {m} to {}/fstab", tree.dir())
                },
            }),
            (false, false) if is_dev_name && !is_known => need_devices.push(m),
            (false, false) => {
                need_mounts.push(m);
                if !is_known {
                    out.push(PrivProblem {
                        message: format!(
                            "{m} is no mount point hasher-priv knows (neither built in nor in {}/fstab)",
                            tree.dir()
                        ),
                        hint: format!("as root, add an fstab line for {m} to {}/fstab", tree.dir()),
                    });
                }
            }
            _ => {}
        }
    }
    for (option, missing, allowed) in [
        ("allowed_mountpoints", &need_mounts, &allowed_mounts),
        ("allowed_devices", &need_devices, &allowed_devices),
    ] {
        if missing.is_empty() {
            continue;
        }
        let mut all = allowed.clone();
        all.extend(missing.iter().map(|m| m.to_string()));
        let what = if option == "allowed_devices" {
            "device(s)"
        } else {
            "mount point(s)"
        };
        out.push(PrivProblem {
            message: format!(
                "{what} {} not allowed by hasher-priv for {} ({option})",
                missing.join(","),
                caller.user
            ),
            hint: format!(
                "as root, set this line in {at}:\n    {option}={}",
                all.join(",")
            ),
        });
    }
    out
}

/// The group hasher-priv serves.
pub const HASHMAN: &str = "hashman";

/// Who may use hasher-priv: a member of `hashman`, by the group database
/// and by the session that runs hsh.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Membership {
    /// Whether a `hashman` group exists at all (`None`: unknown).
    pub group_exists: Option<bool>,
    /// Groups of the user in the group database (`None`: unknown).
    pub database: Option<Vec<String>>,
    /// Groups of the session that will run hsh (`None`: unknown).
    pub session: Option<Vec<String>>,
}

impl Membership {
    /// This process and its user.
    pub fn local(caller: &Caller) -> Membership {
        use nix::unistd::{getegid, getgrouplist, getgroups, Gid, Group, User};
        let name = |g: Gid| Group::from_gid(g).ok().flatten().map(|g| g.name);
        let group_exists = Some(matches!(Group::from_name(HASHMAN), Ok(Some(_))));
        let session: Vec<String> = getgroups()
            .unwrap_or_default()
            .into_iter()
            .chain([getegid()])
            .filter_map(name)
            .collect();
        let database = User::from_name(&caller.user)
            .ok()
            .flatten()
            .and_then(|u| {
                let c = std::ffi::CString::new(u.name).ok()?;
                getgrouplist(&c, u.gid).ok()
            })
            .map(|gs| gs.into_iter().filter_map(name).collect());
        Membership {
            group_exists,
            database,
            session: Some(session),
        }
    }

    /// A remote login session's answer: `id -Gn` of the fresh session and
    /// whether the group exists there.
    pub fn remote(groups: Option<&str>, group_exists: Option<bool>) -> Membership {
        let groups = groups.map(|g| g.split_whitespace().map(str::to_string).collect());
        Membership {
            group_exists,
            database: groups.clone(),
            session: groups,
        }
    }
}

/// Root and `hashman` problems of a caller. `on` names the machine for
/// messages ("" for this one, " on HOST" for a remote one).
pub fn caller_problems(caller: &Caller, m: &Membership, on: &str) -> Vec<PrivProblem> {
    if caller.uid == 0 {
        return vec![PrivProblem {
            message: format!(
                "hsh would run as root{on}; hasher refuses root (hasher-priv serves only unprivileged callers)"
            ),
            hint: if on.is_empty() {
                "run zoryn as your ordinary user, one in the hashman group".into()
            } else {
                "log in as an ordinary user there (host = \"user@host\" or User in ~/.ssh/config), one in the hashman group".into()
            },
        }];
    }
    let usermod = format!("usermod -a -G {HASHMAN} {}", caller.user);
    if m.group_exists == Some(false) {
        return vec![PrivProblem {
            message: format!("there is no {HASHMAN} group{on}: hasher is not installed"),
            hint: format!("as root{on}: apt-get install hasher, then {usermod}, and log in again"),
        }];
    }
    let has = |gs: &Option<Vec<String>>| gs.as_ref().map(|g| g.iter().any(|x| x == HASHMAN));
    match (has(&m.database), has(&m.session)) {
        (Some(false), _) | (None, Some(false)) => vec![PrivProblem {
            message: format!(
                "{} is not in the {HASHMAN} group{on}, which hasher-priv requires",
                caller.user
            ),
            hint: format!("as root{on}: {usermod}, then log in again"),
        }],
        (Some(true), Some(false)) => vec![PrivProblem {
            message: format!(
                "{} was added to the {HASHMAN} group{on} after this session started, so hasher-priv refuses it",
                caller.user
            ),
            hint: "log in again (or start a shell with `newgrp hashman`) and rerun".into(),
        }],
        _ => Vec::new(),
    }
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
            "mount point(s) /dev/pts not allowed by hasher-priv for me (allowed_mountpoints)"
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

    fn v(x: &[&str]) -> Vec<String> {
        x.iter().map(|s| s.to_string()).collect()
    }

    /// The documented template's `/dev/kvm` is a device for hasher-priv:
    /// it belongs in `allowed_devices`, and every problem comes at once.
    #[test]
    fn kvm_needs_allowed_devices_and_all_problems_come_at_once() {
        let t = tree();
        let lt = LocalTree(t.path().to_path_buf());
        let ps = problems(
            &lt,
            &caller(),
            Some(3),
            &v(&["/proc", "/dev/pts", "/dev/kvm"]),
        );
        assert_eq!(ps.len(), 3, "{ps:?}");
        assert!(ps[0].hint.contains("hasher-useradd --number=3 me"));
        assert!(
            ps[1].hint.ends_with(&format!(
                "{}/user.d/1000:3:\n    allowed_mountpoints=/proc,/dev/pts",
                t.path().display()
            )),
            "{}",
            ps[1].hint
        );
        assert!(
            ps[2].hint.ends_with("allowed_devices=/dev/kvm"),
            "{}",
            ps[2].hint
        );
        let all = combine(ps).unwrap();
        assert!(
            all.message.starts_with("3 problems: (1) "),
            "{}",
            all.message
        );
        std::fs::write(
            t.path().join("user.d/1000:3"),
            "user1=me_a3\nuser2=me_b3\nallowed_devices = /dev/kvm\nallowed_mountpoints=/proc /dev/pts\n",
        )
        .unwrap();
        assert_eq!(
            problems(
                &lt,
                &caller(),
                Some(3),
                &v(&["/proc", "/dev/pts", "/dev/kvm"])
            ),
            vec![]
        );
    }

    #[test]
    fn device_and_mount_lists_are_judged_like_hasher_priv() {
        let t = tree();
        let lt = LocalTree(t.path().to_path_buf());
        std::fs::write(
            t.path().join("user.d/me"),
            "user1=a\nuser2=b\nallowed_mountpoints=/proc,/dev/kvm,/srv\nallowed_devices=/dev/kvm,/opt\n",
        )
        .unwrap();
        let ps = problems(
            &lt,
            &caller(),
            None,
            &v(&["/dev/kvm", "/opt", "/srv", "/dev", "rel"]),
        );
        let msgs: Vec<&str> = ps.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(msgs.len(), 4, "{msgs:?}");
        assert!(msgs[0].contains("/dev/kvm is configured as device and mount point simultaneously"));
        assert!(msgs[1].contains("/opt is in allowed_devices but is no device name"));
        assert!(msgs[2].contains("does not support the mount point /srv"));
        assert!(msgs[3].contains("does not support the mount point rel"));
        // An fstab entry makes /srv a known mount point.
        std::fs::write(t.path().join("fstab"), "# x\n/srv /srv none rbind 0 0\n").unwrap();
        assert_eq!(problems(&lt, &caller(), None, &v(&["/srv"])), vec![]);
    }

    #[test]
    fn root_and_hashman() {
        let root = Caller {
            user: "root".into(),
            uid: 0,
        };
        let p = caller_problems(&root, &Membership::default(), "");
        assert!(p[0].message.contains("hasher refuses root"), "{p:?}");
        assert!(!p[0].hint.contains("/root/hasher"));
        let m = Membership::remote(Some("me wheel"), Some(true));
        let p = caller_problems(&caller(), &m, " on h1");
        assert_eq!(
            p[0].message,
            "me is not in the hashman group on h1, which hasher-priv requires"
        );
        assert_eq!(
            p[0].hint,
            "as root on h1: usermod -a -G hashman me, then log in again"
        );
        let m = Membership {
            group_exists: Some(true),
            database: Some(v(&["me", "hashman"])),
            session: Some(v(&["me"])),
        };
        assert!(caller_problems(&caller(), &m, "")[0]
            .hint
            .contains("log in again"));
        let m = Membership::remote(Some("me hashman"), Some(true));
        assert!(caller_problems(&caller(), &m, "").is_empty());
        let m = Membership::remote(Some("me"), Some(false));
        assert!(caller_problems(&caller(), &m, "")[0]
            .message
            .contains("no hashman group"));
    }
}
