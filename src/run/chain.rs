//! The chain repository of a batch: RPMs built earlier in the batch, kept
//! under `batch_repo/<batch>/<branch>/<arch>/` (noarch RPMs under
//! `<branch>/noarch/`) and placed into a builder's hasher repo before each
//! job, so hsh installs them as build dependencies. A lane only ever sees
//! its own branch.

use std::path::{Path, PathBuf};

use crate::hasher::results::copy_results;

#[derive(Clone, Debug)]
pub struct ChainRepo {
    root: PathBuf,
}

fn rpms_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "rpm") && p.is_file())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

impl ChainRepo {
    pub fn new(root: PathBuf) -> ChainRepo {
        ChainRepo { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn dir(&self, branch: &str, arch: &str) -> PathBuf {
        self.root.join(branch).join(arch)
    }

    /// Add a job's binary RPMs (source RPMs are not build dependencies).
    pub fn add(
        &self,
        branch: &str,
        arch: &str,
        files: &[PathBuf],
    ) -> std::io::Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        for f in files {
            let name = f
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if name.ends_with(".src.rpm") || !name.ends_with(".rpm") {
                continue;
            }
            let dest = if name.ends_with(".noarch.rpm") {
                self.dir(branch, "noarch")
            } else {
                self.dir(branch, arch)
            };
            out.extend(copy_results(std::slice::from_ref(f), &dest)?);
        }
        Ok(out)
    }

    /// What a build in lane (branch, arch) gets: its arch and the branch's noarch.
    pub fn files_for(&self, branch: &str, arch: &str) -> Vec<PathBuf> {
        let mut v = rpms_in(&self.dir(branch, arch));
        if arch != "noarch" {
            v.extend(rpms_in(&self.dir(branch, "noarch")));
        }
        v
    }

    /// Put the chain into a local hasher repo directory.
    pub fn place_local(&self, branch: &str, arch: &str, rpms_dir: &Path) -> std::io::Result<usize> {
        let files = self.files_for(branch, arch);
        copy_results(&files, rpms_dir)?;
        Ok(files.len())
    }

    pub fn clear(&self) -> std::io::Result<()> {
        match std::fs::remove_dir_all(&self.root) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanes_see_their_arch_and_branch_noarch_only() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        std::fs::create_dir_all(&src).unwrap();
        let mk = |n: &str| {
            let p = src.join(n);
            std::fs::write(&p, n).unwrap();
            p
        };
        let chain = ChainRepo::new(t.path().join("chain"));
        chain
            .add(
                "sisyphus",
                "x86_64",
                &[
                    mk("a-1-alt1.x86_64.rpm"),
                    mk("a-doc-1-alt1.noarch.rpm"),
                    mk("a-1-alt1.src.rpm"),
                ],
            )
            .unwrap();
        chain
            .add("p11", "x86_64", &[mk("b-1-alt1.x86_64.rpm")])
            .unwrap();
        let names = |v: Vec<PathBuf>| {
            v.iter()
                .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(chain.files_for("sisyphus", "x86_64")),
            ["a-1-alt1.x86_64.rpm", "a-doc-1-alt1.noarch.rpm"]
        );
        assert_eq!(
            names(chain.files_for("sisyphus", "aarch64")),
            ["a-doc-1-alt1.noarch.rpm"]
        );
        assert_eq!(
            names(chain.files_for("p11", "x86_64")),
            ["b-1-alt1.x86_64.rpm"]
        );
        let repo = t.path().join("wd/repo/x86_64/RPMS.hasher");
        assert_eq!(chain.place_local("sisyphus", "x86_64", &repo).unwrap(), 2);
        assert!(repo.join("a-doc-1-alt1.noarch.rpm").is_file());
    }
}
