//! What a run shares between its builds: settings, the tarball, the hosts,
//! the cancel handles and the once-per-host upload. Built once per run by
//! the caller (`zoryn build`, a batch) and read by every build job.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use super::busy::BusyPolicy;
use crate::config::global::GlobalConfig;
use crate::farm::Builder;
use crate::source::gear::Tarball;
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

/// Everything a build needs besides the builder.
pub struct RunContext<'a> {
    /// RPMs built earlier in a batch, placed into the builder's hasher repo
    /// before its build (batches only).
    pub chain: Option<&'a crate::run::chain::ChainRepo>,
    pub global: &'a GlobalConfig,
    pub git_root: PathBuf,
    pub home: PathBuf,
    pub host_arch: String,
    pub tarball: &'a Tarball,
    pub rpmbuild_args: Option<String>,
    pub packager: Option<String>,
    /// `hsh`, or `hsh-rebuild` in the existing chroot (`-r`, `--section`;
    /// in a batch, the job's package decides).
    pub mode: crate::hasher::build_mode::BuildMode,
    /// `--skip-check`.
    pub skip_checks: crate::hasher::skip_checks::SkipChecks,
    /// Stops the whole run (a child of the Ctrl-C token; `--fail-fast`
    /// fires it). Each build has its own child in the run's [`Controls`].
    pub cancel: CancelToken,
    pub busy: BusyPolicy,
    pub fail_fast: bool,
    /// SSH hosts of this run (one master and session bound per host).
    pub hosts: &'a Hosts,
    /// `builders.d`, where each builder's generated apt config lives.
    pub builders_dir: PathBuf,
    /// Post-build checks to run on each builder's packages, the skipped
    /// ones (`--skip-check`) already left out.
    pub checks: Vec<super::checks::PostBuildCheck>,
    /// One upload of the tarball per host and run.
    pub uploads: Mutex<HashMap<String, Arc<UploadCell>>>,
}

impl RunContext<'_> {
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
