//! One build of one package on the selected builders, as `zoryn build`
//! runs it (and `zoryn up` through it): the pre-flight of every builder
//! while gear packs the source, the builds of those that passed, and the
//! results in the builders' order. The command describes the run with a
//! [`BuildSession`] and renders what comes back; the session never prints,
//! everything it has to say goes out as events.

use std::collections::HashMap;
use std::path::PathBuf;

use super::busy::BusyPolicy;
use super::checks::PostBuildCheck;
use super::context::{Controls, RunContext};
use super::emitter::Emitter;
use super::events::{BuilderResult, EventKind};
use super::executor::{execute, exit_code, precheck, Precheck};
use super::remote::{PlanInput, Prechecked};
use crate::farm::loaded::Loaded;
use crate::farm::Builder;
use crate::hasher::build_mode::BuildMode;
use crate::hasher::skip_checks::SkipChecks;
use crate::source::gear;
use crate::source::repo::{self, GearRepo};
use crate::source::SourceError;
use crate::transport::cancel::CancelToken;
use crate::transport::ssh::Hosts;

/// Everything one build run needs, decided by the command's flags.
pub struct BuildSession<'a> {
    pub loaded: &'a Loaded,
    pub root: &'a GearRepo,
    pub builders: &'a [&'a Builder],
    /// What the remote plans are made of (before the tarball exists).
    pub plan_input: PlanInput<'a>,
    pub hosts: &'a Hosts,
    pub rpmbuild_args: Option<String>,
    pub packager: Option<String>,
    pub mode: BuildMode,
    pub skip_checks: SkipChecks,
    pub busy: BusyPolicy,
    pub fail_fast: bool,
    pub parallel: bool,
    pub checks: Vec<PostBuildCheck>,
    /// Stops the run (`--fail-fast` fires it); a child of the interrupt token.
    pub run_token: CancelToken,
    pub controls: &'a Controls,
}

/// How a session ended: every builder's result in the builders' order, or
/// (when gear could not pack the source) the source error and the results
/// of the builders that failed their pre-flight.
pub struct SessionEnd {
    pub results: Vec<BuilderResult>,
    pub source_error: Option<SourceError>,
}

impl BuildSession<'_> {
    /// Run it; ends with [`EventKind::RunFinished`].
    pub fn run(&self, emitter: &Emitter) -> SessionEnd {
        // Pre-flight first (SPEC 5.1): a builder that cannot build is
        // reported before any source is packed.
        // gear packs the source while the builders are checked; a
        // builder that fails its check is never started, and if none
        // passes, the tarball is simply dropped.
        let (prechecked, packed) = std::thread::scope(|s| {
            let packing = s.spawn(|| {
                gear::make_tarball_reusing(
                    &self.loaded.global.commands.gear,
                    &self.loaded.global.commands.git,
                    &crate::source::cache::TarballCache::new(
                        self.loaded.paths.cache_dir.join("tarballs"),
                    ),
                    self.root,
                    &self.run_token,
                )
            });
            let handles: Vec<_> = self
                .builders
                .iter()
                .map(|b| {
                    s.spawn(|| {
                        precheck(
                            &self.plan_input,
                            &self.loaded.paths.home,
                            b,
                            self.hosts,
                            &self.run_token,
                        )
                    })
                })
                .collect();
            let checks: Vec<Precheck> = handles
                .into_iter()
                .map(|h| h.join().unwrap_or(Precheck::Passed(None)))
                .collect();
            (checks, packing.join())
        });
        // The builders that failed their check, in order; the plans and
        // answers of the remote ones that passed go to their builds.
        let mut plans: HashMap<String, Prechecked> = HashMap::new();
        let prechecked: Vec<Option<BuilderResult>> = self
            .builders
            .iter()
            .zip(prechecked)
            .map(|(b, checked)| match checked {
                Precheck::Passed(plan) => {
                    if let Some(p) = plan {
                        plans.insert(b.name.clone(), p);
                    }
                    None
                }
                Precheck::Failed(result) => Some(result),
            })
            .collect();
        for r in prechecked.iter().flatten() {
            emitter.emit(EventKind::Finished(r.clone()));
        }
        let ready: Vec<&Builder> = self
            .builders
            .iter()
            .zip(&prechecked)
            .filter(|(_, p)| p.is_none())
            .map(|(b, _)| *b)
            .collect();
        let mut built: Vec<BuilderResult> = Vec::new();
        let mut source_error = None;
        if !ready.is_empty() {
            let packed = packed.unwrap_or_else(|_| {
                Err(crate::source::SourceError::new(
                    "gear crashed",
                    "run gear by hand to see why",
                ))
            });
            match packed {
                Err(e) => source_error = Some(e),
                Ok(tarball) => {
                    emitter.emit(EventKind::SourceReady {
                        tarball_bytes: tarball.size,
                        reused: tarball.reused,
                    });
                    let ctx = RunContext {
                        global: &self.loaded.global,
                        git_root: self.root.root.clone(),
                        home: self.loaded.paths.home.clone(),
                        host_arch: crate::config::arch::local(),
                        tarball: &tarball,
                        rpmbuild_args: self.rpmbuild_args.clone(),
                        packager: self.packager.clone(),
                        mode: self.mode,
                        skip_checks: self.skip_checks.clone(),
                        cancel: self.run_token.clone(),
                        busy: self.busy,
                        fail_fast: self.fail_fast,
                        hosts: self.hosts,
                        chain: None,
                        builders_dir: self.loaded.paths.builders_dir.clone(),
                        checks: self.checks.clone(),
                        uploads: Default::default(),
                    };
                    let excludes: Vec<PathBuf> = ready
                        .iter()
                        .flat_map(|b| {
                            let results = crate::run::job::results_dir(&ctx, b);
                            [
                                crate::run::job::log_path(&ctx, b),
                                results.parent().map(PathBuf::from).unwrap_or(results),
                            ]
                        })
                        .collect();
                    if let Err(e) = repo::exclude_from_git(
                        &self.loaded.global.commands.git,
                        &self.root.root,
                        &excludes,
                    ) {
                        tracing::warn!("could not update .git/info/exclude: {e}");
                    }
                    built = execute(
                        &ctx,
                        &self.loaded.farm,
                        &ready,
                        self.parallel,
                        emitter,
                        self.controls,
                        plans,
                    );
                }
            }
        }
        // Results in the builders' order.
        let mut built = built.into_iter();
        let results: Vec<BuilderResult> = prechecked
            .into_iter()
            .filter_map(|p| {
                p.or_else(|| {
                    if source_error.is_none() {
                        built.next()
                    } else {
                        None
                    }
                })
            })
            .collect();
        emitter.emit(EventKind::RunFinished {
            results: results.clone(),
            exit_code: exit_code(&results),
        });
        SessionEnd {
            results,
            source_error,
        }
    }
}
