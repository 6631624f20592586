//! Making the source tarball with `gear --commit --no-compress`.
//!
//! Run once per `zoryn build`, in a private temporary directory (mode 0700)
//! that lives as long as the [`Tarball`]. Uncompressed, so rsync can send
//! deltas of it to remote builders. [`make_tarball_reusing`] first asks
//! [`super::cache`] whether gear would pack exactly what it packed last
//! time, and then hands out that tarball instead of running gear again;
//! this module runs gear, it must not decide what the key of a tarball is.
//!
//! **specsubst.** A repository whose `.gear/rules` has `specsubst: VAR...`
//! gets `@VAR@` in its spec replaced by gear — with values gear reads from
//! the `X-gear-specsubst: VAR=value` lines of the tag it builds, and without
//! a tag (`gear --commit` on a work tree) gear refuses: "specsubst directive
//! requires a tag". So when there are values to give (a batch's, or for
//! `zoryn build` those of the nearest tag, see [`super::specsubst`]),
//! gear runs with `--disable-specsubst` and `@VAR@` is replaced in the spec
//! inside the tarball, as gear would have. The values are part of the
//! tarball's reuse key. It owns making the tarball only; it must not build
//! or upload.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use super::cache::{source_key, SourceKey, TarballCache};
use super::repo::GearRepo;
use super::specdeps::SpecText;
use super::specsubst::substitute;
use super::SourceError;
use crate::transport::cancel::CancelToken;
use crate::transport::runner::{capture, run, CommandSpec, Outcome};

/// The packed source of one package.
pub struct Tarball {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
    pub spec: SpecText,
    pub size: u64,
    /// Taken from the tarball cache: gear did not run.
    pub reused: bool,
    /// Its SHA-256 (hex) when known (a reused tarball): a remote host that
    /// already has this source is not sent it again.
    pub sha256: Option<String>,
    /// The tarball cache that keeps it (reused from it or stored in it):
    /// an upload looks there for the copy a host already has, to send
    /// only the difference.
    pub cache_dir: Option<PathBuf>,
    /// A newly packed tarball's SHA-256, worked out beside the upload and
    /// the build ([`Tarball::sha256_now`] waits for it).
    pending_sha256: Option<Arc<PendingSha256>>,
}

/// A SHA-256 worked out once, by whichever asks first (the background
/// thread or an upload); the other waits for that answer.
/// It is the cache entry's ([`TarballCache::sha256`], which also keeps it
/// beside the entry for later builds).
struct PendingSha256 {
    sum: OnceLock<Option<String>>,
    cache: TarballCache,
    key: SourceKey,
}

impl PendingSha256 {
    fn get(&self, cancel: &CancelToken) -> Option<String> {
        self.sum
            .get_or_init(|| self.cache.sha256(&self.key, cancel))
            .clone()
    }
}

impl Tarball {
    /// Its SHA-256: known, being worked out (then waited for), or worked
    /// out now. A cloneable handle, for a thread of its own.
    pub fn sha256_now(&self) -> impl Fn(&CancelToken) -> Option<String> + Send + 'static {
        let known = self.sha256.clone();
        let pending = self.pending_sha256.clone();
        let path = self.path.clone();
        move |cancel| {
            known.clone().or_else(|| match &pending {
                Some(p) => p.get(cancel),
                None => super::cache::file_sha256(&path, cancel),
            })
        }
    }
}

/// Like [`make_tarball`], but reuse the cached tarball when what gear would
/// pack is unchanged (see [`super::cache`]), and cache a new one. `git` is
/// the configured git command. The spec's specsubst placeholders are filled
/// in as gear would from a tag ([`super::specsubst::values_for_build`]), so
/// `build`, `-r` and `--section` all get a spec without `@VAR@`.
pub fn make_tarball_reusing(
    gear: &[String],
    git: &[String],
    cache: &TarballCache,
    repo: &GearRepo,
    cancel: &CancelToken,
) -> Result<Tarball, SourceError> {
    let specsubst = super::specsubst::values_for_build(git, &repo.root, cancel)?;
    make_tarball_reusing_with(gear, git, cache, repo, specsubst.as_deref(), cancel)
}

/// [`make_tarball_reusing`] with the specsubst values given (a batch's):
/// `Some` runs gear with `--disable-specsubst` and fills them in; the
/// values are part of the reuse key.
pub fn make_tarball_reusing_with(
    gear: &[String],
    git: &[String],
    cache: &TarballCache,
    repo: &GearRepo,
    specsubst: Option<&[(String, String)]>,
    cancel: &CancelToken,
) -> Result<Tarball, SourceError> {
    let keyed_gear = key_command(gear, specsubst);
    let Some(key) = source_key(git, &keyed_gear, &repo.root, &repo.spec, cancel) else {
        return make_tarball_with(gear, git, repo, specsubst, cancel);
    };
    let Ok(dir) = cache.scratch() else {
        return make_tarball_with(gear, git, repo, specsubst, cancel);
    };
    let path = dir.path().join(tar_name(repo));
    if cache.take(&key, &path) {
        tracing::info!(
            "source unchanged (tree {}): reusing the last tarball",
            key.tree
        );
        let mut spec_text = std::fs::read_to_string(repo.root.join(&repo.spec)).unwrap_or_default();
        if let Some(values) = specsubst {
            spec_text = substitute(&spec_text, values);
        }
        let mut t = finish(dir, path, spec_text, true);
        t.sha256 = cache.sha256(&key, cancel);
        t.cache_dir = Some(cache.dir().to_path_buf());
        return Ok(t);
    }
    let mut tarball = make_tarball_in(gear, git, repo, dir, specsubst, cancel)?;
    cache.store(&key, &tarball.path);
    tarball.cache_dir = Some(cache.dir().to_path_buf());
    // The next unchanged build tells the host this source by its SHA-256:
    // work it out now, beside this build's upload and hsh (which take far
    // longer), so that build need not; a delta upload of this build waits
    // for the same answer instead of hashing the file again. Unfinished
    // when zoryn exits: the next build computes it.
    let pending = Arc::new(PendingSha256 {
        sum: OnceLock::new(),
        cache: TarballCache::new(cache.dir().to_path_buf()),
        key,
    });
    tarball.pending_sha256 = Some(pending.clone());
    std::thread::spawn(move || pending.get(&CancelToken::new()));
    Ok(tarball)
}

/// What the reuse key records as "the gear command": the command itself,
/// and when zoryn does the specsubst, that and the values — a tarball made
/// with other values (or none) is another tarball.
fn key_command(gear: &[String], specsubst: Option<&[(String, String)]>) -> Vec<String> {
    let mut out = gear.to_vec();
    if let Some(values) = specsubst {
        out.push("--disable-specsubst".into());
        out.extend(values.iter().map(|(k, v)| format!("(specsubst {k}={v})")));
    }
    out
}

/// The tarball's file name: the spec's stem, `.tar` (the one rule, for the
/// local file and its remote upload alike).
pub fn tar_name(repo: &GearRepo) -> String {
    let stem = repo
        .spec
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "pkg".into());
    format!("{stem}.tar")
}

fn finish(dir: tempfile::TempDir, path: PathBuf, spec_text: String, reused: bool) -> Tarball {
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    Tarball {
        _dir: dir,
        path,
        spec: SpecText::new(spec_text),
        size,
        reused,
        sha256: None,
        cache_dir: None,
        pending_sha256: None,
    }
}

/// Pack `repo` with gear. `gear` is the configured gear command.
pub fn make_tarball(
    gear: &[String],
    repo: &GearRepo,
    cancel: &CancelToken,
) -> Result<Tarball, SourceError> {
    // Without specsubst values git is not run.
    make_tarball_with(gear, &[], repo, None, cancel)
}

/// [`make_tarball`], with gear's specsubst done by zoryn: when `specsubst`
/// is given, gear packs a spec with `@VAR@` already replaced (see
/// [`SubstitutedIndex`]) and runs with `--disable-specsubst`. `git` is the
/// configured git command.
pub fn make_tarball_with(
    gear: &[String],
    git: &[String],
    repo: &GearRepo,
    specsubst: Option<&[(String, String)]>,
    cancel: &CancelToken,
) -> Result<Tarball, SourceError> {
    let dir = tempfile::Builder::new()
        .prefix("zoryn-src.")
        .tempdir()
        .map_err(|e| {
            SourceError::new(
                format!("cannot create a temporary directory: {e}"),
                "check $TMPDIR",
            )
        })?;
    make_tarball_in(gear, git, repo, dir, specsubst, cancel)
}

/// What gear packs when zoryn does the specsubst: a private copy of the
/// repository's index whose entry for the spec is the spec with `@VAR@`
/// replaced (its blob in a private object directory that borrows the
/// repository's objects) and marked assume-unchanged, so `gear --commit`
/// (which updates its own copy of the index from the work tree for every
/// file `git diff-files` lists) keeps it. gear then reads name, version and
/// release — the `@name@`/`@version@` of its archive names — from the
/// substituted spec, as it does in a tagged build. The repository, its
/// index and its work tree are not touched; everything lives in `dir`.
struct SubstitutedIndex {
    _dir: tempfile::TempDir,
    env: Vec<(std::ffi::OsString, std::ffi::OsString)>,
}

impl SubstitutedIndex {
    fn new(
        git: &[String],
        repo: &GearRepo,
        spec_text: &str,
        cancel: &CancelToken,
    ) -> Result<SubstitutedIndex, String> {
        let git_out = |args: &[&str], env: &[(std::ffi::OsString, std::ffi::OsString)]| {
            let mut c = CommandSpec::new(git.iter().cloned())
                .args(args.iter().copied())
                .cwd(&repo.root)
                .timeout(std::time::Duration::from_secs(60));
            for (k, v) in env {
                c = c.env(k.clone(), v.clone());
            }
            let out = capture(&c, cancel).map_err(|e| e.to_string())?;
            if out.success() {
                Ok(out.stdout)
            } else {
                Err(format!("git {}: {}", args.join(" "), out.stderr.trim()))
            }
        };
        // Where the index and the objects are (a linked worktree, or
        // GIT_INDEX_FILE/GIT_OBJECT_DIRECTORY, included).
        let paths = git_out(
            &["rev-parse", "--git-path", "index", "--git-path", "objects"],
            &[],
        )?;
        let mut paths = paths.lines().map(|p| repo.root.join(p));
        let (Some(index), Some(objects)) = (paths.next(), paths.next()) else {
            return Err("git rev-parse --git-path gave no index and objects".into());
        };
        let dir = tempfile::Builder::new()
            .prefix("zoryn-specsubst.")
            .tempdir()
            .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
        let own_index = dir.path().join("index");
        let own_objects = dir.path().join("objects");
        let spec_file = dir.path().join("spec");
        let io = |what: &str, e: std::io::Error| format!("{what}: {e}");
        std::fs::copy(&index, &own_index).map_err(|e| io(&index.display().to_string(), e))?;
        std::fs::create_dir_all(own_objects.join("info")).map_err(|e| io("objects", e))?;
        std::fs::write(
            own_objects.join("info/alternates"),
            format!("{}\n", objects.display()),
        )
        .map_err(|e| io("alternates", e))?;
        std::fs::write(&spec_file, spec_text).map_err(|e| io("spec", e))?;
        let env = vec![
            ("GIT_INDEX_FILE".into(), own_index.into_os_string()),
            ("GIT_OBJECT_DIRECTORY".into(), own_objects.into_os_string()),
        ];
        let spec = repo.spec.to_string_lossy().into_owned();
        let staged = git_out(&["ls-files", "--stage", "--", &spec], &env)?;
        let Some(mode) = staged.split_whitespace().next() else {
            return Err(format!(
                "{spec} is not tracked by git, so gear would not pack it (git add it)"
            ));
        };
        let path_arg = format!("--path={spec}");
        let spec_arg = spec_file.to_string_lossy().into_owned();
        let blob = git_out(&["hash-object", "-w", &path_arg, "--", &spec_arg], &env)?;
        let cacheinfo = format!("{mode},{},{spec}", blob.trim());
        git_out(
            &[
                "update-index",
                "--cacheinfo",
                &cacheinfo,
                "--assume-unchanged",
                "--",
                &spec,
            ],
            &env,
        )?;
        Ok(SubstitutedIndex { _dir: dir, env })
    }
}

/// Run gear into `dir` (private; kept as long as the tarball), on a spec
/// with the specsubst values filled in when they are given.
fn make_tarball_in(
    gear: &[String],
    git: &[String],
    repo: &GearRepo,
    dir: tempfile::TempDir,
    specsubst: Option<&[(String, String)]>,
    cancel: &CancelToken,
) -> Result<Tarball, SourceError> {
    let path = dir.path().join(tar_name(repo));
    let mut spec_text = std::fs::read_to_string(repo.root.join(&repo.spec)).unwrap_or_default();
    let mut cmd = CommandSpec::new(gear.iter().cloned()).args(["--commit", "--no-compress"]);
    // The private index and objects must outlive gear's run.
    let mut _substituted = None;
    if specsubst.is_some() {
        cmd = cmd.arg("--disable-specsubst");
    }
    if let Some(values) = specsubst.filter(|v| !v.is_empty()) {
        spec_text = substitute(&spec_text, values);
        let index = SubstitutedIndex::new(git, repo, &spec_text, cancel).map_err(|e| {
            SourceError::new(
                format!(
                    "cannot prepare the specsubst values of {} for gear: {e}",
                    repo.root.display()
                ),
                "check the repository with git status",
            )
        })?;
        for (k, v) in &index.env {
            cmd = cmd.env(k.clone(), v.clone());
        }
        _substituted = Some(index);
    }
    let cmd = cmd.arg(&path).cwd(&repo.root);
    let mut output = Vec::new();
    let outcome = run(&cmd, cancel, |b| output.extend_from_slice(b)).map_err(|e| {
        if e.not_found() {
            SourceError {
                message: format!("`{}` is not installed (or not in PATH)", e.program),
                hint: Some("install it: apt-get install gear (ALT package `gear`), or set [commands] gear in ~/.zoryn".into()),
                missing_tool: true,
            }
        } else {
            SourceError::new(e.to_string(), "check [commands] gear in ~/.zoryn")
        }
    })?;
    match outcome {
        Outcome::Cancelled | Outcome::TimedOut => {
            return Err(SourceError::new("interrupted while making the tarball", ""));
        }
        o if !o.success() => {
            let text = String::from_utf8_lossy(&output);
            let tail: Vec<&str> = text
                .lines()
                .rev()
                .take(10)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            return Err(SourceError::new(
                format!(
                    "gear failed to make the source tarball in {} (exit {}):\n{}",
                    repo.root.display(),
                    o.code().unwrap_or(-1),
                    tail.join("\n")
                ),
                "fix the problem gear reports; `gear --commit --no-compress /tmp/pkg.tar` reproduces it",
            ));
        }
        _ => {}
    }
    Ok(finish(dir, path, spec_text, false))
}
