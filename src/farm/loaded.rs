//! The configuration and the farm, loaded together: the one entry point the
//! commands use. Loading only reads files; it never runs commands.

use crate::config::arch;
use crate::config::error::ConfigError;
use crate::config::global::GlobalConfig;
use crate::config::paths::Paths;
use crate::farm::Farm;

/// Paths, global settings and the farm, loaded together.
pub struct Loaded {
    pub paths: Paths,
    pub global: GlobalConfig,
    pub farm: Farm,
}

impl Loaded {
    pub fn load() -> Result<Loaded, Vec<ConfigError>> {
        let paths = Paths::from_env()
            .map_err(|m| vec![ConfigError::whole_file(std::path::Path::new("$HOME"), m)])?;
        let global = GlobalConfig::load(&paths.config_file, paths.config_file_from_env)
            .map_err(|e| vec![e])?;
        let farm = Farm::load(&paths.builders_dir, &paths.home, &arch::local())?;
        Ok(Loaded {
            paths,
            global,
            farm,
        })
    }
}
