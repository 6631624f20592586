//! Where zoryn's files live (SPEC 3), resolved once from the environment.
//!
//! `$ZORYN_CONFIG` overrides `~/.zoryn`; the XDG variables place builder
//! files, runtime sockets and state. Nothing here reads or creates files.

use std::path::PathBuf;

#[derive(Clone, Debug)]
pub struct Paths {
    pub home: PathBuf,
    /// `~/.zoryn` or `$ZORYN_CONFIG`.
    pub config_file: PathBuf,
    /// True when `$ZORYN_CONFIG` named the file (then it must exist).
    pub config_file_from_env: bool,
    /// `$XDG_CONFIG_HOME/zoryn`.
    pub config_dir: PathBuf,
    /// `$XDG_CONFIG_HOME/zoryn/builders.d`.
    pub builders_dir: PathBuf,
    /// `$XDG_RUNTIME_DIR/zoryn` or `/tmp/zoryn-$UID`.
    pub runtime_dir: PathBuf,
    /// `$XDG_STATE_HOME/zoryn`.
    pub state_dir: PathBuf,
    /// `$XDG_CACHE_HOME/zoryn` (default `~/.cache/zoryn`): what can be
    /// made again, e.g. the last source tarballs.
    pub cache_dir: PathBuf,
}

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
}

impl Paths {
    pub fn from_env() -> Result<Paths, String> {
        let home = env_path("HOME").ok_or_else(|| {
            "HOME is not set to an absolute path; zoryn needs it to find ~/.zoryn and ~/hasher"
                .to_string()
        })?;
        let (config_file, config_file_from_env) = match env_path("ZORYN_CONFIG") {
            Some(p) => (p, true),
            None => (home.join(".zoryn"), false),
        };
        let xdg_config = env_path("XDG_CONFIG_HOME").unwrap_or_else(|| home.join(".config"));
        let config_dir = xdg_config.join("zoryn");
        let runtime_dir = match env_path("XDG_RUNTIME_DIR") {
            Some(p) => p.join("zoryn"),
            None => PathBuf::from(format!("/tmp/zoryn-{}", nix::unistd::getuid())),
        };
        let state_dir = env_path("XDG_STATE_HOME")
            .unwrap_or_else(|| home.join(".local/state"))
            .join("zoryn");
        let cache_dir = env_path("XDG_CACHE_HOME")
            .unwrap_or_else(|| home.join(".cache"))
            .join("zoryn");
        Ok(Paths {
            cache_dir,
            home,
            config_file,
            config_file_from_env,
            builders_dir: config_dir.join("builders.d"),
            config_dir,
            runtime_dir,
            state_dir,
        })
    }

    /// Generated apt config of a builder.
    pub fn apt_dir(&self, builder: &str) -> PathBuf {
        self.builders_dir.join(builder).join("apt")
    }
}
