//! Entry points for the fuzz targets in `fuzz/` (cargo-fuzz) and for the
//! stable test that replays their seed corpora (`tests/fuzz_seeds.rs`).
//!
//! Not an API: one function per target, each taking the raw bytes a fuzzer
//! produces and feeding them, as text, to one reader of untrusted input — the
//! way zoryn itself reads that input, plus the cheap follow-up steps a real
//! run takes on the result (resolving a pattern, rendering an error, a
//! render→parse round trip). Each returns normally for every input; a panic is
//! a bug. Invalid UTF-8 is replaced (lossy), so every input reaches the reader.
//!
//! | target           | reader                                                        |
//! |------------------|---------------------------------------------------------------|
//! | `selection`      | [`crate::farm::selection`] parse, select, choose, explain     |
//! | `global_config`  | [`crate::config::global::GlobalConfig::parse`] (`~/.zoryn`)   |
//! | `builder_file`   | [`crate::config::builder_file::BuilderFile::parse`] + render  |
//! | `release`        | [`crate::farm::release::branch_from`]                         |
//! | `spec`           | [`crate::source::specdeps::read_spec`], [`crate::source::specdeps::SpecText`] |
//! | `stage`          | [`crate::hasher::stage`] (hsh log lines → phases)             |
//! | `remote`         | remote preflight / `zoryn-remote:rpm=` listings, hasher-priv files, rsync `--stats` |
//! | `batch_file`     | [`crate::batch::file::BatchFile::parse`]                      |
//! | `journal`        | [`crate::batch::journal::Journal::parse`] + `state_of`        |

use std::path::Path;

use crate::batch::file::BatchFile;
use crate::batch::journal::{state_of, Journal};
use crate::config::builder_file::BuilderFile;
use crate::config::global::GlobalConfig;
use crate::config::template::Vars;
use crate::farm::selection::{self, SelectionRequest};
use crate::farm::{Builder, Farm};
use crate::hasher::priv_config::{self, Caller};
use crate::hasher::remote::{parse_listing, parse_preflight};
use crate::hasher::results::Snapshot;
use crate::hasher::stage::{classify, StageTracker};
use crate::source::specdeps::{read_spec, SpecText};

/// One target's entry: the fuzzer's bytes in, a panic on a bug.
pub type Entry = fn(&[u8]);

/// Every target by name, for the seed replay test.
pub const TARGETS: &[(&str, Entry)] = &[
    ("selection", selection),
    ("global_config", global_config),
    ("builder_file", builder_file),
    ("release", release),
    ("spec", spec),
    ("stage", stage),
    ("remote", remote),
    ("batch_file", batch_file),
    ("journal", journal),
];

fn text(data: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// A small fixed farm: local slots, a numbered remote host on two branches,
/// an ARM host.
fn farm() -> Farm {
    let mut builders = Vec::new();
    let mut add = |name: &str, host: Option<&str>, arch: &str, branch: &str, num: Option<u32>| {
        builders.push(Builder::sample(name, host, arch, branch, num));
    };
    add("local", None, "x86_64", "sisyphus", None);
    add("local2", None, "x86_64", "sisyphus", Some(2));
    add("local3", None, "x86_64", "sisyphus", Some(3));
    add("node1", Some("bignode"), "x86_64", "sisyphus", Some(1));
    add("node2", Some("bignode"), "x86_64", "p11", Some(2));
    add(
        "arm64",
        Some("arm.internal"),
        "aarch64",
        "sisyphus",
        Some(1),
    );
    add("p11-arm", Some("arm.internal"), "aarch64", "p11", Some(2));
    Farm {
        builders,
        ..Farm::default()
    }
}

/// The builder pattern: parse, resolve against [`farm`], and choose with
/// `-a`/`-B` filters and as a configured default.
pub fn selection(data: &[u8]) {
    let expr = text(data);
    let farm = farm();
    match selection::parse(&expr) {
        Ok(terms) => {
            if let Ok(chosen) = selection::select(&farm, &expr) {
                assert!(!chosen.is_empty());
            }
            // Each term, written on its own, reads back as the same term.
            for t in &terms {
                let alone = format!("{}{}", if t.exclude { "^" } else { "" }, t.text);
                assert_eq!(
                    selection::parse(&alone).as_deref(),
                    Ok(std::slice::from_ref(t)),
                    "term `{alone}` of `{expr}`"
                );
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    let mut cfg = GlobalConfig::default().builders;
    let reqs = [
        SelectionRequest {
            pattern: Some(expr.to_string()),
            ..SelectionRequest::default()
        },
        SelectionRequest {
            pattern: Some(expr.to_string()),
            arch: vec!["x86_64".into()],
            branch: vec!["p11".into()],
        },
    ];
    for req in &reqs {
        if let Err(e) = selection::choose_explained(&farm, &cfg, req) {
            let _ = e.to_string();
        }
    }
    cfg.default = Some(expr.to_string());
    let _ = selection::choose(&farm, &cfg, &SelectionRequest::default());
}

/// `~/.zoryn`: parse, and expand its templates when it parses.
pub fn global_config(data: &[u8]) {
    let text = text(data);
    match GlobalConfig::parse(Path::new("/home/u/.zoryn"), &text) {
        Ok(cfg) => {
            let vars = Vars {
                git_root: Some("/src/pkg".into()),
                hasher_number: Some(2),
                builder: Some("local2".into()),
                home: Some("/home/u".into()),
                ..Vars::default()
            };
            let _ = cfg.build.command.argv(&vars);
            let _ = cfg.build.log_filename.expand(&vars);
            let _ = cfg.build.log_dir.expand(&vars);
            let _ = cfg.builders.results_download_dir.expand(&vars);
            let _ = cfg.builders.batch_repo.expand(&vars);
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

/// `builders.d/NAME.conf`: parse; what parses renders back to the same
/// settings.
pub fn builder_file(data: &[u8]) {
    let text = text(data);
    let path = Path::new("/home/u/.config/zoryn/builders.d/node2.conf");
    match BuilderFile::parse(path, &text) {
        Ok(f) => {
            let rendered = f.render();
            let again = BuilderFile::parse(path, &rendered)
                .unwrap_or_else(|e| panic!("rendered file does not parse: {e}\n{rendered}"));
            assert_eq!(again, f, "render→parse changed the builder:\n{rendered}");
            assert_eq!(again.render(), rendered);
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

/// A repository's `release` file; a branch it names is a plain word.
pub fn release(data: &[u8]) {
    if let Some(b) = crate::farm::release::branch_from(&text(data)) {
        assert!(!b.is_empty() && !b.contains(['/', ' ', '\n']), "{b:?}");
    }
}

/// The spec reader for a 64-bit and a 32-bit arch, and the build's SKIP decision.
pub fn spec(data: &[u8]) {
    let text = text(data);
    for arch in ["x86_64", "i586"] {
        let d = read_spec(&text, arch, &[("_with_docs".into(), "1".into())]);
        assert!(!d.packages.is_empty(), "the main package is always listed");
        let _ = d.all_provides();
        let _ = d.excludes(arch);
    }
    let spec = SpecText::new(text.into_owned());
    for arch in ["x86_64", "i586", "noarch"] {
        let _ = spec.skip_reason(arch);
    }
}

/// hsh log lines into phases; the tracker only moves forward.
pub fn stage(data: &[u8]) {
    let text = text(data);
    let mut t = StageTracker::default();
    for line in text.lines() {
        let before = t.phase();
        let _ = classify(line);
        if let Some(p) = t.feed(line) {
            assert!(p > before);
        }
        assert!(t.phase() >= before);
    }
}

/// What a remote host sends back: the preflight answer (with hasher-priv
/// files, checked as for a build), `zoryn-remote:` marker lines of a build
/// session, and rsync's `--stats`.
pub fn remote(data: &[u8]) {
    let out = text(data);
    let p = parse_preflight(&out);
    let caller = Caller {
        user: "me".into(),
        uid: 1000,
    };
    let mounts = ["/proc".to_string(), "/dev/pts".to_string()];
    for number in [None, Some(1), Some(2)] {
        let _ = priv_config::check(&p, &caller, number, &mounts);
        let _ = priv_config::check(&p, &caller, number, &[]);
    }
    // A build session: markers are lines starting with `zoryn-remote:`.
    let listing: String = out
        .lines()
        .filter_map(|l| l.strip_prefix("zoryn-remote:"))
        .map(|l| format!("{l}\n"))
        .collect();
    let after = parse_listing(&listing);
    let _ = p.results.produced_since(&after);
    let _ = Snapshot::default().produced_since(&after);
    let _ = crate::transport::rsync::parse_stats(&out);
}

/// A batch file: parse, and resolve its builder pattern.
pub fn batch_file(data: &[u8]) {
    let text = text(data);
    match BatchFile::parse(
        Path::new("/home/u/.config/zoryn/batch/php.conf"),
        &text,
        Path::new("/home/u"),
    ) {
        Ok(b) => {
            assert!(!b.packages.is_empty());
            for p in &b.packages {
                let _ = b.defines_for(p);
                let _ = p.branch_skip_reason("sisyphus");
            }
            if let Some(expr) = &b.builders {
                let _ = selection::select(&farm(), expr);
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

/// A batch journal: parse, and fold into the last run's state.
pub fn journal(data: &[u8]) {
    let text = text(data);
    match Journal::parse(Path::new("/home/u/.cache/zoryn/php.journal"), &text) {
        Ok((records, _torn)) => {
            let _ = state_of(&records);
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}
