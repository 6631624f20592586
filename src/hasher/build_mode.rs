//! How a build uses the builder's hasher: a fresh `hsh`, `hsh-rebuild` in the
//! chroot an earlier build left (`-r`), or one rpmbuild stage there
//! (`--section`).
//!
//! Owns the mode values, the rpmbuild stage of each section, the
//! `--rebuild-prog` script a section runs in the chroot, and the
//! missing-chroot message. Must not run anything or touch files: the local and
//! remote executors place the script and check the chroot.

use std::fmt;

/// One rpmbuild stage, run in the builder's existing chroot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    /// `%prep` from scratch (`rpmbuild -bp`).
    Prep,
    /// `%build` alone on the tree an earlier `prep` left (`-bc --short-circuit`).
    Build,
    /// `%install` (and `%check`) alone (`-bi --short-circuit`).
    Install,
    /// Binary packages from the existing buildroot (`-bb --short-circuit`).
    Bb,
    /// Binary and source packages from it (`-ba --short-circuit`).
    Ba,
}

impl Section {
    pub const NAMES: &'static str = "prep, build, install, bb, ba";

    pub fn parse(s: &str) -> Result<Section, String> {
        Ok(match s {
            "prep" => Section::Prep,
            "build" => Section::Build,
            "install" => Section::Install,
            "bb" => Section::Bb,
            "ba" => Section::Ba,
            other => {
                return Err(format!(
                    "--section {other}: unknown section (expected one of: {})",
                    Section::NAMES
                ))
            }
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Section::Prep => "prep",
            Section::Build => "build",
            Section::Install => "install",
            Section::Bb => "bb",
            Section::Ba => "ba",
        }
    }

    /// rpmbuild's arguments for the stage.
    pub fn rpmbuild_stage(self) -> &'static str {
        match self {
            Section::Prep => "-bp",
            Section::Build => "-bc --short-circuit",
            Section::Install => "-bi --short-circuit",
            Section::Bb => "-bb --short-circuit",
            Section::Ba => "-ba --short-circuit",
        }
    }
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How one build runs hasher.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BuildMode {
    /// `hsh`: a fresh chroot (the default).
    #[default]
    Full,
    /// `hsh-rebuild` in the chroot an earlier `hsh` left.
    Rebuild,
    /// `hsh-rebuild --rebuild-prog=...`: one rpmbuild stage there.
    Section(Section),
}

/// What a successful build of a mode leaves in the hasher repository.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expected {
    /// Binary packages (and the source package).
    Packages,
    /// Nothing: the stage stops before packaging.
    Nothing,
}

impl BuildMode {
    /// From the build flags (`-r`, `--section`).
    pub fn from_flags(rebuild: bool, section: Option<Section>) -> BuildMode {
        match section {
            Some(s) => BuildMode::Section(s),
            None if rebuild => BuildMode::Rebuild,
            None => BuildMode::Full,
        }
    }

    /// Needs the chroot an earlier build left (runs `hsh-rebuild`).
    pub fn in_existing_chroot(self) -> bool {
        self != BuildMode::Full
    }

    pub fn expected(self) -> Expected {
        match self {
            BuildMode::Section(Section::Prep | Section::Build | Section::Install) => {
                Expected::Nothing
            }
            _ => Expected::Packages,
        }
    }

    /// For messages: `hsh`, `hsh-rebuild`, `--section build`.
    pub fn describe(self) -> String {
        match self {
            BuildMode::Full => "hsh".into(),
            BuildMode::Rebuild => "hsh-rebuild".into(),
            BuildMode::Section(s) => format!("--section {s}"),
        }
    }
}

/// The `--rebuild-prog` a section runs in the chroot. hasher installs it as
/// `/.host/rebuild` and runs it in `~/in/srpm` with the source package it
/// made from the tarball as argument and `$target` set (hsh-rebuild,
/// `run_rebuild`). It installs that package (the new spec and sources) and
/// runs the one stage; `rpmbuild_args` are written into the script as
/// hasher writes `--args` into its own (shell words).
pub fn section_script(section: Section, rpmbuild_args: &str) -> String {
    format!(
        "#!/bin/sh -e\n\
         # zoryn --section {name}: one rpmbuild stage in the existing hasher chroot.\n\
         rpm -i -- \"$@\"\n\
         spec=\"$(rpm -qpl -- \"$1\" | sed -n '/\\.spec$/{{p;q}}')\"\n\
         [ -n \"$spec\" ] || {{ echo \"zoryn: no spec file in $1\" >&2; exit 1; }}\n\
         exec rpmbuild {stage} --target=\"$target\" {rpmbuild_args} \"$(rpm --eval %_specdir)/$spec\"\n",
        name = section.name(),
        stage = section.rpmbuild_stage(),
    )
}

/// `hsh` → `hsh-rebuild` (the same directory when the program has one).
pub fn rebuild_program(hsh: &str) -> String {
    match hsh.rsplit_once('/') {
        Some((dir, "hsh")) => format!("{dir}/hsh-rebuild"),
        None if hsh == "hsh" => "hsh-rebuild".into(),
        _ => format!("{hsh}-rebuild"),
    }
}

/// The error of a builder without a chroot to rebuild in: message and hint.
pub fn missing_chroot(
    builder: &str,
    workdir: &str,
    host: Option<&str>,
    mode: BuildMode,
) -> (String, String) {
    let on = host.map(|h| format!(" on {h}")).unwrap_or_default();
    (
        format!(
            "builder `{builder}` has no hasher chroot in {workdir}{on}: {} builds in the chroot an earlier build left",
            mode.describe()
        ),
        format!(
            "build it once in full first: zoryn build -b {builder} (with a [build] command that keeps the chroot, e.g. the default `hsh --lazy-cleanup`), then run this again"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_parse_and_map_to_rpmbuild_stages() {
        for (n, st) in [
            ("prep", "-bp"),
            ("build", "-bc --short-circuit"),
            ("install", "-bi --short-circuit"),
            ("bb", "-bb --short-circuit"),
            ("ba", "-ba --short-circuit"),
        ] {
            let s = Section::parse(n).unwrap();
            assert_eq!((s.name(), s.rpmbuild_stage()), (n, st));
        }
        let e = Section::parse("check").unwrap_err();
        assert!(e.contains("prep, build, install, bb, ba"), "{e}");
    }

    #[test]
    fn modes_from_flags() {
        assert_eq!(BuildMode::from_flags(false, None), BuildMode::Full);
        assert_eq!(BuildMode::from_flags(true, None), BuildMode::Rebuild);
        let m = BuildMode::from_flags(true, Some(Section::Bb));
        assert_eq!(m, BuildMode::Section(Section::Bb));
        assert!(m.in_existing_chroot() && !BuildMode::Full.in_existing_chroot());
        assert_eq!(m.expected(), Expected::Packages);
        assert_eq!(
            BuildMode::Section(Section::Build).expected(),
            Expected::Nothing
        );
    }

    #[test]
    fn section_script_runs_the_stage_with_the_args() {
        let s = section_script(Section::Build, "--without check");
        assert!(s.starts_with("#!/bin/sh -e\n"), "{s}");
        assert!(
            s.contains("exec rpmbuild -bc --short-circuit --target=\"$target\" --without check "),
            "{s}"
        );
        assert!(s.contains("rpm -i -- \"$@\""), "{s}");
    }

    #[test]
    fn rebuild_program_next_to_hsh() {
        assert_eq!(rebuild_program("hsh"), "hsh-rebuild");
        assert_eq!(rebuild_program("/opt/h/hsh"), "/opt/h/hsh-rebuild");
        assert_eq!(rebuild_program("/opt/myhsh"), "/opt/myhsh-rebuild");
    }

    #[test]
    fn missing_chroot_names_builder_host_and_fix() {
        let (m, h) = missing_chroot(
            "arm1",
            "/home/u/hasher",
            Some("arm.lan"),
            BuildMode::Rebuild,
        );
        assert!(
            m.contains("`arm1`") && m.contains("/home/u/hasher on arm.lan"),
            "{m}"
        );
        assert!(h.contains("zoryn build -b arm1"), "{h}");
    }
}
