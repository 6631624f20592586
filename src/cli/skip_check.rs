//! The `--skip-check[=LIST]` flag, one definition for `zoryn build`, `zoryn
//! task batch` and `zoryn up` (through build's flags). Parsing only: what a
//! list skips is `hasher::skip_checks`.

/// `--skip-check[=LIST]`, shared by `build`, `task batch` and `up`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct SkipCheckArg {
    /// Skip checks: `rpmbuild` (the spec's %check), `sisyphus_check` (hasher's),
    /// post-build check tools by name; no value or `all` skips everything
    #[arg(
        long,
        value_name = "LIST",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "",
        value_parser = |s: &str| crate::hasher::skip_checks::SkipChecks::parse(Some(s))
    )]
    pub skip_check: Option<crate::hasher::skip_checks::SkipChecks>,
}
