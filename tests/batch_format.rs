//! The documented batch format (SPEC 7) end to end, through the real zoryn
//! binary, git, gear and hasher emulators and rpmbuild: named batches in
//! `batch/NAME.conf`, per-package tables (`skip`, `only`, `exclude`,
//! `mode`), `--batch-pkgs`, `[batch] macros` reaching every spec (a
//! php-like family whose names and extension-to-extension BuildRequires
//! need the macros of a package the batch builds itself), gear specsubst,
//! and `--plan` / `--plan --json`.

mod support;

use std::path::PathBuf;

use support::{both, stderr, stdout, TestEnv};

/// A gear repository `~/src/DIR` with one spec (`NAME.spec`), the whole
/// tree packed as `src.tar`, plus `rules_extra` lines in `.gear/rules`.
fn repo(env: &TestEnv, dir: &str, spec_file: &str, spec: &str, rules_extra: &str) -> PathBuf {
    let root = env.home.join("src").join(dir);
    std::fs::create_dir_all(root.join(".gear")).unwrap();
    std::fs::write(
        root.join(".gear/rules"),
        format!("spec: {spec_file}\ntar: . name=src\n{rules_extra}"),
    )
    .unwrap();
    std::fs::write(root.join(spec_file), spec).unwrap();
    env.sh(
        "git init -q . && git add -A && git commit -qm initial",
        &root,
    );
    root
}

const CHANGELOG: &str = "\n%changelog\n* Sat Nov 28 2026 T <t@e.invalid> 1-alt1\n- x\n";

/// The main package of the family: `foo8.4`, whose subpackage
/// `rpm-build-foo8.4-version` installs the macros every extension needs.
fn main_spec() -> String {
    format!(
        "Name: foo8.4\nVersion: 8.4.1\nRelease: alt1\nSummary: foo\nLicense: GPL\nGroup: Other\nSource: src.tar\n\n\
%description\nfoo\n\n\
%package devel\nSummary: foo headers\nGroup: Development/C\n\n%description devel\nheaders\n\n\
%package -n rpm-build-foo8.4-version\nSummary: foo macros\nGroup: Development/Other\n\n\
%description -n rpm-build-foo8.4-version\nmacros\n\n\
%prep\n%setup -n src\n\n%build\necho built foo\n\n\
%install\nmkdir -p %buildroot/usr/lib/rpm/macros.d %buildroot%_includedir/foo8.4 %buildroot%_datadir/foo8.4\n\
printf '%%s\\n' '%%_foo_suffix 8.4' '%%foo_version 8.4.1' '%%foo_release alt1' > %buildroot/usr/lib/rpm/macros.d/foo8.4\n\
echo '/* foo */' > %buildroot%_includedir/foo8.4/foo.h\necho 8.4.1 > %buildroot%_datadir/foo8.4/VERSION\n\n\
%files\n%_datadir/foo8.4\n\n%files devel\n%_includedir/foo8.4\n\n\
%files -n rpm-build-foo8.4-version\n/usr/lib/rpm/macros.d/foo8.4\n{CHANGELOG}"
    )
}

/// An extension `foo%_foo_suffix-EXT`: name, version and the
/// BuildRequires on other extensions use the family's macros. Its %build
/// checks that the headers of what it needs were really installed.
fn ext_spec(ext: &str, requires: &str, needs_headers: &[&str]) -> String {
    let checks: String = needs_headers
        .iter()
        .map(|h| format!("test -f \"${{HASHER_EMU_SYSROOT:-}}/usr/include/{h}\"\n"))
        .collect();
    format!(
        "Name: foo%_foo_suffix-{ext}\nVersion: %foo_version\nRelease: %foo_release\nSummary: {ext}\nLicense: GPL\nGroup: Other\nSource: src.tar\n\
BuildRequires(pre): rpm-build-foo8.4-version\nBuildRequires: foo8.4-devel{requires}\n\n\
%description\n{ext}\n\n%prep\n%setup -n src\n\n%build\ntest -f \"${{HASHER_EMU_SYSROOT:-}}/usr/include/foo8.4/foo.h\"\n{checks}echo built {ext}\n\n\
%install\nmkdir -p %buildroot%_includedir/%name\necho '/* {ext} */' > %buildroot%_includedir/%name/{ext}.h\n\n\
%files\n%_includedir/%name\n{CHANGELOG}"
    )
}

fn family(env: &TestEnv) {
    repo(env, "foo8.4", "foo8.4.spec", &main_spec(), "");
    repo(
        env,
        "foo-baz",
        "foo-baz.spec",
        &ext_spec("baz", "", &[]),
        "",
    );
    repo(
        env,
        "foo-bar",
        "foo-bar.spec",
        &ext_spec(
            "bar",
            ", foo%_foo_suffix-baz = %foo_version",
            &["foo8.4-baz/baz.h"],
        ),
        "",
    );
    repo(
        env,
        "foo-qux",
        "foo-qux.spec",
        &ext_spec(
            "qux",
            ", foo%{_foo_suffix}-bar >= %{foo_version}",
            &["foo8.4-bar/bar.h"],
        ),
        "",
    );
}

const FAMILY_TABLES: &str = "\n[\"foo8.4\"]\n[foo-qux]\n[foo-bar]\n[foo-baz]\n";

/// Every build log under ~/src, for failure messages.
fn logs(env: &TestEnv) -> String {
    let mut out = String::new();
    for repo in support::names_in(&env.home.join("src")) {
        let dir = env.home.join("src").join(&repo).join(".gear");
        for f in support::names_in(&dir) {
            if f.ends_with(".log") {
                let text = std::fs::read_to_string(dir.join(&f)).unwrap_or_default();
                out.push_str(&format!("==== {repo}/{f}\n{text}\n"));
            }
        }
    }
    out
}

fn plan_json(env: &TestEnv, batch: &str) -> serde_json::Value {
    let out = env.zoryn(&["task", "batch", batch, "--plan", "--json"], &env.home);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let text = stdout(&out);
    assert_eq!(text.trim().lines().count(), 1, "one JSON object: {text}");
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn package<'a>(lane: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    lane["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {lane}"))
}

fn deps_of(p: &serde_json::Value) -> Vec<(String, String)> {
    p["depends_on"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["package"].as_str().unwrap().to_string(),
                d["via"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn php_like_family_resolves_with_batch_macros_and_builds_in_order() {
    let env = TestEnv::new();
    env.local_slots(&[2, 3]);
    family(&env);
    // Without macros: the extensions' names and their edges to each other
    // cannot be read (the control case).
    env.write(
        ".config/zoryn/batch/nomacros.conf",
        &format!("[batch]\nbasedir = \"~/src\"\nbuilders = \"local[2-3]\"\n{FAMILY_TABLES}"),
    );
    let plan = plan_json(&env, "nomacros");
    let lane = &plan["lanes"][0];
    let unreadable: Vec<&serde_json::Value> = lane["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| !p["unresolved"].as_array().unwrap().is_empty())
        .collect();
    assert_eq!(unreadable.len(), 3, "{plan}");
    for p in lane["packages"].as_array().unwrap() {
        assert!(
            deps_of(p).iter().all(|(d, _)| d == "foo8.4"),
            "no extension-to-extension edge without macros: {plan}"
        );
    }

    env.write(
        ".config/zoryn/batch/foo.conf",
        &format!(
            "[batch]\nname = \"foo 8.4 and extensions\"\nbasedir = \"~/src\"\nmain = \"foo8.4\"\n\
builders = \"local[2-3]\"\nmacros = {{ _foo_suffix = \"8.4\", foo_version = \"8.4.1\", foo_release = \"alt1\" }}\n{FAMILY_TABLES}"
        ),
    );
    let plan = plan_json(&env, "foo");
    assert_eq!(plan["batch"], "foo", "{plan}");
    let lanes = plan["lanes"].as_array().unwrap();
    assert_eq!(lanes.len(), 1, "{plan}");
    let lane = &lanes[0];
    assert_eq!(lane["arch"], "x86_64");
    assert_eq!(lane["branch"], "sisyphus");
    assert_eq!(
        lane["order"],
        serde_json::json!(["foo8.4", "foo8.4-baz", "foo8.4-bar", "foo8.4-qux"]),
        "{plan}"
    );
    for (name, level) in [
        ("foo8.4", 0),
        ("foo8.4-baz", 1),
        ("foo8.4-bar", 2),
        ("foo8.4-qux", 3),
    ] {
        let p = package(lane, name);
        assert_eq!(p["level"], level, "{p}");
        assert_eq!(p["unresolved"], serde_json::json!([]), "{p}");
        assert!(p["skipped"].is_null(), "{p}");
        assert!(
            p["path"]
                .as_str()
                .unwrap()
                .starts_with(&env.home.join("src").display().to_string()),
            "{p}"
        );
    }
    let bar = deps_of(package(lane, "foo8.4-bar"));
    for want in [
        ("foo8.4", "rpm-build-foo8.4-version"),
        ("foo8.4", "foo8.4-devel"),
        ("foo8.4-baz", "foo8.4-baz"),
    ] {
        assert!(
            bar.contains(&(want.0.to_string(), want.1.to_string())),
            "{want:?} in {bar:?}"
        );
    }
    assert!(
        deps_of(package(lane, "foo8.4-qux"))
            .contains(&("foo8.4-bar".to_string(), "foo8.4-bar".to_string())),
        "{plan}"
    );
    // The plain plan says what each package waits on, and why.
    let out = env.zoryn(&["task", "batch", "foo", "--plan"], &env.home);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let text = stdout(&out);
    assert!(
        text.contains("foo8.4-bar waits on foo8.4 (BuildRequires "),
        "{text}"
    );
    assert!(
        text.contains("foo8.4-baz (BuildRequires foo8.4-baz)"),
        "{text}"
    );
    assert!(
        text.contains("foo8.4 waits on nothing in the batch"),
        "{text}"
    );

    // A real build: every extension waits for the one it needs.
    let out = env.zoryn(&["task", "batch", "foo"], &env.home);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", both(&out), logs(&env));
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(env.home.join(".local/state/zoryn/batches/foo/report.json"))
            .unwrap(),
    )
    .unwrap();
    let jobs = report["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 4, "{report}");
    let time = |p: &str, k: &str| {
        jobs.iter()
            .find(|j| j["package"] == p)
            .and_then(|j| j[k].as_f64())
            .unwrap_or_else(|| panic!("{p} {k} in {report}"))
    };
    for j in jobs {
        assert_eq!(j["result"], "OK", "{j}");
    }
    for (before, after) in [
        ("foo8.4", "foo8.4-baz"),
        ("foo8.4-baz", "foo8.4-bar"),
        ("foo8.4-bar", "foo8.4-qux"),
    ] {
        assert!(
            time(before, "end") <= time(after, "start"),
            "{after} started before {before} ended: {report}"
        );
    }
    let ev = env.events_text();
    assert!(
        ev.lines().any(|l| l.contains("deps-installed")
            && l.contains("foo8.4-baz-8.4.1-alt1")
            && l.contains("foo8.4-devel-8.4.1-alt1")),
        "bar's build installed baz from the chain repo: {ev}"
    );
    assert!(ev.contains("rpm-build-foo8.4-version-8.4.1-alt1"), "{ev}");
}

#[test]
fn package_tables_skip_only_exclude_mode_and_batch_pkgs() {
    let env = TestEnv::new();
    env.local_slots(&[2]);
    env.library_package("libfoo", &[], "");
    env.library_package("libbar", &["libfoo"], "");
    env.library_package("app", &["libbar"], "");
    env.library_package("tool", &[], "");
    // `extra` is never created: a skipped package is not even opened.
    env.write(
        ".config/zoryn/batch/t.conf",
        "[batch]\nbasedir = \"~/src\"\nbuilders = \"local2\"\n\n[libfoo]\n[libbar]\nmode = \"rebuild\"\n\
[app]\nexclude = [\"sisyphus\"]\n[tool]\nonly = [\"p11\"]\n[extra]\nskip = true\n",
    );
    let plan = plan_json(&env, "t");
    let lane = &plan["lanes"][0];
    assert_eq!(
        lane["order"],
        serde_json::json!(["libfoo", "libbar"]),
        "{plan}"
    );
    assert_eq!(
        package(lane, "app")["skipped"],
        "exclude = [..\"sisyphus\"..] in the batch"
    );
    assert!(package(lane, "app")["level"].is_null());
    assert_eq!(
        package(lane, "tool")["skipped"],
        "only = [\"p11\"] in the batch"
    );
    assert_eq!(
        package(lane, "extra")["skipped"],
        "skip = true in the batch"
    );
    assert_eq!(
        deps_of(package(lane, "libbar")),
        [("libfoo".to_string(), "libfoo-devel".to_string())]
    );
    let out = env.zoryn(&["task", "batch", "t", "--plan"], &env.home);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let text = stdout(&out);
    for want in [
        "left out: extra (skip = true in the batch)",
        "skipped: app (exclude = [..\"sisyphus\"..] in the batch)",
        "skipped: tool (only = [\"p11\"] in the batch)",
        "mode rebuild (hsh-rebuild): libbar",
        "libbar waits on libfoo (BuildRequires libfoo-devel)",
    ] {
        assert!(text.contains(want), "{want}: {text}");
    }

    // --batch-pkgs: only those; an unknown name lists the batch's.
    let out = env.zoryn(
        &["task", "batch", "t", "--batch-pkgs=libfoo,nosuch"],
        &env.home,
    );
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    let e = stderr(&out);
    assert!(
        e.contains("--batch-pkgs: no package `nosuch` in the batch t"),
        "{e}"
    );
    assert!(
        e.contains("the batch's packages: libfoo, libbar, app, tool, extra"),
        "{e}"
    );
    let out = env.zoryn(
        &["task", "batch", "t", "--batch-pkgs", "libfoo,app"],
        &env.home,
    );
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(env.home.join(".local/state/zoryn/batches/t/report.json"))
            .unwrap(),
    )
    .unwrap();
    let mut results: Vec<(String, String)> = report["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            (
                j["package"].as_str().unwrap().to_string(),
                j["result"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    results.sort();
    assert_eq!(
        results,
        [
            ("app".to_string(), "SKIP".to_string()),
            ("libfoo".to_string(), "OK".to_string())
        ],
        "{report}"
    );
    let builds = env
        .events_text()
        .lines()
        .filter(|l| l.contains(" build-start "))
        .count();
    assert_eq!(builds, 1, "{}", env.events_text());
}

const SUBST_SPEC: &str = "Name: subst-@flavour@\nVersion: 1.0\nRelease: alt1\nSummary: s\nLicense: GPL\nGroup: Other\nSource: src.tar\n\n\
%description\ns\n\n%package devel\nSummary: h\nGroup: Development/C\n\n%description devel\nh\n\n\
%prep\n%setup -n src\n\n%build\necho built @flavour@\n\n\
%install\nmkdir -p %buildroot%_includedir/subst %buildroot%_datadir/subst\necho x > %buildroot%_includedir/subst/s.h\necho @flavour@ > %buildroot%_datadir/subst/FLAVOUR\n\n\
%files\n%_datadir/subst\n\n%files devel\n%_includedir/subst\n";

#[test]
fn specsubst_values_reach_the_spec_zoryn_reads_and_the_one_hsh_builds() {
    let env = TestEnv::new();
    env.local_slots(&[2]);
    let subst = repo(
        &env,
        "subst",
        "subst.spec",
        &format!("{SUBST_SPEC}{CHANGELOG}"),
        "specsubst: flavour\n",
    );
    // gear itself: no tag, no values.
    let out = env
        .command("gear")
        .args(["--commit", "--no-compress"])
        .arg(env.home.join("tmp-x.tar"))
        .current_dir(&subst)
        .output()
        .unwrap();
    assert!(!out.status.success(), "{}", both(&out));
    assert!(
        stderr(&out).contains("gear: specsubst directive requires a tag"),
        "{}",
        both(&out)
    );
    repo(
        &env,
        "user",
        "user.spec",
        &format!(
            "Name: user\nVersion: 1.0\nRelease: alt1\nSummary: u\nLicense: GPL\nGroup: Other\nSource: src.tar\nBuildRequires: subst-main-devel\n\n\
%description\nu\n\n%prep\n%setup -n src\n\n%build\ntest -f \"${{HASHER_EMU_SYSROOT:-}}/usr/include/subst/s.h\"\n\n\
%install\nmkdir -p %buildroot%_datadir/user\necho 1 > %buildroot%_datadir/user/x\n\n%files\n%_datadir/user\n{CHANGELOG}"
        ),
        "",
    );
    env.write(
        ".config/zoryn/batch/s.conf",
        "[batch]\nbasedir = \"~/src\"\nbuilders = \"local2\"\n\n[user]\n[subst]\n",
    );
    let out = env.zoryn(&["task", "batch", "s", "--plan"], &env.home);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    let e = stderr(&out);
    assert!(e.contains("s.conf:6: package [subst]"), "{e}");
    assert!(
        e.contains(
            ".gear/rules line 3 has `specsubst: flavour`, but the batch gives no value for flavour"
        ),
        "{e}"
    );

    env.write(
        ".config/zoryn/batch/s.conf",
        "[batch]\nbasedir = \"~/src\"\nbuilders = \"local2\"\nspecsubst = \"flavour=main\"\n\n[user]\n[subst]\n",
    );
    let plan = plan_json(&env, "s");
    let lane = &plan["lanes"][0];
    assert_eq!(
        lane["order"],
        serde_json::json!(["subst-main", "user"]),
        "{plan}"
    );
    assert_eq!(
        deps_of(package(lane, "user")),
        [("subst-main".to_string(), "subst-main-devel".to_string())]
    );
    let out = env.zoryn(&["task", "batch", "s"], &env.home);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let rpms = support::names_in(&subst.join("hasher_out/local2"));
    assert!(
        rpms.contains(&"subst-main-1.0-alt1.x86_64.rpm".to_string()),
        "{rpms:?}"
    );
    // The work tree keeps its @flavour@: only the packed spec changed.
    assert!(std::fs::read_to_string(subst.join("subst.spec"))
        .unwrap()
        .contains("Name: subst-@flavour@"));
    assert!(
        env.events_text()
            .lines()
            .any(|l| l.contains("deps-installed") && l.contains("subst-main-devel-1.0-alt1")),
        "{}",
        env.events_text()
    );
}

#[test]
fn a_rebuild_mode_package_is_built_with_hsh_rebuild_in_the_existing_chroot() {
    let env = TestEnv::new();
    env.local_slots(&[2]);
    env.library_package("libfoo", &[], "");
    env.library_package("libbar", &["libfoo"], "");
    env.write(
        ".config/zoryn/batch/r.conf",
        "[batch]\nbasedir = \"~/src\"\nbuilders = \"local2\"\n\n[libfoo]\n[libbar]\nmode = \"rebuild\"\n",
    );
    // libfoo's full build leaves the chroot libbar is then rebuilt in.
    let out = env.zoryn(&["task", "batch", "r"], &env.home);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let ev = env.events_text();
    let argvs: Vec<&str> = ev.lines().filter(|l| l.contains(" argv ")).collect();
    assert_eq!(argvs.len(), 2, "{ev}");
    assert!(
        argvs[0].contains(" argv prog=hsh ") && argvs[0].contains("/libfoo.tar "),
        "{ev}"
    );
    assert!(
        argvs[1].contains(" argv prog=hsh-rebuild ") && argvs[1].contains("/libbar.tar "),
        "{ev}"
    );
}
