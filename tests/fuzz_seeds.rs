//! Replays every committed fuzz input — the seed corpora in `fuzz/seeds/`
//! and the inputs that once crashed a target, `fuzz/regressions/` — through
//! the same entry functions the cargo-fuzz targets call
//! ([`zoryn::fuzzing`]), so stable CI catches a regression without nightly
//! or cargo-fuzz. Run the fuzzers themselves with `scripts/fuzz`.

use std::path::Path;

fn inputs(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| e.expect("readable fuzz input directory").path())
            .filter(|p| p.is_file())
            .collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}

#[test]
fn every_committed_fuzz_input_is_handled() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut total = 0;
    for (name, run) in zoryn::fuzzing::TARGETS {
        let seeds = inputs(&root.join("seeds").join(name));
        assert!(!seeds.is_empty(), "fuzz/seeds/{name} has no seeds");
        assert!(
            root.join("fuzz_targets")
                .join(format!("{name}.rs"))
                .is_file(),
            "no cargo-fuzz target for {name}"
        );
        for p in seeds
            .iter()
            .chain(&inputs(&root.join("regressions").join(name)))
        {
            let data = std::fs::read(p).expect("readable fuzz input");
            let r = std::panic::catch_unwind(|| run(&data));
            assert!(r.is_ok(), "{name}: {} panicked", p.display());
            total += 1;
        }
    }
    assert!(total > 100, "only {total} inputs");
}

/// Every target in `fuzz/fuzz_targets` is replayed here (none forgotten in
/// `zoryn::fuzzing::TARGETS`).
#[test]
fn every_fuzz_target_is_listed() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/fuzz_targets");
    for p in inputs(&dir) {
        let name = p.file_stem().unwrap().to_string_lossy().into_owned();
        assert!(
            zoryn::fuzzing::TARGETS.iter().any(|(n, _)| *n == name),
            "fuzz target {name} is not in zoryn::fuzzing::TARGETS"
        );
    }
}
