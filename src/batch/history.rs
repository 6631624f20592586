//! What zoryn remembers between runs (`$XDG_STATE_HOME/zoryn/history.json`):
//! how long each package took per arch (for scheduling) and which hosts
//! failed recently (put on hold). Written atomically; a damaged file is
//! treated as empty history (it only informs estimates).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A host that failed this many times in a row is put on hold.
pub const HOLD_AFTER: u32 = 3;
/// How long a host stays on hold in later runs.
pub const HOLD_SECS: f64 = 30.0 * 60.0;

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct HostHealth {
    pub failures: u32,
    /// Unix time until which the host is on hold.
    pub hold_until: f64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct History {
    #[serde(skip)]
    path: PathBuf,
    /// "pkg@arch" → seconds (moving average).
    pub durations: HashMap<String, f64>,
    pub hosts: HashMap<String, HostHealth>,
}

fn key(pkg: &str, arch: &str) -> String {
    format!("{pkg}@{arch}")
}

impl History {
    pub fn load(state_dir: &Path) -> History {
        let path = state_dir.join("history.json");
        let mut h: History = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        h.path = path;
        h
    }

    pub fn save(&self) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        crate::config::write_atomic(&self.path, &text)
    }

    pub fn duration(&self, pkg: &str, arch: &str) -> Option<f64> {
        self.durations.get(&key(pkg, arch)).copied()
    }

    /// Durations known for one arch, by package name.
    pub fn durations_for(&self, arch: &str) -> HashMap<String, f64> {
        self.durations
            .iter()
            .filter_map(|(k, v)| {
                k.strip_suffix(&format!("@{arch}"))
                    .map(|p| (p.to_string(), *v))
            })
            .collect()
    }

    pub fn record_duration(&mut self, pkg: &str, arch: &str, secs: f64) {
        let e = self.durations.entry(key(pkg, arch)).or_insert(secs);
        *e = (*e + secs) / 2.0;
    }

    /// Count a transport failure; true when the host is now on hold.
    pub fn host_failed(&mut self, host: &str, now: f64) -> bool {
        let h = self.hosts.entry(host.to_string()).or_default();
        h.failures += 1;
        if h.failures >= HOLD_AFTER {
            h.hold_until = now + HOLD_SECS;
            true
        } else {
            false
        }
    }

    pub fn host_ok(&mut self, host: &str) {
        if let Some(h) = self.hosts.get_mut(host) {
            h.failures = 0;
        }
    }

    pub fn on_hold(&self, host: &str, now: f64) -> bool {
        self.hosts.get(host).is_some_and(|h| h.hold_until > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_holds_survive_a_save() {
        let d = tempfile::tempdir().unwrap();
        let mut h = History::load(d.path());
        h.record_duration("php", "x86_64", 100.0);
        h.record_duration("php", "x86_64", 200.0);
        assert_eq!(h.duration("php", "x86_64"), Some(150.0));
        assert!(!h.host_failed("arm", 10.0));
        assert!(!h.host_failed("arm", 10.0));
        assert!(h.host_failed("arm", 10.0));
        h.save().unwrap();
        let h2 = History::load(d.path());
        assert!(h2.on_hold("arm", 11.0));
        assert!(!h2.on_hold("arm", 10.0 + HOLD_SECS + 1.0));
        assert_eq!(h2.durations_for("x86_64").get("php"), Some(&150.0));
        std::fs::write(d.path().join("history.json"), "{broken").unwrap();
        assert!(History::load(d.path()).durations.is_empty());
    }
}
