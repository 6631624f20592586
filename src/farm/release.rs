//! Branch detection from a repository's `release` file.
//!
//! ALT repositories carry `ARCH/base/release` (apt-rpm's release file) with
//! `Suite:`/`Archive:`/`Label:` lines naming the branch. This module knows
//! which files to look at and how to read them; fetching them (local file,
//! remote host, http(s), rsync) is the caller's business.

/// Files to try, in order, relative to the repository root.
pub fn candidates(arch: &str) -> Vec<String> {
    let mut v = Vec::new();
    if arch != "noarch" {
        v.push(format!("{arch}/base/release"));
    }
    v.push("noarch/base/release".into());
    v.push("base/release".into());
    v.push("release".into());
    v
}

/// The branch a release file names (`Sisyphus` → `sisyphus`, `p11` → `p11`).
pub fn branch_from(text: &str) -> Option<String> {
    let field = |key: &str| {
        text.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim().eq_ignore_ascii_case(key)).then(|| v.trim().to_string())
        })
    };
    let raw = ["Suite", "Archive", "Codename", "Label"]
        .iter()
        .find_map(|k| field(k).filter(|v| !v.is_empty()))?;
    let word = raw.split_whitespace().next()?.to_ascii_lowercase();
    let ok = word
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
    ok.then_some(word)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_alt_release_files() {
        let sisyphus = "Origin: ALT Linux Team\nLabel: Sisyphus\nSuite: Sisyphus\nCodename: 1700000000\nArchitectures: x86_64\n";
        assert_eq!(branch_from(sisyphus).as_deref(), Some("sisyphus"));
        assert_eq!(
            branch_from("Archive: p11\nLabel: ALT p11\n").as_deref(),
            Some("p11")
        );
        assert_eq!(branch_from("Origin: x\n"), None);
        assert_eq!(branch_from("Suite: ../etc\n"), None);
    }

    #[test]
    fn candidate_order() {
        assert_eq!(candidates("aarch64")[0], "aarch64/base/release");
        assert_eq!(candidates("aarch64").len(), 4);
    }
}
