//! One build of one package on the selected builders, as `zoryn build`
//! runs it (and `zoryn up` through it): the orchestration under the
//! command, which only turns flags into a [`BuildRequest`] and renders what
//! comes back.
//!
//! [`BuildSession::prepare`] decides everything before the first build:
//! the builders (the selection), the gear repository and its spec, whether
//! the builders run in parallel (flag, the branch's table, the config), and
//! that hasher is there for a local builder. [`BuildSession::run`] does the
//! pre-flight of every builder while gear packs the source, the builds of
//! those that passed, and the results in the builders' order.
//!
//! The session never prints: what it has to say goes out as events,
//! [`Warning`]s and typed [`PrepareError`]s that the command renders.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::busy::BusyPolicy;
use super::context::{BuildOptions, Controls, RunContext};
use super::emitter::Emitter;
use super::events::{info, BuilderResult, EventKind};
use super::executor::{execute, exit_code, precheck, Precheck};
use super::job;
use super::plan_input::PlanInput;
use super::remote::Prechecked;
use crate::config::global::GlobalConfig;
use crate::farm::loaded::Loaded;
use crate::farm::selection::{choose, SelectionError, SelectionRequest};
use crate::farm::Builder;
use crate::hasher::build_mode::{rebuild_program, BuildMode};
use crate::source::cache::TarballCache;
use crate::source::gear::{self, Tarball};
use crate::source::repo::{self, GearRepo};
use crate::source::specdeps::SpecText;
use crate::source::SourceError;
use crate::transport::cancel::CancelToken;
use crate::transport::ssh::{Hosts, SshSettings};

/// What `zoryn build` was asked to do, in the core's terms.
pub struct BuildRequest {
    /// Which builders (`-b/-a/-B`).
    pub selection: SelectionRequest,
    /// A directory in the gear repository (`-C`, else the current one).
    pub directory: PathBuf,
    /// `-p` (`Some(true)`) or `-s` (`Some(false)`); `None`: the branch's
    /// table decides, else `[builders] parallel`.
    pub parallel: Option<bool>,
    /// What a builder whose workdir is locked does.
    pub busy: BusyPolicy,
    /// Stop the other builds as soon as one fails.
    pub fail_fast: bool,
    pub options: BuildOptions,
}

/// Why a build could not start.
#[derive(Debug)]
pub enum PrepareError {
    /// No builder matches the selection (usage).
    Selection(SelectionError),
    /// The directory is not a gear repository (usage), or git is missing
    /// (infra: `missing_tool`).
    Source(SourceError),
    /// A local builder needs `program` (`hsh`, or `hsh-rebuild` for `-r` and
    /// `--section`), and it is not installed.
    HasherMissing { program: String },
}

/// Something worth telling before the run, that does not stop it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Warning {
    /// Parallel builds are on, but only this builder matched.
    ParallelWithOneBuilder { builder: String },
}

/// A build run, ready to go: everything decided, nothing started.
pub struct BuildSession<'a> {
    loaded: &'a Loaded,
    root: GearRepo,
    spec: SpecText,
    builders: Vec<&'a Builder>,
    hosts: Hosts,
    options: BuildOptions,
    busy: BusyPolicy,
    fail_fast: bool,
    parallel: bool,
    /// Stops the run (`--fail-fast` fires it); a child of the interrupt token.
    run_token: CancelToken,
    controls: Controls,
}

/// How a session ended: every builder's result in the builders' order, or
/// (when gear could not pack the source) the source error and the results
/// of the builders that failed their pre-flight.
pub struct SessionEnd {
    pub results: Vec<BuilderResult>,
    pub source_error: Option<SourceError>,
}

impl<'a> BuildSession<'a> {
    /// Decide the run: the builders, the repository, parallel or not, and
    /// that a local builder has hasher. `cancel` is the interrupt token;
    /// the run gets a child of it. `warn` hears what does not stop the run,
    /// when it is found.
    pub fn prepare(
        loaded: &'a Loaded,
        request: BuildRequest,
        cancel: &CancelToken,
        warn: &mut dyn FnMut(Warning),
    ) -> Result<BuildSession<'a>, PrepareError> {
        let builders = choose(&loaded.farm, &loaded.global.builders, &request.selection)
            .map_err(PrepareError::Selection)?;
        let parallel = request
            .parallel
            .unwrap_or_else(|| parallel_by_config(&loaded.global, &request.selection.branch));
        if let ([one], true) = (builders.as_slice(), parallel) {
            warn(Warning::ParallelWithOneBuilder {
                builder: one.name.clone(),
            });
        }
        let git = &loaded.global.commands.git;
        let root = repo::git_root(git, &request.directory)
            .and_then(|r| repo::open(&r))
            .map_err(PrepareError::Source)?;
        if builders.iter().any(|b| b.is_local()) {
            let program = local_hasher(&loaded.global, request.options.mode);
            if !on_path(&program) {
                return Err(PrepareError::HasherMissing { program });
            }
        }
        let run_token = cancel.child();
        let controls = Controls::new(run_token.clone(), &builders);
        let hosts = Hosts::new(SshSettings::from_config(
            &loaded.global,
            loaded.paths.runtime_dir.clone(),
        ));
        // The spec as hasher will get it (specsubst values from the nearest
        // tag, as gear takes them); when they cannot be had, packing the
        // source fails with the reason, so the header shows the raw spec.
        let spec = SpecText::new(
            crate::source::specsubst::spec_for_build(git, &root, cancel).unwrap_or_else(|_| {
                std::fs::read_to_string(root.root.join(&root.spec)).unwrap_or_default()
            }),
        );
        Ok(BuildSession {
            loaded,
            root,
            spec,
            builders,
            hosts,
            options: request.options,
            busy: request.busy,
            fail_fast: request.fail_fast,
            parallel,
            run_token,
            controls,
        })
    }

    /// The run's cancel handles (the `--top` view cancels through them).
    pub fn controls(&self) -> &Controls {
        &self.controls
    }

    /// The package's (spec) name.
    pub fn package(&self) -> &str {
        &self.spec.name
    }

    /// Run it: pre-flight beside gear, the builds of the builders that
    /// passed, the results in the builders' order. Starts with
    /// [`EventKind::RunStarted`], ends with [`EventKind::RunFinished`].
    pub fn run(&self, emitter: &Emitter) -> SessionEnd {
        emitter.emit(EventKind::RunStarted {
            package: self.spec.name.clone(),
            version: format!("{}-{}", self.spec.version, self.spec.release),
            builders: self.builders.iter().map(|b| info(b)).collect(),
            parallel: self.parallel,
        });
        let (checks, packed) = self.precheck_while_packing();
        // The builders that failed their check, in order; the plans and
        // answers of the remote ones that passed go to their builds.
        let mut plans: HashMap<String, Prechecked> = HashMap::new();
        let failed: Vec<Option<BuilderResult>> = self
            .builders
            .iter()
            .zip(checks)
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
        for r in failed.iter().flatten() {
            emitter.emit(EventKind::Finished(r.clone()));
        }
        let ready: Vec<&Builder> = self
            .builders
            .iter()
            .zip(&failed)
            .filter(|(_, p)| p.is_none())
            .map(|(b, _)| *b)
            .collect();
        let (built, source_error) = if ready.is_empty() {
            // No builder passed: the tarball is simply dropped.
            (Vec::new(), None)
        } else {
            match packed {
                Err(e) => (Vec::new(), Some(e)),
                Ok(tarball) => (self.build_on(&ready, &tarball, plans, emitter), None),
            }
        };
        // Results in the builders' order.
        let mut built = built.into_iter();
        let results: Vec<BuilderResult> = failed
            .into_iter()
            .filter_map(|p| p.or_else(|| source_error.is_none().then(|| built.next()).flatten()))
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

    /// Pre-flight first (SPEC 5.1): a builder that cannot build is reported
    /// before any source is packed, and gear packs the source meanwhile.
    /// Each builder's check in the builders' order, and the tarball.
    fn precheck_while_packing(&self) -> (Vec<Precheck>, Result<Tarball, SourceError>) {
        let tar_name = gear::tar_name(&self.root);
        let plan_input = PlanInput::new(
            &self.loaded.global,
            &self.loaded.paths.builders_dir,
            &self.root.root,
            &self.spec.name,
            &tar_name,
            &self.options,
            false,
        );
        std::thread::scope(|s| {
            let packing = s.spawn(|| {
                gear::make_tarball_reusing(
                    &self.loaded.global.commands.gear,
                    &self.loaded.global.commands.git,
                    &TarballCache::new(self.loaded.paths.cache_dir.join("tarballs")),
                    &self.root,
                    &self.run_token,
                )
            });
            let handles: Vec<_> = self
                .builders
                .iter()
                .map(|b| {
                    s.spawn(|| {
                        let home = &self.loaded.paths.home;
                        precheck(&plan_input, home, b, &self.hosts, &self.run_token)
                    })
                })
                .collect();
            let checks: Vec<Precheck> = handles
                .into_iter()
                .map(|h| h.join().unwrap_or(Precheck::Passed(None)))
                .collect();
            let packed = packing.join().unwrap_or_else(|_| {
                Err(SourceError::new(
                    "gear crashed",
                    "run gear by hand to see why",
                ))
            });
            (checks, packed)
        })
    }

    /// Build `tarball` on the `ready` builders (their pre-checks passed;
    /// `plans` of the remote ones go to their builds).
    fn build_on(
        &self,
        ready: &[&Builder],
        tarball: &Tarball,
        plans: HashMap<String, Prechecked>,
        emitter: &Emitter,
    ) -> Vec<BuilderResult> {
        emitter.emit(EventKind::SourceReady {
            tarball_bytes: tarball.size,
            reused: tarball.reused,
        });
        let ctx = RunContext::new(
            self.loaded,
            &self.root,
            tarball,
            self.options.clone(),
            &self.hosts,
            self.run_token.clone(),
        )
        .with_policy(self.busy, self.fail_fast)
        .with_builders(ready);
        // Logs and results inside the repository stay out of git.
        let excludes: Vec<PathBuf> = ready
            .iter()
            .flat_map(|b| {
                let results = job::results_dir(&ctx, b);
                [
                    job::log_path(&ctx, b),
                    results.parent().map(PathBuf::from).unwrap_or(results),
                ]
            })
            .collect();
        let git = &self.loaded.global.commands.git;
        if let Err(e) = repo::exclude_from_git(git, &self.root.root, &excludes) {
            tracing::warn!("could not update .git/info/exclude: {e}");
        }
        let farm = &self.loaded.farm;
        execute(
            &ctx,
            farm,
            ready,
            self.parallel,
            emitter,
            &self.controls,
            plans,
        )
    }
}

/// `-p`/`-s` not given: the branch's table decides when one branch is
/// selected and it says, else `[builders] parallel`.
fn parallel_by_config(global: &GlobalConfig, branches: &[String]) -> bool {
    let by_branch = match branches {
        [one] => global.builders.branches.get(one).and_then(|t| t.parallel),
        _ => None,
    };
    by_branch.unwrap_or(global.builders.parallel)
}

/// The program a local build runs: `[commands] hsh`, or the build
/// template's own program; `hsh-rebuild` next to `hsh` for `-r` and
/// `--section`.
fn local_hasher(global: &GlobalConfig, mode: BuildMode) -> String {
    let hsh = global
        .commands
        .hsh
        .first()
        .map(String::as_str)
        .unwrap_or("hsh");
    let template_prog = global.build.command.raw_words().next().unwrap_or("hsh");
    let prog = if template_prog == "hsh" {
        hsh
    } else {
        template_prog
    };
    if mode.in_existing_chroot() && prog.rsplit('/').next() == Some("hsh") {
        rebuild_program(prog)
    } else {
        prog.to_string()
    }
}

/// Whether a program would be found on PATH (or the path itself, if it
/// has a `/`, is a file).
fn on_path(program: &str) -> bool {
    if program.contains('/') {
        return Path::new(program).is_file();
    }
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::global::BranchDefaults;
    use crate::config::template::CommandTemplate;
    use crate::hasher::build_mode::Section;

    #[test]
    fn the_branch_table_decides_parallel_only_for_one_branch() {
        let mut g = GlobalConfig::default();
        g.builders.parallel = true;
        g.builders.branches.insert(
            "p11".into(),
            BranchDefaults {
                parallel: Some(false),
                ..Default::default()
            },
        );
        assert!(!parallel_by_config(&g, &["p11".into()]));
        assert!(parallel_by_config(&g, &["sisyphus".into()]));
        assert!(parallel_by_config(&g, &["p11".into(), "p10".into()]));
        assert!(parallel_by_config(&g, &[]));
    }

    #[test]
    fn a_local_build_needs_hsh_or_hsh_rebuild_next_to_it() {
        let mut g = GlobalConfig::default();
        assert_eq!(local_hasher(&g, BuildMode::Full), "hsh");
        assert_eq!(local_hasher(&g, BuildMode::Rebuild), "hsh-rebuild");
        g.commands.hsh = vec!["/opt/hasher/bin/hsh".into()];
        assert_eq!(
            local_hasher(&g, BuildMode::Section(Section::Build)),
            "/opt/hasher/bin/hsh-rebuild"
        );
        // A template of its own runs its own program, even for -r.
        g.build.command = CommandTemplate::parse("my-hsh --lazy-cleanup").unwrap();
        assert_eq!(local_hasher(&g, BuildMode::Full), "my-hsh");
        assert_eq!(local_hasher(&g, BuildMode::Rebuild), "my-hsh");
    }

    #[test]
    fn on_path_finds_programs_and_paths() {
        assert!(on_path("sh"));
        assert!(!on_path("zoryn-no-such-program-here"));
        assert!(on_path("/bin/sh"));
        assert!(!on_path("/nonexistent/hsh"));
    }
}
