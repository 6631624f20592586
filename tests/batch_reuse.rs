//! `zoryn task batch` reuses a package's tarball when gear would pack the
//! same thing as last time (the cache `zoryn build` uses, keyed on the
//! content gear packs and on the batch's specsubst values): a second run
//! with nothing changed runs no gear; a change to one package re-packs only
//! that one. Real zoryn, git and rpmbuild; the gear emulator behind a
//! wrapper that logs the directory of each of its runs.

mod support;

use std::path::{Path, PathBuf};

use support::{both, names_in, spec, TestEnv};

struct Batch {
    env: TestEnv,
    runs: PathBuf,
}

impl Batch {
    fn new() -> Batch {
        let env = TestEnv::new();
        env.local_slots(&[2]);
        let runs = env.home.join("tmp/gear.runs");
        let wrapper = env.bin_dir.join("logging-gear");
        std::fs::write(
            &wrapper,
            format!("#!/bin/sh\npwd >>'{}'\nexec gear \"$@\"\n", runs.display()),
        )
        .unwrap();
        std::fs::set_permissions(
            &wrapper,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        env.write(".zoryn", "[commands]\ngear = \"logging-gear\"\n");
        env.library_package("libfoo", &[], "");
        env.library_package("app", &["libfoo"], "");
        // A package whose spec takes a specsubst value from the batch.
        let subst = env.home.join("src/subst");
        std::fs::create_dir_all(subst.join(".gear")).unwrap();
        std::fs::create_dir_all(subst.join("subst")).unwrap();
        std::fs::write(
            subst.join(".gear/rules"),
            "spec: subst.spec\ntar: subst name=@name@-@version@\nspecsubst: flavour\n",
        )
        .unwrap();
        std::fs::write(subst.join("subst/README"), "subst\n").unwrap();
        std::fs::write(subst.join("subst.spec"), spec("subst-@flavour@", "")).unwrap();
        env.sh(
            "git init -q . && git add -A && git commit -qm initial",
            &subst,
        );
        let b = Batch { env, runs };
        b.config("main");
        b
    }

    fn config(&self, flavour: &str) {
        self.env.write(
            ".config/zoryn/batch/t.conf",
            &format!(
                "[batch]\nbasedir = \"~/src\"\nbuilders = \"local2\"\nspecsubst = \"flavour={flavour}\"\n\n[libfoo]\n[app]\n[subst]\n"
            ),
        );
    }

    /// The package directories gear ran in since the last call.
    fn run(&self) -> Vec<String> {
        let _ = std::fs::remove_file(&self.runs);
        let builds_before = self.builds();
        let out = self.env.zoryn(&["task", "batch", "t"], &self.env.home);
        assert_eq!(out.status.code(), Some(0), "{}", both(&out));
        // Every package was built again either way.
        assert_eq!(
            self.builds(),
            builds_before + 3,
            "{}",
            self.env.events_text()
        );
        let mut dirs: Vec<String> = std::fs::read_to_string(&self.runs)
            .unwrap_or_default()
            .lines()
            .map(|l| {
                Path::new(l)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            })
            .collect();
        dirs.sort();
        dirs
    }

    fn builds(&self) -> usize {
        self.env
            .events_text()
            .lines()
            .filter(|l| l.contains(" build-end rc=0 "))
            .count()
    }

    fn pkg(&self, name: &str) -> PathBuf {
        self.env.home.join("src").join(name)
    }
}

#[test]
fn an_unchanged_package_is_not_packed_again_and_a_changed_one_is() {
    let b = Batch::new();
    assert_eq!(
        b.run(),
        ["app", "libfoo", "subst"],
        "first run: gear packs all"
    );
    assert_eq!(b.run(), Vec::<String>::new(), "nothing changed: no gear");
    // The batch's own cache, beside `zoryn build`'s.
    let cache = b.env.home.join(".cache/zoryn/tarballs/batch-t");
    let tars = |dir: &Path| {
        names_in(dir)
            .into_iter()
            .filter(|n| n.ends_with(".tar"))
            .count()
    };
    assert_eq!(tars(&cache), 3);

    // An unstaged change to a tracked file of one package.
    std::fs::write(b.pkg("app").join("app/README"), "changed\n").unwrap();
    assert_eq!(b.run(), ["app"]);
    assert_eq!(b.run(), Vec::<String>::new());
    // Staged: the same content, nothing new to pack.
    b.env.sh("git add -u", &b.pkg("app"));
    assert_eq!(b.run(), Vec::<String>::new());

    // Another specsubst value in the batch file: that package alone, and
    // hasher really got the new value.
    assert!(names_in(&b.pkg("subst").join("hasher_out/local2"))
        .contains(&"subst-main-1.0-alt1.x86_64.rpm".to_string()));
    b.config("extra");
    assert_eq!(b.run(), ["subst"]);
    assert!(
        names_in(&b.pkg("subst").join("hasher_out/local2"))
            .contains(&"subst-extra-1.0-alt1.x86_64.rpm".to_string()),
        "{:?}",
        names_in(&b.pkg("subst").join("hasher_out/local2"))
    );
    // Back to the first value: that tarball is still cached.
    b.config("main");
    assert_eq!(b.run(), Vec::<String>::new());
    // Two per package at most.
    assert!(tars(&cache) <= 6, "{:?}", names_in(&cache));
}
