//! Reading the few facts a build needs from a spec, without `rpmspec`.
//!
//! Name, Version, Release, ExcludeArch/ExclusiveArch and BuildArch, with
//! simple `%define`/`%global` macros expanded. Anything it cannot expand stays
//! as written; this reader never fails on a spec (ALT specs use macros from
//! packages a workstation may not have).

use std::collections::HashMap;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpecInfo {
    pub name: String,
    pub version: String,
    pub release: String,
    pub exclude_arch: Vec<String>,
    pub exclusive_arch: Vec<String>,
    pub build_arch: Option<String>,
}

impl SpecInfo {
    pub fn parse(text: &str) -> SpecInfo {
        let mut macros: HashMap<String, String> = HashMap::new();
        let mut info = SpecInfo::default();
        for raw in text.lines() {
            let line = raw.trim();
            if line.starts_with("%package")
                || line.starts_with("%description")
                || line.starts_with("%prep")
            {
                // Only the main package's preamble matters here.
                if line.starts_with("%prep") {
                    break;
                }
            }
            if let Some(rest) = line
                .strip_prefix("%define")
                .or_else(|| line.strip_prefix("%global"))
            {
                let mut it = rest.split_whitespace();
                if let (Some(k), Some(_)) = (it.next(), it.clone().next()) {
                    let v = rest.trim_start()[k.len()..].trim();
                    let v = expand(v, &macros);
                    macros.insert(k.to_string(), v);
                }
                continue;
            }
            let Some((tag, value)) = line.split_once(':') else {
                continue;
            };
            let tag = tag.trim().to_ascii_lowercase();
            let value = expand(value.trim(), &macros);
            let words = || {
                value
                    .split([' ', ',', '\t'])
                    .filter(|w| !w.is_empty())
                    .map(str::to_string)
            };
            match tag.as_str() {
                "name" if info.name.is_empty() => {
                    macros.insert("name".into(), value.clone());
                    info.name = value;
                }
                "version" if info.version.is_empty() => {
                    macros.insert("version".into(), value.clone());
                    info.version = value;
                }
                "release" if info.release.is_empty() => {
                    macros.insert("release".into(), value.clone());
                    info.release = value;
                }
                "excludearch" => info.exclude_arch.extend(words()),
                "exclusivearch" => info.exclusive_arch.extend(words()),
                "buildarch" | "buildarchitectures" => info.build_arch = words().next(),
                _ => {}
            }
        }
        info
    }

    /// Whether the spec refuses to build for `arch` (SKIP, not FAIL).
    pub fn excludes(&self, arch: &str) -> bool {
        if self.build_arch.as_deref() == Some("noarch") {
            return false;
        }
        self.exclude_arch.iter().any(|a| a == arch)
            || (!self.exclusive_arch.is_empty() && !self.exclusive_arch.iter().any(|a| a == arch))
    }
}

fn expand(value: &str, macros: &HashMap<String, String>) -> String {
    let mut out = value.to_string();
    for _ in 0..8 {
        let mut changed = false;
        for (k, v) in macros {
            for pat in [format!("%{{{k}}}"), format!("%{{?{k}}}")] {
                if out.contains(&pat) {
                    out = out.replace(&pat, v);
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_preamble_with_macros() {
        let s = SpecInfo::parse(
            "%define ver 1.2\n%global rel alt3\nName: hello\nVersion: %{ver}\nRelease: %rel\nRelease: %{rel}\nExcludeArch: i586 armh\n%description\nx\n%prep\nName: no\n",
        );
        assert_eq!(s.name, "hello");
        assert_eq!(s.version, "1.2");
        assert_eq!(s.release, "%rel");
        assert!(s.excludes("i586"));
        assert!(!s.excludes("x86_64"));
    }

    #[test]
    fn exclusive_arch_and_noarch() {
        let s = SpecInfo::parse("Name: a\nExclusiveArch: x86_64 aarch64\n");
        assert!(s.excludes("i586"));
        assert!(!s.excludes("aarch64"));
        let s = SpecInfo::parse("Name: a\nBuildArch: noarch\nExclusiveArch: x86_64\n");
        assert!(!s.excludes("i586"));
    }
}
