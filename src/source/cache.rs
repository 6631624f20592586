//! Reusing the last source tarball when gear would pack the same thing.
//!
//! `gear --commit` packs HEAD plus the uncommitted changes of *tracked*
//! files: it copies the index, updates it from the work tree for every file
//! `git diff-files` lists (`git update-index --remove`: modified, deleted,
//! mode-changed), writes that tree and, when it differs from HEAD's, makes a
//! temporary commit on top of HEAD. Untracked files never enter. This module
//! computes the same tree the same way (a private index copy and a private
//! object directory, so the repository is not touched) and keys a small
//! on-disk cache on it: git's own tree hash of the would-be commit plus
//! everything else gear's output depends on (HEAD and the tags, which
//! decide specsubst; MERGE_HEAD; the repository's git config, where gear
//! reads its settings; the gear command; the spec's path). Never mtimes.
//! Changed files are only hashed (`update-index --info-only`), never
//! stored: the key costs git's hashing of what changed, not a compressed
//! copy of it.
//!
//! Owns the key, the cache directory (`$XDG_CACHE_HOME/zoryn/tarballs`:
//! entries written to a temp name and renamed, at most [`MAX_ENTRIES`] and
//! [`MAX_BYTES`], least recently used evicted; a batch's own directory
//! beside it has other bounds, [`TarballCache::with_limits`]), handing out
//! a private hard link of an entry, and each entry's SHA-256 (by which a
//! remote host says which source it has, and an upload finds the entry to
//! send a delta against). It must not run gear, and any failure here only
//! means "no reuse": the caller then runs gear as always.

use std::collections::hash_map::DefaultHasher;
use std::ffi::OsString;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::transport::cancel::CancelToken;
use crate::transport::runner::{capture, CommandSpec};

/// Entries kept at most.
pub const MAX_ENTRIES: usize = 16;
/// Bytes kept at most (the newest entry is always kept).
pub const MAX_BYTES: u64 = 1 << 30;

/// What gear's output depends on, as text; equal keys, equal tarballs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceKey {
    /// Git's tree hash of what `gear --commit` would pack.
    pub tree: String,
    text: String,
}

impl SourceKey {
    /// The entry's file stem: the tree hash and a hash of the rest (the
    /// full text is stored next to the entry and compared on lookup).
    fn stem(&self) -> String {
        let mut h = DefaultHasher::new();
        self.text.hash(&mut h);
        format!("{}-{:016x}", self.tree, h.finish())
    }
}

fn git_cmd(
    git: &[String],
    root: &Path,
    args: &[&str],
    env: &[(OsString, OsString)],
) -> CommandSpec {
    let mut c = CommandSpec::new(git.iter().cloned())
        .args(args.iter().copied())
        .cwd(root);
    for (k, v) in env {
        c = c.env(k.clone(), v.clone());
    }
    c.timeout(Duration::from_secs(60))
}

fn git_out(
    git: &[String],
    root: &Path,
    args: &[&str],
    env: &[(OsString, OsString)],
    cancel: &CancelToken,
) -> Option<String> {
    let out = capture(&git_cmd(git, root, args, env), cancel).ok()?;
    if !out.success() {
        tracing::debug!("git {}: {}", args.join(" "), out.stderr.trim());
        return None;
    }
    Some(out.stdout)
}

/// The key of what `gear` (the configured command, run with `--commit`)
/// would pack in `root` right now; `None` when it cannot be told (then
/// gear runs). `spec` is the spec path gear will use.
pub fn source_key(
    git: &[String],
    gear: &[String],
    root: &Path,
    spec: &Path,
    cancel: &CancelToken,
) -> Option<SourceKey> {
    let dot_git = root.join(".git");
    let git_dir = if dot_git.is_dir() {
        dot_git
    } else {
        PathBuf::from(git_out(git, root, &["rev-parse", "--absolute-git-dir"], &[], cancel)?.trim())
    };
    // HEAD and every tag, names and ids (tags decide gear's specsubst),
    // asked while the tree is computed.
    let (refs, tree) = std::thread::scope(|s| {
        let refs = s.spawn(|| git_out(git, root, &["show-ref", "--head", "--tags"], &[], cancel));
        let tree = would_be_tree(git, root, &git_dir, cancel);
        (refs.join().ok().flatten(), tree)
    });
    let (refs, tree) = (refs?, tree?);
    let merge_head = std::fs::read_to_string(git_dir.join("MERGE_HEAD")).unwrap_or_default();
    let mut config = DefaultHasher::new();
    std::fs::read(git_dir.join("config"))
        .unwrap_or_default()
        .hash(&mut config);
    let text = format!(
        "zoryn source key 1\ntree {tree}\ngear {gear:?}\nspec {}\nconfig {:016x}\nmerge_head {merge_head:?}\nrefs\n{refs}",
        spec.display(),
        config.finish()
    );
    Some(SourceKey { tree, text })
}

/// Git's tree hash of what `gear --commit` would pack: the index, updated
/// from the work tree for every tracked file `git diff-files` lists, on a
/// private copy of the index with a private object directory.
fn would_be_tree(
    git: &[String],
    root: &Path,
    git_dir: &Path,
    cancel: &CancelToken,
) -> Option<String> {
    let scratch = tempfile::Builder::new()
        .prefix("zoryn-key.")
        .tempdir()
        .ok()?;
    let index = scratch.path().join("index");
    let real_index = std::env::var_os("GIT_INDEX_FILE")
        .map(PathBuf::from)
        .unwrap_or_else(|| git_dir.join("index"));
    std::fs::copy(&real_index, &index).ok()?;
    let objects = scratch.path().join("objects");
    std::fs::create_dir_all(objects.join("info")).ok()?;
    let real_objects = std::env::var_os("GIT_OBJECT_DIRECTORY")
        .map(PathBuf::from)
        .unwrap_or_else(|| git_dir.join("objects"));
    std::fs::write(
        objects.join("info/alternates"),
        format!("{}\n", real_objects.display()),
    )
    .ok()?;
    let env = vec![
        (OsString::from("GIT_INDEX_FILE"), index.into_os_string()),
        (
            OsString::from("GIT_OBJECT_DIRECTORY"),
            objects.into_os_string(),
        ),
    ];
    let changed = git_out(
        git,
        root,
        &["diff-files", "--name-only", "-z"],
        &env,
        cancel,
    )?;
    let changed: Vec<&str> = changed.split('\0').filter(|p| !p.is_empty()).collect();
    // `--info-only`: hash the files but store no blobs (compressing a big
    // source file only to learn its id was most of the key's cost); the
    // tree is then written without checking for them.
    for chunk in changed.chunks(512) {
        let mut args = vec!["update-index", "--remove", "--info-only", "--"];
        args.extend(chunk.iter().copied());
        git_out(git, root, &args, &env, cancel)?;
    }
    let tree = git_out(git, root, &["write-tree", "--missing-ok"], &env, cancel)?
        .trim()
        .to_string();
    (!tree.is_empty() && tree.bytes().all(|b| b.is_ascii_hexdigit())).then_some(tree)
}

/// The SHA-256 of a file (hex), hashed here (the CPU's SHA instructions
/// where it has them: a few ms for a tarball, no process to start).
/// `None` when the file cannot be read or `cancel` fires meanwhile.
pub fn file_sha256(path: &Path, cancel: &CancelToken) -> Option<String> {
    use sha2::Digest;
    use std::io::Read;
    let mut f = std::fs::File::open(path).ok()?;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        if cancel.is_cancelled() {
            return None;
        }
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    Some(hex(&hasher.finalize()))
}

/// The SHA-256 of `bytes` (hex).
pub fn bytes_sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The tarball cache directory.
pub struct TarballCache {
    dir: PathBuf,
    max_entries: usize,
    max_bytes: u64,
}

impl TarballCache {
    /// At most [`MAX_ENTRIES`] and [`MAX_BYTES`] (`zoryn build`'s cache).
    pub fn new(dir: PathBuf) -> TarballCache {
        TarballCache::with_limits(dir, MAX_ENTRIES, MAX_BYTES)
    }

    /// Other bounds (the newest entry is always kept): a batch's cache
    /// holds two tarballs per package, or a run of many packages would
    /// evict each other's before the next run could reuse them.
    pub fn with_limits(dir: PathBuf, max_entries: usize, max_bytes: u64) -> TarballCache {
        TarballCache {
            dir,
            max_entries: max_entries.max(1),
            max_bytes,
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A private directory next to the entries (same file system, so an
    /// entry can be hard-linked in and out); removed when dropped.
    pub fn scratch(&self) -> std::io::Result<tempfile::TempDir> {
        std::fs::create_dir_all(&self.dir)?;
        tempfile::Builder::new()
            .prefix("tmp.")
            .tempdir_in(&self.dir)
    }

    /// Hard-link the entry for `key` to `dest` (a path in a
    /// [`Self::scratch`] dir); false when there is none (or it cannot be
    /// linked). The link stays valid even if the entry is evicted.
    pub fn take(&self, key: &SourceKey, dest: &Path) -> bool {
        let stem = key.stem();
        let tar = self.dir.join(format!("{stem}.tar"));
        match std::fs::read_to_string(self.dir.join(format!("{stem}.key"))) {
            Ok(text) if text == key.text => {}
            _ => return false,
        }
        if std::fs::hard_link(&tar, dest).is_err() {
            return false;
        }
        // Recently used: evicted last.
        if let Ok(f) = std::fs::File::options().write(true).open(dest) {
            let _ = f.set_modified(SystemTime::now());
        }
        true
    }

    /// The SHA-256 of the entry for `key` (hex), computed once and kept next to it; `None` when that is not possible.
    /// Lets a remote builder skip the upload of a source it already has.
    pub fn sha256(&self, key: &SourceKey, cancel: &CancelToken) -> Option<String> {
        let stem = key.stem();
        let kept = self.dir.join(format!("{stem}.sha256"));
        let valid = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
        if let Ok(s) = std::fs::read_to_string(&kept) {
            if valid(s.trim()) {
                return Some(s.trim().to_string());
            }
        }
        let sum = file_sha256(&self.dir.join(format!("{stem}.tar")), cancel)?;
        let _ = crate::config::write_atomic(&kept, &sum);
        Some(sum)
    }

    /// The entry whose SHA-256 (as kept by [`Self::sha256`]) is `sum`: the
    /// local copy of a source a host says it has, for sending a new one as
    /// a delta against it.
    pub fn entry_with_sha256(&self, sum: &str) -> Option<PathBuf> {
        std::fs::read_dir(&self.dir).ok()?.flatten().find_map(|e| {
            let path = e.path();
            let name = e.file_name();
            let name = name.to_str()?;
            if name.starts_with('.') || !name.ends_with(".sha256") {
                return None;
            }
            let kept = std::fs::read_to_string(&path).ok()?;
            let tar = path.with_extension("tar");
            (kept.trim().eq_ignore_ascii_case(sum) && tar.is_file()).then_some(tar)
        })
    }

    /// Keep `tarball` (in a scratch dir of this cache) as the entry for
    /// `key`, then evict beyond the bounds. Errors are only logged.
    pub fn store(&self, key: &SourceKey, tarball: &Path) {
        if let Err(e) = self.store_inner(key, tarball) {
            tracing::debug!("could not cache the tarball: {e}");
        }
        self.evict();
    }

    fn store_inner(&self, key: &SourceKey, tarball: &Path) -> std::io::Result<()> {
        let stem = key.stem();
        let _ = std::fs::remove_file(self.dir.join(format!("{stem}.sha256")));
        crate::config::write_atomic(&self.dir.join(format!("{stem}.key")), &key.text)?;
        let tmp = self.dir.join(format!(".{stem}.tar.{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        std::fs::hard_link(tarball, &tmp)?;
        std::fs::rename(&tmp, self.dir.join(format!("{stem}.tar")))
    }

    /// Drop the least recently used entries beyond the bounds (by default
    /// [`MAX_ENTRIES`] / [`MAX_BYTES`]), and scratch dirs a crashed run left (older than a day).
    fn evict(&self) {
        let Ok(rd) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut entries: Vec<(SystemTime, u64, PathBuf)> = Vec::new();
        let day_ago = SystemTime::now() - Duration::from_secs(86_400);
        for e in rd.flatten() {
            let path = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            let Ok(meta) = e.metadata() else { continue };
            let mtime = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            if name.starts_with("tmp.") && meta.is_dir() && mtime < day_ago {
                let _ = std::fs::remove_dir_all(&path);
            } else if name.starts_with(".zoryn-tmp.") && mtime < day_ago {
                // A checksum file an exiting zoryn left half-written.
                let _ = std::fs::remove_file(&path);
            } else if name.ends_with(".tar") && !name.starts_with('.') && meta.is_file() {
                entries.push((mtime, meta.len(), path));
            }
        }
        entries.sort_by_key(|e| std::cmp::Reverse(e.0));
        let mut total = 0u64;
        for (i, (_, len, path)) in entries.iter().enumerate() {
            total += len;
            if i >= self.max_entries || (i > 0 && total > self.max_bytes) {
                let _ = std::fs::remove_file(path);
                let _ = std::fs::remove_file(path.with_extension("key"));
                let _ = std::fs::remove_file(path.with_extension("sha256"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(dir: &Path, script: &str) {
        let st = std::process::Command::new("sh")
            .arg("-ec")
            .arg(script)
            .current_dir(dir)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
            .status()
            .unwrap();
        assert!(st.success(), "{script}");
    }

    fn key(dir: &Path) -> SourceKey {
        source_key(
            &["git".to_string()],
            &["gear".to_string()],
            dir,
            Path::new("pkg.spec"),
            &CancelToken::new(),
        )
        .expect("a key")
    }

    /// Every change gear --commit would pack changes the key; what it
    /// ignores does not; the repository gains nothing.
    #[test]
    fn the_key_follows_what_gear_commit_packs() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        sh(
            d,
            "git init -q && printf 'a\\n' >a && printf 'b\\n' >b && git add a b && git commit -qm one",
        );
        let k0 = key(d);
        assert_eq!(key(d), k0, "stable");
        let mut seen = vec![k0.clone()];
        let mut changed = |script: &str| {
            sh(d, script);
            let k = key(d);
            assert!(!seen.contains(&k), "{script}: key did not change");
            seen.push(k.clone());
            k
        };
        changed("printf 'a2\\n' >a"); // unstaged edit
                                      // Computing the key stored nothing in the repository.
        sh(d, "! git cat-file -e \"$(git hash-object a)\" 2>/dev/null");
        sh(d, "test -z \"$(git diff --cached --name-only)\"");
        let k = key(d);
        // Staging what the work tree already has packs the same tree.
        sh(d, "git add a");
        assert_eq!(key(d), k, "staging an already-seen edit");
        changed("printf 'b2\\n' >b && git add b"); // staged edit
        changed("printf 'b3\\n' >b"); // then edited again
        changed("chmod +x a"); // mode change
        changed("rm b"); // deleted
        changed("printf 'c\\n' >c && git add c"); // new tracked file
        changed("git commit -qam two"); // committed: same tree, new HEAD
        changed("git tag v1"); // a tag (specsubst)
        let k = key(d);
        // Untracked files are not packed.
        sh(
            d,
            "printf 'junk\\n' >untracked.txt && mkdir -p hasher_out && printf x >hasher_out/x.rpm",
        );
        assert_eq!(key(d), k);
    }

    #[test]
    fn entries_round_trip_and_are_bounded() {
        let t = tempfile::tempdir().unwrap();
        let cache = TarballCache::new(t.path().join("c"));
        let mk = |i: usize| SourceKey {
            tree: format!("{i:040x}"),
            text: format!("k{i}"),
        };
        for i in 0..MAX_ENTRIES + 3 {
            let s = cache.scratch().unwrap();
            let f = s.path().join("p.tar");
            std::fs::write(&f, format!("tar {i}")).unwrap();
            cache.store(&mk(i), &f);
            // Distinct mtimes for the LRU order.
            let when = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000 + i as u64);
            let entry = cache.dir().join(format!("{}.tar", mk(i).stem()));
            std::fs::File::options()
                .write(true)
                .open(&entry)
                .unwrap()
                .set_modified(when)
                .unwrap();
        }
        let s = cache.scratch().unwrap();
        let out = s.path().join("x.tar");
        assert!(cache.take(&mk(MAX_ENTRIES + 2), &out));
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            format!("tar {}", MAX_ENTRIES + 2)
        );
        // The least recently used went.
        assert!(!cache.take(&mk(0), &s.path().join("y.tar")));
        let tars = std::fs::read_dir(cache.dir())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tar"))
            .count();
        assert!(tars <= MAX_ENTRIES, "{tars}");
        // Same tree, other key text: no reuse.
        let other = SourceKey {
            tree: mk(MAX_ENTRIES + 2).tree,
            text: "different".into(),
        };
        assert!(!cache.take(&other, &s.path().join("z.tar")));
    }

    #[test]
    fn a_cache_with_more_room_keeps_a_whole_batch() {
        let t = tempfile::tempdir().unwrap();
        let n = MAX_ENTRIES + 10;
        let cache = TarballCache::with_limits(t.path().join("b"), 2 * n, u64::MAX);
        let mk = |i: usize| SourceKey {
            tree: format!("{i:040x}"),
            text: format!("k{i}"),
        };
        for i in 0..n {
            let s = cache.scratch().unwrap();
            let f = s.path().join("p.tar");
            std::fs::write(&f, format!("tar {i}")).unwrap();
            cache.store(&mk(i), &f);
        }
        let s = cache.scratch().unwrap();
        for i in 0..n {
            assert!(
                cache.take(&mk(i), &s.path().join(format!("{i}.tar"))),
                "{i}"
            );
        }
        // And the bound still holds.
        let small = TarballCache::with_limits(t.path().join("s"), 2, u64::MAX);
        for i in 0..4 {
            let s = small.scratch().unwrap();
            let f = s.path().join("p.tar");
            std::fs::write(&f, format!("tar {i}")).unwrap();
            small.store(&mk(i), &f);
        }
        let tars = std::fs::read_dir(small.dir())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tar"))
            .count();
        assert_eq!(tars, 2);
    }
}
