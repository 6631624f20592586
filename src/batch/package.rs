//! One package of a batch, opened with the batch file's settings.
//!
//! [`Package::new`] reads the spec with the batch's `macros` and specsubst
//! values as defines (the reader itself is `source::specdeps`, untouched
//! here), and a repository whose gear rules ask for `specsubst:` gets
//! `@VAR@` replaced in the spec zoryn reads and in its tarball, which is
//! made once per package and shared by all its jobs, and reused from the
//! batch's tarball cache when gear would pack the same thing again. It must not parse
//! batch files (`file`), plan lanes or run builds.

use std::sync::OnceLock;

use super::file::{BatchFile, BatchPackage, PackageMode, Specsubst};
use crate::hasher::build_mode::BuildMode;
use crate::source::cache::TarballCache;
use crate::source::gear::{make_tarball_reusing_with, make_tarball_with, Tarball};
use crate::source::repo::GearRepo;
use crate::source::specdeps::read_spec;
use crate::source::specsubst::{directive as specsubst_directive, substitute};
use crate::transport::cancel::CancelToken;

/// One package of the batch, opened.
pub struct Package {
    /// The spec's Name (with the batch's macros).
    pub name: String,
    /// Its table in the batch file (`--batch-pkgs` names).
    pub batch_name: String,
    pub repo: GearRepo,
    /// The spec as zoryn reads it and hsh gets it: `@VAR@` replaced when
    /// the repository's gear rules have `specsubst:`.
    pub spec_text: String,
    /// Macros every read of this spec gets (batch `macros`, then specsubst values).
    pub defines: Vec<(String, String)>,
    /// `mode` of the batch file, as the plan shows it.
    pub mode: PackageMode,
    /// How this package's jobs run hasher: `Full`, or `Rebuild` for a
    /// batch package with `mode = "rebuild"` (hsh-rebuild in the builder's
    /// existing chroot).
    pub build_mode: BuildMode,
    /// Branches it is built for (`exclude`, `only` of the batch file).
    pub entry: BatchPackage,
    /// Values for the tarball's spec: `Some` when the rules have `specsubst:`.
    specsubst: Option<Vec<(String, String)>>,
    /// The git command for the tarball's reuse key and specsubst.
    git: Vec<String>,
    /// Where the tarball of an unchanged source is kept between runs (the
    /// batch's, see [`batch_tarball_cache`]); `None`: gear runs every time.
    cache: Option<TarballCache>,
    tarball: OnceLock<Result<Tarball, String>>,
}

impl Package {
    /// Open a package of `batch`: read its spec with the batch's macros, and
    /// apply the batch's specsubst values when its gear rules ask for them.
    /// Its tarball is reused when unchanged, from the batch's tarball cache
    /// ([`batch_tarball_cache`] under `$XDG_CACHE_HOME/zoryn`, git from
    /// PATH; [`Package::use_tarball_cache`] sets the configured ones).
    pub fn new(repo: GearRepo, entry: &BatchPackage, batch: &BatchFile) -> Result<Package, String> {
        let raw = std::fs::read_to_string(repo.root.join(&repo.spec))
            .map_err(|e| format!("cannot read {}: {e}", repo.spec.display()))?;
        let values = batch.specsubst_for(entry);
        let specsubst = match specsubst_directive(&repo.root)? {
            None => None,
            Some(_) if entry.specsubst == Specsubst::Disabled => Some(Vec::new()),
            Some(d) => {
                let mut chosen = Vec::new();
                for v in &d.vars {
                    match values.iter().find(|(k, _)| k == v) {
                        Some(kv) => chosen.push(kv.clone()),
                        None => {
                            return Err(format!(
                                "{} line {} has `specsubst: {v}`, but the batch gives no value for {v}; \
                                 add {v}=VALUE to specsubst in [batch] or in [{}] (or specsubst = \"none\" there)",
                                d.rules.display(),
                                d.line,
                                entry.name
                            ))
                        }
                    }
                }
                Some(chosen)
            }
        };
        let spec_text = match &specsubst {
            Some(v) => substitute(&raw, v),
            None => raw,
        };
        let defines = batch.defines_for(entry);
        let name = read_spec(&spec_text, "noarch", &defines).name;
        Ok(Package {
            name,
            batch_name: entry.name.clone(),
            repo,
            spec_text,
            defines,
            mode: entry.mode,
            build_mode: match entry.mode {
                PackageMode::Rebuild => BuildMode::Rebuild,
                PackageMode::Build => BuildMode::Full,
            },
            entry: entry.clone(),
            specsubst,
            git: vec!["git".into()],
            cache: crate::config::paths::Paths::from_env()
                .ok()
                .map(|p| batch_tarball_cache(&p.cache_dir, batch)),
            tarball: OnceLock::new(),
        })
    }

    /// Compute tarball keys (and the specsubst index) with `git`, and keep
    /// tarballs in `cache` (`None`: gear runs every time), e.g.
    /// `batch_tarball_cache(&loaded.paths.cache_dir, &file)`.
    pub fn use_tarball_cache(&mut self, git: &[String], cache: Option<TarballCache>) {
        self.git = git.to_vec();
        self.cache = cache;
    }

    /// The package's tarball, made once per run: taken from the cache when
    /// gear would pack the same thing as last time (the specsubst values
    /// included), else packed by gear.
    pub(super) fn tarball(
        &self,
        gear: &[String],
        cancel: &CancelToken,
    ) -> Result<&Tarball, String> {
        self.tarball
            .get_or_init(|| {
                let specsubst = self.specsubst.as_deref();
                match &self.cache {
                    Some(cache) => make_tarball_reusing_with(
                        gear, &self.git, cache, &self.repo, specsubst, cancel,
                    ),
                    None => make_tarball_with(gear, &self.git, &self.repo, specsubst, cancel),
                }
                .map_err(|e| e.message)
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// A batch's tarball cache: `CACHE_DIR/tarballs/batch-NAME` (beside the one
/// `zoryn build` uses, which keeps 16), two tarballs per package of the
/// batch — the current and one earlier — so a run of many packages does not
/// evict its own before the next run.
pub fn batch_tarball_cache(cache_dir: &std::path::Path, batch: &BatchFile) -> TarballCache {
    TarballCache::with_limits(
        cache_dir
            .join("tarballs")
            .join(format!("batch-{}", batch.name)),
        2 * batch.packages.len(),
        u64::MAX,
    )
}
