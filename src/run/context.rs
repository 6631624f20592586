//! What a run shares between its builds: the [`BuildOptions`] both
//! `zoryn build` and a batch carry, the tarball, the hosts, the cancel
//! handles and the once-per-host upload. [`RunContext::new`] is the one way
//! to make it (the build session per run, the batch runner per job); every
//! build job reads it. It holds no decisions of its own and never prints.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use super::busy::BusyPolicy;
use super::chain::ChainRepo;
use super::checks::PostBuildCheck;
use super::emitter::Emitter;
use super::ended::Ended;
use super::events::BuilderResult;
use crate::config::global::{ChecksSection, GlobalConfig};
use crate::farm::loaded::Loaded;
use crate::farm::Builder;
use crate::hasher::build_mode::BuildMode;
use crate::hasher::skip_checks::SkipChecks;
use crate::source::gear::{self, Tarball};
use crate::source::repo::GearRepo;
use crate::transport::cancel::CancelToken;
use crate::transport::rsync;
use crate::transport::ssh::{Host, Hosts, TransportError};

/// Cancel handles for a run: the whole run, and each build on its own (the
/// TUI's "cancel selected").
#[derive(Clone)]
pub struct Controls {
    pub run: CancelToken,
    per_builder: Arc<HashMap<String, CancelToken>>,
}

impl Controls {
    pub fn new(run: CancelToken, builders: &[&Builder]) -> Controls {
        let per_builder = builders
            .iter()
            .map(|b| (b.name.clone(), run.child()))
            .collect();
        Controls {
            run,
            per_builder: Arc::new(per_builder),
        }
    }

    /// The token of one build (the run's when unknown).
    pub fn builder(&self, name: &str) -> CancelToken {
        self.per_builder
            .get(name)
            .cloned()
            .unwrap_or_else(|| self.run.clone())
    }
}

/// The outcome of one upload, shared by every builder on its host.
pub type UploadCell = OnceLock<Result<u64, TransportError>>;

/// How every build of a run is made, whether `zoryn build` or a batch
/// runs it: the flags both commands share, decided once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BuildOptions {
    /// `--rpmbuild-args`.
    pub rpmbuild_args: Option<String>,
    /// `--packager`.
    pub packager: Option<String>,
    /// `hsh`, or `hsh-rebuild` in the existing chroot (`-r`, `--section`;
    /// in a batch, each job's package decides: [`BuildOptions::with_mode`]).
    pub mode: BuildMode,
    /// `--skip-check`.
    pub skip_checks: SkipChecks,
    /// Post-build checks to run on each builder's packages, the skipped
    /// ones (`--skip-check`) already left out.
    pub checks: Vec<PostBuildCheck>,
}

impl BuildOptions {
    /// The options of a run: the `[checks]` commands that run are the
    /// configured ones minus those `skip_checks` names.
    pub fn new(
        rpmbuild_args: Option<String>,
        packager: Option<String>,
        mode: BuildMode,
        skip_checks: SkipChecks,
        checks: &ChecksSection,
    ) -> BuildOptions {
        let checks = PostBuildCheck::from_config(checks)
            .into_iter()
            .filter(|c| !skip_checks.skips(&c.name))
            .collect();
        BuildOptions {
            rpmbuild_args,
            packager,
            mode,
            skip_checks,
            checks,
        }
    }

    /// The same options, built in `mode` (a batch job's package decides).
    pub fn with_mode(&self, mode: BuildMode) -> BuildOptions {
        BuildOptions {
            mode,
            ..self.clone()
        }
    }
}

/// Everything a build needs besides the builder.
pub struct RunContext<'a> {
    /// RPMs built earlier in a batch, placed into the builder's hasher repo
    /// before its build (batches only).
    pub chain: Option<&'a ChainRepo>,
    pub global: &'a GlobalConfig,
    pub git_root: PathBuf,
    pub home: PathBuf,
    pub host_arch: String,
    pub tarball: &'a Tarball,
    /// The tarball's file name, also on a remote host ([`gear::tar_name`]).
    pub tar_name: String,
    pub options: BuildOptions,
    /// Stops the whole run (a child of the Ctrl-C token; `--fail-fast`
    /// fires it). Each build has its own child in the run's [`Controls`].
    pub cancel: CancelToken,
    pub busy: BusyPolicy,
    pub fail_fast: bool,
    /// SSH hosts of this run (one master and session bound per host).
    pub hosts: &'a Hosts,
    /// `builders.d`, where each builder's generated apt config lives.
    pub builders_dir: PathBuf,
    /// One upload of the tarball per host and run.
    pub uploads: Mutex<HashMap<String, Arc<UploadCell>>>,
    /// Hosts (by name) with more than one builder of this run: their
    /// builders share one upload, so none of them may send the source on
    /// its own build session ([`RunContext::shares_upload`]).
    pub shared_hosts: HashSet<String>,
    /// Open a remote build's download session while hsh still runs (see
    /// [`crate::transport::stream::PreparedFetch`]): `zoryn build` and
    /// `up`, whose builders are known ([`RunContext::with_builders`]); not
    /// a batch, whose many builds on one host need the sessions.
    pub prefetch: bool,
}

impl<'a> RunContext<'a> {
    /// A builder's end: the post-build checks on a successful build's
    /// packages ([`super::checks::run_after_build`]), then its result with
    /// the time since `started`.
    pub fn finish(
        &self,
        b: &Builder,
        started: std::time::Instant,
        ended: Ended,
        emit: &Emitter,
        cancel: &CancelToken,
    ) -> BuilderResult {
        let ended = super::checks::run_after_build(
            &self.options.checks,
            ended,
            &self.git_root,
            emit,
            &b.name,
            cancel,
        );
        ended.into_result(b, started.elapsed())
    }

    /// The context of builds of `repo`'s `tarball`: waits for a busy
    /// builder, does not stop at the first failure and has no chain repo
    /// until told otherwise ([`RunContext::with_policy`],
    /// [`RunContext::with_chain`]).
    pub fn new(
        loaded: &'a Loaded,
        repo: &GearRepo,
        tarball: &'a Tarball,
        options: BuildOptions,
        hosts: &'a Hosts,
        cancel: CancelToken,
    ) -> RunContext<'a> {
        RunContext {
            chain: None,
            global: &loaded.global,
            git_root: repo.root.clone(),
            home: loaded.paths.home.clone(),
            host_arch: crate::config::arch::local(),
            tarball,
            tar_name: gear::tar_name(repo),
            options,
            cancel,
            busy: BusyPolicy::Wait,
            fail_fast: false,
            hosts,
            builders_dir: loaded.paths.builders_dir.clone(),
            uploads: Default::default(),
            shared_hosts: HashSet::new(),
            prefetch: false,
        }
    }

    /// The run builds on `builders` (`zoryn build`, `up`): a host with more
    /// than one of them shares its upload between them, and a build alone
    /// on its host opens its download session ahead.
    pub fn with_builders(self, builders: &[&Builder]) -> RunContext<'a> {
        let mut seen = HashSet::new();
        let shared_hosts = builders
            .iter()
            .filter_map(|b| match &b.location {
                crate::farm::Location::Remote { host } => Some(host.clone()),
                crate::farm::Location::Local => None,
            })
            .filter(|h| !seen.insert(h.clone()))
            .collect();
        RunContext {
            shared_hosts,
            prefetch: true,
            ..self
        }
    }

    /// Whether other builders of this run upload to `host` too.
    pub fn shares_upload(&self, host: &str) -> bool {
        self.shared_hosts.contains(host)
    }

    /// What a busy builder does, and whether the first failure stops the run.
    pub fn with_policy(self, busy: BusyPolicy, fail_fast: bool) -> RunContext<'a> {
        RunContext {
            busy,
            fail_fast,
            ..self
        }
    }

    /// A batch's chain repo feeds each builder's hasher repo.
    pub fn with_chain(self, chain: &'a ChainRepo) -> RunContext<'a> {
        RunContext {
            chain: Some(chain),
            ..self
        }
    }

    /// `builders.d/NAME/apt`.
    pub fn apt_dir(&self, builder: &str) -> PathBuf {
        self.builders_dir.join(builder).join("apt")
    }

    /// Upload the tarball to `remote_path` on `host` unless this run already
    /// did; returns the bytes sent (0 for the second caller): the whole file
    /// up to [`crate::transport::stream::STREAM_UP_LIMIT`], else rsync's delta.
    pub fn upload_once(&self, host: &Host, remote_path: &str) -> Result<u64, TransportError> {
        let key = format!("{}\0{remote_path}", host.destination);
        let cell = {
            let mut map = self.uploads.lock().unwrap_or_else(|p| p.into_inner());
            map.entry(key).or_default().clone()
        };
        let mut first = false;
        let r = cell.get_or_init(|| {
            first = true;
            if self.tarball.size <= crate::transport::stream::STREAM_UP_LIMIT {
                crate::transport::stream::put_file(
                    host,
                    &self.tarball.path,
                    remote_path,
                    &self.cancel,
                )
            } else {
                rsync::upload_file(
                    &self.global.commands.rsync,
                    host,
                    &self.tarball.path,
                    remote_path,
                    &self.cancel,
                )
                .map(|s| s.bytes_sent)
            }
        });
        match r {
            Ok(bytes) => Ok(if first { *bytes } else { 0 }),
            Err(e) => Err(e.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hasher::build_mode::Section;

    #[test]
    fn skipped_checks_are_left_out_and_a_job_can_change_the_mode() {
        let section = ChecksSection {
            commands: vec!["rpmlint -i".into(), "/usr/bin/sisyphus_check".into()],
        };
        let skip = SkipChecks::parse(Some("rpmlint")).unwrap();
        let o = BuildOptions::new(
            Some("--with x".into()),
            None,
            BuildMode::Full,
            skip.clone(),
            &section,
        );
        let names: Vec<&str> = o.checks.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["sisyphus_check"]);
        assert_eq!(o.skip_checks, skip);
        let all = BuildOptions::new(
            None,
            None,
            BuildMode::Full,
            SkipChecks::parse(Some("")).unwrap(),
            &section,
        );
        assert!(all.checks.is_empty());
        let none = BuildOptions::new(None, None, BuildMode::Full, SkipChecks::default(), &section);
        assert_eq!(none.checks.len(), 2);

        let job = o.with_mode(BuildMode::Section(Section::Prep));
        assert_eq!(job.mode, BuildMode::Section(Section::Prep));
        assert_eq!(job.rpmbuild_args.as_deref(), Some("--with x"));
        assert_eq!(job.checks, o.checks);
    }
}
