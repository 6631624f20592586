//! ALT's standard rpm macros, as data: the arch groups (`%ix86`, `%arm`,
//! `%e2k`, ...) and the per-target values (`%_arch`, `%_target_cpu`,
//! `%_lib`, `%_libdir`, ...) a spec sees when ALT's rpm-build builds it for a
//! target arch, plus the few path macros specs put into package names and
//! requirements.
//!
//! These are the lowest layer of the spec reader's macros (SPEC 7: ALT's
//! standard set < the batch's `macros` < specsubst values < the spec's own
//! definitions); [`crate::source::specdeps`] asks [`lookup`] only for a name
//! nobody else defined. This module owns the values only: it must not read
//! files, run `rpm --eval`, or decide anything about specs.
//!
//! Where the values come from. ALT's rpm-build is built from ALT's rpm
//! (`rpm-4_0.spec`, sources at `git.altlinux.org/gears/r/rpm.git`, mirrored
//! as `wladmis/rpm`): `macros.in` holds the arch groups, `installplatform`
//! writes one `/usr/lib/rpm/ARCH-alt-linux/macros` per target arch from
//! `platform.in`, and `rpmbuild --target=ARCH` (what hsh runs) reads that
//! file. Read there:
//! - `macros.in`: `%intel i386 i486 i586 i686 i786 i886 i986 pentium2
//!   pentium3 pentium4`, `%amd k6 athlon athlon_xp`, `%ix86 %intel %amd`,
//!   `%arm arm armeb armv3l armv4l armv4b armv5l armv5tel armv5tejl`;
//!   `%_lib lib`, `%_libdir %{_exec_prefix}/%{_lib}`, `%_bindir
//!   %{_exec_prefix}/bin` and the other configure paths;
//! - `platform.in`: `%_arch @RPMRC_ARCH@` — the arch of the platform file
//!   itself, so `%_arch` is i586 when building for i586 (not a canonical
//!   i386) — `%_vendor` (alt), `%_gnu -gnu`, `%_target_platform
//!   %{_target_cpu}-%{_vendor}-%{_target_os}`, `%_lib @LIB@`;
//! - `installplatform`: `LIB=lib64` for the 64-bit platforms (x86_64,
//!   sparc64 in the version read; ALT's later 64-bit ports follow it);
//!   rpm-4_0.spec 4.0.4-alt64 "Added pentium2, pentium3, athlonxp".
//!
//! ALT's later additions, as Sisyphus specs (`altlinux/specs`) use them:
//! `armh` in `%arm` (ALT's 32-bit ARM target since 2012; `l/lsb/lsb.spec`
//! `%ifarch armh`, config.sub "Added armh support"), the `%e2k` group (used
//! by many specs; kernel-modules specs list `e2k e2kv4 e2kv5 e2kv6`; `e2kv7`
//! is the newest Elbrus target, as in [`crate::config::arch`]), `%mips`,
//! `%mips32` (boost, ffmpeg, lapack changelogs), `loongarch64` (r/rpm/rpm.spec
//! 4.13.0.1-alt38 "Add support for loongarch64"), `%_libsuff`/`%_is_libsuff`
//! (r/rpm/rpm.spec: `%{?_is_libsuff:(%{_libsuff}bit)}`). The members of
//! `%x86_64`, `%mips*`, `%power64`, `%alpha`, `%sparc`, `%riscv*` are upstream
//! rpm's `macros.in` values, which ALT's newer rpm carries.
//!
//! Check a value against a real ALT host with `rpm --eval '%ix86'` (or
//! `rpmbuild --target=ARCH --eval '%_libdir'`) before changing it.

/// ALT's arch group macros: name, expansion (a space-separated list, as
/// `%ifarch`, `ExcludeArch` and `ExclusiveArch` read it).
pub const ARCH_GROUPS: &[(&str, &str)] = &[
    // ALT macros.in: "arch macro for all Intel i?86 compatibile processors"
    // (`%ix86 %intel %amd`; athlonxp added with rpm 4.0.4-alt64).
    (
        "intel",
        "i386 i486 i586 i686 i786 i886 i986 pentium2 pentium3 pentium4",
    ),
    ("amd", "k6 athlon athlon_xp athlonxp"),
    (
        "ix86",
        "i386 i486 i586 i686 i786 i886 i986 pentium2 pentium3 pentium4 k6 athlon athlon_xp athlonxp",
    ),
    // upstream macros.in: "arch macro for all supported x86_64 processors".
    ("x86_64", "x86_64 amd64 em64t"),
    // ALT macros.in: "arch macro for all ARM processors", plus ALT's armh
    // (hard-float ARMv7, ALT's only 32-bit ARM port).
    (
        "arm",
        "arm armeb armv3l armv4l armv4b armv5l armv5tel armv5tejl armh",
    ),
    ("arm64", "aarch64"),
    // ALT's Elbrus (e2k) targets.
    ("e2k", "e2k e2kv4 e2kv5 e2kv6 e2kv7"),
    // macros.in: "arch macro for all supported MIPS processors".
    (
        "mips",
        "mips mipsel mipsr6 mipsr6el mips64 mips64el mips64r6 mips64r6el",
    ),
    ("mips32", "mips mipsel mipsr6 mipsr6el"),
    ("mips64", "mips64 mips64el mips64r6 mips64r6el"),
    // macros.in: PowerPC 64-bit, Alpha, Sparc.
    ("power64", "ppc64 ppc64p7 ppc64le"),
    (
        "alpha",
        "alpha alphaev5 alphaev56 alphapca56 alphaev6 alphaev67",
    ),
    ("sparc", "sparc sparcv8 sparcv9 sparcv9v sparc64 sparc64v"),
    // macros.in: RISC-V and LoongArch.
    ("riscv32", "riscv32"),
    ("riscv64", "riscv64"),
    ("riscv128", "riscv128"),
    ("riscv", "riscv32 riscv64 riscv128"),
    ("loongarch64", "loongarch64"),
];

/// Targets whose libraries live in `lib64` (installplatform: `LIB=lib64`
/// for 64-bit ISAs).
const LIB64: &[&str] = &[
    "x86_64",
    "amd64",
    "em64t",
    "aarch64",
    "ppc64",
    "ppc64p7",
    "ppc64le",
    "riscv64",
    "loongarch64",
    "mips64",
    "mips64el",
    "mips64r6",
    "mips64r6el",
    "sparc64",
    "sparc64v",
    "s390x",
    "alpha",
    "alphaev5",
    "alphaev56",
    "alphapca56",
    "alphaev6",
    "alphaev67",
    "e2k",
    "e2kv4",
    "e2kv5",
    "e2kv6",
    "e2kv7",
];

/// Members of a group, if `name` is one of ALT's arch groups.
pub fn arch_group(name: &str) -> Option<&'static str> {
    ARCH_GROUPS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| *v)
}

/// Whether `arch` is a member of group `group`.
pub fn in_group(group: &str, arch: &str) -> bool {
    arch_group(group).is_some_and(|g| g.split_whitespace().any(|a| a == arch))
}

/// Whether `target` keeps its libraries in `lib64`.
pub fn is_lib64(target: &str) -> bool {
    LIB64.contains(&target)
}

/// ALT's value of macro `name` when building for `target` (a cpu such as
/// x86_64, i586, armh, e2kv6, or noarch), or `None` when ALT's standard set
/// does not define it. Values may name other macros (`%_prefix/%_lib`);
/// the caller expands them.
pub fn lookup(name: &str, target: &str) -> Option<String> {
    if let Some(g) = arch_group(name) {
        return Some(g.to_string());
    }
    let lib64 = is_lib64(target);
    let v = match name {
        // macros.in: "A macro that expands to nothing."
        "nil" => "",
        // platform.in (the target's own platform file): %_arch is that
        // arch, the --target cpu is %_target_cpu, the OS linux, vendor alt.
        "_arch" | "_target_cpu" => target,
        "_os" | "_target_os" | "_build_os" | "_host_os" => "linux",
        "_vendor" | "_target_vendor" => "alt",
        "_gnu" => "-gnu",
        "_target_platform" => return Some(format!("{target}-alt-linux")),
        "_lib" if lib64 => "lib64",
        "_lib" => "lib",
        // ALT's platform files: %_libsuff 64 and %_is_libsuff 1 on lib64
        // targets only.
        "_libsuff" | "_is_libsuff" if !lib64 => return None,
        "_libsuff" => "64",
        "_is_libsuff" => "1",
        // ALT's rpm-build macros: the package's [E:]V-R.
        "EVR" => "%{?epoch:%epoch:}%{version}-%{release}",
        // macros.in: filesystem layout.
        "_prefix" | "_usr" => "/usr",
        "_exec_prefix" => "%_prefix",
        "_bindir" => "%_exec_prefix/bin",
        "_sbindir" => "%_exec_prefix/sbin",
        "_libexecdir" => "%_exec_prefix/libexec",
        "_datadir" => "%_prefix/share",
        "_includedir" => "%_prefix/include",
        "_sysconfdir" => "/etc",
        "_localstatedir" | "_var" => "/var",
        "_libdir" => "%_exec_prefix/%_lib",
        "_mandir" => "%_datadir/man",
        "_infodir" => "%_datadir/info",
        "_docdir" => "%_datadir/doc",
        "_pkgconfigdir" => "%_libdir/pkgconfig",
        "_usrsrc" => "%_usr/src",
        _ => return None,
    };
    Some(v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_hold_alt_targets() {
        assert!(in_group("ix86", "i586"));
        assert!(in_group("ix86", "i686"));
        assert!(in_group("ix86", "athlon"));
        assert!(in_group("intel", "pentium4"));
        assert!(!in_group("intel", "k6"));
        assert!(!in_group("ix86", "x86_64"));
        assert!(in_group("arm", "armh"));
        assert!(!in_group("arm", "aarch64"));
        assert!(in_group("e2k", "e2kv6"));
        assert!(in_group("mips", "mipsel"));
        assert!(in_group("mips32", "mipsel"));
        assert!(!in_group("mips32", "mips64el"));
        assert!(in_group("power64", "ppc64le"));
        assert!(in_group("riscv64", "riscv64"));
        assert!(!in_group("nosuchgroup", "x86_64"));
    }

    #[test]
    fn per_target_values() {
        assert_eq!(lookup("_target_cpu", "i586").as_deref(), Some("i586"));
        assert_eq!(lookup("_arch", "i586").as_deref(), Some("i586"));
        assert_eq!(lookup("_arch", "armh").as_deref(), Some("armh"));
        assert_eq!(lookup("_arch", "e2kv4").as_deref(), Some("e2kv4"));
        assert_eq!(lookup("_arch", "x86_64").as_deref(), Some("x86_64"));
        assert_eq!(lookup("_lib", "x86_64").as_deref(), Some("lib64"));
        assert_eq!(lookup("_lib", "i586").as_deref(), Some("lib"));
        assert_eq!(lookup("_lib", "noarch").as_deref(), Some("lib"));
        assert_eq!(lookup("_libsuff", "aarch64").as_deref(), Some("64"));
        assert_eq!(lookup("_libsuff", "armh"), None);
        assert_eq!(
            lookup("_target_platform", "riscv64").as_deref(),
            Some("riscv64-alt-linux")
        );
        assert_eq!(lookup("no_such_macro", "x86_64"), None);
    }

    /// Every 64-bit target ALT builds for keeps its libraries in lib64.
    #[test]
    fn alt_build_targets() {
        for a in [
            "x86_64",
            "aarch64",
            "ppc64le",
            "riscv64",
            "loongarch64",
            "e2k",
            "e2kv6",
        ] {
            assert!(is_lib64(a), "{a}");
        }
        for a in ["i586", "armh", "mipsel", "noarch"] {
            assert!(!is_lib64(a), "{a}");
        }
    }
}
