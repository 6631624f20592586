//! Reading hasher's output into build phases.
//!
//! hsh prints what its helpers and rpmbuild print; a few lines mark the
//! boundaries between phases (chroot setup, build dependencies, the spec's
//! `%prep`/`%build`/`%install`/`%check`, packaging). [`StageTracker`] only moves
//! forward, so a stray line never sends a build "back" to an earlier phase.

use serde::Serialize;

/// Where a build is, as the user thinks of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    Queued,
    WaitingForLock,
    Starting,
    Uploading,
    PreparingChroot,
    InstallingDeps,
    Prep,
    Build,
    Install,
    Check,
    Packaging,
    Downloading,
    Collecting,
    /// zoryn's post-build checks on the downloaded RPMs.
    PostBuildChecks,
}

impl Phase {
    pub fn label(self) -> &'static str {
        match self {
            Phase::Queued => "queued",
            Phase::WaitingForLock => "waiting for lock",
            Phase::Starting => "starting",
            Phase::Uploading => "uploading",
            Phase::PreparingChroot => "preparing chroot",
            Phase::InstallingDeps => "installing build deps",
            Phase::Prep => "%prep",
            Phase::Build => "%build",
            Phase::Install => "%install",
            Phase::Check => "%check",
            Phase::Packaging => "packaging",
            Phase::Downloading => "downloading",
            Phase::Collecting => "collecting results",
            Phase::PostBuildChecks => "post-build checks",
        }
    }
}

/// The phase a single line announces, if any.
pub fn classify(line: &str) -> Option<Phase> {
    let l = line.trim_start();
    if l.starts_with("Executing(%prep)") {
        Some(Phase::Prep)
    } else if l.starts_with("Executing(%build)") {
        Some(Phase::Build)
    } else if l.starts_with("Executing(%install)") {
        Some(Phase::Install)
    } else if l.starts_with("Executing(%check)") {
        Some(Phase::Check)
    } else if l.starts_with("Processing files:")
        || (l.starts_with("Wrote:") && !l.contains("nosrc.rpm"))
    {
        Some(Phase::Packaging)
    } else if l.contains("nosrc.rpm")
        || l.starts_with("Reading Package Lists")
        || l.starts_with("Building Dependency Tree")
        || l.contains("build dependencies")
    {
        Some(Phase::InstallingDeps)
    } else if l.contains("hsh-mkchroot")
        || l.contains("hsh-initroot")
        || l.contains("mkaptbox")
        || l.contains("initroot")
        || l.contains(" rpmi: ")
    {
        Some(Phase::PreparingChroot)
    } else {
        None
    }
}

/// The current phase of one build, fed line by line.
#[derive(Debug, Clone)]
pub struct StageTracker {
    phase: Phase,
}

impl Default for StageTracker {
    fn default() -> Self {
        StageTracker {
            phase: Phase::Starting,
        }
    }
}

impl StageTracker {
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Feed a line; returns the new phase when it advanced.
    pub fn feed(&mut self, line: &str) -> Option<Phase> {
        let p = classify(line)?;
        if p > self.phase {
            self.phase = p;
            Some(p)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_realistic_log_walks_the_phases_in_order() {
        let log = [
            "<13>Nov 28 10:00:00 hsh-initroot: installing base packages",
            "<13>Nov 28 10:00:01 rpmi: setup-2.2.5-alt1 installed",
            "Wrote: /usr/src/in/nosrpm/hello-1.0-alt1.nosrc.rpm",
            "Reading Package Lists...",
            "<13>Nov 28 10:00:03 rpmi: libfoo-1.0-alt1 installed",
            "Executing(%prep): /bin/sh -e /usr/src/tmp/rpm-tmp.1",
            "Executing(%build): /bin/sh -e /usr/src/tmp/rpm-tmp.2",
            "Executing(%install): /bin/sh -e /usr/src/tmp/rpm-tmp.3",
            "Executing(%check): /bin/sh -e /usr/src/tmp/rpm-tmp.4",
            "Processing files: hello-1.0-alt1",
            "Wrote: /usr/src/RPM/RPMS/x86_64/hello-1.0-alt1.x86_64.rpm",
        ];
        let mut t = StageTracker::default();
        let seen: Vec<Phase> = log.iter().filter_map(|l| t.feed(l)).collect();
        assert_eq!(
            seen,
            [
                Phase::PreparingChroot,
                Phase::InstallingDeps,
                Phase::Prep,
                Phase::Build,
                Phase::Install,
                Phase::Check,
                Phase::Packaging
            ]
        );
    }

    #[test]
    fn phases_never_go_back() {
        let mut t = StageTracker::default();
        t.feed("Executing(%build): x");
        assert_eq!(t.feed("<13>rpmi: x installed"), None);
        assert_eq!(t.phase(), Phase::Build);
        assert_eq!(t.feed("plain output"), None);
    }
}
