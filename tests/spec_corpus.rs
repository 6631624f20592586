//! A generated corpus of specs against a hand-derived table of arch
//! decisions: the one spec reader (`specdeps::read_spec`, used by `zoryn
//! build` and by batches) must SKIP exactly the arches the shape says.
//!
//! Each spec combines one arch-tag form (ALT's macro groups, list forms,
//! spec and batch macros), one wrapping of the tag (`%ifarch`, `%ifnarch`,
//! `%if_with`, `%if` on `%_target_cpu`), one BuildArch shape (noarch main
//! package, noarch subpackage, a subpackage with its own ExcludeArch) and
//! one body (`(pre)` requires, macro-named packages). The expected decision
//! comes from the tables below — written out by hand from what ALT's groups
//! contain — never from the reader or its macro tables.

use zoryn::source::specdeps::{read_spec, SpecDeps};

/// ALT target arches the farm builds for.
const TARGETS: &[&str] = &[
    "x86_64",
    "i586",
    "aarch64",
    "armh",
    "ppc64le",
    "riscv64",
    "loongarch64",
    "e2kv6",
    "mipsel",
];

/// How the tag restricts: the arches it names, by hand.
enum Rule {
    /// ExcludeArch: these are excluded.
    Exclude(&'static [&'static str]),
    /// ExclusiveArch: only these are built.
    Only(&'static [&'static str]),
}

/// Arch-tag forms: (spec lines before the tag, the tag line, rule).
const FORMS: &[(&str, &str, Rule)] = &[
    ("", "ExcludeArch: %ix86", Rule::Exclude(&["i586"])),
    (
        "",
        "ExcludeArch: %{ix86} armh",
        Rule::Exclude(&["i586", "armh"]),
    ),
    (
        "",
        "ExclusiveArch: %ix86 x86_64",
        Rule::Only(&["i586", "x86_64"]),
    ),
    (
        "",
        "ExclusiveArch: x86_64, aarch64",
        Rule::Only(&["x86_64", "aarch64"]),
    ),
    (
        "",
        "ExclusiveArch: %e2k %mips riscv64",
        Rule::Only(&["e2kv6", "mipsel", "riscv64"]),
    ),
    (
        "",
        "ExcludeArch: %arm, %e2k",
        Rule::Exclude(&["armh", "e2kv6"]),
    ),
    (
        "",
        "ExclusiveArch: %{arm} aarch64",
        Rule::Only(&["armh", "aarch64"]),
    ),
    (
        "%define my_arches %ix86 x86_64\n",
        "ExclusiveArch: %my_arches",
        Rule::Only(&["i586", "x86_64"]),
    ),
    (
        // `batch_arches` comes from the caller's defines (batch macros).
        "",
        "ExclusiveArch: %batch_arches",
        Rule::Only(&["x86_64", "ppc64le"]),
    ),
    (
        "",
        "ExcludeArch: %power64 loongarch64",
        Rule::Exclude(&["ppc64le", "loongarch64"]),
    ),
    ("", "ExclusiveArch:\t%{x86_64}", Rule::Only(&["x86_64"])),
];

/// Wrappings of the tag: (before, after, whether the tag counts for arch).
type Active = fn(&str) -> bool;
const WRAPS: &[(&str, &str, Active)] = &[
    ("", "", |_| true),
    ("%ifarch %ix86\n", "%endif\n", |a| a == "i586"),
    ("%ifnarch x86_64\n", "%endif\n", |a| a != "x86_64"),
    ("%if_with foo\n", "%endif\n", |_| true),
    ("%if_without foo\n", "%endif\n", |_| false),
    (
        "%if \"%_target_cpu\" == \"i586\"\n",
        "%endif # i586\n",
        |a| a == "i586",
    ),
    ("%ifarch %arm aarch64\n%else\n", "%endif\n", |a| {
        !matches!(a, "armh" | "aarch64")
    }),
];

/// BuildArch shapes: (main preamble lines, subpackage section).
const BUILD_ARCH: &[(&str, &str)] = &[
    ("", ""),
    ("BuildArch: noarch\n", ""),
    (
        "",
        "%package doc\nSummary: docs\nGroup: Documentation\nBuildArch: noarch\n\n%description doc\nDocs.\n",
    ),
    (
        "",
        "%package -n %oname-tools\nSummary: tools\nGroup: Other\nExcludeArch: x86_64 i586 aarch64\nExclusiveArch: e2kv6\n\n%description -n %oname-tools\nTools.\n",
    ),
];

/// Bodies: (lines after Name, the packages the spec builds besides the main
/// one, the build requirements it has).
const BODIES: &[(&str, &[&str], &[&str])] = &[
    ("", &[], &[]),
    (
        "BuildRequires(pre): rpm-build-python3\nBuildRequires: python3-devel >= 3.9, %oname-data\n",
        &[],
        &["rpm-build-python3", "python3-devel", "foo-data"],
    ),
    (
        "%define sover 3\nBuildPreReq: libbar-devel\n\n%package -n lib%{oname}%sover\nSummary: library\nGroup: System/Libraries\nProvides: lib%oname = %EVR\n\n%description -n lib%{oname}%sover\nLib.\n\n%package devel\nSummary: headers\nGroup: Development/C\nBuildRequires: %{?_with_foo:libfoo-extra-devel}\n\n%description devel\nHeaders.\n",
        &["libfoo3", "python3-module-foo-devel"],
        &["libbar-devel", "libfoo-extra-devel"],
    ),
];

/// Where the arch tag goes: before the Name tag, or after the body.
const PLACES: &[bool] = &[true, false];

fn spec(form: usize, wrap: usize, ba: usize, body: usize, tag_first: bool) -> String {
    let (pre, tag, _) = &FORMS[form];
    let (open, close, _) = WRAPS[wrap];
    let (ba_main, ba_sub) = BUILD_ARCH[ba];
    let (body, _, _) = BODIES[body];
    let tag = format!("{open}{tag}\n{close}");
    let mut s = format!("%define oname foo\n%def_with foo\n{pre}");
    if tag_first {
        s.push_str(&tag);
    }
    s.push_str(&format!(
        "Name: python3-module-%oname\nVersion: 1.2\nRelease: alt1\nSummary: x\nLicense: MIT\nGroup: Other\n{ba_main}"
    ));
    if !tag_first {
        s.push_str(&tag);
    }
    // The body's first lines are main-preamble tags; its %package sections
    // follow.
    s.push_str(body);
    s.push('\n');
    s.push_str(ba_sub);
    s.push_str("\n%description\nMain.\n\n%prep\n%setup\n\n%build\n%ifarch %ix86\nExcludeArch: x86_64\n%endif\n\n%files\n\n%changelog\n* Mon Jan 01 2024 A <a@altlinux.org> 1.2-alt1\n- ExclusiveArch: nothing here counts\n");
    s
}

fn expected_skip(form: usize, wrap: usize, arch: &str) -> bool {
    let (_, _, rule) = &FORMS[form];
    let (_, _, active) = WRAPS[wrap];
    if !active(arch) {
        return false;
    }
    match rule {
        Rule::Exclude(list) => list.contains(&arch),
        Rule::Only(list) => !list.contains(&arch),
    }
}

fn package_names(d: &SpecDeps) -> Vec<&str> {
    d.packages.iter().map(|p| p.name.as_str()).collect()
}

#[test]
fn generated_specs_match_the_hand_table() {
    let defines = vec![("batch_arches".to_string(), "x86_64 ppc64le".to_string())];
    let mut specs = 0;
    let mut skips = 0;
    let mut builds = 0;
    for (form, (_, form_tag, _)) in FORMS.iter().enumerate() {
        for wrap in 0..WRAPS.len() {
            for ba in 0..BUILD_ARCH.len() {
                for (body, (_, extra, brs)) in BODIES.iter().enumerate() {
                    for &tag_first in PLACES {
                        let text = spec(form, wrap, ba, body, tag_first);
                        specs += 1;
                        for &arch in TARGETS {
                            let d = read_spec(&text, arch, &defines);
                            let want = expected_skip(form, wrap, arch);
                            let why = d.arch_refusal(arch);
                            assert_eq!(
                                why.is_some(),
                                want,
                                "{arch}: expected {} ({why:?})\n{text}",
                                if want { "SKIP" } else { "build" }
                            );
                            if let Some(why) = &why {
                                // The tag line as written, "Tag: value".
                                let (tag, value) = form_tag.split_once(':').unwrap();
                                assert_eq!(
                                    why,
                                    &format!("{tag}: {}", value.trim()),
                                    "{arch}\n{text}"
                                );
                                skips += 1;
                            } else {
                                builds += 1;
                            }
                            assert!(d.unresolved.is_empty(), "{:?}\n{text}", d.unresolved);
                            // The rest of the spec reads the same everywhere.
                            assert_eq!(d.name, "python3-module-foo");
                            let mut names = vec!["python3-module-foo"];
                            if ba == 2 {
                                names.push("python3-module-foo-doc");
                            }
                            names.extend(extra.iter().copied());
                            if ba == 3 {
                                names.push("foo-tools");
                            }
                            let mut got = package_names(&d);
                            got.sort_unstable();
                            names.sort_unstable();
                            assert_eq!(got, names, "{arch}\n{text}");
                            let got: Vec<&str> =
                                d.build_requires.iter().map(|r| r.name.as_str()).collect();
                            assert_eq!(got, *brs, "{arch}\n{text}");
                            assert_eq!(
                                d.build_arch.as_deref(),
                                (ba == 1).then_some("noarch"),
                                "{text}"
                            );
                        }
                    }
                }
            }
        }
    }
    assert_eq!(
        specs,
        FORMS.len() * WRAPS.len() * BUILD_ARCH.len() * BODIES.len() * PLACES.len()
    );
    assert!(specs >= 300, "{specs}");
    // The table is not one-sided.
    assert!(
        skips > 1000 && builds > 1000,
        "{skips} skips, {builds} builds"
    );
}
