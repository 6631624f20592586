//! Finding the RPMs one hsh run produced and copying them out atomically.
//!
//! hasher keeps earlier results in its repo, so "what this build made" is the
//! difference between a snapshot taken before the build and the repo after
//! it: new files, and files rewritten (same name, new inode/mtime/size).

use std::collections::HashMap;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::hsh_options::HshArgs;

/// The two directories hsh writes results into.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResultDirs {
    pub rpms: PathBuf,
    pub srpms: PathBuf,
}

impl ResultDirs {
    /// Where hsh, run with options `args` in `workdir`, puts binary and
    /// source packages (`--repo`, `--repo-bin`, `--repo-src`; relative to
    /// workdir).
    pub fn from_args(args: &HshArgs, workdir: &Path, target: &str) -> ResultDirs {
        let rel = |p: &str| {
            let p = Path::new(p);
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                workdir.join(p)
            }
        };
        let repo = rel(args.value("--repo").unwrap_or("repo"));
        ResultDirs {
            rpms: args
                .value("--repo-bin")
                .map(rel)
                .unwrap_or_else(|| repo.join(target).join("RPMS.hasher")),
            srpms: args
                .value("--repo-src")
                .map(rel)
                .unwrap_or_else(|| repo.join("SRPMS.hasher")),
        }
    }
}

/// Identity of one file version: inode, mtime and size, as text (so a
/// listing from a remote `find -printf` compares the same way).
type Stamp = String;

/// The state of the result directories at one moment.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    files: HashMap<PathBuf, Stamp>,
}

fn rpm_files(dir: &Path) -> Vec<(PathBuf, Stamp)> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".rpm"))
        .filter_map(|e| {
            let m = e.metadata().ok()?;
            m.is_file().then(|| {
                let stamp = format!(
                    "{} {}.{:09} {}",
                    m.ino(),
                    m.mtime(),
                    m.mtime_nsec(),
                    m.len()
                );
                (e.path(), stamp)
            })
        })
        .collect()
}

impl Snapshot {
    pub fn take(dirs: &ResultDirs) -> Snapshot {
        let mut files = HashMap::new();
        for d in [&dirs.rpms, &dirs.srpms] {
            files.extend(rpm_files(d));
        }
        Snapshot { files }
    }

    /// From a listing of `(path, stamp)` pairs taken elsewhere.
    pub fn from_entries(entries: impl IntoIterator<Item = (PathBuf, String)>) -> Snapshot {
        Snapshot {
            files: entries.into_iter().collect(),
        }
    }

    /// Files that are new or rewritten in `after`, sorted.
    pub fn produced_since(&self, after: &Snapshot) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = after
            .files
            .iter()
            .filter(|(p, stamp)| self.files.get(*p) != Some(stamp))
            .map(|(p, _)| p.clone())
            .collect();
        v.sort();
        v
    }
}

/// Copy `files` into `dest` (created if needed): each through a hidden temp
/// name in `dest`, then renamed, so a reader never sees a partial RPM.
pub fn copy_results(files: &[PathBuf], dest: &Path) -> io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dest)?;
    let mut out = Vec::new();
    for f in files {
        let name = f
            .file_name()
            .ok_or_else(|| io::Error::other(format!("{}: not a file name", f.display())))?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".zoryn-tmp.")
            .tempfile_in(dest)?;
        let mut src = std::fs::File::open(f)?;
        io::copy(&mut src, tmp.as_file_mut())?;
        tmp.as_file().sync_all()?;
        let final_path = dest.join(name);
        tmp.persist(&final_path).map_err(|e| e.error)?;
        out.push(final_path);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hasher::hsh_options::parse;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn result_dirs_follow_repo_options() {
        let w = Path::new("/w");
        let d = ResultDirs::from_args(&parse(&s(&["/w", "p.tar"])).unwrap(), w, "x86_64");
        assert_eq!(d.rpms, Path::new("/w/repo/x86_64/RPMS.hasher"));
        assert_eq!(d.srpms, Path::new("/w/repo/SRPMS.hasher"));
        let d = ResultDirs::from_args(
            &parse(&s(&["--repo", "r2", "--repo-s=/s"])).unwrap(),
            w,
            "i586",
        );
        assert_eq!(d.rpms, Path::new("/w/r2/i586/RPMS.hasher"));
        assert_eq!(d.srpms, Path::new("/s"));
    }

    #[test]
    fn only_new_or_rewritten_files_count() {
        let t = tempfile::tempdir().unwrap();
        let dirs = ResultDirs {
            rpms: t.path().join("r"),
            srpms: t.path().join("s"),
        };
        std::fs::create_dir_all(&dirs.rpms).unwrap();
        std::fs::create_dir_all(&dirs.srpms).unwrap();
        std::fs::write(dirs.rpms.join("old-1.rpm"), "a").unwrap();
        std::fs::write(dirs.rpms.join("same-1.rpm"), "a").unwrap();
        let before = Snapshot::take(&dirs);
        std::fs::write(dirs.rpms.join("new-1.rpm"), "b").unwrap();
        // Rewritten the way rpmbuild does: a new file under the same name.
        std::fs::remove_file(dirs.rpms.join("same-1.rpm")).unwrap();
        std::fs::write(dirs.rpms.join("same-1.rpm"), "bb").unwrap();
        std::fs::write(dirs.srpms.join("new-1.src.rpm"), "c").unwrap();
        std::fs::write(dirs.srpms.join("notes.txt"), "c").unwrap();
        let got = before.produced_since(&Snapshot::take(&dirs));
        let names: Vec<String> = got
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["new-1.rpm", "same-1.rpm", "new-1.src.rpm"]);
    }

    #[test]
    fn copy_is_complete_and_leaves_no_temp_files() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("a.rpm");
        std::fs::write(&src, "payload").unwrap();
        let dest = t.path().join("out/b1");
        let out = copy_results(&[src], &dest).unwrap();
        assert_eq!(std::fs::read_to_string(&out[0]).unwrap(), "payload");
        let names: Vec<_> = std::fs::read_dir(&dest)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["a.rpm"]);
    }
}
