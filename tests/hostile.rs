//! Arbitrary strings reach the remote side byte for byte as single
//! arguments: random argv through `zoryn builder run` → ssh → the remote
//! shell → hsh-run → printf, echoed back NUL-separated.

mod support;

use proptest::prelude::*;
use support::{both, TestEnv};

fn arg() -> impl Strategy<Value = String> {
    // Shell-hostile characters, spaces, newlines, a few non-ASCII ones; no NUL
    // (no argv can carry it).
    proptest::collection::vec(
        prop_oneof![
            Just('\''),
            Just('"'),
            Just('$'),
            Just('`'),
            Just('\\'),
            Just(' '),
            Just('\n'),
            Just('\t'),
            Just('*'),
            Just('?'),
            Just(';'),
            Just('&'),
            Just('|'),
            Just('~'),
            Just('#'),
            Just('-'),
            Just('é'),
            Just('ж'),
            proptest::char::range('a', 'z'),
        ],
        0..12,
    )
    .prop_map(|v| v.into_iter().collect())
}

#[test]
fn remote_argv_survives_byte_for_byte() {
    let env = TestEnv::new();
    let _host = env.add_host("arm", "aarch64");
    let out = env.ssh("arm", "mkdir -p ~/hasher_1 && hasher-useradd --number=1 \"$(id -un)\" && hsh --initroot-only --number=1 ~/hasher_1");
    assert!(out.status.success(), "{}", both(&out));
    env.builder(
        "arm",
        "host = \"arm\"\narch = \"aarch64\"\nhasher_number = 1\n",
    );
    let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
        cases: 24,
        failure_persistence: None,
        ..proptest::test_runner::Config::default()
    });
    runner
        .run(&proptest::collection::vec(arg(), 1..5), |args| {
            let mut argv = vec!["builder", "run", "-b", "arm", "--", "printf", "%s\\0"];
            argv.extend(args.iter().map(String::as_str));
            let out = env.zoryn(&argv, &env.home);
            prop_assert_eq!(out.status.code(), Some(0), "{}", both(&out));
            let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
            prop_assert!(text.ends_with('\n'));
            text.pop();
            let got: Vec<&str> = text.split('\0').collect();
            let mut want: Vec<&str> = args.iter().map(String::as_str).collect();
            want.push("");
            prop_assert_eq!(got, want);
            Ok(())
        })
        .unwrap();
}
