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

/// Most rounds of macro-in-macro expansion (a macro whose value names itself
/// stops here).
const MAX_ROUNDS: usize = 8;

/// Most bytes one value may expand to, and most bytes of macro values one
/// expansion may copy; past either the value stays as written. Real values
/// are a few dozen bytes; this keeps a spec whose macros double at each
/// `%define` from taking exponential time and memory.
const MAX_VALUE: usize = 64 * 1024;

/// `%{name}` and `%{?name}` of known macros replaced, in one pass over the
/// text (time linear in the result, whatever the number of macros).
fn expand(value: &str, macros: &HashMap<String, String>) -> String {
    let mut out = String::new();
    let mut budget = MAX_VALUE;
    if expand_into(value, macros, 0, &mut budget, &mut out) {
        out
    } else {
        value.to_string()
    }
}

/// Appends `value` expanded to `out`; false when it grew past [`MAX_VALUE`]
/// or used up `budget`.
fn expand_into(
    value: &str,
    macros: &HashMap<String, String>,
    depth: usize,
    budget: &mut usize,
    out: &mut String,
) -> bool {
    let mut rest = value;
    while let Some(start) = rest.find("%{") {
        out.push_str(&rest[..start]);
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        let (reference, after) = rest[start..].split_at(len + 1);
        let inner = &reference[2..reference.len() - 1];
        let name = inner.strip_prefix('?').unwrap_or(inner);
        match macros.get(name) {
            Some(v) if depth < MAX_ROUNDS => {
                *budget = match budget.checked_sub(v.len() + 1) {
                    Some(b) => b,
                    None => return false,
                };
                if !expand_into(v, macros, depth + 1, budget, out) {
                    return false;
                }
            }
            _ => out.push_str(reference),
        }
        if out.len() > MAX_VALUE {
            return false;
        }
        rest = after;
    }
    out.push_str(rest);
    out.len() <= MAX_VALUE
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

    /// `%define a %{a}%{a}` 64 times would be 2^64 bytes: the value stays
    /// as written once it would grow past the limit.
    #[test]
    fn doubling_defines_are_cut_off() {
        let mut s = String::from("%define a xxxxxxxx\n");
        s.push_str(&"%define a %{a}%{a}\n".repeat(64));
        s.push_str("Name: %{a}\nVersion: 1\n");
        let info = SpecInfo::parse(&s);
        assert!(info.name.len() <= MAX_VALUE, "{}", info.name.len());
        assert_eq!(info.version, "1");
    }

    /// Time grows with the text, not with lines × macros.
    #[test]
    fn many_macros_and_lines_stay_linear() {
        let mut s = String::new();
        for i in 0..20_000 {
            s.push_str(&format!("%define m{i} v{i}\n"));
        }
        s.push_str(&"ExcludeArch: %{m1} %{?m2} x\n".repeat(20_000));
        let t = std::time::Instant::now();
        let info = SpecInfo::parse(&s);
        assert_eq!(info.exclude_arch.len(), 60_000);
        assert_eq!(info.exclude_arch[..3], ["v1", "v2", "x"]);
        assert!(t.elapsed() < std::time::Duration::from_secs(10));
    }

    #[test]
    fn self_referring_macro_stops_after_eight_rounds() {
        let s = SpecInfo::parse("%define a %{a}x\nName: %{a}\n");
        assert_eq!(s.name, "%{a}xxxxxxxx");
    }
}
