//! What a remote builder's [`Plan`](super::remote::Plan) is made of: the
//! run's [`BuildOptions`] and the package's names (its spec name, the
//! tarball's file name by [`crate::source::gear::tar_name`]), all known
//! before gear has packed the source. One constructor, [`PlanInput::new`],
//! used by the build session for its pre-checks and through
//! [`PlanInput::of`] by a build that had none. Holds values only.

use std::path::Path;

use super::context::{BuildOptions, RunContext};
use crate::config::global::GlobalConfig;

/// The parts of a run a remote plan depends on, known before the tarball
/// is: the run's [`BuildOptions`] and the package's names.
pub struct PlanInput<'a> {
    pub global: &'a GlobalConfig,
    pub builders_dir: &'a Path,
    pub git_root: &'a Path,
    /// The package (spec) name.
    pub pkg: &'a str,
    /// The tarball's file name ([`crate::source::gear::tar_name`]).
    pub tar_name: &'a str,
    pub options: &'a BuildOptions,
    /// A batch's chain repo feeds the builder's hasher repo.
    pub chain: bool,
}

impl<'a> PlanInput<'a> {
    /// The one way to make it: by the build session for its pre-checks
    /// (before gear has packed the source) and by
    /// [`PlanInput::of`] for a build that had none.
    pub fn new(
        global: &'a GlobalConfig,
        builders_dir: &'a Path,
        git_root: &'a Path,
        pkg: &'a str,
        tar_name: &'a str,
        options: &'a BuildOptions,
        chain: bool,
    ) -> PlanInput<'a> {
        PlanInput {
            global,
            builders_dir,
            git_root,
            pkg,
            tar_name,
            options,
            chain,
        }
    }

    /// The plan input of a build in `ctx` (its tarball already packed).
    pub fn of(ctx: &'a RunContext<'_>) -> PlanInput<'a> {
        PlanInput::new(
            ctx.global,
            &ctx.builders_dir,
            &ctx.git_root,
            &ctx.tarball.spec.name,
            &ctx.tar_name,
            &ctx.options,
            ctx.chain.is_some(),
        )
    }
}
