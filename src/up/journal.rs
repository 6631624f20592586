//! The `zoryn up` journal: one JSON file per repository under
//! `$XDG_STATE_HOME/zoryn/up/KEY.json` (KEY: a hash of the repository's
//! path), with what `--abort` needs to put everything back (the branch, the
//! original HEAD, the tag refs before `up` ran) and each stage's state and
//! duration. Written atomically (temporary file, fsync, rename) before and
//! after every stage, so an interrupted `up` is always resumable.
//!
//! Must not: run git or decide what a stage does.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::detect::Scheme;
use super::UpError;

/// The stages, in pipeline order (`merge` for the git scheme, `import`
/// for the tarball scheme).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Detect,
    Fetch,
    Merge,
    Import,
    Hooks,
    Spec,
    Commit,
    Build,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::Detect => "detect",
            Stage::Fetch => "fetch",
            Stage::Merge => "merge",
            Stage::Import => "import",
            Stage::Hooks => "hooks",
            Stage::Spec => "spec",
            Stage::Commit => "commit",
            Stage::Build => "build",
        }
    }

    /// The stages of a scheme, in order.
    pub fn plan(scheme: Scheme) -> Vec<Stage> {
        let middle = match scheme {
            Scheme::Git => Stage::Merge,
            Scheme::Tarball => Stage::Import,
        };
        vec![
            Stage::Detect,
            Stage::Fetch,
            middle,
            Stage::Hooks,
            Stage::Spec,
            Stage::Commit,
            Stage::Build,
        ]
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StageState {
    Pending,
    Running,
    Done,
    Failed,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageRecord {
    pub stage: Stage,
    pub state: StageState,
    /// Wall-clock seconds of the last run of this stage.
    pub seconds: Option<f64>,
    /// Why it failed, or what it did.
    pub note: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Journal {
    pub format: u32,
    pub repo: PathBuf,
    /// `refs/heads/...` HEAD was on, `None` if detached.
    pub branch: Option<String>,
    /// HEAD before `up` started.
    pub orig_head: String,
    /// `refs/tags/*` before `up` started (refname, object).
    pub orig_tags: Vec<(String, String)>,
    pub scheme: Scheme,
    pub package: String,
    pub spec: PathBuf,
    pub old_version: String,
    pub new_version: Option<String>,
    /// Git scheme: the upstream tag.
    pub tag: Option<String>,
    /// Tarball scheme: where the archive comes from and where it is kept.
    pub archive_url: Option<String>,
    pub archive: Option<PathBuf>,
    pub stages: Vec<StageRecord>,
}

pub const FORMAT: u32 = 1;

impl Journal {
    pub fn record(&self, stage: Stage) -> Option<&StageRecord> {
        self.stages.iter().find(|r| r.stage == stage)
    }

    pub fn record_mut(&mut self, stage: Stage) -> Option<&mut StageRecord> {
        self.stages.iter_mut().find(|r| r.stage == stage)
    }

    /// The first stage not done, if any.
    pub fn next_stage(&self) -> Option<Stage> {
        self.stages
            .iter()
            .find(|r| r.state != StageState::Done)
            .map(|r| r.stage)
    }
}

/// FNV-1a, 64 bits: a stable key for a path (not a security boundary).
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Where the journal of repository `root` lives (and its side directory
/// for downloads).
pub fn journal_path(state_dir: &Path, root: &Path) -> PathBuf {
    let canon = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let name = canon
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "repo".into());
    let safe = safe_file_name(&name, "-_.+");
    state_dir.join("up").join(format!(
        "{safe}-{:016x}.json",
        fnv1a(canon.as_os_str().as_bytes())
    ))
}

/// The side directory of a journal (downloaded archives).
pub fn side_dir(journal: &Path) -> PathBuf {
    journal.with_extension("d")
}

pub fn load(path: &Path) -> Result<Option<Journal>, UpError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(UpError::infra(
                format!("cannot read the up journal {}: {e}", path.display()),
                "check its permissions",
            ))
        }
    };
    serde_json::from_str(&text).map(Some).map_err(|e| {
        UpError::usage(
            format!("the up journal {} is damaged: {e}", path.display()),
            format!(
                "undo by hand (`git reset --hard` to the commit before `up`) and delete {}",
                path.display()
            ),
        )
    })
}

pub fn save(path: &Path, journal: &Journal) -> Result<(), UpError> {
    use std::io::Write;
    let err = |e: std::io::Error| {
        UpError::infra(
            format!("cannot write the up journal {}: {e}", path.display()),
            "check the disk space and the permissions of $XDG_STATE_HOME",
        )
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let text = serde_json::to_string_pretty(journal).map_err(|e| err(std::io::Error::other(e)))?;
    let tmp = path.with_extension("json.tmp");
    let mut f = std::fs::File::create(&tmp).map_err(err)?;
    f.write_all(text.as_bytes()).map_err(err)?;
    f.write_all(b"\n").map_err(err)?;
    f.sync_all().map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

/// Remove the journal and its side directory.
pub fn remove(path: &Path) -> Result<(), UpError> {
    let side = side_dir(path);
    if side.exists() {
        std::fs::remove_dir_all(&side).map_err(|e| {
            UpError::infra(
                format!("cannot remove {}: {e}", side.display()),
                "remove it by hand",
            )
        })?;
    }
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(UpError::infra(
            format!("cannot remove the up journal {}: {e}", path.display()),
            "remove it by hand",
        )),
    }
}

/// `name` with every character other than ASCII letters, digits and those in
/// `keep` replaced by `_`: safe as one file name component.
pub fn safe_file_name(name: &str, keep: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || keep.contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Journal {
        Journal {
            format: FORMAT,
            repo: "/r/hello".into(),
            branch: Some("refs/heads/master".into()),
            orig_head: "abc".into(),
            orig_tags: vec![("refs/tags/v1.0".into(), "def".into())],
            scheme: Scheme::Git,
            package: "hello".into(),
            spec: "hello.spec".into(),
            old_version: "1.0".into(),
            new_version: None,
            tag: None,
            archive_url: None,
            archive: None,
            stages: Stage::plan(Scheme::Git)
                .into_iter()
                .map(|s| StageRecord {
                    stage: s,
                    state: StageState::Pending,
                    seconds: None,
                    note: None,
                })
                .collect(),
        }
    }

    #[test]
    fn round_trip_and_next_stage() {
        let dir = tempfile::tempdir().unwrap();
        let p = journal_path(dir.path(), Path::new("/r/hello"));
        assert!(p.starts_with(dir.path().join("up")));
        assert!(p
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("hello-"));
        let mut j = sample();
        j.record_mut(Stage::Detect).unwrap().state = StageState::Done;
        save(&p, &j).unwrap();
        let back = load(&p).unwrap().unwrap();
        assert_eq!(back, j);
        assert_eq!(back.next_stage(), Some(Stage::Fetch));
        remove(&p).unwrap();
        assert_eq!(load(&p).unwrap(), None);
    }

    #[test]
    fn keys_differ_per_repository() {
        let s = Path::new("/s");
        assert_ne!(
            journal_path(s, Path::new("/a/x")),
            journal_path(s, Path::new("/b/x"))
        );
    }

    #[test]
    fn plans_name_the_scheme_stage() {
        let names: Vec<&str> = Stage::plan(Scheme::Tarball)
            .iter()
            .map(|s| s.name())
            .collect();
        assert_eq!(
            names,
            ["detect", "fetch", "import", "hooks", "spec", "commit", "build"]
        );
    }
}
